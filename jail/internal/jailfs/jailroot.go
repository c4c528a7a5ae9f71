package jailfs

// `jailer check`: what is wrong with a built jail, found without executing
// anything in it. The tree is walked through directory descriptors without
// following symlinks, and every path the loader would resolve is opened with
// openat2(RESOLVE_IN_ROOT) on the jail directory, so a symlink in the jail
// to /etc/shadow names the jail's /etc/shadow, never the host's.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"

	"golang.org/x/sys/unix"
)

// jailTree is a jail's tree as walked, without following symlinks.
type Tree struct {
	// nodes are every path in the tree, "/" included.
	Nodes map[string]Node
	// files are the paths of the regular files, sorted.
	Files []string
	// mounts are the mount points (/proc, /dev, /sys) whose contents were skipped.
	Mounts []string
}

// hidden reports whether p is inside one of the skipped mount points.
func (t *Tree) Hidden(p string) bool {
	for _, m := range t.Mounts {
		if strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// jailNode is the lstat of one path in the tree.
type Node struct {
	Mode   uint32 // st_mode
	Size   int64
	Target string // of a symlink
}

// perm formats the node's permission bits as the lock does.
func (n Node) Perm() string { return fmt.Sprintf("%04o", n.Mode&0o7777) }

// kind names what the node is, in the words of the lock.
func (n Node) Kind() plan.Kind {
	switch n.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return plan.KindFile
	case unix.S_IFDIR:
		return plan.KindDir
	case unix.S_IFLNK:
		return plan.KindSymlink
	case unix.S_IFCHR, unix.S_IFBLK:
		return plan.KindDevice
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "unknown file type"
}

// jailRoot is an open jail directory. Paths given to its methods are jail
// paths, resolved as a process chrooted in the jail would resolve them.
type Root struct {
	dir string
	fd  int // O_PATH descriptor of dir
}

// openJailRoot opens the jail directory dir.
func Open(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &Root{dir: dir, fd: fd}, nil
}

// close releases the descriptor of the jail directory.
func (r *Root) Close() { unix.Close(r.fd) }

// host returns the host path of the jail path p, for messages.
func (r *Root) HostPath(p string) string { return filepath.Join(r.dir, p) }

// openat2 opens the jail path p from the root, retrying when the kernel asks
// to (a concurrent rename makes RESOLVE_IN_ROOT return EAGAIN).
func (r *Root) Openat2(p string, how *unix.OpenHow) (int, error) {
	// Not cleaned: RESOLVE_IN_ROOT takes ".." after a symlink where a
	// chrooted process would go, and never above the root.
	rel := strings.TrimLeft(p, "/")
	if rel == "" {
		rel = "."
	}
	return r.openat(r.fd, rel, p, how)
}

// openat opens name in the directory dirfd, which is the jail path p.
func (r *Root) openat(dirfd int, name, p string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, name, how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < 16 {
			continue
		}
		if err == unix.ENOSYS {
			err = fmt.Errorf("%w (openat2 needs Linux 5.6 or later)", err)
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: r.HostPath(p), Err: err}
		}
		return fd, nil
	}
}

// errNotRegular is returned by openFile for anything but a regular file.
var errNotRegular = errors.New("not a regular file")

// openFile opens the regular file at the jail path p for reading. With
// follow, symlinks are followed inside the jail (absolute ones and ".." are
// relative to its root); without, none is, so p names exactly a walked file.
// It never opens a device or FIFO: p is first resolved to an O_PATH
// descriptor whose type is checked, and that same inode is then reopened
// through /proc/self/fd.
func (r *Root) OpenFile(p string, follow bool) (*os.File, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if !follow {
		how.Flags |= unix.O_NOFOLLOW
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	pfd, err := r.Openat2(p, &how)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: r.HostPath(p), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: r.HostPath(p), Err: errNotRegular}
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		// No /proc on the host: open again, without blocking on a FIFO
		// swapped in meanwhile, and make sure it is the same file.
		how.Flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY | how.Flags&unix.O_NOFOLLOW
		if fd, err = r.Openat2(p, &how); err != nil {
			return nil, err
		}
		var st2 unix.Stat_t
		if err := unix.Fstat(fd, &st2); err != nil || st2.Dev != st.Dev || st2.Ino != st.Ino {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "open", Path: r.HostPath(p), Err: errors.New("replaced while being opened")}
		}
	}
	return os.NewFile(uintptr(fd), r.HostPath(p)), nil
}

// walk lists the jail's tree without following symlinks, skipping the
// contents of /proc, /dev and /sys when something is mounted on them.
func (r *Root) Walk() (*Tree, error) {
	fd, err := r.Openat2("/", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: r.dir, Err: err}
	}
	t := &Tree{Nodes: map[string]Node{"/": {Mode: st.Mode}}}
	if err := r.walkDir(t, fd, "/", uint64(st.Dev)); err != nil {
		return nil, err
	}
	slices.Sort(t.Files)
	return t, nil
}

// walkDir records the entries of the directory open as fd, at jail path
// dir, and recurses into its subdirectories. It closes fd.
func (r *Root) walkDir(t *Tree, fd int, dir string, rootDev uint64) error {
	f := os.NewFile(uintptr(fd), r.HostPath(dir))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory: %w", err)
	}
	for _, name := range names {
		p := path.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err == unix.ENOENT {
				continue // removed since the directory was read
			}
			return &fs.PathError{Op: "lstat", Path: r.HostPath(p), Err: err}
		}
		n := Node{Mode: st.Mode, Size: st.Size}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			t.Files = append(t.Files, p)
		case unix.S_IFLNK:
			buf := make([]byte, unix.PathMax)
			k, err := unix.Readlinkat(fd, name, buf)
			if err != nil {
				return &fs.PathError{Op: "readlink", Path: r.HostPath(p), Err: err}
			}
			n.Target = string(buf[:k])
		case unix.S_IFDIR:
			t.Nodes[p] = n
			if dir == "/" && (name == "proc" || name == "dev" || name == "sys") && isMountPoint(fd, name, uint64(st.Dev), rootDev) {
				t.Mounts = append(t.Mounts, p)
				continue
			}
			sub, err := r.openat(fd, name, p, &unix.OpenHow{
				Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
			})
			if err != nil {
				return err
			}
			if err := r.walkDir(t, sub, p, rootDev); err != nil {
				return err
			}
		}
		t.Nodes[p] = n
	}
	return nil
}

// isMountPoint reports whether the directory name in dirfd, of device dev,
// has something mounted on it.
func isMountPoint(dirfd int, name string, dev, rootDev uint64) bool {
	if dev != rootDev {
		return true
	}
	var stx unix.Statx_t
	err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE, &stx)
	return err == nil && stx.Attributes_mask&stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// Lstat returns the stat of the jail path p, following no symlink on the
// way or at its end.
func (r *Root) Lstat(p string) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := r.Openat2(p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, &fs.PathError{Op: "stat", Path: r.HostPath(p), Err: err}
	}
	return st, nil
}
