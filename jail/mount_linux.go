package jail

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
		next, err := unix.Openat2(fd, c, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.ENOENT) && mkdir {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat2(fd, c, &unix.OpenHow{
					Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
					Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
				})
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

// mountAt mounts onto the directory p below root (see openDirIn).
func mountAt(root int, p, source, fstype string, flags uintptr, data string, mkdir bool) error {
	fd, err := openDirIn(root, p, mkdir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return &os.PathError{Op: "mount " + fstype + " on", Path: p, Err: err}
	}
	return nil
}

// remountReadonly makes the mount at path read-only, keeping the flags the
// kernel would refuse to clear (nosuid, nodev, noexec) in place.
func remountReadonly(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := unix.Mount("", path, "", flags, ""); err != nil {
		return &os.PathError{Op: "remount read-only", Path: path, Err: err}
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
func setupDev(root int, userns bool) error {
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k,nr_inodes=64", true); err != nil {
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
