package enter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/manifest"

	"golang.org/x/sys/unix"
)

// Stdio are the files the command gets as stdin, stdout and stderr.
type Stdio struct {
	In, Out, Err *os.File
}

// Error is a failure before the command started (exit status 125,
// 126 or 127, as Code says).
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Enter runs opts.Command inside the jail at dir and returns its exit
// status: the command's own, 128+N when it died of signal N, ExitTimeout
// when the jail ran out of time. An error (an *Error when the jail
// was set up far enough to say) means the command did not run.
func Run(ctx context.Context, dir string, opts Options, stdio Stdio) (int, error) {
	if err := opts.validate(); err != nil {
		return ExitSetupFailed, err
	}
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return ExitSetupFailed, fmt.Errorf("jail %s: %w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return ExitSetupFailed, fmt.Errorf("jail %s is not a directory", dir)
	}
	cfg, err := initConfigFor(root, &opts, stdio)
	if err != nil {
		return ExitSetupFailed, err
	}
	if !opts.NoNamespaces {
		// Missing mount targets are made now and removed once the init is
		// gone (deferred first, so it runs last): the tree stays as built.
		targets, err := claimTargets(root, treeTargets(mountTargets(cfg)), !opts.Readonly)
		if err != nil {
			return ExitSetupFailed, err
		}
		defer targets.release()
	}
	cg, err := newCgroup(opts.Limits)
	if err != nil {
		return ExitSetupFailed, err
	}
	defer cg.remove()

	term, err := startTerminal(&opts, &stdio)
	if err != nil {
		return ExitSetupFailed, err
	}
	defer term.restore()

	// Pdeathsig is sent when the creating thread exits: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, cfgW, statusR, err := startInit(root, &opts, stdio)
	if err != nil {
		return ExitSetupFailed, err
	}
	defer statusR.Close()
	if err := cg.add(pid); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		cfgW.Close()
		waitStatus(pid)
		return ExitSetupFailed, err
	}
	if opts.Tracer != nil {
		if err := opts.Tracer.Attach(pid); err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			cfgW.Close()
			waitStatus(pid)
			return ExitSetupFailed, fmt.Errorf("trace: %w", err)
		}
	}
	err = json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close() // EOF tells the init it is in its cgroups and may go on
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		waitStatus(pid)
		return ExitSetupFailed, fmt.Errorf("send config to the jail's init: %w", err)
	}
	term.started()

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	var timedOut atomic.Bool
	var cmdPid atomic.Int64
	// killJail ends everything: with namespaces, killing the init takes the
	// whole PID namespace with it; a plain chroot has no such namespace, so
	// the command's process group (a session of its own) goes too.
	killJail := func() {
		syscall.Kill(pid, syscall.SIGKILL)
		if p := cmdPid.Load(); p > 0 && opts.NoNamespaces {
			syscall.Kill(-int(p), syscall.SIGKILL)
		}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		var timeout <-chan time.Time
		if opts.Limits.Timeout > 0 {
			t := time.NewTimer(opts.Limits.Timeout)
			defer t.Stop()
			timeout = t.C
		}
		for {
			select {
			case s := <-sigs:
				syscall.Kill(pid, s.(syscall.Signal))
			case <-timeout:
				timedOut.Store(true)
				killJail()
			case <-ctx.Done():
				killJail()
				return
			case <-done:
				return
			}
		}
	}()

	var startErr *Error
	var code int
	if opts.Tracer != nil {
		// The tracer must keep the init running while we would block on
		// its status pipe: read the status alongside.
		statusDone := make(chan *Error, 1)
		go func() { statusDone <- readStatus(statusR, &cmdPid) }()
		ws, err := opts.Tracer.Wait(pid)
		if err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			return ExitSetupFailed, fmt.Errorf("trace: %w", err)
		}
		code = exitCode(ws)
		startErr = <-statusDone
	} else {
		startErr = readStatus(statusR, &cmdPid)
		code = waitStatus(pid)
	}
	if startErr != nil {
		return startErr.Code, startErr
	}
	if timedOut.Load() {
		return ExitTimeout, fmt.Errorf("timed out after %s: the jail was killed", opts.Limits.Timeout)
	}
	if code == 128+int(syscall.SIGKILL) && cg.oomKilled() {
		return code, fmt.Errorf("killed: out of memory (limit %s)", human.Bytes(opts.Limits.Memory))
	}
	return code, nil
}

// readStatus waits for the init's report: "0 started", or a status and a
// message when it failed before the command ran.
func readStatus(r io.Reader, cmdPid *atomic.Int64) *Error {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return &Error{Code: ExitSetupFailed, Msg: "the jail's init died before starting the command"}
	}
	codeStr, msg, _ := strings.Cut(strings.TrimSpace(line), " ")
	code, _ := strconv.Atoi(codeStr)
	if code == 0 {
		// "0 started PID": the command's host pid (and process group).
		if pid, err := strconv.Atoi(strings.TrimPrefix(msg, "started ")); err == nil {
			cmdPid.Store(int64(pid))
		}
		return nil
	}
	return &Error{Code: code, Msg: msg}
}

// cloneFlags maps namespace names to clone(2) flags.
var cloneFlags = map[string]uintptr{
	"mount": unix.CLONE_NEWNS, "uts": unix.CLONE_NEWUTS, "pid": unix.CLONE_NEWPID,
	"net": unix.CLONE_NEWNET, "ipc": unix.CLONE_NEWIPC, "user": unix.CLONE_NEWUSER,
	"cgroup": unix.CLONE_NEWCGROUP,
}

// startInit starts this binary as the jail's init in its namespaces.
// syscall.ForkExec is used rather than os/exec, which also forks a
// throw-away child to probe for pidfd support: that costs a process start
// per jail entry.
func startInit(root string, opts *Options, stdio Stdio) (pid int, cfgW, statusR *os.File, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, nil, nil, err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return 0, nil, nil, err
	}
	defer cfgR.Close()
	defer statusW.Close()
	// A process group of its own: a Ctrl-C on the caller's terminal reaches
	// jailer, which forwards it once, not the init a second time.
	sys := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if !opts.NoNamespaces {
		for _, ns := range opts.Namespaces {
			sys.Cloneflags |= cloneFlags[ns]
		}
	}
	if opts.has("user") {
		// Root inside is the caller outside; as root, every id maps to itself
		// (the namespace still confines capabilities to the jail).
		uid, gid := os.Getuid(), os.Getgid()
		if uid == 0 {
			sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 31}}
			sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 31}}
			sys.GidMappingsEnableSetgroups = true
		} else {
			sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
			sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
			sys.GidMappingsEnableSetgroups = false
		}
	}
	pid, err = syscall.ForkExec(self, []string{"jailer-init", initArg}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{stdio.In.Fd(), stdio.Out.Fd(), stdio.Err.Fd(), cfgR.Fd(), statusW.Fd()},
		Sys:   sys,
	})
	if err != nil {
		cfgW.Close()
		statusR.Close()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
			return 0, nil, nil, fmt.Errorf("create namespaces %v: %w (jailer enter needs root, or --userns where unprivileged user namespaces are allowed, or --no-namespaces)", opts.Namespaces, err)
		}
		return 0, nil, nil, fmt.Errorf("start the jail's init: %w", err)
	}
	return pid, cfgW, statusR, nil
}

// initConfigFor works out the init's config: the command, user and
// environment, resolved against the jail's own /etc/passwd and /etc/group.
func initConfigFor(root string, o *Options, stdio Stdio) (*initConfig, error) {
	argv := o.Command
	if len(argv) == 0 {
		argv = []string{"/bin/sh"}
	}
	env := map[string]string{}
	for k, v := range o.Env {
		env[k] = v
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = manifest.DefaultPATH
	}
	if t := os.Getenv("TERM"); t != "" {
		if _, ok := env["TERM"]; !ok {
			env["TERM"] = t
		}
	}
	uid, gid, groups, home, err := lookupUser(root, o.User)
	if err != nil {
		return nil, err
	}
	if _, ok := env["HOME"]; !ok && home != "" {
		env["HOME"] = home
	}
	cfg := &initConfig{
		Root: root, Argv: argv, Workdir: o.Workdir, UID: uid, GID: gid, Groups: groups,
		NoNamespaces: o.NoNamespaces, PID: o.has("pid"), UTS: o.has("uts"), Net: o.has("net"), UserNS: o.has("user"),
		Hostname: o.Hostname, Readonly: o.Readonly, Mounts: o.Mounts,
		Nofile: o.Limits.Nofile, Nproc: o.Limits.Nproc, Interactive: o.Interactive,
	}
	if cfg.Workdir == "" {
		cfg.Workdir = "/"
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cfg.Env = append(cfg.Env, k+"="+env[k])
	}
	for i, m := range cfg.Mounts {
		if m.Type == "bind" {
			abs, err := filepath.Abs(m.Source)
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, fmt.Errorf("bind source: %w", err)
			}
			cfg.Mounts[i].Source = abs
		}
	}
	return cfg, nil
}

// lookupUser resolves "", a name, uid or uid:gid against the jail's own
// account files, read without leaving the jail.
func lookupUser(root, spec string) (uid, gid int, groups []int, home string, err error) {
	if spec == "" || spec == "root" || spec == "0" {
		spec = "0"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	passwd, _ := readInJail(root, "/etc/passwd")
	uid, gid = -1, -1
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		uid, gid = n, n
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		if f[0] == name || (uid >= 0 && f[2] == strconv.Itoa(uid)) {
			uid, _ = strconv.Atoi(f[2])
			gid, _ = strconv.Atoi(f[3])
			home, name = f[5], f[0]
			break
		}
	}
	if uid < 0 {
		return 0, 0, nil, "", fmt.Errorf("user %q is not in the jail's /etc/passwd (declare it under users:, or give a uid)", name)
	}
	grp, _ := readInJail(root, "/etc/group")
	groupFound := false
	for _, line := range strings.Split(string(grp), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 {
			continue
		}
		g, _ := strconv.Atoi(f[2])
		if hasGroup && (f[0] == group || f[2] == group) {
			gid, groupFound = g, true
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name && m != "" {
				groups = append(groups, g)
			}
		}
	}
	if hasGroup && !groupFound {
		n, err := strconv.Atoi(group)
		if err != nil || n < 0 {
			return 0, 0, nil, "", fmt.Errorf("group %q is not in the jail's /etc/group (declare it under groups:, or give a gid)", group)
		}
		gid = n
	}
	sort.Ints(groups)
	return uid, gid, groups, home, nil
}

// readInJail reads a small file at jail path p, resolving symlinks as the
// jail would see them, never outside it.
func readInJail(root, p string) ([]byte, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, strings.TrimPrefix(p, "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(f, 4<<20))
}
