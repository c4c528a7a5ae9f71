//go:build linux

package jailinit

// Commands run in a running jail by jailer exec. jailer (package enter)
// makes a listening unix socket (SOCK_SEQPACKET) in the caller's runtime
// directory, mode 0700, and passes it to the init as Config.ExecFd; the
// jail never sees it (the directory is not in the jail, and the fd is
// close-on-exec). jailer exec connects, and the init:
//
//  1. refuses a peer whose uid is not its own (SO_PEERCRED, in the
//     init's user namespace: the jail's owner; root outside a user's
//     jail connects as that user, see package enter);
//  2. receives one message, an ExecRequest with the caller's stdin,
//     stdout and stderr attached (SCM_RIGHTS), and refuses a directory
//     or an O_PATH descriptor among them (CheckStdio), as jailer does for
//     the main command;
//  3. forks the command from its main thread exactly as it forked the
//     main one (startCommand: that thread holds the seccomp filter, the
//     capability bounding set, no_new_privs and the network namespace,
//     and hops into the pids cgroup for the fork), with the jail's user,
//     environment and directory unless the request says otherwise;
//  4. answers "0 started PID" from the main thread right after the fork,
//     before it can see the main command exit (or "CODE why", as on the
//     status pipe),
//     passes on "sig N" messages as signals, kills the command when the
//     connection closes before it has exited, and answers "exit CODE"
//     once it has.
//
// The main thread can no longer block in wait4 (reap) while it must
// also fork: a reaper goroutine waits for every child instead, and
// hands the main thread the command's status. When the main command
// exits, the init exits: the jail ends, and with it (the PID namespace)
// every command jailer exec started; their jailer exec is told so by the
// connection closing without an "exit".

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExecRequest is what jailer exec asks the init to run.
type ExecRequest struct {
	Argv    []string // the command; Argv[0] is looked up in the jail's PATH
	Env     []string // K=V added to (or replacing in) the jail's environment
	Workdir string   // in the jail; "": the jail's
	// SetUser says to run as UID, GID and Groups rather than the jail's
	// user.
	SetUser  bool
	UID, GID int
	Groups   []int
	Tty      bool // stdin is a pty: make it the command's controlling terminal
}

// execMagic starts an encoded ExecRequest (its last byte the version).
const execMagic = "jailer-init exec\x01"

// MaxExecRequest is the most an encoded ExecRequest may take.
const MaxExecRequest = 64 << 10

// Encode is r in the init's encoding (config.go's).
func (r *ExecRequest) Encode() []byte {
	e := &encoder{b: []byte(execMagic)}
	e.strs(r.Argv)
	e.strs(r.Env)
	e.str(r.Workdir)
	e.bool(r.SetUser)
	e.int(int64(r.UID))
	e.int(int64(r.GID))
	e.ints(r.Groups)
	e.bool(r.Tty)
	return e.b
}

// DecodeExec reads an ExecRequest that Encode wrote.
func DecodeExec(data []byte) (*ExecRequest, error) {
	if !strings.HasPrefix(string(data), execMagic) {
		return nil, errors.New("not an exec request of this jailer-init's (jailer and the jail's init are from different builds)")
	}
	d := &decoder{b: data[len(execMagic):]}
	r := &ExecRequest{Argv: d.strs(), Env: d.strs(), Workdir: d.str(), SetUser: d.bool(),
		UID: d.intn(), GID: d.intn(), Groups: d.ints(), Tty: d.bool()}
	if d.err == nil && len(d.b) > 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, fmt.Errorf("exec request: %w", d.err)
	}
	if len(r.Argv) == 0 || r.Argv[0] == "" {
		return nil, errors.New("exec request without a command")
	}
	if r.SetUser && (r.UID < 0 || r.GID < 0) {
		return nil, errors.New("exec request: negative ids")
	}
	return r, nil
}

// Unsafe stdio, as CheckStdio finds it.
const (
	StdioPath = "an O_PATH descriptor"
	StdioDir  = "a directory"
)

// CheckStdio says why fd, to be a command's stdin, stdout or stderr,
// would hand it a way out of the jail (StdioDir, StdioPath), or "" when
// it would not: a directory (fchdir to it, then ".." climbs the host's
// tree) or an O_PATH descriptor (which it could open anew through
// /proc/self/fd, or walk from).
func CheckStdio(fd int) (string, error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return "", err
	}
	if flags&unix.O_PATH != 0 {
		return StdioPath, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return StdioDir, nil
	}
	return "", nil
}

// forkRequest is a command the main thread is asked to fork.
type forkRequest struct {
	conn int // the jailer exec it is for, told "0 started PID" at once
	cfg  *Config
	done chan forkResult // the fork's outcome
	exit chan int        // the command's status, once reaped
}

type forkResult struct {
	pid, code int
	err       error
}

// execServer is the init's side of jailer exec while the jail runs.
type execServer struct {
	cfg     *Config
	forks   chan *forkRequest
	ended   chan struct{} // closed when the main command has exited
	mu      sync.Mutex    // held across a fork and its registration in waiters
	waiters map[int]chan int
}

