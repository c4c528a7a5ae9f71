//go:build linux

package jailinit

// The jail's mount tree, made by the init in its mount namespace (see the
// package comment): setupRoot makes every mount in order and pivot_roots
// into the jail; every target is a directory opened below the jail
// without following symlinks and mounted through its fd (mountAt).

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/internal/jailfs/child"
	"github.com/jailer-dev/jailer/jail/timeline"
)

// setupRoot builds the jail's mount tree and enters it; a plain chroot
// (no namespaces) only chroots.
func setupRoot(cfg *Config) error {
	if cfg.NoNamespaces {
		if err := unix.Chroot(cfg.Root); err != nil {
			return &os.PathError{Op: "chroot", Path: cfg.Root, Err: err}
		}
		return unix.Chdir("/")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	timeline.Mark("mounts made private")
	if cfg.Overlay {
		if err := overlayRoot(cfg); err != nil {
			return err
		}
	} else if err := unix.Mount(cfg.Root, cfg.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind jail onto itself", Path: cfg.Root, Err: err}
	}
	timeline.Mark("root (fresh: tmpfs, overlay; --persist: bind)")
	root, err := unix.Open(cfg.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: cfg.Root, Err: err}
	}
	defer unix.Close(root)
	if err := chownOwned(root, cfg.Chown); err != nil {
		return err
	}
	if cfg.ResolvConf != "" {
		if err := writeResolvConf(root, cfg.ResolvConf); err != nil {
			return err
		}
	}
	if err := mountInside(root, cfg); err != nil {
		return err
	}
	err = pivotInto(root, cfg.Root)
	timeline.Mark("pivot_root")
	return err
}

// chownOwned gives the entries of a rootless run's fresh root (root,
// the overlay) the owners the lock records for them, where the tree
// left them to the caller (0:0 inside): a build without root cannot
// chown (see rootless.go). The change lands in the overlay's upper
// layer, never in the tree. Each entry is reached without following a
// symlink; one the tree no longer has is left out.
func chownOwned(root int, owned []Owned) error {
	for _, e := range owned {
		dir, name := path.Split(e.Path)
		if name == "" {
			continue
		}
		fd, err := OpenDirIn(root, dir, false)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("give %s its owner %d:%d: %w", e.Path, e.UID, e.GID, err)
		}
		var st unix.Stat_t
		err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Uid == 0 && st.Gid == 0 {
			err = unix.Fchownat(fd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW)
		}
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: fmt.Sprintf("give its owner %d:%d to", e.UID, e.GID), Path: e.Path, Err: err}
		}
	}
	return nil
}

// mountInside makes the mounts below the jail at root, in order: /proc
// (with a PID namespace), /dev, the tmpfs and bind mounts of the options
// and the outputs (in MountOrder); and the root read-only if asked.
func mountInside(root int, cfg *Config) error {
	// A fresh root (an overlay) takes the targets it lacks in its upper
	// layer, and is made read-only last, itself only (it has no mounts
	// below it but ours). A tree written into is made read-only first,
	// whole (mounts below the jail too), so that the mounts below are
	// the only writable places and enter itself never writes into a
	// read-only jail: their targets must exist.
	mkdir := cfg.Overlay || !cfg.Readonly
	if cfg.Readonly && !cfg.Overlay {
		if err := readonlyTree(root); err != nil {
			return fmt.Errorf("make the jail read-only: %w", err)
		}
	}
	if cfg.PID {
		proc := mountSpec{target: "/proc", source: "proc", fstype: "proc", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, mkdir: mkdir}
		if err := mountAt(root, proc); err != nil {
			return err
		}
		timeline.Mark("/proc")
		if err := maskProc(root); err != nil {
			return err
		}
		timeline.Mark("/proc masks")
	}
	if err := setupDev(root, cfg.UserNS, mkdir); err != nil {
		return err
	}
	timeline.Mark("/dev")
	order := cfg.MountOrder()
	for i, m := range order {
		// A target below a bind mount made before is in the host's
		// directory: jailer makes nothing there.
		mk := mkdir
		if host := boundAbove(order[:i], m.Target); host != nil {
			mk = false
			if err := inBind(root, m.Target, host); err != nil {
				return err
			}
		}
		var err error
		if m.Output {
			err = outputMount(root, m.Mount, mk)
		} else {
			err = userMount(root, m.Mount, mk)
		}
		if err != nil {
			return err
		}
	}
	for _, p := range cfg.Masks {
		if err := mask(root, p); err != nil {
			return err
		}
	}
	if cfg.Readonly && cfg.Overlay {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(root, "", unix.AT_EMPTY_PATH, attr); err != nil {
			return fmt.Errorf("make the jail read-only: %w", err)
		}
	}
	timeline.Mark("mounts, outputs")
	return nil
}

