//go:build linux

package enter

// The init's side of the sequence (see the package comment): read the
// config, build the mount tree and enter it (mount.go), set what the
// command inherits (process.go, seccomp.go), start the command, and be
// its PID 1.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/internal/timeline"
	"github.com/jailer-dev/jailer/manifest"
)

// initArg, as argv[1], makes the jailer binary run as a jail's init.
const initArg = "__jailer_init__"

// timelineLine starts the line of the init's timeline on the status pipe,
// sent as it exits when JAILER_TIMELINE is on (see package timeline).
const timelineLine = "timeline "

// Fds the parent passes to the init besides stdin, stdout and stderr.
const (
	configFd  = 3
	statusFd  = 4
	changesFd = 5 // with KeepChanges: a socket to send the upper layer on
)

// initConfig is everything the init needs, sent by the parent as JSON.
type initConfig struct {
	Root         string           `json:"root"`
	Argv         []string         `json:"argv"`
	Env          []string         `json:"env"`
	Workdir      string           `json:"workdir"`
	UID          int              `json:"uid"`
	GID          int              `json:"gid"`
	Groups       []int            `json:"groups"`
	NoNamespaces bool             `json:"no_namespaces"`
	PID          bool             `json:"pid"`
	UTS          bool             `json:"uts"`
	Net          bool             `json:"net"`
	UserNS       bool             `json:"userns"`
	Hostname     string           `json:"hostname"`
	Readonly     bool             `json:"readonly"`
	Overlay      bool             `json:"overlay"`      // a fresh root: see overlay.go
	TmpSize      int64            `json:"tmp_size"`     // of the tmpfs under the overlay
	KeepChanges  bool             `json:"keep_changes"` // hand the upper layer to the parent
	Mounts       []manifest.Mount `json:"mounts"`
	Outputs      []manifest.Mount `json:"outputs"` // writable binds, nosuid and nodev
	Nofile       int              `json:"nofile"`
	Nproc        int              `json:"nproc"`
	Interactive  bool             `json:"interactive"`
	// PidsHop, when the command's pids are limited, puts it in its
	// cgroup (the init stays out of it).
	PidsHop *pidsHop `json:"pids_hop,omitempty"`
	// NoSetgroups: setgroups is denied in the jail's user namespace (a
	// run without root that maps the caller alone), so the command keeps
	// the init's groups.
	NoSetgroups bool `json:"no_setgroups,omitempty"`
	// Chown gives entries of the tree their owners in the fresh root
	// (a run without root, whose tree is the caller's; see rootless.go).
	Chown []ownedEntry `json:"chown,omitempty"`
	// RootOwner, in a run without root, is the tree's owner as uid and
	// gid inside, -1 for one the namespace does not map.
	RootOwner []int `json:"root_owner,omitempty"`

	netns <-chan netns // the network namespace being made (Net), not sent
}

// IsInit reports whether this process was started as a jail's init (or
// as the helper that saves a rootless run's results, save.go).
func IsInit() bool { return len(os.Args) > 1 && (os.Args[1] == initArg || os.Args[1] == saveArg) }

