//go:build linux

package enter

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal gives an interactive command a pty of its own, so that it can
// have a controlling terminal, job control and Ctrl-C, without holding
// the caller's terminal (where TIOCSTI could push keystrokes into the
// caller's shell after the jail exits). jailer copies between the two.
type terminal struct {
	master, slave *os.File
	caller        *os.File // the caller's terminal (stdin)
	out           *os.File
	state         *term.State
	copied        chan struct{}
	winch         chan os.Signal
}

// startTerminal opens a pty when opts.Interactive and points stdio at it.
func startTerminal(opts *Options, stdio *Stdio) (*terminal, error) {
	t := &terminal{}
	if !opts.Interactive {
		return t, nil
	}
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open a pty: %w", err)
	}
	t.master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.master.Close()
		return nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		t.master.Close()
		return nil, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.master.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	t.slave = os.NewFile(uintptr(sfd), name)
	t.caller, t.out = stdio.In, stdio.Out
	t.resize()
	*stdio = Stdio{In: t.slave, Out: t.slave, Err: t.slave}
	return t, nil
}

// resize copies the caller's window size to the pty.
func (t *terminal) resize() {
	if ws, err := unix.IoctlGetWinsize(int(t.caller.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// started switches the caller's terminal to raw mode and starts copying.
func (t *terminal) started() {
	if t.master == nil {
		return
	}
	t.slave.Close()
	t.state, _ = term.MakeRaw(int(t.caller.Fd()))
	t.winch = make(chan os.Signal, 1)
	signal.Notify(t.winch, syscall.SIGWINCH)
	go func() {
		for range t.winch {
			t.resize()
		}
	}()
	go io.Copy(t.master, t.caller)
	t.copied = make(chan struct{})
	go func() {
		io.Copy(t.out, t.master) // ends with EIO when the jail's last process closes the pty
		close(t.copied)
	}()
}

// restore waits for the last output and gives the caller its terminal back.
func (t *terminal) restore() {
	if t.master == nil {
		return
	}
	if t.copied != nil {
		select {
		case <-t.copied:
		case <-time.After(time.Second):
		}
	}
	if t.winch != nil {
		signal.Stop(t.winch)
		close(t.winch)
	}
	if t.state != nil {
		term.Restore(int(t.caller.Fd()), t.state)
	}
	t.master.Close()
	if t.slave != nil {
		t.slave.Close()
	}
}