// mask covers the directory p of the jail, when it has one, with an empty
// read-only tmpfs.
func mask(root int, p string) error {
	fd, err := OpenDirIn(root, p, false)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cover %s: %w", p, err)
	}
	defer unix.Close(fd)
	if err := unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,nr_inodes=1,mode=0755"); err != nil {
		return &os.PathError{Op: "cover with a tmpfs", Path: p, Err: err}
	}
	return nil
}

// OrderedMount is a mount of the options or an output (Output), in
// MountOrder.
type OrderedMount struct {
	Mount
	Output bool
}

// MountOrder is the order in which the init makes the mounts and the
// outputs: a mount at /tmp before one at /tmp/src, whatever order the
// manifest and the flags gave them in (the later would hide the other);
// those at one depth as given, mounts before outputs.
func (c *Config) MountOrder() []OrderedMount {
	var ms []OrderedMount
	for _, m := range c.Mounts {
		ms = append(ms, OrderedMount{Mount: m})
	}
	for _, m := range c.Outputs {
		ms = append(ms, OrderedMount{Mount: m, Output: true})
	}
	depth := func(p string) int { return strings.Count(path.Clean("/"+p), "/") }
	slices.SortStableFunc(ms, func(a, b OrderedMount) int { return depth(a.Target) - depth(b.Target) })
	return ms
}

// boundAbove returns the bind mount (or output) of done that target lies
// in: the nearest mount that holds it strictly below its own target, when
// that one is a bind (a tmpfs there is the jail's own); nil when none is.
// done is in MountOrder, so the nearest is the last that holds it.
func boundAbove(done []OrderedMount, target string) *OrderedMount {
	t := path.Clean("/" + target)
	for i := len(done) - 1; i >= 0; i-- {
		d := path.Clean("/" + done[i].Target)
		if d != t && (d == "/" || strings.HasPrefix(t, d+"/")) {
			if done[i].Type != "bind" {
				return nil
			}
			return &done[i]
		}
	}
	return nil
}

// inBind says, for a mount target below the bind of host, what to do
// when it is missing there: the target would have to be made in the
// host's directory, which jailer never writes into.
func inBind(root int, target string, host *OrderedMount) error {
	dir, name := path.Split(path.Clean("/" + target))
	parent, err := OpenDirIn(root, dir, false)
	if err == nil {
		defer unix.Close(parent)
		var st unix.Stat_t
		if err = unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			return nil // there: the mount reports what else is wrong
		}
	}
	if !errors.Is(err, unix.ENOENT) {
		return nil
	}
	rel := strings.TrimPrefix(path.Clean("/"+target), path.Clean("/"+host.Target))
	return fmt.Errorf("mount target %s: %s%s does not exist, and it lies in the bind mount of %s at %s, a host directory jailer makes nothing in (create it there, or mount at a target outside that bind)", target, host.Source, rel, host.Source, host.Target)
}

