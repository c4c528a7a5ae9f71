//go:build linux

package enter

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/timeline"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
)

// Stdio are the files the command gets as stdin, stdout and stderr.
type Stdio struct {
	In, Out, Err *os.File
}

// check refuses a stdin, stdout or stderr that would hand the command a
// way out of the jail: a directory (fchdir to it, then ".." climbs the
// host's tree: the jail's root does not stop a walk that starts outside
// it), or an O_PATH descriptor (whatever it names, a file or a directory,
// the command can open anew through /proc/self/fd, or walk from).
func (s Stdio) check() error {
	for _, std := range []struct {
		name string
		f    *os.File
	}{{"stdin", s.In}, {"stdout", s.Out}, {"stderr", s.Err}} {
		fd := int(std.f.Fd())
		what, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			what = std.f.Name()
		}
		kind, err := jailinit.CheckStdio(fd)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", std.name, err)
		case kind == jailinit.StdioPath:
			return fmt.Errorf("%s is an O_PATH descriptor of %s, which the command could open anew or walk from: refusing to run (give it a file opened for reading or writing)", std.name, what)
		case kind != "":
			return fmt.Errorf("%s is the directory %s, through which the command could leave the jail: refusing to run (redirect it from a file, or /dev/null)", std.name, what)
		}
	}
	return nil
}

// Error is a failure before the command started (exit status 125,
// 126 or 127, as Code says).
type Error struct {
	Code int    // ExitSetupFailed, ExitCannotExec or ExitNotFound
	Msg  string // what went wrong, one line, as the init reported it
}

// Error returns the message, for the caller to print.
func (e *Error) Error() string { return e.Msg }

// Run runs opts.Command inside the jail at dir and returns its exit
// status: the command's own, 128+N when it died of signal N, ExitTimeout
// when the jail ran out of time. An error (an *Error when the jail
// was set up far enough to say) means the command did not run, or that
// saving its results failed (the status is then ExitSetupFailed when
// the command itself succeeded).
//
// What it sets up it undoes on the way out, in reverse order (see the
// package comment for the whole sequence). Descriptors above 2 that the
// process holds without close-on-exec get it (see sealInheritedFds).
func Run(ctx context.Context, dir string, opts Options, stdio Stdio) (int, error) {
	sealInheritedFds()
	var stats Stats
	code, err := run(ctx, dir, &opts, stdio, &stats)
	timeline.Mark("teardown")
	if opts.StatsFile != "" {
		stats.ExitStatus = code
		if err != nil {
			stats.Error = err.Error()
		}
		uid, gid := Invoker()
		code, err = withResultError(code, err, writeStats(opts.StatsFile, &stats, uid, gid))
	}
	return code, err
}

// withResultError adds to a run's outcome the failure to save its
// results: a run whose results are lost has not succeeded.
func withResultError(code int, err, resErr error) (int, error) {
	switch {
	case resErr == nil:
		return code, err
	case err != nil:
		return code, fmt.Errorf("%w; and %v", err, resErr)
	case code == 0:
		return ExitSetupFailed, resErr
	}
	return code, resErr
}

// run is Run, filling stats as it goes.
func run(ctx context.Context, dir string, opts *Options, stdio Stdio, stats *Stats) (int, error) {
	if err := stdio.check(); err != nil {
		return ExitSetupFailed, err
	}
	root, cfg, ns, err := prepare(dir, opts)
	if err != nil {
		return ExitSetupFailed, err
	}
	timeline.Mark("prepare (the init's config)")
	if !opts.NoNamespaces && !opts.overlay() {
		// Writing into the tree (--persist): missing mount targets are
		// made now and removed once the init is gone (deferred first, so
		// it runs last): the tree stays as built.
		targets, err := claimTargets(root, treeTargets(mountTargets(cfg)), fileTargets(cfg), !opts.Readonly)
		if err != nil {
			return ExitSetupFailed, err
		}
		defer targets.release()
	}
	uid, gid := Invoker()
	if err := prepareOutputs(opts.Outputs, uid, gid); err != nil {
		return ExitSetupFailed, err
	}
	var changes *changeSink
	if opts.KeepChanges != "" {
		if changes, err = newChangeSink(opts.KeepChanges, uid, gid); err != nil {
			return ExitSetupFailed, err
		}
		defer changes.close()
	}
	cg, err := newCgroup(opts.Limits, opts.StatsFile != "")
	if err != nil {
		return ExitSetupFailed, err
	}
	defer cg.remove()
	hop, hopFiles, err := cg.hopFiles(jailinit.ChangesFd + 1)
	if err != nil {
		return ExitSetupFailed, err
	}
	cfg.PidsHop = hop
	var unet *userNet
	if opts.Net == NetUser {
		if unet, err = newUserNet(); err != nil {
			return ExitSetupFailed, err
		}
		defer unet.stop()
		hopFiles = append(hopFiles, unet.initEnd) // closed with them once the init has it
		cfg.NetReady = jailinit.ChangesFd + len(hopFiles)
	}
	timeline.Mark("cgroups")
	reg := register(root, opts, cg.pids) // jailer ps, exec and stop
	defer reg.remove()
	if l := reg.file(); l != nil {
		cfg.ExecFd = jailinit.ChangesFd + 1 + len(hopFiles)
		hopFiles = append(hopFiles, l) // closed below once the init has it
	}
	term, err := startTerminal(opts, &stdio)
	if err != nil {
		return ExitSetupFailed, err
	}
	defer term.restore()

	// Pdeathsig is sent when the creating thread exits: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	started := time.Now()
	var send *os.File
	if changes != nil {
		send = changes.send
	}
	// The caller's signals are caught from now on, to be forwarded to the
	// init (watch): one sent once the command runs, even before watch
	// starts, must reach it, not end jailer or be lost.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedToInit...)
	defer signal.Stop(sigs)
	var cfgW, statusR *os.File
	timeline.Mark("before clone")
	pid, err := cg.startInside(func() (pid int, err error) {
		pid, cfgW, statusR, err = startInit(root, opts, ns, stdio, send, hopFiles)
		return pid, err
	})
	changes.started()
	for _, f := range hopFiles {
		f.Close() // the init has its own
	}
	if err != nil {
		if cfgW != nil { // started, then killed: it could not be contained
			cfgW.Close()
			statusR.Close()
		}
		return ExitSetupFailed, err
	}
	timeline.Mark("clone and exec of the init")
	if unet != nil {
		unet.initEnd = nil // closed with hopFiles
		if err := unet.start(pid, opts.has("user"), len(opts.Publish) > 0); err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			cfgW.Close()
			jailinit.WaitStatus(pid)
			statusR.Close()
			return ExitSetupFailed, err
		}
		timeline.Mark("slirp4netns started")
	}
	defer statusR.Close()
	defer holdTree(root, statusR).Release() // a rebuild leaves the tree whole until the init exits
	j := &jailInit{pid: pid, status: bufio.NewReader(statusR), plainChroot: opts.NoNamespaces}
	if err := j.admit(cfgW, cfg, cg, opts.Tracer); err != nil {
		return ExitSetupFailed, err
	}
	timeline.Mark("admit (hold, config sent)")
	reg.write(pid, started, opts)
	timeline.Mark("recorded for jailer ps")
	term.started()
	stop := j.watch(ctx, opts.Limits.Timeout, sigs)
	if unet != nil {
		if err := unet.up(opts.Publish); err != nil {
			j.kill()
			j.wait(opts.Tracer)
			stop()
			return ExitSetupFailed, err
		}
		timeline.Mark("user-mode network up")
	}
	code, startErr, err := j.wait(opts.Tracer)
	stop()
	if unet != nil {
		unet.stop() // the jail is gone, and so is what its network was for
	}
	stats.WallSeconds = time.Since(started).Seconds()
	if err != nil {
		return ExitSetupFailed, err
	}
	timeline.Mark("init exited")
	j.addTimeline()
	code, err = j.verdict(code, startErr, opts.Limits, cg)
	stats.measure(&j.rusage, cg)
	stats.TimedOut = j.timedOut.Load()
	stats.OOMKilled = cg.oomKilled()

	// The jail is gone: nothing changes its files any more.
	var resErr error
	if ns != nil {
		// Without root, what the run left may be the subordinate ids',
		// which only a process in a namespace that maps them can read
		// and chown.
		resErr = ns.save(changes, root, cfg, opts.Outputs)
		return withResultError(code, err, resErr)
	}
	if changes != nil {
		resErr = changes.save(root, changeTargets(cfg), cfg.UserNS)
	}
	if err := handOver(opts.Outputs, uid, gid); err != nil && resErr == nil {
		resErr = err
	}
	return withResultError(code, err, resErr)
}

// prepare checks the options and the jail directory, and works out the
// init's config; root is the jail's absolute path, symlinks resolved.
// Without root, the run gets a user namespace of its own, ns.
func prepare(dir string, opts *Options) (root string, cfg *jailinit.Config, ns *userns, err error) {
	if err := opts.validate(); err != nil {
		return "", nil, nil, err
	}
	if isRootless(opts) {
		opts.SetNamespace("user", true)
	}
	root, err = filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("jail %s: %w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", nil, nil, fmt.Errorf("jail %s is not a directory", dir)
	}
	cfg, err = initConfigFor(root, opts)
	if err != nil {
		return "", nil, nil, err
	}
	if isRootless(opts) {
		ns = rootlessNS(hostRootless())
		if err := ns.configure(root, opts, cfg); err != nil {
			return "", nil, nil, err
		}
	}
	return root, cfg, ns, nil
}

// jailInit is a started init as the parent sees it, until it exits.
type jailInit struct {
	pid         int           // the init's host pid
	status      *bufio.Reader // the init's report: "0 started PID", or why not; then its timeline
	plainChroot bool          // no PID namespace that dies with the init
	cmdPid      atomic.Int64  // the command's host pid, once reported
	timedOut    atomic.Bool
	rusage      syscall.Rusage // of the init and all it reaped, once it exited
}

// admit puts the init, still blocked reading its config, in its cgroups,
// lets a tracer attach, and sends the config; closing the pipe after it
// (EOF) tells the init that it may go on. When a step fails the init is
// killed and reaped.
func (j *jailInit) admit(cfgW *os.File, cfg *jailinit.Config, cg *cgroup, tracer Tracer) error {
	abort := func(err error) error {
		syscall.Kill(j.pid, syscall.SIGKILL)
		cfgW.Close()
		jailinit.WaitStatus(j.pid)
		return err
	}
	if err := cg.add(j.pid); err != nil {
		return abort(err)
	}
	if tracer != nil {
		if err := tracer.Attach(j.pid); err != nil {
			return abort(fmt.Errorf("trace: %w", err))
		}
	}
	_, err := cfgW.Write(cfg.Encode())
	cfgW.Close() // EOF tells the init it is in its cgroups and may go on
	if err != nil {
		syscall.Kill(j.pid, syscall.SIGKILL)
		jailinit.WaitStatus(j.pid)
		return fmt.Errorf("send config to the jail's init: %w", err)
	}
	return nil
}

// kill ends everything: with namespaces, killing the init takes the
// whole PID namespace with it; a plain chroot has no such namespace, so
// the command's process group (a session of its own) goes too.
func (j *jailInit) kill() {
	syscall.Kill(j.pid, syscall.SIGKILL)
	if p := j.cmdPid.Load(); p > 0 && j.plainChroot {
		syscall.Kill(-int(p), syscall.SIGKILL)
	}
}

// watch, until stop is called, forwards the caller's signals to the init
// and kills the jail when it runs past timeout (0: never) or ctx ends.
func (j *jailInit) watch(ctx context.Context, timeout time.Duration, sigs <-chan os.Signal) (stop func()) {
	done := make(chan struct{})
	go func() {
		var expired <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		for {
			select {
			case s := <-sigs:
				syscall.Kill(j.pid, s.(syscall.Signal))
			case <-expired:
				j.timedOut.Store(true)
				j.kill()
			case <-ctx.Done():
				j.kill()
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// forwardedToInit are the signals of jailer's caller that the init gets
// (and forwards to the command).
var forwardedToInit = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// wait reads the init's report (startErr when the command did not start)
// and waits for the init to exit, through the tracer when there is one.
func (j *jailInit) wait(tracer Tracer) (code int, startErr *Error, err error) {
	if tracer == nil {
		startErr = readStatus(j.status, &j.cmdPid)
		timeline.Mark("status read")
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(j.pid, &ws, 0, &j.rusage)
			if err != syscall.EINTR {
				break
			}
		}
		return jailinit.ExitCode(ws), startErr, nil
	}
	// The tracer must keep the init running while we would block on its
	// status pipe: read the status alongside.
	statusDone := make(chan *Error, 1)
	go func() { statusDone <- readStatus(j.status, &j.cmdPid) }()
	ws, err := tracer.Wait(j.pid)
	if err != nil {
		syscall.Kill(j.pid, syscall.SIGKILL)
		return ExitSetupFailed, nil, fmt.Errorf("trace: %w", err)
	}
	return jailinit.ExitCode(ws), <-statusDone, nil
}

// addTimeline adds the init's timeline, which it sends on the status
// pipe before it exits (with JAILER_TIMELINE), to this process's.
func (j *jailInit) addTimeline() {
	if !timeline.On() {
		return
	}
	for {
		line, err := j.status.ReadString('\n')
		if rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), jailinit.TimelineLine); ok {
			timeline.Add("init: ", rest)
		}
		if err != nil {
			return
		}
	}
}

// verdict is Run's answer once the init has exited with code: the
// command's own status, or why it did not run or was cut short.
func (j *jailInit) verdict(code int, startErr *Error, limits Limits, cg *cgroup) (int, error) {
	if startErr != nil {
		return startErr.Code, startErr
	}
	if j.timedOut.Load() {
		return ExitTimeout, fmt.Errorf("timed out after %s: the jail was killed", limits.Timeout)
	}
	if code == 128+int(syscall.SIGKILL) && cg.oomKilled() {
		return code, fmt.Errorf("killed: out of memory (limit %s)", human.Bytes(limits.Memory))
	}
	return code, nil
}
