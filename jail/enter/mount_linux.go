package enter

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/jailfs"

	"golang.org/x/sys/unix"
)

// fdPath names an open file descriptor as a path, so that mount(2) acts on
// exactly the directory that was opened (without following symlinks), not
// on whatever a path resolves to by the time of the mount.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openDirIn opens the directory p (a jail path) below the directory fd
// root, one component at a time, refusing symlinks anywhere on the way and
// creating missing directories when mkdir is set. It returns an O_PATH fd.
func openDirIn(root int, p string, mkdir bool) (int, error) {
	fd, err := unix.Dup(root)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: .. is not allowed", p)
		}
		next, err := jailfs.OpenChild(fd, c, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) && mkdir {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = jailfs.OpenChild(fd, c, unix.O_PATH|unix.O_DIRECTORY)
			}
		}
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return -1, fmt.Errorf("%s: %s is a symlink or not a directory; refusing to mount there", p, c)
			}
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		fd = next
	}
	return fd, nil
}

// mountAt mounts onto the directory p below root (see openDirIn); mkdir
// is false in a read-only jail, where a missing target cannot be made.
func mountAt(root int, p, source, fstype string, flags uintptr, data string, mkdir bool) error {
	fd, err := openDirIn(root, p, mkdir)
	if !mkdir && errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("mount target %s: no such directory in the jail, and a read-only jail gets no new ones (add it under dirs: and rebuild)", p)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return &os.PathError{Op: "mount " + fstype + " on", Path: p, Err: err}
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
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k,nr_inodes=64", mkdir); err != nil {
		return err
	}
	dev, err := openDirIn(root, "/dev", false) // the new tmpfs, created by us: nothing planted in it
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
	if err := mountAt(dev, "pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", false); err != nil {
		return err
	}
	if err := mountAt(dev, "shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m", false); err != nil {
		return err
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
	proc, err := openDirIn(root, "/proc", false)
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	open := func(name string) (int, error) { return jailfs.OpenChild(proc, name, unix.O_PATH) }
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