// outputMount binds the host directory of an output writable into the
// jail, without setuid or device files: what the jail leaves there is
// handed to the user who ran jailer (results.go).
func outputMount(root int, m Mount, mkdir bool) error {
	src, err := unix.Open(m.Source, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "output", Path: m.Source, Err: err}
	}
	defer unix.Close(src)
	if err := mountAt(root, mountSpec{target: m.Target, source: fdPath(src), flags: unix.MS_BIND, mkdir: mkdir}); err != nil {
		return err
	}
	fd, err := OpenDirIn(root, m.Target, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return &os.PathError{Op: "mount_setattr nosuid,nodev", Path: m.Target, Err: err}
	}
	return nil
}

// pivotInto makes the jail at root (the directory fd of path) the root of
// the mount namespace, detaches the old root, and checks that "/" is now
// the jail.
func pivotInto(root int, path string) error {
	var want unix.Stat_t
	if err := unix.Fstat(root, &want); err != nil {
		return err
	}
	if err := unix.Fchdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", path, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	var got unix.Stat_t
	if err := unix.Stat("/", &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		return fmt.Errorf("after pivot_root, / is not the jail %s", path)
	}
	return nil
}

// userMount makes one tmpfs or bind mount inside the jail.
func userMount(root int, m Mount, mkdir bool) error {
	switch m.Type {
	case "tmpfs":
		data := "mode=1777"
		if m.Size > 0 {
			data += fmt.Sprintf(",size=%d", m.Size)
		}
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		if m.Readonly {
			flags |= unix.MS_RDONLY
		}
		return mountAt(root, mountSpec{target: m.Target, source: "tmpfs", fstype: "tmpfs", flags: flags, data: data, mkdir: mkdir})
	case "bind":
		src, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "bind source", Path: m.Source, Err: err}
		}
		defer unix.Close(src)
		var st unix.Stat_t
		if err := unix.Fstat(src, &st); err != nil {
			return &os.PathError{Op: "bind source", Path: m.Source, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return bindFile(root, src, m, mkdir)
		}
		if err := mountAt(root, mountSpec{target: m.Target, source: fdPath(src), flags: unix.MS_BIND | unix.MS_REC, mkdir: mkdir}); err != nil {
			return err
		}
		if m.Readonly {
			fd, err := OpenDirIn(root, m.Target, false)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return readonlyTree(fd) // with whatever is mounted below the source
		}
		return nil
	}
	return fmt.Errorf("mount %s: unknown type %q", m.Target, m.Type)
}

// bindFile binds src, a file, a socket or a device (anything but a
// directory), onto the file m.Target of the jail, made empty when missing
// (in a fresh root, in the run's upper layer; with --persist the parent
// made and journalled it, see targets.go). The target's directory is
// reached as mountAt's is, and the target itself is opened without
// following a symlink, so a link planted in the tree cannot redirect the
// mount onto a host file.
func bindFile(root, src int, m Mount, mkdir bool) error {
	dir, name := path.Split(path.Clean("/" + m.Target))
	if name == "" || name == ".." {
		return fmt.Errorf("bind %s: the target must name a file", m.Target)
	}
	parent, err := OpenDirIn(root, dir, mkdir)
	if le := (*linkError)(nil); errors.As(err, &le) {
		le.p, le.real = m.Target, path.Join(le.real, name)
	}
	if !mkdir && errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("mount target %s: no such directory in the jail, and a read-only jail gets no new ones (add it under dirs: and rebuild)", dir)
	}
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	target, err := child.Open(parent, name, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) && mkdir {
		var f int
		f, err = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil || errors.Is(err, unix.EEXIST) {
			if err == nil {
				unix.Close(f)
			}
			target, err = child.Open(parent, name, unix.O_PATH)
		}
	}
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("mount target %s: no such file in the jail, and a read-only jail gets no new ones (add it under files: and rebuild)", m.Target)
	}
	if err != nil {
		return &os.PathError{Op: "open mount target", Path: m.Target, Err: err}
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return &os.PathError{Op: "stat", Path: m.Target, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fmt.Errorf("bind %s: the source is a file but %s is a directory in the jail (bind it to a file's path)", m.Source, m.Target)
	case unix.S_IFLNK:
		return fmt.Errorf("bind %s: %s is a symlink in the jail; refusing to mount there", m.Source, m.Target)
	}
	if err := unix.Mount(fdPath(src), fdPath(target), "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind " + m.Source + " on", Path: m.Target, Err: err}
	}
	if !m.Readonly {
		return nil
	}
	// The descriptor opened before the mount is the file below it: open
	// the target again to reach the new mount.
	mounted, err := child.Open(parent, name, unix.O_PATH)
	if err != nil {
		return &os.PathError{Op: "open mount target", Path: m.Target, Err: err}
	}
	defer unix.Close(mounted)
	return readonlyTree(mounted)
}

