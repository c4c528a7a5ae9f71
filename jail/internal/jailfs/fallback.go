package jailfs

// The lookup for kernels without openat2: the path is walked from the
// root one component at a time, each opened with O_PATH|O_NOFOLLOW from
// the directory reached so far and fstat'ed, so the kernel never follows a
// symlink or ".." on its own. A symlink met on the way (or at the end,
// unless the caller asked not to) is read and its target put in front of
// the components left: an absolute target starts again at the root, a
// relative one in the directory holding the link. ".." is taken by walking
// again from the root to the parent of the directory reached (the walk
// keeps the names of the real directories it went through, never a
// symlink), so it cannot climb above the root, whatever is renamed
// meanwhile. At most MaxLinks symlinks are followed, and one that lives on
// procfs is refused: procfs's magic links (/proc/PID/fd/N, /proc/PID/root)
// name a file, not a path, and are what RESOLVE_NO_MAGICLINKS refuses.
// When the tree changes between two steps so that the walk cannot tell
// what the path names (a symlink swapped in for the last component, a
// directory on the way moved), it starts again, at most maxRetries times.

import (
	"errors"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/internal/jailfs/child"
)

// errRace says that the tree changed during a walk in a way that leaves
// its answer unsure.
var errRace = errors.New("the tree changed during the lookup")

// walkOpen opens the jail path p as open does with openat2, by walking it.
// flags already hold O_NOFOLLOW when follow is not FollowAll.
func (r *Root) walkOpen(p string, flags int, follow Follow) (int, error) {
	for i := 0; ; i++ {
		w := walker{root: r.fd, cur: r.fd}
		fd, err := w.open(p, flags, follow)
		w.setCur(r.fd)
		if err != errRace {
			return fd, err
		}
		if i == maxRetries {
			return -1, unix.EAGAIN
		}
	}
}

// walker is one walk of a path from the root.
type walker struct {
	root  int      // the root's descriptor, not the walker's to close
	cur   int      // the directory reached: root, or a descriptor the walker owns
	names []string // the path of cur below the root: directories, no symlink
	links int      // symlinks followed so far
}

// setCur makes fd the directory reached, closing the previous one.
func (w *walker) setCur(fd int) {
	if w.cur != w.root {
		unix.Close(w.cur)
	}
	w.cur = fd
}

// open walks p and opens what it names with flags.
func (w *walker) open(p string, flags int, follow Follow) (int, error) {
	todo := strings.Split(p, "/")
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if err := w.up(); err != nil {
				return -1, err
			}
			continue
		}
		// A trailing "/" or "/." leaves a component after the name: like
		// the kernel, it is then followed, and must be a directory.
		last := len(todo) == 0
		fd, err := unix.Openat(w.cur, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		switch typ := st.Mode & unix.S_IFMT; {
		case typ == unix.S_IFLNK && (!last || follow == FollowAll):
			target, err := w.readLink(fd, follow)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if path.IsAbs(target) {
				w.setCur(w.root)
				w.names = w.names[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
		case last:
			return w.openLast(fd, name, typ, flags)
		case typ != unix.S_IFDIR:
			unix.Close(fd)
			return -1, unix.ENOTDIR
		default:
			w.setCur(fd)
			w.names = append(w.names, name)
		}
	}
	// p ends on a directory: the root, "..", or a trailing "/".
	return openat(w.cur, ".", flags)
}

// openLast opens the last component name of the walk, open as the O_PATH
// descriptor fd (which it takes) of type typ, with flags.
func (w *walker) openLast(fd int, name string, typ uint32, flags int) (int, error) {
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 && typ != unix.S_IFDIR {
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
		return fd, nil // what the walk found, a symlink only when not to be followed
	}
	unix.Close(fd)
	if typ == unix.S_IFLNK {
		return -1, unix.ELOOP // as open(2) with O_NOFOLLOW
	}
	nfd, err := openat(w.cur, name, flags|unix.O_NOFOLLOW)
	if err == unix.ELOOP || (err == unix.ENOTDIR && typ == unix.S_IFDIR) {
		return -1, errRace // a symlink put there since the fstat
	}
	return nfd, err
}

// readLink returns the target of the symlink open as fd, which the walk
// is to follow, or ELOOP when it may not.
func (w *walker) readLink(fd int, follow Follow) (string, error) {
	if follow == FollowNone {
		return "", unix.ELOOP
	}
	if w.links++; w.links > MaxLinks {
		return "", unix.ELOOP
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return "", err
	}
	if sfs.Type == unix.PROC_SUPER_MAGIC {
		return "", unix.ELOOP // a magic link, or a plain one a jail has no use for
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", unix.ENOENT
	}
	return string(buf[:n]), nil
}

// up takes "..": it walks again from the root to the parent of the
// directory reached, through the names it went down by. At the root it
// stays there.
func (w *walker) up() error {
	if len(w.names) == 0 {
		return nil
	}
	names := w.names[:len(w.names)-1]
	w.setCur(w.root)
	for _, name := range names {
		fd, err := unix.Openat(w.cur, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return errRace // moved or replaced since the walk went through it
		}
		w.setCur(fd)
	}
	w.names = names
	return nil
}

// openat is openat(2), again when a signal interrupted it.
func openat(dirfd int, name string, flags int) (int, error) {
	return child.Openat(dirfd, name, flags)
}
