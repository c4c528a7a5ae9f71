//go:build linux

package jailinit

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/timeline"
)

// Arg, as argv[1], says that the process is a jail's init.
const Arg = "__jailer_init__"

// NetArg, as argv[2], tells the init that its config will ask for a
// network namespace of its own (Config.Net): the init starts making it
// before it reads the config. Making one takes the kernel a millisecond
// or more here, which the init otherwise waits for after its mounts.
const NetArg = "net"

// TimelineLine starts the line of the init's timeline on the status pipe,
// sent as it exits when JAILER_TIMELINE is on (see package timeline).
const TimelineLine = "timeline "

// Fds jailer passes to the init besides stdin, stdout and stderr.
const (
	ConfigFd  = 3 // the Config (Encode), to EOF
	StatusFd  = 4 // the init's report: "0 started PID", or "CODE why"
	ChangesFd = 5 // with KeepChanges: a socket to send the upper layer on
)

// Exit statuses, as env(1) and timeout(1) use them (package enter gives
// them to its callers).
const (
	ExitSetupFailed = 125 // jailer failed before the command started
	ExitCannotExec  = 126 // the command was found but could not be run
	ExitNotFound    = 127 // the command was not found in the jail
)

// DefaultPATH is where a command without a slash is looked up when the
// environment has no PATH (jailer always gives one; manifest.DefaultPATH).
const DefaultPATH = "/bin:/usr/bin:/sbin:/usr/sbin"

// IsInit reports whether this process was started as a jail's init.
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == Arg }

// Main is the jail's init; it returns the exit status for os.Exit.
func Main() int {
	runtime.LockOSThread()
	var early <-chan netns // the network namespace, started before the config came
	if len(os.Args) > 2 && os.Args[2] == NetArg {
		// Through the /proc of now (jailer's): the jail's is not mounted yet.
		if proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			defer unix.Close(proc)
			early = startNetns(proc)
		}
	}
	// Signals are caught before the command starts (one sent right after
	// it must not be lost), by a goroutine that starts now: setting up
	// the handling takes the Go runtime threads, a few hundred
	// microseconds that the mounts overlap. Until then a signal ends the
	// init, and with it the jail, before the command ever ran.
	sigs := make(chan os.Signal, 64)
	caught := make(chan struct{})
	go func() {
		signal.Notify(sigs, forwardedSignals...)
		close(caught)
	}()
	// PR_SET_NAME names the calling thread, which need not be the main
	// one whose name ps and /proc/1/comm show; /proc/self/comm names that.
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("jailer-init\x00")[0])), 0, 0, 0)
	if f, err := os.OpenFile("/proc/self/comm", os.O_WRONLY, 0); err == nil {
		f.WriteString("jailer-init")
		f.Close()
	}
	// Everything inherited above our own fds is closed when the command
	// starts; the init's own fds are opened close-on-exec.
	unix.CloseRange(StatusFd+1, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	unix.CloseOnExec(ConfigFd)
	unix.CloseOnExec(StatusFd) // the command must not inherit the pipe to jailer
	status := os.NewFile(StatusFd, "status")

	cfg, err := readConfig()
	timeline.Mark("config read")
	switch {
	case err == nil && cfg.Net && early != nil:
		cfg.netns = early
	case early != nil:
		go dropNetns(early) // made for a config that did not ask for it
	}
	if err == nil && cfg.Net && cfg.netns == nil {
		// Made alongside the mounts (startNetns), through the /proc of now.
		proc, perr := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if perr != nil {
			return report(status, ExitSetupFailed, fmt.Errorf("open /proc: %w", perr))
		}
		defer unix.Close(proc)
		cfg.netns = startNetns(proc)
	}
	if err == nil && cfg.NetReady > 0 {
		err = loopbackUp() // in the namespace it was cloned in; slirp4netns adds the rest
	}
	if err == nil {
		err = enterJail(cfg)
	}
	if err == nil && cfg.NetReady > 0 {
		err = waitNetwork(cfg.NetReady)
	}
	if err != nil {
		return report(status, ExitSetupFailed, err)
	}
	<-caught
	pid, code, err := startCommand(cfg)
	if err != nil {
		return report(status, code, err)
	}
	timeline.Mark("command started (forked, exec'd)")
	fmt.Fprintf(status, "0 started %d\n", pid)
	if !timeline.On() {
		status.Close()
	}
	go forward(sigs, pid, !cfg.PID)
	switch {
	case !cfg.PID:
		// Not PID 1: wait for the command; nothing else to reap.
		code = WaitStatus(pid)
	case cfg.ExecFd > 0:
		code = serveExec(cfg, pid) // reap, and run what jailer exec asks
	default:
		code = reap(pid)
	}
	if timeline.On() {
		timeline.Mark("command exited, reaped")
		if kb, ok := peakResident(); ok {
			timeline.Note("peak resident kB (VmHWM)", kb)
		}
		fmt.Fprintf(status, "%s%s\n", TimelineLine, timeline.Encode())
	}
	return code
}