// fdPath names an open file descriptor as a path, so that mount(2) acts on
// exactly the directory that was opened (without following symlinks), not
// on whatever a path resolves to by the time of the mount.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// OpenDirIn opens the directory p (a jail path) below the directory fd
// root, one component at a time, refusing symlinks anywhere on the way and
// creating missing directories when mkdir is set. It returns an O_PATH fd.
func OpenDirIn(root int, p string, mkdir bool) (int, error) {
	fd, err := unix.Dup(root)
	if err != nil {
		return -1, err
	}
	cs := strings.Split(strings.Trim(p, "/"), "/")
	for i, c := range cs {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: .. is not allowed", p)
		}
		next, err := child.Open(fd, c, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) && mkdir {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = child.Open(fd, c, unix.O_PATH|unix.O_DIRECTORY)
			}
		}
		if err != nil && (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) {
			// Say where a link points (flat jails have /usr/bin -> /bin):
			// the user can mount there instead.
			buf := make([]byte, 256)
			n, lerr := unix.Readlinkat(fd, c, buf)
			unix.Close(fd)
			if lerr == nil {
				link := string(buf[:n])
				if !path.IsAbs(link) {
					link = path.Join("/", path.Join(cs[:i]...), link)
				}
				return -1, &linkError{p: p, name: c, link: string(buf[:n]), real: path.Join(append([]string{link}, cs[i+1:]...)...)}
			}
			return -1, fmt.Errorf("%s: %s is a symlink or not a directory; refusing to mount there", p, c)
		}
		unix.Close(fd)
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		fd = next
	}
	return fd, nil
}

// linkError is a symlink on the way to a mount target p: its name, what
// it says, and where the target would be without it.
type linkError struct{ p, name, link, real string }

func (e *linkError) Error() string {
	return fmt.Sprintf("%s: %s is a symlink in the jail (to %q); refusing to mount there (mount at %s)", e.p, e.name, e.link, e.real)
}

// mountSpec is one mount onto a directory of the jail: mount(2)'s
// arguments, with the target a path below the jail's root.
type mountSpec struct {
	target         string // jail path of the directory mounted onto
	source, fstype string
	flags          uintptr
	data           string
	// mkdir makes a missing target; false in a read-only jail, where a
	// missing target cannot be made.
	mkdir bool
}

// mountAt mounts m onto its target below root (see OpenDirIn).
func mountAt(root int, m mountSpec) error {
	fd, err := OpenDirIn(root, m.target, m.mkdir)
	if !m.mkdir && errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("mount target %s: no such directory in the jail, and a read-only jail gets no new ones (add it under dirs: and rebuild)", m.target)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(m.source, fdPath(fd), m.fstype, m.flags, m.data); err != nil {
		return &os.PathError{Op: "mount " + m.fstype + " on", Path: m.target, Err: err}
	}
	return nil
}

