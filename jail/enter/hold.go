//go:build linux

package enter

import (
	"os"

	"github.com/jailer-dev/jailer/jail/lockfile"

	"golang.org/x/sys/unix"
)

// holdTree holds the tree at root for the run (see lockfile.Hold), so
// that a rebuild leaves it whole, and returns the hold for Run to release
// once the init has exited. It is called once the init has started and
// before it is admitted: the init resolves the tree's path only after it
// has its config. Builds may swap the path again once the init has
// reported on status (the command started, or why not), which it does
// after its mounts.
func holdTree(root string, status *os.File) *lockfile.Hold {
	h := lockfile.HoldTree(root)
	go func() {
		waitReadable(status)
		h.Started()
	}()
	return h
}

// waitReadable returns once f, a pipe, has something to read or is
// closed, without reading it.
func waitReadable(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		return n > 0 || (err != nil && err != unix.EINTR)
	})
}