// serveExec is PID 1's loop when the jail takes jailer exec: it reaps
// every child, forks what connections ask for, and returns the main
// command's status once it has exited.
func serveExec(cfg *Config, cmd int) int {
	s := &execServer{cfg: cfg, forks: make(chan *forkRequest), ended: make(chan struct{}), waiters: map[int]chan int{}}
	exited := make(chan int, 1)
	go s.reap(cmd, exited)
	go s.accept()
	for {
		select {
		case r := <-s.forks:
			s.mu.Lock()
			pid, code, err := startCommand(r.cfg)
			if err == nil {
				s.waiters[pid] = r.exit
				// Said before this loop can see the main command exit: a
				// jailer exec told nothing knows its command never ran.
				unix.Sendto(r.conn, []byte(fmt.Sprintf("0 started %d", pid)), unix.MSG_DONTWAIT, nil)
			}
			s.mu.Unlock()
			r.done <- forkResult{pid, code, err}
		case code := <-exited:
			close(s.ended)
			return code
		}
	}
}

// reap waits for every child; the main command's status goes to exited,
// an exec'd command's to its waiter.
func (s *execServer) reap(cmd int, exited chan<- int) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, unix.WALL, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			exited <- ExitSetupFailed // no child left, which cannot be while cmd runs
			return
		case pid == cmd:
			exited <- ExitCode(ws)
			return
		}
		s.mu.Lock()
		if ch, ok := s.waiters[pid]; ok {
			ch <- ExitCode(ws)
			delete(s.waiters, pid)
		}
		s.mu.Unlock()
	}
}

// accept takes connections until the init exits.
func (s *execServer) accept() {
	for {
		conn, _, err := unix.Accept4(s.cfg.ExecFd, unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			go s.serve(conn)
		case err == unix.EINTR || err == unix.ECONNABORTED:
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			// A passing shortage: the caller's connect waits.
		default:
			return
		}
	}
}

// serve runs one jailer exec's command.
func (s *execServer) serve(conn int) {
	defer unix.Close(conn)
	reply := func(format string, a ...any) { unix.Write(conn, []byte(fmt.Sprintf(format, a...))) }
	refuse := func(code int, err error) {
		reply("%d %s", code, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	cred, err := unix.GetsockoptUcred(conn, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil || cred.Uid != uint32(os.Getuid()) {
		refuse(ExitSetupFailed, errors.New("refused: only the jail's owner (or root) may run commands in it"))
		return
	}
	buf := make([]byte, MaxExecRequest)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return
	}
	fds := receivedFds(oob[:oobn])
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || len(fds) != 3 {
		refuse(ExitSetupFailed, errors.New("malformed exec request (a request and three descriptors: stdin, stdout, stderr)"))
		return
	}
	for i, fd := range fds {
		what, err := CheckStdio(fd)
		if err == nil && what != "" {
			err = fmt.Errorf("%s is %s, through which the command could leave the jail: refusing to run", []string{"stdin", "stdout", "stderr"}[i], what)
		}
		if err != nil {
			refuse(ExitSetupFailed, err)
			return
		}
	}
	req, err := DecodeExec(buf[:n])
	if err != nil {
		refuse(ExitSetupFailed, err)
		return
	}
	c := s.commandConfig(req, fds)
	if err := checkWorkdir(c.Workdir); err != nil {
		refuse(ExitSetupFailed, err)
		return
	}
	pidfd := -1
	c.pidfd = &pidfd
	r := &forkRequest{conn: conn, cfg: c, done: make(chan forkResult, 1), exit: make(chan int, 1)}
	select {
	case s.forks <- r:
	case <-s.ended:
		return // the connection closes without an answer: the jail is ending
	}
	res := <-r.done
	for _, fd := range fds {
		unix.Close(fd) // the command has its own
	}
	fds = nil
	if res.err != nil {
		refuse(res.code, res.err)
		return
	}
	defer unix.Close(pidfd)
	hangup := make(chan struct{})
	go func() {
		defer close(hangup)
		msg := make([]byte, 64)
		for {
			n, err := unix.Read(conn, msg)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return
			}
			if v, ok := strings.CutPrefix(string(msg[:n]), "sig "); ok {
				if sig, err := strconv.Atoi(v); err == nil && sig > 0 && sig < 65 {
					unix.PidfdSendSignal(pidfd, unix.Signal(sig), nil, 0)
				}
			}
		}
	}()
	select {
	case code := <-r.exit:
		reply("exit %d", code)
	case <-hangup:
		// Nobody waits for the command any more: it would run on unseen.
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	}
}

// commandConfig is the jail's config with what req changes: the command
// is forked as the main one was, by startCommand.
func (s *execServer) commandConfig(req *ExecRequest, fds []int) *Config {
	c := *s.cfg
	c.Argv = req.Argv
	c.Env = mergeEnv(s.cfg.Env, req.Env)
	if req.Workdir != "" {
		c.Workdir = req.Workdir
	}
	if req.SetUser {
		c.UID, c.GID, c.Groups = req.UID, req.GID, req.Groups
	}
	c.Interactive = req.Tty
	c.files = []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
	return &c
}

// mergeEnv is env with the K=V of extra set, in place of a K it has.
func mergeEnv(env, extra []string) []string {
	out := make([]string, 0, len(env)+len(extra))
	set := map[string]bool{}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// receivedFds are the descriptors passed with SCM_RIGHTS in oob.
func receivedFds(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}
