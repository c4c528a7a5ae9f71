//go:build linux

package runs

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Stop ends the jail of r: SIGTERM to its init, which passes it on to
// the command, then, when the jail is still there after grace, SIGKILL
// to the init, which takes every process of the jail with it. It
// returns once the init has exited; killed says that SIGKILL was needed.
// The init is reached through a pidfd opened before its start time is
// checked, so a pid reused meanwhile is never signalled.
func Stop(r *Record, grace time.Duration) (killed bool, err error) {
	fd, err := unix.PidfdOpen(r.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return false, nil // gone already
	}
	if err != nil {
		return false, fmt.Errorf("stop jail %s: open its init (pid %d): %w (pidfd_open needs Linux 5.3)", r.ID, r.PID, err)
	}
	defer unix.Close(fd)
	if !r.Alive() {
		return false, nil
	}
	if err := signal(fd, r, unix.SIGTERM); err != nil {
		return false, err
	}
	if exited(fd, grace) {
		return false, nil
	}
	if err := signal(fd, r, unix.SIGKILL); err != nil {
		return false, err
	}
	exited(fd, -1)
	return true, nil
}

// signal sends sig to the init behind pidfd fd; one that has exited
// meanwhile is no error.
func signal(fd int, r *Record, sig unix.Signal) error {
	err := unix.PidfdSendSignal(fd, sig, nil, 0)
	if err == nil || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("stop jail %s: send %s to its init (pid %d): %w", r.ID, unix.SignalName(sig), r.PID, err)
}

// exited waits up to d (forever when negative) for the process behind
// pidfd fd to exit, and says whether it has.
func exited(fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ms := -1
		if d >= 0 {
			ms = int(time.Until(deadline).Milliseconds())
			if ms < 0 {
				ms = 0
			}
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false
		}
		return n > 0
	}
}
