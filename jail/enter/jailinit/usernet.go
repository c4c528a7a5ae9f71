//go:build linux

package jailinit

// The init's part of the user-mode network (--net user; package enter's
// usernet.go has the rest): the init is cloned in the jail's network
// namespace, brings loopback up, writes the jail's /etc/resolv.conf into
// its fresh root, and waits, once its mounts are made, for jailer to say
// that slirp4netns has configured the network, before it starts the
// command: the command's first connection must find the network up.

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// waitNetwork reads the byte jailer writes on fd once the network is up;
// end of file means jailer gave up on it (it says why).
func waitNetwork(fd int) error {
	f := os.NewFile(uintptr(fd), "net-ready")
	defer f.Close()
	var b [1]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return errors.New("the user-mode network did not come up (slirp4netns failed)")
	}
	return nil
}

// writeResolvConf makes /etc/resolv.conf of the jail at root (a fresh
// root: the write lands in the overlay's upper layer) a file with
// content. /etc is reached without following a symlink (made when
// missing); what resolv.conf is in the tree (a file, or a symlink such as
// systemd's to ../run/...) is replaced, never written through.
func writeResolvConf(root int, content string) error {
	fail := func(err error) error {
		return fmt.Errorf("write the jail's /etc/resolv.conf for the user-mode network: %w", err)
	}
	etc, err := OpenDirIn(root, "/etc", true)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(etc)
	var st unix.Stat_t
	switch err := unix.Fstatat(etc, "resolv.conf", &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return fail(errors.New("it is a directory in the jail (remove it from the manifest)"))
	case err == nil:
		if err := unix.Unlinkat(etc, "resolv.conf", 0); err != nil {
			return fail(err)
		}
	case !errors.Is(err, unix.ENOENT):
		return fail(err)
	}
	fd, err := unix.Openat(etc, "resolv.conf", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fail(err)
	}
	f := os.NewFile(uintptr(fd), "resolv.conf")
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	return nil
}
