// Package jailfs is the one way jailer resolves a path inside a jail tree
// whose contents it did not write itself or that a jail could have changed
// since: check, export, enter (the jail's account files, its mount
// targets), trace and build's removal of an old tree all go through it,
// and its attack tests live beside it. A Root holds a descriptor of the jail directory, and every lookup
// starts there: with openat2(2) and RESOLVE_IN_ROOT, the kernel resolves
// the path as a process chrooted in the jail would, so an absolute symlink
// names the jail's root and ".." never climbs above it; RESOLVE_NO_MAGICLINKS
// refuses /proc/PID/fd and /proc/PID/root, which would jump wherever their
// target lies, and RESOLVE_NO_SYMLINKS is added where a caller must follow
// none (a path a walk of the tree found). openat2 fails with EAGAIN when a
// rename or mount elsewhere races a lookup through "..": it is retried a
// bounded number of times. Where openat2 is missing (Linux < 5.6, or a
// seccomp filter that refuses it) the same answers come from a walk one
// component at a time with O_PATH|O_NOFOLLOW (fallback.go), which follows
// symlinks itself: absolute targets restart at the root, ".." stops there,
// at most MaxLinks links are followed, and a symlink that lives on procfs is
// refused as a magic link. Nothing in this package writes: build writes
// through an os.Root on the staging tree it has just made (see
// build/apply.go for why that is not a tree a jail could have changed).
package jailfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/internal/jailfs/child"
)

// MaxLinks is the number of symlinks one lookup follows before it fails
// with ELOOP, as Linux's own path walk does.
const MaxLinks = 40

// maxRetries bounds the lookups retried because the tree changed under
// them (EAGAIN from openat2, a race seen by the fallback).
const maxRetries = child.MaxRetries

// Follow says which symlinks a lookup follows; any it follows is resolved
// inside the jail.
type Follow uint8

const (
	// FollowAll follows symlinks on the way and at the end, as open(2).
	FollowAll Follow = iota
	// FollowParents follows them on the way but not at the end, as lstat(2).
	FollowParents
	// FollowNone follows none at all (ELOOP): the path names exactly what a
	// walk of the tree found.
	FollowNone
)

// Root is an open jail directory. Paths given to its methods are jail
// paths, resolved as a process chrooted in the jail would resolve them.
type Root struct {
	dir string
	fd  int // O_PATH descriptor of dir
	// forceWalk makes lookups take the fallback even where openat2 exists (tests).
	forceWalk bool
}

// OpenRoot opens the jail directory dir.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &Root{dir: dir, fd: fd}, nil
}

// Close releases the descriptor of the jail directory.
func (r *Root) Close() error { return unix.Close(r.fd) }

// HostPath returns the host path of the jail path p, for messages.
func (r *Root) HostPath(p string) string { return filepath.Join(r.dir, p) }

// haveOpenat2 says whether the kernel (and any seccomp filter) lets us
// call openat2; asked once per process.
var haveOpenat2 = child.HaveOpenat2

// open opens the jail path p with the open(2) flags (O_CLOEXEC added, no
// O_CREAT), following the symlinks follow allows. It returns a descriptor,
// or an *fs.PathError naming the host path.
func (r *Root) open(p string, flags int, follow Follow) (int, error) {
	flags |= unix.O_CLOEXEC
	if follow != FollowAll {
		flags |= unix.O_NOFOLLOW
	}
	var fd int
	var err error
	if r.forceWalk || !haveOpenat2() {
		fd, err = r.walkOpen(p, flags, follow)
	} else {
		resolve := uint64(unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS)
		if follow == FollowNone {
			resolve |= unix.RESOLVE_NO_SYMLINKS
		}
		// Not cleaned: RESOLVE_IN_ROOT takes ".." after a symlink where a
		// chrooted process would go, and never above the root.
		rel := strings.TrimLeft(p, "/")
		if rel == "" {
			rel = "."
		}
		fd, err = openat2(r.fd, rel, &unix.OpenHow{Flags: uint64(flags), Resolve: resolve})
		if err == unix.ENOSYS {
			fd, err = r.walkOpen(p, flags, follow)
		}
	}
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: r.HostPath(p), Err: err}
	}
	return fd, nil
}

// openat2 calls openat2(2), again while the kernel says a concurrent
// rename or mount may have misled the lookup.
func openat2(dirfd int, name string, how *unix.OpenHow) (int, error) {
	return child.Openat2(dirfd, name, how)
}

// OpenChild opens name, a single path component (no "/", ".", ".."), in
// the directory dirfd with the open(2) flags (no O_CREAT), following no
// symlink: a symlink is ELOOP, or ENOTDIR with O_DIRECTORY, or itself
// with O_PATH. It is for walks that go down one component at a time and
// must refuse every symlink on the way (the mount targets of enter, the
// walk of a tree). The error is the bare errno, for the caller to wrap
// with the path it knows. (It lives in package child, which the jail's
// init links without the rest of this package.)
func OpenChild(dirfd int, name string, flags int) (int, error) {
	return child.Open(dirfd, name, flags)
}

// openChild is OpenChild with or without openat2 (see child.OpenWith).
func openChild(dirfd int, name string, flags int, useOpenat2 bool) (int, error) {
	return child.OpenWith(dirfd, name, flags, useOpenat2)
}

// errNotRegular is returned by OpenFile for anything but a regular file.
var errNotRegular = errors.New("not a regular file")

// OpenFile opens the regular file at the jail path p for reading. It never
// opens a device or FIFO: p is first resolved to an O_PATH descriptor
// whose type is checked, and that same inode is then reopened through
// /proc/self/fd.
func (r *Root) OpenFile(p string, follow Follow) (*os.File, error) {
	pfd, err := r.open(p, unix.O_PATH, follow)
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
		if fd, err = r.open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, follow); err != nil {
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

// ReadFile returns the content of the regular file at the jail path p,
// following symlinks inside the jail; a file larger than limit bytes is an
// error rather than cut short (a cut line of /etc/passwd would read as
// another uid).
func (r *Root) ReadFile(p string, limit int64) ([]byte, error) {
	f, err := r.OpenFile(p, FollowAll)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.HostPath(p), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", r.HostPath(p), limit)
	}
	return data, nil
}

// Stat returns the stat of what the jail path p names, following the
// symlinks follow allows (FollowParents gives lstat(2)).
func (r *Root) Stat(p string, follow Follow) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := r.open(p, unix.O_PATH, follow)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, &fs.PathError{Op: "stat", Path: r.HostPath(p), Err: err}
	}
	return st, nil
}

// Readlink returns the target of the symlink at the jail path p; symlinks
// on the way are followed inside the jail.
func (r *Root) Readlink(p string) (string, error) {
	fd, err := r.open(p, unix.O_PATH, FollowParents)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: r.HostPath(p), Err: err}
	}
	return string(buf[:n]), nil
}
