package build

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jailer-dev/jailer/jail/internal/jailfs"

	"golang.org/x/sys/unix"
)

// RemoveAll removes a tree that jailer made, even where a directory's mode
// (0555 from a manifest) keeps a non-root user from deleting inside it. It
// never follows a symlink and never enters a mount point: something the
// host mounted inside an old jail (a bind mount of /home, say) is left
// alone, with the directory it is mounted on.
//
// The tree may be an old jail that a jail entered before the rebuild still
// runs in, and whose processes can swap a directory for a symlink to a host
// directory at any moment. So nothing is removed by a path: each directory
// is opened from its parent's descriptor through jailfs.OpenChild (no
// symlink followed), listed and emptied through its own descriptor, and
// each name unlinked relative to the directory that holds it.
func RemoveAll(dir string) { removeTree(dir) }

// removeTree is RemoveAll, and says how many bytes of disk it freed (the
// blocks of what it removed, hardlinked files left out: their data stays)
// and whether dir is gone.
func removeTree(dir string) (freed int64, gone bool) {
	parent, err := unix.Open(filepath.Dir(dir), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(parent)
	gone = removeAt(parent, filepath.Base(dir), true, &freed)
	return freed, gone
}

// removeAt removes name, in the directory parent, and everything below
// it, adds the bytes freed to freed, and reports whether it is gone. Below
// the top, a mount point stops it.
func removeAt(parent int, name string, top bool, freed *int64) bool {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return errors.Is(err, unix.ENOENT)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if unix.Unlinkat(parent, name, 0) != nil {
			return false
		}
		if st.Nlink == 1 {
			*freed += st.Blocks * 512
		}
		return true
	}
	pfd, err := jailfs.OpenChild(parent, name, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return false
	}
	if !top && isMountRoot(pfd) {
		unix.Close(pfd)
		return false
	}
	fd, err := openToEmpty(pfd)
	unix.Close(pfd)
	if err != nil {
		return false
	}
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	gone := true
	for _, n := range names {
		if !removeAt(fd, n, false, freed) {
			gone = false
		}
	}
	if !gone || unix.Unlinkat(parent, name, unix.AT_REMOVEDIR) != nil {
		return false
	}
	*freed += st.Blocks * 512
	return true
}

// openToEmpty opens the directory open as the O_PATH descriptor pfd for
// listing, and gives it mode 0700 so that its entries can be removed; one
// that cannot be read (mode 0000, built by a non-root user) is first made
// readable through /proc/self/fd, which names that very directory.
func openToEmpty(pfd int) (int, error) {
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EACCES) {
		unix.Chmod("/proc/self/fd/"+strconv.Itoa(pfd), 0o700)
		fd, err = unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, err
	}
	unix.Fchmod(fd, 0o700)
	return fd, nil
}

// isMountRoot reports whether the directory open as fd has something
// mounted on it (when in doubt, it has).
func isMountRoot(fd int) bool {
	var sx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, 0, &sx); err != nil {
		return true
	}
	return sx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && sx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
