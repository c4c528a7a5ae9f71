//go:build linux

package enter

// jailer exec: a command run in a running jail by its init, as a child of
// the init (jailinit/exec.go has the init's side and the protocol). This
// side finds nothing itself: it resolves the user against the jail's
// account files, connects to the init's socket (as the jail's owner, so
// that root may run commands in a user's jail), sends the request with
// its stdin, stdout and stderr, and waits for the command's status.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/runs"
)

// ExecOptions say what to run in a running jail, and how; what they
// leave empty is the jail's own (its user, environment and directory).
type ExecOptions struct {
	Command     []string          // the command; a name without a slash is looked up in the jail's PATH
	User        string            // a name from the jail's /etc/passwd, or uid[:gid]
	Workdir     string            // absolute, in the jail
	Env         map[string]string // added to the jail's environment
	Interactive bool              // a pty of its own, proxied to the caller's terminal
}

// Exec runs o.Command in the running jail r, as a child of its init, and
// returns its exit status (128+N when signal N killed it, 137 when the
// jail ended while it ran). An error means it did not run (an *Error,
// with the status jailer exits with), or that the jail ended under it.
// Signals jailer exec gets are passed on to the command.
func Exec(ctx context.Context, r *runs.Record, o ExecOptions, stdio Stdio) (int, error) {
	sealInheritedFds()
	if err := stdio.check(); err != nil {
		return ExitSetupFailed, err
	}
	if !r.Exec {
		return ExitSetupFailed, fmt.Errorf("jail %s runs in a plain chroot (--no-namespaces), whose init takes no commands: jailer exec needs the namespaces", r.ID)
	}
	if len(o.Command) == 0 {
		return ExitSetupFailed, errors.New("no command to run")
	}
	req := &jailinit.ExecRequest{Argv: o.Command, Workdir: o.Workdir, Tty: o.Interactive}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return ExitSetupFailed, fmt.Errorf("workdir %q must be absolute", o.Workdir)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Env)) {
		req.Env = append(req.Env, k+"="+o.Env[k])
	}
	if o.User != "" {
		uid, gid, groups, _, err := lookupUser(r.Tree, o.User)
		if err != nil {
			return ExitSetupFailed, err
		}
		req.SetUser, req.UID, req.GID, req.Groups = true, uid, gid, groups
	}
	data := req.Encode()
	if len(data) > jailinit.MaxExecRequest {
		return ExitSetupFailed, fmt.Errorf("the command and its environment take %d bytes, more than the %d jailer exec passes", len(data), jailinit.MaxExecRequest)
	}
	conn, err := connectAs(r.Socket, r.Owner)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return ExitSetupFailed, exited(r)
		}
		return ExitSetupFailed, fmt.Errorf("jail %s: connect to its init: %w", r.ID, err)
	}
	defer unix.Close(conn)
	term, err := startTerminal(&Options{Interactive: o.Interactive}, &stdio)
	if err != nil {
		return ExitSetupFailed, err
	}
	defer term.restore()
	if !o.Interactive {
		proxy, err := proxyTerminals(&stdio)
		if err != nil {
			return ExitSetupFailed, fmt.Errorf("pipes for the terminal: %w", err)
		}
		defer proxy.finish()
		defer proxy.closeSent() // runs first: sent, or not to be sent
	}
	// The caller's signals are caught before the command can start, to be
	// forwarded once it has (forwardSignals): one sent in between must
	// reach it, not end jailer exec.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedToInit...)
	defer signal.Stop(sigs)
	rights := unix.UnixRights(int(stdio.In.Fd()), int(stdio.Out.Fd()), int(stdio.Err.Fd()))
	if err := unix.Sendmsg(conn, data, rights, nil, 0); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			return ExitSetupFailed, exited(r)
		}
		return ExitSetupFailed, fmt.Errorf("jail %s: send the command to its init: %w", r.ID, err)
	}
	runtime.KeepAlive(stdio)
	answer, ok := readAnswer(conn)
	if !ok {
		return ExitSetupFailed, exited(r)
	}
	if rest, isStart := strings.CutPrefix(answer, "0 started "); !isStart || rest == "" {
		code, msg, _ := strings.Cut(answer, " ")
		n, err := strconv.Atoi(code)
		if err != nil || n == 0 {
			n = ExitSetupFailed
		}
		return n, &Error{Code: n, Msg: msg}
	}
	term.started()
	stop := forwardSignals(ctx, conn, sigs)
	defer stop()
	answer, ok = readAnswer(conn)
	if code, isExit := strings.CutPrefix(answer, "exit "); ok && isExit {
		if n, err := strconv.Atoi(code); err == nil {
			return n, nil
		}
	}
	return 128 + int(syscall.SIGKILL), fmt.Errorf("jail %s ended while the command ran, which was killed with it", r.ID)
}

// exited is the error of a command not run because the jail's command
// has exited.
func exited(r *runs.Record) error {
	return fmt.Errorf("%w; nothing was run", &runs.ExitedError{Record: r})
}

// readAnswer reads one message from the init; false when the connection
// closed first.
func readAnswer(conn int) (string, bool) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(conn, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return "", false
		}
		return string(buf[:n]), true
	}
}

// forwardSignals passes the signals jailer exec gets (on sigs) on to the
// command, until stop; when ctx ends, the connection is shut, and the
// init kills the command.
func forwardSignals(ctx context.Context, conn int, sigs <-chan os.Signal) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				unix.Write(conn, []byte(fmt.Sprintf("sig %d", s.(syscall.Signal))))
			case <-ctx.Done():
				unix.Shutdown(conn, unix.SHUT_RDWR)
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// connectAs connects to the init's socket at path as user uid: the init
// takes commands only from its own uid, the jail's owner. Root, to run a
// command in a user's jail, connects from a thread whose effective uid
// is the owner's for the connect (SO_PEERCRED records it), and is root
// again after it; a thread that cannot be is never given back to Go.
func connectAs(path string, uid int) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	addr := &unix.SockaddrUnix{Name: path}
	if os.Geteuid() != 0 || uid == 0 {
		if err := unix.Connect(fd, addr); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		keep := ^uintptr(0) // -1: unchanged
		// The raw system call changes this thread alone (glibc and Go's
		// syscall.Setresuid change every thread).
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, uintptr(uid), keep); e != 0 {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("act as uid %d: %w", uid, e)
			return
		}
		err := unix.Connect(fd, addr)
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, 0, keep); e == 0 {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
