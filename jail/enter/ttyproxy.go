//go:build linux

package enter

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ttyProxy stands between the caller's terminal and a command of jailer
// exec that is not interactive (`jailer exec ID cmd > out.txt` on a
// terminal): the jail outlives the command, and a process it leaves
// behind holding the caller's terminal would read what the caller types
// into their shell next (a sudo password), and write into it. So each of
// stdin, stdout and stderr that is a terminal is a pipe instead, copied
// while the command runs and cut when it exits.
type ttyProxy struct {
	wg    sync.WaitGroup
	cut   []func() // stop the copies, once the command has exited
	close []io.Closer
}

// proxyTerminals replaces the terminals among stdio with pipes and starts
// the copies; stop them with finish.
func proxyTerminals(stdio *Stdio) (*ttyProxy, error) {
	p := &ttyProxy{}
	if isTerminal(stdio.In) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		// A reading of the terminal of our own, that can be stopped: a
		// new open file description, non-blocking without changing the
		// caller's (the shell's) descriptor.
		in, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(stdio.In.Fd())), os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err != nil {
			r.Close()
			w.Close()
			return nil, err
		}
		stdio.In = r
		p.close = append(p.close, r)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			io.Copy(w, in) // until the deadline below
			w.Close()
			in.Close()
		}()
		// A process left behind that holds the pipe and reads nothing
		// would block the copy's write for ever: both ends are cut.
		p.cut = append(p.cut, func() { in.SetReadDeadline(time.Now()); w.SetWriteDeadline(time.Now()) })
	}
	for _, f := range []**os.File{&stdio.Out, &stdio.Err} {
		if !isTerminal(*f) {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			p.finish()
			return nil, err
		}
		dst := *f
		*f = w
		p.close = append(p.close, w)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer r.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := r.Read(buf)
				dst.Write(buf[:n])
				if errors.Is(err, os.ErrDeadlineExceeded) {
					drain(r, dst, buf)
					return
				}
				if err != nil {
					return
				}
			}
		}()
		p.cut = append(p.cut, func() { r.SetReadDeadline(time.Now()) })
	}
	return p, nil
}

// closeSent closes the pipe ends the init now holds (it has them once
// the request is sent).
func (p *ttyProxy) closeSent() {
	for _, c := range p.close {
		c.Close()
	}
	p.close = nil
}

// finish, once the command has exited, copies what it wrote and is still
// in the pipes, and stops: whatever of the jail still holds a pipe gets
// nothing more from the terminal, and writes to no one.
func (p *ttyProxy) finish() {
	p.closeSent()
	for _, cut := range p.cut {
		cut()
	}
	p.wg.Wait()
}

// drain copies to dst what the pipe r holds when it is called, and no
// more: a process left behind that writes without end keeps the pipe
// full, and a drain to its end would never end.
func drain(r, dst *os.File, buf []byte) {
	rc, err := r.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		left, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD: what a pipe holds
		for err == nil && left > 0 {
			n, rerr := unix.Read(int(fd), buf[:min(left, len(buf))])
			if rerr == unix.EINTR {
				continue
			}
			if rerr != nil || n <= 0 {
				return
			}
			dst.Write(buf[:n])
			left -= n
		}
	})
}

// isTerminal says whether f is a terminal.
func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }
