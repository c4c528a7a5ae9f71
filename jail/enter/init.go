//go:build linux

package enter

// The jail's init. `jailer enter` starts /proc/self/exe with initArg in new
// namespaces; main() hands over to RunInit before anything else, so this
// path stays short. In order, the init:
//
//  1. locks itself to one OS thread: no_new_privs, the capability bounding
//     set and seccomp are per thread, and the command is forked from it;
//  2. marks every inherited fd above 4 close-on-exec (an inherited
//     directory fd is a classic chroot escape) and reads its config (fd 3)
//     until the parent closes it, which the parent does once the init is in
//     its cgroups;
//  3. makes all mounts private, bind-mounts the jail onto itself, mounts
//     /proc (only with a PID namespace), a minimal /dev, the tmpfs and bind
//     mounts; every target is opened component by component without
//     following symlinks and mounted through its fd (targets the tree
//     lacks were made by the parent, which removes them after the run:
//     see targets_linux.go; the init makes only those inside its mounts);
//  4. makes the root read-only if asked, pivot_roots into the jail, detaches
//     the old root, and checks that "/" is the jail;
//  5. sets the hostname, brings up loopback in a new network namespace, and
//     sets rlimits;
//  6. makes itself non-dumpable (so /proc/1/exe, /proc/1/root and ptrace of
//     it are closed to the jail), sets no_new_privs, drops capabilities from
//     the bounding set and installs a small seccomp deny list (ptrace is
//     allowed among the jail's own processes when it has a PID namespace);
//  7. checks that the working directory is one (a missing one would
//     otherwise read as a missing command), forks the command in a new
//     session with the requested user, groups, directory and environment,
//     and reports on fd 4 that it started;
//  8. as PID 1, forwards signals to the command, reaps every zombie, and
//     exits with the command's status (128+N when signal N killed it); the
//     kernel then kills whatever else is left in the PID namespace.

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

	"github.com/jailer-dev/jailer/manifest"
)

// initArg, as argv[1], makes the jailer binary run as a jail's init.
const initArg = "__jailer_init__"

// Fds the parent passes to the init besides stdin, stdout and stderr.
const (
	configFd = 3
	statusFd = 4
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
	Mounts       []manifest.Mount `json:"mounts"`
	Nofile       int              `json:"nofile"`
	Nproc        int              `json:"nproc"`
	Interactive  bool             `json:"interactive"`
}

// IsInit reports whether this process was started as a jail's init.
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == initArg }

// RunInit is the jail's init; it returns the exit status for os.Exit.
func RunInit() int {
	runtime.LockOSThread()
	// Signals are caught from the start: one sent right after the command
	// starts must not be lost, and setting up the handling takes a thread
	// that starts while the mounts are made.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardedSignals...)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("jailer-init\x00")[0])), 0, 0, 0)
	// Everything inherited above our own fds is closed when the command
	// starts; the init's own fds are opened close-on-exec.
	unix.CloseRange(statusFd+1, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	unix.CloseOnExec(configFd)
	unix.CloseOnExec(statusFd) // the command must not inherit the pipe to the parent
	status := os.NewFile(statusFd, "status")
	fail := func(code int, err error) int {
		fmt.Fprintf(status, "%d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
		return code
	}
	data, err := io.ReadAll(os.NewFile(configFd, "config"))
	if err != nil {
		return fail(ExitSetupFailed, fmt.Errorf("read config: %w", err))
	}
	unix.Close(configFd)
	var cfg initConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fail(ExitSetupFailed, fmt.Errorf("read config: %w", err))
	}
	unix.Umask(0)
	if err := setupRoot(&cfg); err != nil {
		return fail(ExitSetupFailed, err)
	}
	if err := checkWorkdir(cfg.Workdir); err != nil {
		return fail(ExitSetupFailed, err)
	}
	if err := setupProcess(&cfg); err != nil {
		return fail(ExitSetupFailed, err)
	}
	unix.Umask(0o022)
	argv0, err := lookPathInJail(cfg.Argv[0], cfg.Env, cfg.Workdir)
	if err != nil {
		code := ExitNotFound
		if !errors.Is(err, os.ErrNotExist) {
			code = ExitCannotExec
		}
		return fail(code, err)
	}
	pid, err := syscall.ForkExec(argv0, cfg.Argv, &syscall.ProcAttr{
		Dir:   cfg.Workdir,
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Setsid:     true,
			Setctty:    cfg.Interactive,
			Ctty:       0,
			Credential: &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: toUint32(cfg.Groups)},
		},
	})
	if err != nil {
		code := ExitCannotExec
		if errors.Is(err, syscall.ENOENT) {
			code = ExitNotFound
		}
		return fail(code, fmt.Errorf("run %s: %w", cfg.Argv[0], err))
	}
	fmt.Fprintf(status, "0 started %d\n", pid)
	status.Close()
	if !cfg.PID {
		// Not PID 1: forward signals to the command's process group (a
		// session of its own) and wait for it; nothing else to reap.
		go forward(sigs, -pid)
		return waitStatus(pid)
	}
	return reap(sigs, pid)
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

// setupRoot builds the jail's mount tree and enters it.
func setupRoot(cfg *initConfig) error {
	if cfg.NoNamespaces {
		if err := unix.Chroot(cfg.Root); err != nil {
			return &os.PathError{Op: "chroot", Path: cfg.Root, Err: err}
		}
		return unix.Chdir("/")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount(cfg.Root, cfg.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind jail onto itself", Path: cfg.Root, Err: err}
	}
	root, err := unix.Open(cfg.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: cfg.Root, Err: err}
	}
	defer unix.Close(root)
	if cfg.Readonly {
		// Read-only first, the whole tree (mounts below the jail too), so
		// that the mounts below are the only writable places and enter
		// itself never writes into a read-only jail: their targets must
		// exist.
		if err := readonlyTree(root); err != nil {
			return fmt.Errorf("make the jail read-only: %w", err)
		}
	}
	if cfg.PID {
		if err := mountAt(root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "", !cfg.Readonly); err != nil {
			return err
		}
		if err := maskProc(root); err != nil {
			return err
		}
	}
	if err := setupDev(root, cfg.UserNS, !cfg.Readonly); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := userMount(root, m, !cfg.Readonly); err != nil {
			return err
		}
	}
	var want unix.Stat_t
	if err := unix.Fstat(root, &want); err != nil {
		return err
	}
	if err := unix.Fchdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", cfg.Root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	var got unix.Stat_t
	if err := unix.Stat("/", &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		return fmt.Errorf("after pivot_root, / is not the jail %s", cfg.Root)
	}
	return nil
}

// userMount makes one tmpfs or bind mount inside the jail.
func userMount(root int, m manifest.Mount, mkdir bool) error {
	switch m.Type {
	case "tmpfs":
		data := "mode=1777"
		if m.Size != "" {
			n, err := manifest.ParseSize(m.Size)
			if err != nil {
				return err
			}
			data += fmt.Sprintf(",size=%d", n)
		}
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		if m.Readonly {
			flags |= unix.MS_RDONLY
		}
		return mountAt(root, m.Target, "tmpfs", "tmpfs", flags, data, mkdir)
	case "bind":
		src, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "bind source", Path: m.Source, Err: err}
		}
		defer unix.Close(src)
		if err := mountAt(root, m.Target, fdPath(src), "", unix.MS_BIND|unix.MS_REC, "", mkdir); err != nil {
			return err
		}
		if m.Readonly {
			fd, err := openDirIn(root, m.Target, false)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return readonlyTree(fd) // with whatever is mounted below the source
		}
		return nil
	}
	return fmt.Errorf("mount %s: unknown type %q", m.Target, m.Type)
}

// setupProcess sets what the command inherits: hostname, loopback,
// rlimits, and the privilege limits.
func setupProcess(cfg *initConfig) error {
	if cfg.UTS && cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	if cfg.Net {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		res int
		n   int
	}{{unix.RLIMIT_NOFILE, cfg.Nofile}, {unix.RLIMIT_NPROC, cfg.Nproc}} {
		if l.n > 0 {
			if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: uint64(l.n), Max: uint64(l.n)}); err != nil {
				return fmt.Errorf("setrlimit: %w", err)
			}
		}
	}
	// Core dumps of jailed programs would land in the jail; keep them off.
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	if cfg.NoNamespaces {
		return nil // plain chroot: the comparison baseline, unhardened
	}
	if err := dropCapabilities(cfg.Net); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	return installSeccomp(cfg.PID)
}

// keptCaps are what root inside the jail may still hold: enough to own
// files, change users and bind low ports; nothing that reaches the kernel
// or other processes (no SYS_ADMIN, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH,
// SYS_RAWIO, MKNOD, SYS_BOOT, SYS_TIME...).
var keptCaps = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_FSETID, unix.CAP_KILL,
	unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP, unix.CAP_SETFCAP,
	unix.CAP_NET_BIND_SERVICE, unix.CAP_SYS_CHROOT, unix.CAP_AUDIT_WRITE,
}

// dropCapabilities removes every other capability from the bounding set
// (CAP_NET_ADMIN is kept with a network namespace of the jail's own).
func dropCapabilities(net bool) error {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscanf(string(b), "%d", &last)
	}
	keep := map[int]bool{}
	for _, c := range keptCaps {
		keep[c] = true
	}
	keep[unix.CAP_NET_ADMIN] = net
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}

// loopbackUp brings up lo in the jail's own network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	return nil
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
