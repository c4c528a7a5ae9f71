//go:build linux

package jailinit

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// PidsHop is how the init puts the command, and only the command, in the
// pids cgroup: three files of the cgroups jailer opens for it (the init
// cannot reach /sys/fs/cgroup from inside the jail), written from the one
// thread that forks the command. Writing 0 to a cgroup's tasks (v1) or
// cgroup.threads (v2) moves the writing thread; a child forked by a
// thread starts in that thread's cgroup. (Package enter's cgroup.go makes
// the cgroups.)
type PidsHop struct {
	Into  int // fd of the command cgroup's tasks (cgroup.threads)
	Limit int // fd of the command cgroup's pids.max
	Back  int // fd of the jail cgroup's tasks (cgroup.threads), where the init is
	Pids  int // the command's limit

	lowered bool // the limit is Pids: a fork after the first raises it first
}

// fork runs start (which forks the command) from the calling thread,
// locked to its OS thread, once that thread is in the command's cgroup,
// then sets the command's limit and steps back out. The thread counts
// against the limit while it is in (jailer set pids+1 for that): the
// limit is lowered to pids before it leaves, so the command never has
// more. When the hop back fails the command is killed: the init would
// stay in the command's cgroup, and its threads would count.
func (h *PidsHop) fork(start func() (int, int, error)) (pid, code int, err error) {
	hop := func(fd int, what, value string) error {
		if _, err := unix.Write(fd, []byte(value)); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if h.lowered {
		// A command jailer exec asks for: the thread that forks it must
		// not take a slot of the command's (jailer set pids+1 for the
		// first fork).
		if err := hop(h.Limit, "raise the pids limit for the fork", strconv.Itoa(h.Pids+1)); err != nil {
			return 0, ExitSetupFailed, err
		}
	}
	h.lowered = true
	if err := hop(h.Into, "enter the command's pids cgroup", "0"); err != nil {
		return 0, ExitSetupFailed, err
	}
	pid, code, err = start()
	err2 := hop(h.Limit, "set the pids limit", strconv.Itoa(h.Pids))
	if err3 := hop(h.Back, "leave the command's pids cgroup", "0"); err2 == nil {
		err2 = err3
	}
	if err2 != nil && err == nil {
		unix.Kill(pid, unix.SIGKILL)
		return 0, ExitSetupFailed, err2
	}
	return pid, code, err
}