// devNodes are the devices of the minimal /dev that enter provides.
var devNodes = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// setupDev mounts a fresh tmpfs on the jail's /dev with the standard
// devices, a private devpts instance, /dev/shm and the fd links. Inside a
// user namespace, where mknod is not allowed, the host's devices are bound.
func setupDev(root int, userns, mkdir bool) error {
	devfs := mountSpec{target: "/dev", source: "tmpfs", fstype: "tmpfs", flags: unix.MS_NOSUID | unix.MS_NOEXEC, data: "mode=755,size=64k,nr_inodes=64", mkdir: mkdir}
	if err := mountAt(root, devfs); err != nil {
		return err
	}
	dev, err := OpenDirIn(root, "/dev", false) // the new tmpfs, created by us: nothing planted in it
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	dfd, err := unix.Openat(dev, ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	for _, d := range devNodes {
		if !userns {
			if err := unix.Mknodat(dfd, d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
				return &os.PathError{Op: "mknod", Path: "/dev/" + d.name, Err: err}
			}
			if err := unix.Fchmodat(dfd, d.name, 0o666, 0); err != nil {
				return err
			}
			continue
		}
		// No mknod in a user namespace: bind the host's device onto a file.
		f, err := unix.Openat(dfd, d.name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC, 0o666)
		if err != nil {
			return &os.PathError{Op: "create", Path: "/dev/" + d.name, Err: err}
		}
		err = unix.Mount("/dev/"+d.name, fdPath(f), "", unix.MS_BIND, "")
		unix.Close(f)
		if err != nil {
			return &os.PathError{Op: "bind", Path: "/dev/" + d.name, Err: err}
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := unix.Mkdirat(dfd, d, 0o755); err != nil {
			return err
		}
	}
	for _, m := range []mountSpec{
		{target: "pts", source: "devpts", fstype: "devpts", flags: unix.MS_NOSUID | unix.MS_NOEXEC, data: "newinstance,ptmxmode=0666,mode=0620"},
		{target: "shm", source: "shm", fstype: "tmpfs", flags: unix.MS_NOSUID | unix.MS_NODEV, data: "mode=1777,size=64m"},
	} {
		if err := mountAt(dev, m); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := unix.Symlinkat(target, dfd, link); err != nil {
			return &os.PathError{Op: "symlink", Path: "/dev/" + link, Err: err}
		}
	}
	return nil
}

// readonlyTree makes the mount at fd and every mount below it read-only
// (mount_setattr with AT_RECURSIVE): a read-only bind of a directory that
// has something mounted inside must not leave that writable.
func readonlyTree(fd int) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return &os.PathError{Op: "mount_setattr read-only", Path: fdPath(fd), Err: err}
	}
	return nil
}

// Parts of a fresh /proc that reach the whole machine rather than the
// jail's processes. Root in the jail needs no capability to write most
// sysctls (kernel.core_pattern runs a program as host root on the next
// crash) or /proc/sysrq-trigger, so, as Docker does, these are made
// read-only or hidden.
var (
	procReadonly = []string{"sys", "bus", "fs", "irq", "sysrq-trigger"}
	procMasked   = []string{"kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "acpi", "scsi", "asound"}
)

// maskProc applies procReadonly and procMasked to the jail's /proc.
func maskProc(root int) error {
	proc, err := OpenDirIn(root, "/proc", false)
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	open := func(name string) (int, error) { return child.Open(proc, name, unix.O_PATH) }
	for _, name := range procReadonly {
		fd, err := open(name)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: "/proc/" + name, Err: err}
		}
		err = unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, "")
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "bind", Path: "/proc/" + name, Err: err}
		}
		if fd, err = open(name); err != nil { // the new bind mount
			return err
		}
		err = readonlyTree(fd)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	for _, name := range procMasked {
		fd, err := open(name)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: "/proc/" + name, Err: err}
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
		} else {
			err = unix.Mount("/dev/null", fdPath(fd), "", unix.MS_BIND, "")
		}
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "mask", Path: "/proc/" + name, Err: err}
		}
	}
	return nil
}
