//go:build linux

// Package child opens one component of a path below a directory
// descriptor without following a symlink: the step of package jailfs that
// the jail's init needs too (its mount targets are opened one directory
// at a time). It is a leaf of its own so that the init, a program of its
// own (cmd/jailer-init), links it without the rest of jailfs and what
// that imports; jailfs.OpenChild is this Open, and its attack tests
// cover both.
package child

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxRetries bounds the lookups retried because the tree changed under
// them (EAGAIN from openat2).
const MaxRetries = 64

// HaveOpenat2 says whether the kernel (and any seccomp filter) lets us
// call openat2; asked once per process.
var HaveOpenat2 = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// Openat2 calls openat2(2), again while the kernel says a concurrent
// rename or mount may have misled the lookup.
func Openat2(dirfd int, name string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, name, how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < MaxRetries {
			continue
		}
		return fd, err
	}
}

// Openat is openat(2), again when a signal interrupted it.
func Openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Open opens name, a single path component (no "/", ".", ".."), in the
// directory dirfd with the open(2) flags (no O_CREAT), following no
// symlink: a symlink is ELOOP, or ENOTDIR with O_DIRECTORY, or itself
// with O_PATH. The error is the bare errno, for the caller to wrap with
// the path it knows.
func Open(dirfd int, name string, flags int) (int, error) {
	return OpenWith(dirfd, name, flags, HaveOpenat2())
}

// OpenWith is Open with openat2 or, when useOpenat2 is false, openat
// alone (as on a kernel without openat2); tests try both.
func OpenWith(dirfd int, name string, flags int, useOpenat2 bool) (int, error) {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return -1, unix.EINVAL
	}
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if useOpenat2 {
		fd, err := Openat2(dirfd, name, &unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != unix.ENOSYS {
			return fd, err
		}
	}
	// One component with O_NOFOLLOW is what the flags above ask for.
	return Openat(dirfd, name, flags)
}