// RunInit is the jail's init; it returns the exit status for os.Exit.
func RunInit() int {
	if os.Args[1] == saveArg {
		return saveHelper()
	}
	runtime.LockOSThread()
	// Signals are caught from the start: one sent right after the command
	// starts must not be lost, and setting up the handling takes a thread
	// that starts while the mounts are made.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardedSignals...)
	// PR_SET_NAME names the calling thread, which need not be the main
	// one whose name ps and /proc/1/comm show; /proc/self/comm names that.
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("jailer-init\x00")[0])), 0, 0, 0)
	if f, err := os.OpenFile("/proc/self/comm", os.O_WRONLY, 0); err == nil {
		f.WriteString("jailer-init")
		f.Close()
	}
	// Everything inherited above our own fds is closed when the command
	// starts; the init's own fds are opened close-on-exec.
	unix.CloseRange(statusFd+1, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	unix.CloseOnExec(configFd)
	unix.CloseOnExec(statusFd) // the command must not inherit the pipe to the parent
	status := os.NewFile(statusFd, "status")

	cfg, err := readConfig()
	timeline.Mark("config read")
	if err == nil && cfg.Net {
		// Made alongside the mounts (startNetns), through the /proc of now.
		proc, perr := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if perr != nil {
			return report(status, ExitSetupFailed, fmt.Errorf("open /proc: %w", perr))
		}
		defer unix.Close(proc)
		cfg.netns = startNetns(proc)
	}
	if err == nil {
		err = enterJail(&cfg)
	}
	if err != nil {
		return report(status, ExitSetupFailed, err)
	}
	pid, code, err := startCommand(&cfg)
	if err != nil {
		return report(status, code, err)
	}
	timeline.Mark("command started (forked, exec'd)")
	fmt.Fprintf(status, "0 started %d\n", pid)
	if !timeline.On() {
		status.Close()
	}
	if !cfg.PID {
		// Not PID 1: forward signals to the command's process group (a
		// session of its own) and wait for it; nothing else to reap.
		go forward(sigs, -pid)
		code = waitStatus(pid)
	} else {
		code = reap(sigs, pid)
	}
	if timeline.On() {
		timeline.Mark("command exited, reaped")
		var ru unix.Rusage
		if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
			timeline.Note("peak resident kB (VmHWM)", ru.Maxrss)
		}
		fmt.Fprintf(status, "%s%s\n", timelineLine, timeline.Encode())
	}
	return code
}

// report tells the parent, on the status pipe, that the command did not
// start and why, and returns code for the init to exit with.
func report(status *os.File, code int, err error) int {
	fmt.Fprintf(status, "%d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
	return code
}

// readConfig reads the config the parent sends, to EOF: the parent closes
// the pipe once the init is in its cgroups (and traced, if asked).
func readConfig() (initConfig, error) {
	var cfg initConfig
	data, err := io.ReadAll(os.NewFile(configFd, "config"))
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	unix.Close(configFd)
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	return cfg, nil
}

// enterJail builds the jail's mount tree and enters it (mount.go), checks
// the working directory, and sets what the command inherits (process.go).
func enterJail(cfg *initConfig) error {
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
func startCommand(cfg *initConfig) (pid, code int, err error) {
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
func forkCommand(cfg *initConfig, argv0 string) (pid, code int, err error) {
	pid, err = syscall.ForkExec(argv0, cfg.Argv, &syscall.ProcAttr{
		Dir:   cfg.Workdir,
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
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

// forwardedSignals are passed on to the command; SIGCHLD tells the init to
// reap. (Asking for every signal costs milliseconds per jail entry.)
var forwardedSignals = []os.Signal{
	syscall.SIGCHLD, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
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

// forward passes every signal but SIGCHLD (and the Go runtime's SIGURG) to pid.
func forward(sigs <-chan os.Signal, pid int) {
	for s := range sigs {
		if s == syscall.SIGCHLD || s == syscall.SIGURG {
			continue
		}
		syscall.Kill(pid, s.(syscall.Signal))
	}
}

func waitStatus(pid int) int {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	return exitCode(ws)
}

// exitCode is the shell's view of a wait status: the exit code, or 128+N
// for a death by signal N.
func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return ExitSetupFailed
}

// reap is PID 1's loop: forward signals, reap every child, and return the
// command's status once it has exited.
func reap(sigs <-chan os.Signal, cmd int) int {
	for s := range sigs {
		if s != syscall.SIGCHLD {
			if s != syscall.SIGURG {
				syscall.Kill(cmd, s.(syscall.Signal))
			}
			continue
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
			if pid == cmd {
				return exitCode(ws)
			}
		}
	}
	return ExitSetupFailed
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
	pathVar := manifest.DefaultPATH
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
