package jailfs

// The walk of a whole tree, for check and export: through directory
// descriptors, one component at a time, never following a symlink, so a
// symlink planted in the jail is listed as a symlink and nothing outside
// the jail is ever listed.

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"

	"golang.org/x/sys/unix"
)

// Tree is a jail's tree as walked, without following symlinks.
type Tree struct {
	// Nodes are every path in the tree, "/" included.
	Nodes map[string]Node
	// Files are the paths of the regular files, sorted.
	Files []string
	// Mounts are the mount points (/proc, /dev, /sys) whose contents were skipped.
	Mounts []string
}

// Hidden reports whether p is inside one of the skipped mount points.
func (t *Tree) Hidden(p string) bool {
	for _, m := range t.Mounts {
		if strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// Node is the lstat of one path in the tree.
type Node struct {
	Mode   uint32 // st_mode
	Size   int64
	Target string // of a symlink
}

// Perm formats the node's permission bits as the lock does.
func (n Node) Perm() string { return fmt.Sprintf("%04o", n.Mode&0o7777) }

// Kind names what the node is, in the words of the lock.
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

// Walk lists the jail's tree without following symlinks, skipping the
// contents of /proc, /dev and /sys when something is mounted on them.
func (r *Root) Walk() (*Tree, error) {
	fd, err := r.open("/", unix.O_RDONLY|unix.O_DIRECTORY, FollowNone)
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
			sub, err := openChild(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, !r.forceWalk && haveOpenat2())
			if err != nil {
				return &fs.PathError{Op: "open", Path: r.HostPath(p), Err: err}
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