// report tells the parent, on the status pipe, that the command did not
// start and why, and returns code for the init to exit with.
func report(status *os.File, code int, err error) int {
	fmt.Fprintf(status, "%d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
	return code
}

// readConfig reads the config jailer sends, to EOF: jailer closes the
// pipe once the init is in its cgroups (and traced, if asked).
func readConfig() (*Config, error) {
	f := os.NewFile(ConfigFd, "config")
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return cfg, nil
}

// enterJail builds the jail's mount tree and enters it (mount.go), checks
// the working directory, and sets what the command inherits (process.go).
func enterJail(cfg *Config) error {
	unix.Umask(0)
	if err := setupRoot(cfg); err != nil {
		return err
	}
	if err := checkWorkdir(cfg.Workdir); err != nil {
		return err
	}
	timeline.Mark("workdir checked")
	if err := setupProcess(cfg); err != nil {
		return err
	}
	unix.Umask(0o022)
	return nil
}

// startCommand finds the command in the jail and forks it in a session of
// its own, as the requested user; on failure code is the exit status that
// says why (ExitNotFound, ExitCannotExec).
func startCommand(cfg *Config) (pid, code int, err error) {
	argv0, err := lookPathInJail(cfg.Argv[0], cfg.Env, cfg.Workdir)
	if err != nil {
		code := ExitNotFound
		if !errors.Is(err, os.ErrNotExist) {
			code = ExitCannotExec
		}
		return 0, code, err
	}
	if cfg.PidsHop != nil {
		return cfg.PidsHop.fork(func() (int, int, error) { return forkCommand(cfg, argv0) })
	}
	return forkCommand(cfg, argv0)
}

// forkCommand forks and execs the command at argv0 in the jail, from the
// calling thread (locked to its OS thread).
func forkCommand(cfg *Config, argv0 string) (pid, code int, err error) {
	files := cfg.files
	if files == nil {
		files = []uintptr{0, 1, 2}
	}
	pid, err = syscall.ForkExec(argv0, cfg.Argv, &syscall.ProcAttr{
		Dir:   cfg.Workdir,
		Env:   cfg.Env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			PidFD:      cfg.pidfd,
			Setsid:     true,
			Setctty:    cfg.Interactive,
			Ctty:       0,
			Credential: &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: toUint32(cfg.Groups), NoSetGroups: cfg.NoSetgroups},
		},
	})
	if err != nil {
		code := ExitCannotExec
		if errors.Is(err, syscall.ENOENT) {
			code = ExitNotFound
		}
		if errors.Is(err, syscall.EAGAIN) && cfg.Nproc > 0 && cfg.UserNS {
			// Root in a user namespace is not above RLIMIT_NPROC, which
			// counts the init's threads when the command's user is root.
			return 0, code, fmt.Errorf("run %s: %w: --nproc %d counts every process and thread of the jail's root, jailer's init among them (ask for more)", cfg.Argv[0], err, cfg.Nproc)
		}
		return 0, code, fmt.Errorf("run %s: %w", cfg.Argv[0], err)
	}
	return pid, 0, nil
}

// forwardedSignals are passed on to the command. (Asking for every
// signal costs milliseconds per jail entry.) SIGCHLD is not among them:
// the init waits for its children with a blocking wait4 (reap), which
// returns as soon as the command exits, where a SIGCHLD would first go
// through the Go runtime's signal handling and a goroutine.
var forwardedSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM,
	syscall.SIGPWR, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU,
}

func toUint32(xs []int) []uint32 {
	out := make([]uint32, len(xs))
	for i, x := range xs {
		out[i] = uint32(x)
	}
	return out
}

// forward passes the signals the init gets to the command pid, or, not
// being PID 1 (a plain chroot), to its process group (a session of its
// own), until the init exits.
func forward(sigs <-chan os.Signal, pid int, group bool) {
	if group {
		pid = -pid
	}
	for s := range sigs {
		syscall.Kill(pid, s.(syscall.Signal))
	}
}

// WaitStatus waits for the child pid and returns its ExitCode.
func WaitStatus(pid int) int {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	return ExitCode(ws)
}

// ExitCode is the shell's view of a wait status: the exit code, or 128+N
// for a death by signal N.
func ExitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return ExitSetupFailed
}

// reap is PID 1's loop: reap every child (the command, and whatever
// the PID namespace's orphans are left to the init), and return the
// command's status once it has exited. Signals are forwarded meanwhile
// (forward).
func reap(cmd int) int {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, unix.WALL, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return ExitSetupFailed // no child left, which cannot be while cmd runs
		case pid == cmd:
			return ExitCode(ws)
		}
	}
}

// checkWorkdir says what is wrong with the working directory (we are
// inside the jail now, its mounts made): the command's start would fail on
// it with an error that reads as if the command were missing.
func checkWorkdir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("workdir %s: no such directory in the jail (create it with dirs:, or pick another)", dir)
	case err != nil:
		return fmt.Errorf("workdir %s: %w", dir, errors.Unwrap(err))
	case !fi.IsDir():
		return fmt.Errorf("workdir %s: not a directory in the jail (pick a directory)", dir)
	}
	return nil
}

// lookPathInJail finds a command in the jail's PATH (we are inside it now).
func lookPathInJail(name string, env []string, workdir string) (string, error) {
	check := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s: not an executable file", p)
		}
		return nil
	}
	if strings.Contains(name, "/") {
		// A relative command is run from the working directory.
		if !path.IsAbs(name) {
			name = path.Join(workdir, name)
		}
		if err := check(name); err != nil {
			return "", err
		}
		return name, nil
	}
	pathVar := DefaultPATH
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		if check(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w in the jail's PATH (%s)", name, os.ErrNotExist, pathVar)
}

// peakResident is the init's VmHWM, in kB, from the jail's /proc (the
// init's own). getrusage's ru_maxrss will not do: an exec keeps the
// largest of the process's memories before it, and the init was forked
// sharing jailer's.
func peakResident() (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
