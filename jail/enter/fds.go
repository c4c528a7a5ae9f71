//go:build linux

package enter

import (
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// sealInheritedFds marks every descriptor above 2 close-on-exec. Go opens
// its own that way, but a process inherits others without it (a shell's
// `exec 7</root/secret`, a CI runner's pipes), and every program started
// with fork and exec would get them: slirp4netns, which parses what the
// jail sends, newuidmap, the init. Only the descriptors a child is given
// on purpose (moved into place at its start) reach it.
func sealInheritedFds() {
	if unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Before Linux 5.11: one by one.
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	self := int(d.Fd())
	d.Close()
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd > 2 && fd != self {
			if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
				unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
			}
		}
	}
}
