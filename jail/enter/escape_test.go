//go:build linux

package enter

// Escape tests: a static probe (testdata/probe/probe.c) runs as root inside
// a jail entered with the default options (mount, uts, pid, net and ipc
// namespaces, a pids limit, hardening on) and tries one way out of a
// chroot per test. Each test has two halves:
//
//   - jailer: the probe must stay contained (exit 0), and the host checks
//     for itself that nothing was reached (the marker's secret did not come
//     out, the host process is alive and untouched, no input was pushed);
//   - chroot-control: the same probe under plain chroot(8) as root (with
//     the naive setup named in the test, such as the host's /proc bound in),
//     or under jailer with the opt-out flag (--net host...), must escape
//     (exit 10), showing that the probe detects an escape.
//
// A control that cannot work on this host for a stated reason is skipped
// with that reason, never passed.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/manifest"
)

// Exit statuses of the probe.
const (
	escProbeContained = 0
	escProbeCannot    = 2
	escProbeEscaped   = 10
)

// escapeLab is the host side of an escape test: the compiled probe and a
// marker file outside every jail, whose secret content the probe can only
// print by reaching the host.
type escapeLab struct {
	probe  string // host path of the static probe
	marker string // absolute host path of the marker
	secret string // the marker's content
}

func newEscapeLab(t *testing.T) *escapeLab {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "chroot")
	testutil.RequireTool(t, "unshare")
	src, err := filepath.Abs("testdata/probe/probe.c")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// TempDir may sit below a symlink; the probe is given real paths.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		t.Fatal(err)
	}
	l := &escapeLab{probe: filepath.Join(dir, "probe"), secret: "host-secret-" + escRandomHex(t)}
	testutil.Gcc(t, "-static", "-O1", "-Wall", "-o", l.probe, src)
	host := filepath.Join(dir, "host")
	if err := os.Mkdir(host, 0o700); err != nil {
		t.Fatal(err)
	}
	l.marker = filepath.Join(host, "marker-"+escRandomHex(t))
	if err := os.WriteFile(l.marker, []byte(l.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { escNoMountsUnder(t, dir) })
	return l
}

func escRandomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newJail builds a fresh jail holding /bin/sh and the probe as /probe, in
// the (sub)test's own temp dir, and checks at the end of the test that
// nothing is left mounted below it.
func (l *escapeLab) newJail(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := testutil.WriteManifest(t, dir, "escape.yaml", fmt.Sprintf(`version: 1
name: escape
binaries:
  - /bin/sh
  - { src: %q, dest: /probe }
`, l.probe))
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, build.Options{Output: out})
	t.Cleanup(func() { escNoMountsUnder(t, dir) })
	return out
}

// escRootless is the rootless half of an escape test: the same probe,
// run by the unprivileged user (testutil.RootlessUser) through jailer
// without root, in a jail that user built, against a marker of that
// user's: on the host the user may read it, so only the jail stands
// between the probe and the secret. Its controls run the probe as that
// user with what an ordinary user has for a naive jail: unshare(1) for a
// user namespace (root inside) and chroot(8).
type escRootless struct {
	*rootless
	probe  string // a copy of the probe the user may read
	marker string // the user's, mode 0600, in a directory of the user's
	secret string
}

// rootless sets up the rootless half of the test's lab.
func (l *escapeLab) rootless(t *testing.T) *escRootless {
	t.Helper()
	e := &escRootless{rootless: newRootless(t), secret: "user-secret-" + escRandomHex(t)}
	dir := e.dir(t)
	data, err := os.ReadFile(l.probe)
	if err != nil {
		t.Fatal(err)
	}
	e.probe = filepath.Join(dir, "probe")
	host := filepath.Join(dir, "host")
	e.marker = filepath.Join(host, "marker-"+escRandomHex(t))
	if err := os.WriteFile(e.probe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(host, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.marker, []byte(e.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.user.Chown(t, dir)
	return e
}

// newJail builds, as the user, a jail like escapeLab.newJail's.
func (e *escRootless) newJail(t *testing.T, extra ...string) string {
	t.Helper()
	return e.build(t, fmt.Sprintf(`version: 1
name: escape
binaries:
  - /bin/sh
  - { src: %q, dest: /probe }
%s`, e.probe, strings.Join(extra, "\n")))
}

// enter runs the probe in the jail as the user through jailer, with the
// default options changed by run.
func (e *escRootless) enter(t *testing.T, jail string, run rlRun, args ...string) escResult {
	t.Helper()
	code, out := e.rootless.enter(t, jail, run, append([]string{"/probe"}, args...)...)
	return escResult{code: code, out: strings.TrimSpace(out)}
}

// control runs the probe as the user in a user namespace of its own
// (root inside) under chroot(8): with hostProc, the host's /proc is
// bound onto the jail's first, in a mount namespace of its own.
func (e *escRootless) control(t *testing.T, jail string, c escControl, args ...string) escResult {
	t.Helper()
	unshare, chroot := testutil.RequireTool(t, "unshare"), testutil.RequireTool(t, "chroot")
	argv := append([]string{unshare, "--user", "--map-root-user", chroot, jail, "/probe"}, args...)
	if c.hostProc {
		// The shell stays, outside the jail in the same user namespace:
		// the host's processes are beyond the namespace's reach, its own
		// are not.
		argv = append([]string{unshare, "--user", "--map-root-user", "--mount", "sh", "-euc",
			`j=$1; shift; mount --bind /proc "$j/proc"; chroot "$j" /probe "$@"`, "sh", jail}, args...)
	}
	r := escRunControl(argv, e.user.Credential(), c)
	t.Logf("unshare -r chroot as %s: exit %d: %s", e.user.Name, r.code, r.out)
	return r
}

// onHost runs the probe as the user on the host, in no jail at all.
func (e *escRootless) onHost(t *testing.T, args ...string) escResult {
	t.Helper()
	cmd := exec.Command(e.probe, args...)
	cmd.SysProcAttr = e.user.Credential()
	out, err := cmd.CombinedOutput()
	r := escResult{code: -1, out: strings.TrimSpace(string(out))}
	var exit *exec.ExitError
	if err == nil {
		r.code = 0
	} else if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else {
		r.err = err
	}
	t.Logf("host as %s: exit %d: %s", e.user.Name, r.code, r.out)
	return r
}

// escResult is one run of the probe.
type escResult struct {
	code int
	out  string
	err  error
}

// escEnterOptions are the jail's default enter options running the probe,
// after checking that they are the hardened defaults this file tests.
func escEnterOptions(t *testing.T, jail string, args ...string) Options {
	t.Helper()
	lock, err := lockfile.Read(jail)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := FromLock(lock)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"mount", "pid", "net", "ipc"} {
		if opts.NoNamespaces || !slices.Contains(opts.Namespaces, ns) || opts.User != "" {
			t.Fatalf("default enter options %+v: want root in mount, pid, net and ipc namespaces", opts)
		}
	}
	opts.Command = append([]string{"/probe"}, args...)
	return opts
}

// escEnter runs the probe as root in the jail with the default options;
// stdin is /dev/null unless given.
func escEnter(t *testing.T, jail string, stdin *os.File, args ...string) escResult {
	t.Helper()
	return escEnterWith(t, jail, escEnterOptions(t, jail, args...), stdin)
}

func escEnterWith(t *testing.T, jail string, opts Options, stdin *os.File) escResult {
	t.Helper()
	if stdin == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		stdin = null
	}
	out, err := os.CreateTemp(t.TempDir(), "probe-out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, err := Run(ctx, jail, opts, Stdio{In: stdin, Out: out, Err: out})
	data, _ := os.ReadFile(out.Name())
	r := escResult{code: code, out: strings.TrimSpace(string(data)), err: err}
	t.Logf("jailer: exit %d, err %v: %s", r.code, r.err, r.out)
	return r
}

// escControl says how the plain-chroot control runs the probe.
type escControl struct {
	// hostProc bind-mounts the host's /proc onto the jail's /proc first, in
	// a private mount namespace (a naive chroot setup).
	hostProc bool
	// mountNS runs chroot in a private mount namespace (for probes that
	// mount), so that nothing is left mounted on the host.
	mountNS bool
	stdin   *os.File
	extra   []*os.File // fds 3, 4, ... of chroot and so of the probe
}

// escChroot runs the probe as root with plain chroot(8).
func escChroot(t *testing.T, jail string, c escControl, args ...string) escResult {
	t.Helper()
	argv := append([]string{"chroot", jail, "/probe"}, args...)
	switch {
	case c.hostProc:
		argv = append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-euc",
			`j=$1; shift; mount --bind /proc "$j/proc"; exec chroot "$j" /probe "$@"`, "sh", jail}, args...)
	case c.mountNS:
		argv = append([]string{"unshare", "--mount", "--propagation", "private"}, argv...)
	}
	r := escRunControl(argv, nil, c)
	t.Logf("chroot: exit %d: %s", r.code, r.out)
	return r
}

// escRunControl runs a control's argv (with sys, when not nil: another
// user) with c's stdin and extra descriptors, and returns its status and
// output.
func escRunControl(argv []string, sys *syscall.SysProcAttr, c escControl) escResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = sys
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if c.stdin != nil {
		cmd.Stdin = c.stdin
	}
	cmd.ExtraFiles = c.extra
	err := cmd.Run()
	r := escResult{code: -1, out: strings.TrimSpace(out.String())}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		r.err = err
	}
	return r
}

// escWantContained fails unless the probe ran, found every door shut, and
// did not print the secret.
func escWantContained(t *testing.T, r escResult, secret string) {
	t.Helper()
	if r.err != nil || r.code != escProbeContained || !strings.HasPrefix(r.out, "contained: ") {
		t.Errorf("probe under jailer: exit %d, err %v, output %q; want exit 0 and \"contained: ...\"", r.code, r.err, r.out)
	}
	if secret != "" && strings.Contains(r.out, secret) {
		t.Errorf("ESCAPE: the probe under jailer printed the host marker's secret: %s", r.out)
	}
}

// escWantEscaped fails unless the probe escaped (and printed the secret when
// one is given); a probe that cannot test the escape here skips.
func escWantEscaped(t *testing.T, r escResult, secret string) {
	t.Helper()
	if r.code == escProbeCannot {
		t.Skipf("positive control not possible on this host: %s", r.out)
	}
	if r.err != nil || r.code != escProbeEscaped || !strings.HasPrefix(r.out, "ESCAPED: ") {
		t.Fatalf("positive control under plain chroot: exit %d, err %v, output %q; want exit 10 (the probe does not detect this escape)", r.code, r.err, r.out)
	}
	if secret != "" && !strings.Contains(r.out, secret) {
		t.Fatalf("positive control says it escaped but did not print the marker's secret %q: %s", secret, r.out)
	}
}

// escMountPoints lists the mount points in the test process's mount namespace.
func escMountPoints(t testing.TB) []escMount {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []escMount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		out = append(out, escMount{dev: f[2], root: escUnescapeMountinfo(f[3]), point: escUnescapeMountinfo(f[4])})
	}
	return out
}

type escMount struct {
	dev   string // major:minor
	root  string // the mounted directory, relative to its filesystem's root
	point string // where it is mounted
}

// escUnescapeMountinfo undoes the octal escapes (\040 for a space) of mountinfo.
func escUnescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func escBelow(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// escNoMountsUnder fails (and cleans up) when anything is mounted at or below
// one of dirs in the test process's mount namespace.
func escNoMountsUnder(t testing.TB, dirs ...string) {
	t.Helper()
	for _, m := range escMountPoints(t) {
		for _, d := range dirs {
			if escBelow(m.point, d) {
				t.Errorf("%s is left mounted on the host (below %s)", m.point, d)
				unix.Unmount(m.point, unix.MNT_DETACH)
			}
		}
	}
}

// escFSPath is a file's path relative to the root of the filesystem it is on,
// as an open_by_handle_at of that root or a fresh mount of its disk sees it.
func escFSPath(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	var best *escMount
	for _, m := range escMountPoints(t) {
		if m.dev == dev && escBelow(p, m.point) && (best == nil || len(m.point) > len(best.point)) {
			best = &m
		}
	}
	if best == nil {
		t.Fatalf("no mount of device %s holds %s", dev, p)
	}
	rel := filepath.Join(best.root, strings.TrimPrefix(p, best.point))
	return strings.TrimPrefix(rel, "/")
}

func TestEscapeChrootInChroot(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		escWantContained(t, escEnter(t, lab.newJail(t), nil, "chroot", lab.marker), lab.secret)
	})
	t.Run("chroot-control", func(t *testing.T) {
		escWantEscaped(t, escChroot(t, lab.newJail(t), escControl{}, "chroot", lab.marker), lab.secret)
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{}, "chroot", e.marker), e.secret)
	})
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		escWantEscaped(t, e.control(t, e.newJail(t), escControl{}, "chroot", e.marker), e.secret)
	})
}

func TestEscapeInheritedDirFd(t *testing.T) {
	lab := newEscapeLab(t)
	dir, name := filepath.Split(lab.marker)
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		// Without O_CLOEXEC: ForkExec passes it to the jail's init at the
		// same number, as a careless caller of jailer would.
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := escEnter(t, jail, nil, "fd", strconv.Itoa(fd), name)
		unix.Close(fd)
		escWantContained(t, r, lab.secret)
	})
	t.Run("jailer-no-stray-fds", func(t *testing.T) {
		// Whatever the init holds (its config and status pipes, the jail
		// root), the command gets only stdin, stdout and stderr.
		r := escEnter(t, lab.newJail(t), nil, "fds")
		if r.err != nil || r.code != 0 || r.out != "contained: no open fds above 2" {
			t.Errorf("the command inherits fds besides 0, 1, 2: %s (exit %d, err %v)", r.out, r.code, r.err)
		}
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		escWantEscaped(t, escChroot(t, jail, escControl{extra: []*os.File{f}}, "fd", "3", name), lab.secret)
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		dir, name := filepath.Split(e.marker)
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// As fd 10 of the user's jailer, past the fds the init is given.
		extra := append(make([]*os.File, 7), f)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{extra: extra}, "fd", "10", name), e.secret)
		if r := e.enter(t, e.newJail(t), rlRun{extra: extra}, "fds"); r.code != 0 || r.out != "contained: no open fds above 2" {
			t.Errorf("the command inherits fds besides 0, 1, 2: %s (exit %d)", r.out, r.code)
		}
	})
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		dir, name := filepath.Split(e.marker)
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		escWantEscaped(t, e.control(t, e.newJail(t), escControl{extra: []*os.File{f}}, "fd", "3", name), e.secret)
	})
}

func TestEscapeProcPidRoot(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		escWantContained(t, escEnter(t, lab.newJail(t), nil, "procroot", lab.marker), lab.secret)
	})
	t.Run("chroot-control", func(t *testing.T) {
		escWantEscaped(t, escChroot(t, lab.newJail(t), escControl{hostProc: true}, "procroot", lab.marker), lab.secret)
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{}, "procroot", e.marker), e.secret)
	})
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		escWantEscaped(t, e.control(t, e.newJail(t), escControl{hostProc: true}, "procroot", e.marker), e.secret)
	})
}

// escSameFilesystem skips unless the jail and the marker share a filesystem,
// which the escapes through that filesystem's root need.
func escSameFilesystem(t *testing.T, jail, marker string) {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Stat(jail, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(marker, &b); err != nil {
		t.Fatal(err)
	}
	if a.Dev != b.Dev {
		t.Skipf("the jail %s (device %d:%d) and the marker %s (device %d:%d) are on different filesystems: the escape goes through the jail's filesystem",
			jail, unix.Major(a.Dev), unix.Minor(a.Dev), marker, unix.Major(b.Dev), unix.Minor(b.Dev))
	}
}

// escRequireExt4 skips a control whose escape is written for ext4.
func escRequireExt4(t *testing.T, p string) {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(p, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.EXT4_SUPER_MAGIC {
		t.Skipf("%s is on a filesystem of type %#x, not ext4: the probe's handle and mount are written for ext4", p, fs.Type)
	}
}

func TestEscapeOpenByHandle(t *testing.T) {
	lab := newEscapeLab(t)
	rel := escFSPath(t, lab.marker)
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		escSameFilesystem(t, jail, lab.marker)
		escWantContained(t, escEnter(t, jail, nil, "handle", rel), lab.secret)
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		escSameFilesystem(t, jail, lab.marker)
		escRequireExt4(t, jail)
		escWantEscaped(t, escChroot(t, jail, escControl{}, "handle", rel), lab.secret)
	})
	// No rootless control: open_by_handle_at needs CAP_DAC_READ_SEARCH
	// of the host's user namespace, which an ordinary user never has.
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		escSameFilesystem(t, jail, e.marker)
		escWantContained(t, e.enter(t, jail, rlRun{}, "handle", escFSPath(t, e.marker)), e.secret)
	})
}

// escSleeper is a host process for the jail to try to reach.
type escSleeper struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func escStartSleeper(t *testing.T) *escSleeper {
	t.Helper()
	return escStartSleeperAs(t, nil)
}

// escStartSleeperAs starts the host process with sys (as another user).
func escStartSleeperAs(t *testing.T, sys *syscall.SysProcAttr) *escSleeper {
	t.Helper()
	s := &escSleeper{cmd: exec.Command("sleep", "60"), done: make(chan struct{})}
	s.cmd.SysProcAttr = sys
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

func (s *escSleeper) pid() string { return strconv.Itoa(s.cmd.Process.Pid) }

// wantUntouched fails unless the sleeper is alive, not stopped, not traced
// and has no signal pending: kill(2) and ptrace(2) act before they return,
// so a probe that reached it leaves one of these behind.
func (s *escSleeper) wantUntouched(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
		t.Fatalf("ESCAPE: the host process %d died: %v", s.cmd.Process.Pid, s.cmd.ProcessState)
	default:
	}
	data, err := os.ReadFile("/proc/" + s.pid() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			if !strings.HasPrefix(v, "S") && !strings.HasPrefix(v, "R") {
				t.Errorf("ESCAPE: the host process %d is %s", s.cmd.Process.Pid, v)
			}
		case "TracerPid":
			if v != "0" {
				t.Errorf("ESCAPE: the host process %d is traced by %s", s.cmd.Process.Pid, v)
			}
		case "SigPnd", "ShdPnd":
			if strings.Trim(v, "0") != "" {
				t.Errorf("ESCAPE: the host process %d has signals pending (%s %s)", s.cmd.Process.Pid, k, v)
			}
		}
	}
}

// wantKilledBy fails unless the sleeper died of sig.
func (s *escSleeper) wantKilledBy(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the host process %d is still alive 10s after the probe: want it killed by %v", s.cmd.Process.Pid, sig)
	}
	ws := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != sig {
		t.Fatalf("the host process ended with %v, want killed by %v", s.cmd.ProcessState, sig)
	}
}

func TestEscapeSignalHostProcess(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		s := escStartSleeper(t)
		escWantContained(t, escEnter(t, jail, nil, "kill", s.pid()), "")
		s.wantUntouched(t)
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		s := escStartSleeper(t)
		escWantEscaped(t, escChroot(t, jail, escControl{}, "kill", s.pid()), "")
		s.wantKilledBy(t, syscall.SIGTERM)
	})
	// The host process is the user's own, which the user may signal on
	// the host.
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		s := escStartSleeperAs(t, e.user.Credential())
		escWantContained(t, e.enter(t, jail, rlRun{}, "kill", s.pid()), "")
		s.wantUntouched(t)
	})
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		s := escStartSleeperAs(t, e.user.Credential())
		escWantEscaped(t, e.control(t, jail, escControl{}, "kill", s.pid()), "")
		s.wantKilledBy(t, syscall.SIGTERM)
	})
}

func TestEscapePtraceHostProcess(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		s := escStartSleeper(t)
		escWantContained(t, escEnter(t, jail, nil, "ptrace", s.pid()), "")
		s.wantUntouched(t)
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		s := escStartSleeper(t)
		escWantEscaped(t, escChroot(t, jail, escControl{}, "ptrace", s.pid()), "")
		s.wantKilledBy(t, syscall.SIGUSR1) // delivered by PTRACE_DETACH
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		s := escStartSleeperAs(t, e.user.Credential())
		escWantContained(t, e.enter(t, jail, rlRun{}, "ptrace", s.pid()), "")
		s.wantUntouched(t)
	})
	// The control runs the probe on the host as the user: under unshare
	// -r it would be in a user namespace of its own, from which the
	// kernel refuses to trace the host's processes anyway.
	t.Run("rootless-host-control", func(t *testing.T) {
		e := lab.rootless(t)
		s := escStartSleeperAs(t, e.user.Credential())
		escWantEscaped(t, e.onHost(t, "ptrace", s.pid()), "")
		s.wantKilledBy(t, syscall.SIGUSR1)
	})
}

// TestEscapeUserNamespace: not one of the classic chroot escapes, but what
// the seccomp filter promises: a new user namespace would hand the jail
// back every capability it dropped (within that namespace, which is the
// way into much kernel code normally reserved for root: netfilter, mounts
// of many filesystems...). clone, clone3 and unshare are all tried.
//
// Plain chroot(2) is not affected: the kernel refuses CLONE_NEWUSER to a
// process whose root is not its mount namespace's root. pivot_root, as
// jailer does it, lifts that refusal, so the filter is all that is left.
// The positive control therefore runs the probe unjailed on the host.
func TestEscapeUserNamespace(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		escWantContained(t, escEnter(t, lab.newJail(t), nil, "userns"), "")
	})
	t.Run("chroot-control", func(t *testing.T) {
		r := escChroot(t, lab.newJail(t), escControl{}, "userns")
		if r.code == escProbeContained && strings.Count(r.out, "(CLONE_NEWUSER): EPERM") == 3 {
			t.Skipf("plain chroot(2) cannot show this: the kernel refuses CLONE_NEWUSER to a chrooted process (%s); see host-control", r.out)
		}
		escWantEscaped(t, r, "")
	})
	t.Run("host-control", func(t *testing.T) {
		out, err := exec.Command(lab.probe, "userns").CombinedOutput()
		r := escResult{code: -1, out: strings.TrimSpace(string(out))}
		var exit *exec.ExitError
		if err == nil {
			r.code = 0
		} else if errors.As(err, &exit) {
			r.code = exit.ExitCode()
		} else {
			r.err = err
		}
		t.Logf("host: exit %d: %s", r.code, r.out)
		escWantEscaped(t, r, "")
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{}, "userns"), "")
	})
	t.Run("rootless-host-control", func(t *testing.T) {
		e := lab.rootless(t)
		escWantEscaped(t, e.onHost(t, "userns"), "")
	})
}

// TestEscapeProcExe: the binary that runs a jail must not be reachable from
// inside it (CVE-2019-5736: runc's binary overwritten through
// /proc/PID/exe). Under jailer, /proc/1 is jailer's own init, the host
// binary. The control does not open the host's PID 1 (not ours to touch)
// but this test process, which is the jailer binary itself.
func TestEscapeProcExe(t *testing.T) {
	lab := newEscapeLab(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(self, &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("dev=%d ino=%d", st.Dev, st.Ino)
	t.Run("jailer", func(t *testing.T) {
		r := escEnter(t, lab.newJail(t), nil, "exe", "1")
		escWantContained(t, r, "")
		if strings.Contains(r.out, id) {
			t.Errorf("ESCAPE: the jail opened the jailer binary %s (%s)", self, id)
		}
	})
	t.Run("chroot-control", func(t *testing.T) {
		r := escChroot(t, lab.newJail(t), escControl{hostProc: true}, "exe", strconv.Itoa(os.Getpid()))
		escWantEscaped(t, r, "")
		if !strings.Contains(r.out, id) {
			t.Fatalf("the control opened something, but not the jailer binary %s (%s): %s", self, id, r.out)
		}
	})
	// Without root, the init is the copy of this binary the user runs;
	// the control above shows that the probe finds a binary it reaches.
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		var st unix.Stat_t
		if err := unix.Stat(e.bin, &st); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("dev=%d ino=%d", st.Dev, st.Ino)
		r := e.enter(t, e.newJail(t), rlRun{}, "exe", "1")
		escWantContained(t, r, "")
		if strings.Contains(r.out, id) {
			t.Errorf("ESCAPE: the jail opened the jailer binary %s (%s)", e.bin, id)
		}
	})
}

func TestEscapeMknodHostDisk(t *testing.T) {
	lab := newEscapeLab(t)
	var st unix.Stat_t
	if err := unix.Stat(lab.marker, &st); err != nil {
		t.Fatal(err)
	}
	major, minor := strconv.Itoa(int(unix.Major(st.Dev))), strconv.Itoa(int(unix.Minor(st.Dev)))
	rel := escFSPath(t, lab.marker)
	t.Run("jailer", func(t *testing.T) {
		escWantContained(t, escEnter(t, lab.newJail(t), nil, "mknod", major, minor, rel), lab.secret)
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		escRequireExt4(t, lab.marker)
		if unix.Major(st.Dev) == 0 {
			t.Skipf("the marker's filesystem is on device %s:%s, not a block device the probe can mknod", major, minor)
		}
		// In a private mount namespace, so that the probe's mount of the
		// host disk can never outlive it on the host.
		escWantEscaped(t, escChroot(t, jail, escControl{mountNS: true}, "mknod", major, minor, rel), lab.secret)
	})
	// No rootless control: no user namespace lets an ordinary user make
	// a device node that opens, or mount a disk.
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		var st unix.Stat_t
		if err := unix.Stat(e.marker, &st); err != nil {
			t.Fatal(err)
		}
		major, minor := strconv.Itoa(int(unix.Major(st.Dev))), strconv.Itoa(int(unix.Minor(st.Dev)))
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{}, "mknod", major, minor, escFSPath(t, e.marker)), e.secret)
	})
}

// escOpenPty opens a pseudo-terminal pair; the slave is nobody's controlling
// terminal (O_NOCTTY), as for a jailer started by a program that made a pty.
func escOpenPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	s, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	slave = os.NewFile(uintptr(s), name)
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// escPtyInput is what is waiting on the pty: the slave's input queue (what a
// shell reading the terminal would get) and the master's (the echo).
func escPtyInput(master, slave *os.File) string {
	var all []byte
	for i, f := range []*os.File{slave, master} {
		timeout := 0
		if i == 1 {
			timeout = 500 // the echo reaches the master through a work queue
		}
		for {
			fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, timeout); err != nil || n == 0 || fds[0].Revents&unix.POLLIN == 0 {
				break
			}
			buf := make([]byte, 4096)
			n, err := unix.Read(int(f.Fd()), buf)
			if n <= 0 || err != nil {
				break
			}
			all = append(all, buf[:n]...)
			timeout = 100
		}
	}
	return string(all)
}

func TestEscapeTIOCSTI(t *testing.T) {
	lab := newEscapeLab(t)
	if b, err := os.ReadFile("/proc/sys/dev/tty/legacy_tiocsti"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Log("dev.tty.legacy_tiocsti = 0: this kernel refuses TIOCSTI without CAP_SYS_ADMIN anyway; jailer must still contain it")
	}
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		master, slave := escOpenPty(t)
		token := "pushed-" + escRandomHex(t)
		r := escEnter(t, jail, slave, "tiocsti", token)
		escWantContained(t, r, "")
		if got := escPtyInput(master, slave); strings.Contains(got, token) {
			t.Errorf("ESCAPE: the jail pushed %q into the caller's terminal: %q", token, got)
		}
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		master, slave := escOpenPty(t)
		token := "pushed-" + escRandomHex(t)
		escWantEscaped(t, escChroot(t, jail, escControl{stdin: slave}, "tiocsti", token), "")
		if got := escPtyInput(master, slave); !strings.Contains(got, token) {
			t.Fatalf("the control says it pushed %q, but the terminal holds %q", token, got)
		}
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		master, slave := escOpenPty(t)
		token := "pushed-" + escRandomHex(t)
		escWantContained(t, e.enter(t, jail, rlRun{stdin: slave}, "tiocsti", token), "")
		if got := escPtyInput(master, slave); strings.Contains(got, token) {
			t.Errorf("ESCAPE: the jail pushed %q into the caller's terminal: %q", token, got)
		}
	})
}

// TestEscapePlantedSymlinks: a process in a jail (or whoever can write the
// tree) replaces a mount point by a symlink to a host directory; the next
// enter must refuse to mount there instead of following it onto the host.
func TestEscapePlantedSymlinks(t *testing.T) {
	lab := newEscapeLab(t)
	cases := []struct {
		name   string
		link   string // jail path replaced by a symlink to the victim
		mounts []manifest.Mount
		naive  string // the control's naive setup, in sh with $J jail, $V victim, $S bind source
		want   string // what the control lists in the victim
	}{
		{name: "proc", link: "/proc",
			naive: `mount -t proc proc "$J/proc"; ls "$V" | grep -x self`, want: "self"},
		{name: "dev", link: "/dev",
			naive: `mount -t tmpfs none "$J/dev"; touch "$J/dev/x"; ls "$V"`, want: "x"},
		{name: "tmpfs-target", link: "/tmp", mounts: []manifest.Mount{{Type: "tmpfs", Target: "/tmp"}},
			naive: `mount -t tmpfs none "$J/tmp"; touch "$J/tmp/x"; ls "$V"`, want: "x"},
		{name: "bind-target", link: "/data", mounts: []manifest.Mount{{Type: "bind", Target: "/data"}},
			naive: `mount --bind "$S" "$J/data"; ls "$V"`, want: "from-src"},
		{name: "bind-parent", link: "/opt", mounts: []manifest.Mount{{Type: "bind", Target: "/opt/data"}},
			naive: `mkdir -p "$J/opt/data"; mount --bind "$S" "$J/opt/data"; ls "$V/data"`, want: "from-src"},
	}
	for _, c := range cases {
		// setup builds a jail, plants the symlink and returns the jail, the
		// victim (an empty host directory) and the bind source.
		setup := func(t *testing.T) (jail, victim, src string) {
			jail = lab.newJail(t)
			dir := filepath.Dir(jail)
			victim, src = filepath.Join(dir, "victim"), filepath.Join(dir, "src")
			for _, d := range []string{victim, src} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(src, "from-src"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(jail, c.link)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, p); err != nil {
				t.Fatal(err)
			}
			return jail, victim, src
		}
		t.Run(c.name, func(t *testing.T) {
			t.Run("jailer", func(t *testing.T) {
				jail, victim, src := setup(t)
				opts := escEnterOptions(t, jail, "fds")
				for _, m := range c.mounts {
					if m.Type == "bind" {
						m.Source = src
					}
					opts.Mounts = append(opts.Mounts, m)
				}
				r := escEnterWith(t, jail, opts, nil)
				if r.code != ExitSetupFailed || r.err == nil || !strings.Contains(r.err.Error(), "symlink") {
					t.Errorf("Enter with %s a symlink to %s = %d, %v (output %q); want 125 and an error refusing the symlink", c.link, victim, r.code, r.err, r.out)
				}
				if ents, err := os.ReadDir(victim); err != nil || len(ents) > 0 {
					t.Errorf("ESCAPE: the host directory %s was written through the planted symlink: %v, %v", victim, ents, err)
				}
				escNoMountsUnder(t, victim, jail)
			})
			t.Run("rootless", func(t *testing.T) {
				e := lab.rootless(t)
				jail := e.newJail(t)
				dir := filepath.Dir(jail)
				victim, src := filepath.Join(dir, "victim"), filepath.Join(dir, "src")
				for _, d := range []string{victim, src} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				p := filepath.Join(jail, c.link)
				if err := os.RemoveAll(p); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(victim, p); err != nil {
					t.Fatal(err)
				}
				e.user.Chown(t, dir)
				var mounts []manifest.Mount
				for _, m := range c.mounts {
					if m.Type == "bind" {
						m.Source = src
					}
					mounts = append(mounts, m)
				}
				r := e.enter(t, jail, rlRun{opts: map[string]any{"Mounts": mounts}}, "fds")
				if r.code != ExitSetupFailed || !strings.Contains(r.out, "symlink") {
					t.Errorf("Enter as %s with %s a symlink to %s = %d (output %q); want 125 and an error refusing the symlink", e.user.Name, c.link, victim, r.code, r.out)
				}
				if ents, err := os.ReadDir(victim); err != nil || len(ents) > 0 {
					t.Errorf("ESCAPE: the host directory %s was written through the planted symlink: %v, %v", victim, ents, err)
				}
			})
			t.Run("chroot-control", func(t *testing.T) {
				jail, victim, src := setup(t)
				cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-euc", c.naive)
				cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "J=" + jail, "V=" + victim, "S=" + src}
				out, err := cmd.CombinedOutput()
				t.Logf("naive setup: %s: %v: %s", c.naive, err, out)
				if err != nil || !slices.Contains(strings.Fields(string(out)), c.want) {
					t.Fatalf("the naive setup did not follow the planted %s onto the host: want %q listed in the victim", c.link, c.want)
				}
				escNoMountsUnder(t, victim, jail)
			})
		})
	}
}

// The escapes below are those of a second escape probe run against
// jailer's defaults (issue 10): what a jail shared with the host by
// default (its network and IPC namespaces, the caller's session, fds 0-2
// as given), what root in a jail could leave behind for the host (a
// setuid or file-capability program), and what it could use up (disk,
// processes). Each has a positive control: the opt-out flag, or plain
// chroot(8) as root.

// TestEscapeAbstractSocket: an abstract unix socket has no file; it lives
// in a network namespace, and a jail in the host's reaches every one a
// host process listens on (D-Bus, X11, containerd's shims).
func TestEscapeAbstractSocket(t *testing.T) {
	lab := newEscapeLab(t)
	listen := func(t *testing.T) (name string, accepted *atomic.Int32) {
		name = "jailer-escape-" + escRandomHex(t)
		l, err := net.Listen("unix", "@"+name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		accepted = &atomic.Int32{}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				fmt.Fprintln(c, lab.secret)
				c.Close()
			}
		}()
		return name, accepted
	}
	t.Run("jailer", func(t *testing.T) {
		name, accepted := listen(t)
		escWantContained(t, escEnter(t, lab.newJail(t), nil, "abstract", name), lab.secret)
		if n := accepted.Load(); n > 0 {
			t.Errorf("ESCAPE: the host's @%s accepted %d connections from the jail", name, n)
		}
	})
	t.Run("net-host-control", func(t *testing.T) {
		name, _ := listen(t)
		jail := lab.newJail(t)
		opts := escEnterOptions(t, jail, "abstract", name)
		opts.SetNamespace("net", false) // --net host
		escWantEscaped(t, escEnterWith(t, jail, opts, nil), lab.secret)
	})
	t.Run("net-user", func(t *testing.T) {
		testutil.RequireTool(t, "slirp4netns")
		// The user-mode network reaches the host's loopback through
		// slirp4netns, never the host's network namespace.
		name, accepted := listen(t)
		jail := lab.newJail(t)
		opts := escEnterOptions(t, jail, "abstract", name)
		opts.Net = NetUser
		escWantContained(t, escEnterWith(t, jail, opts, nil), lab.secret)
		if n := accepted.Load(); n > 0 {
			t.Errorf("ESCAPE: the host's @%s accepted %d connections from a jail with --net user", name, n)
		}
	})
	t.Run("rootless-net-user", func(t *testing.T) {
		testutil.RequireTool(t, "slirp4netns")
		e := lab.rootless(t)
		name, accepted := listen(t)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{opts: map[string]any{"Net": NetUser}}, "abstract", name), lab.secret)
		if n := accepted.Load(); n > 0 {
			t.Errorf("ESCAPE: the host's @%s accepted %d connections from a jail with --net user", name, n)
		}
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		name, accepted := listen(t)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{}, "abstract", name), lab.secret)
		if n := accepted.Load(); n > 0 {
			t.Errorf("ESCAPE: the host's @%s accepted %d connections from the jail", name, n)
		}
	})
	t.Run("rootless-net-host-control", func(t *testing.T) {
		e := lab.rootless(t)
		name, _ := listen(t)
		escWantEscaped(t, e.enter(t, e.newJail(t), rlRun{opts: map[string]any{"Namespaces": []string{"mount", "uts", "pid", "ipc"}}}, "abstract", name), lab.secret)
	})
}

// TestEscapeSysVShm: System V shared memory is found by key in an IPC
// namespace; a jail in the host's reads (and, as root, writes) every
// segment of the host's processes.
func TestEscapeSysVShm(t *testing.T) {
	lab := newEscapeLab(t)
	var segmentMode func(t *testing.T, mode int) string
	segment := func(t *testing.T) string { return segmentMode(t, 0o600) }
	// segmentMode makes a segment; 0666 for the rootless runs, so that
	// the user could read it on the host.
	segmentMode = func(t *testing.T, mode int) string {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		key := int(b[0])<<24&0x7f000000 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]) | 1
		id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|mode)
		if err != nil {
			t.Fatalf("shmget(%#x): %v", key, err)
		}
		t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
		mem, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		copy(mem, lab.secret+"\x00")
		unix.SysvShmDetach(mem)
		return strconv.Itoa(key)
	}
	t.Run("jailer", func(t *testing.T) {
		escWantContained(t, escEnter(t, lab.newJail(t), nil, "shm", segment(t)), lab.secret)
	})
	t.Run("ipc-host-control", func(t *testing.T) {
		jail := lab.newJail(t)
		opts := escEnterOptions(t, jail, "shm", segment(t))
		opts.SetNamespace("ipc", false) // --ipc host
		escWantEscaped(t, escEnterWith(t, jail, opts, nil), lab.secret)
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		escWantContained(t, e.enter(t, e.newJail(t), rlRun{}, "shm", segmentMode(t, 0o666)), lab.secret)
	})
	t.Run("rootless-ipc-host-control", func(t *testing.T) {
		e := lab.rootless(t)
		run := rlRun{opts: map[string]any{"Namespaces": []string{"mount", "uts", "pid", "net"}}}
		escWantEscaped(t, e.enter(t, e.newJail(t), run, "shm", segmentMode(t, 0o666)), lab.secret)
	})
}

// escAutogroup reads /proc/PID/autogroup: the session's scheduling group
// ("/autogroup-42") and its nice value.
func escAutogroup(t *testing.T, pid string) (group string, nice int) {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/autogroup")
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("this kernel has no autogroups (CONFIG_SCHED_AUTOGROUP): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(string(data), "%s nice %d", &group, &nice); err != nil {
		t.Fatalf("/proc/%s/autogroup = %q: %v", pid, data, err)
	}
	return group, nice
}

// escOwnAutogroup puts this test process in a session of its own when it
// is in the kernel's default autogroup (a runner whose process tree never
// called setsid, as CI machines are): the default group has no nice value
// to set (the kernel shows it as an empty file), so neither the jail nor
// the control could change it and the test would prove nothing.
func escOwnAutogroup(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/autogroup")
	if err != nil || len(data) > 0 {
		return // escAutogroup reports a missing file
	}
	if _, err := unix.Setsid(); err != nil {
		t.Fatalf("this test runs in the default autogroup and cannot start a session of its own: setsid: %v", err)
	}
}

// escKeepAutogroup fails when the test's own session's autogroup changed
// its nice value from nice (a process in the jail reached it), and puts it
// back.
func escKeepAutogroup(t *testing.T, nice int) (changed bool) {
	t.Helper()
	_, now := escAutogroup(t, "self")
	if now != nice {
		os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(nice)), 0)
	}
	return now != nice
}

// TestEscapeAutogroup: the processes of a session share a scheduling
// group, whose nice value anyone who can write /proc/PID/autogroup of one
// of them sets for all. An init left in the caller's session put the
// caller's shell, editor and builds within the jail's reach.
func TestEscapeAutogroup(t *testing.T) {
	lab := newEscapeLab(t)
	escOwnAutogroup(t)
	group, nice := escAutogroup(t, "self")
	t.Cleanup(func() { escKeepAutogroup(t, nice) })
	t.Run("jailer", func(t *testing.T) {
		r := escEnter(t, lab.newJail(t), nil, "autogroup", group)
		escWantContained(t, r, "")
		if escKeepAutogroup(t, nice) {
			t.Errorf("ESCAPE: the jail changed the nice value of this session's %s", group)
		}
	})
	t.Run("chroot-control", func(t *testing.T) {
		// chroot(8) with the host's /proc runs the probe in this session,
		// as the init once was.
		r := escChroot(t, lab.newJail(t), escControl{hostProc: true}, "autogroup", group)
		changed := escKeepAutogroup(t, nice)
		escWantEscaped(t, r, "")
		if !changed {
			t.Fatalf("the control says it set %s's nice to 19, but this session's autogroup is unchanged", group)
		}
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		r := e.enter(t, e.newJail(t), rlRun{}, "autogroup", group)
		escWantContained(t, r, "")
		if escKeepAutogroup(t, nice) {
			t.Errorf("ESCAPE: the jail changed the nice value of this session's %s", group)
		}
	})
	// No rootless control: a chroot in a user namespace of its own, run
	// in this session, is refused the write (EACCES) even to its own
	// user's processes' autogroup; the chroot-control shows the probe.
}

// TestEscapeStdio: a directory on fd 0, 1 or 2 is an inherited directory
// fd the command needs no search for: fchdir(0), then ".." climbs past
// the jail's root (which stops only walks that start inside it). An
// O_PATH file is a host file the command can open anew through
// /proc/self/fd. jailer refuses both before anything starts.
func TestEscapeStdio(t *testing.T) {
	lab := newEscapeLab(t)
	hostDir := filepath.Dir(filepath.Dir(lab.marker)) // above the marker's directory: the probe climbs
	open := func(t *testing.T, p string, flags int) *os.File {
		fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), p)
		t.Cleanup(func() { f.Close() })
		return f
	}
	for _, c := range []struct {
		name     string
		open     func(t *testing.T) *os.File
		hostProc bool // the control reopens through /proc/self/fd
		want     string
	}{
		{"directory", func(t *testing.T) *os.File { return open(t, hostDir, unix.O_RDONLY|unix.O_DIRECTORY) }, false, "stdin is the directory " + hostDir},
		{"O_PATH directory", func(t *testing.T) *os.File { return open(t, hostDir, unix.O_PATH) }, false, "stdin is an O_PATH descriptor of " + hostDir},
		{"O_PATH file", func(t *testing.T) *os.File { return open(t, lab.marker, unix.O_PATH) }, true, "stdin is an O_PATH descriptor of " + lab.marker},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Run("jailer", func(t *testing.T) {
				r := escEnter(t, lab.newJail(t), c.open(t), "stdin", lab.marker)
				if r.code != ExitSetupFailed || r.err == nil || !strings.Contains(r.err.Error(), c.want) || r.out != "" {
					t.Errorf("Enter with a host %s as stdin = %d, %v, output %q; want 125, an error saying %q, and no command run", c.name, r.code, r.err, r.out, c.want)
				}
				if strings.Contains(r.out, lab.secret) {
					t.Errorf("ESCAPE: the jail read the host marker through its stdin: %s", r.out)
				}
			})
			t.Run("chroot-control", func(t *testing.T) {
				escWantEscaped(t, escChroot(t, lab.newJail(t), escControl{stdin: c.open(t), hostProc: c.hostProc}, "stdin", lab.marker), lab.secret)
			})
			t.Run("rootless", func(t *testing.T) {
				e := lab.rootless(t)
				r := e.enter(t, e.newJail(t), rlRun{stdin: c.open(t)}, "stdin", e.marker)
				if r.code != ExitSetupFailed || !strings.Contains(r.out, c.want) || strings.Contains(r.out, "contained") {
					t.Errorf("Enter as %s with a host %s as stdin = %d, output %q; want 125, an error saying %q, and no command run", e.user.Name, c.name, r.code, r.out, c.want)
				}
			})
		})
	}
	// The user's own directory above the user's marker, as stdin of a
	// chroot in a user namespace: the same way out.
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		f := open(t, filepath.Dir(filepath.Dir(e.marker)), unix.O_RDONLY|unix.O_DIRECTORY)
		escWantEscaped(t, e.control(t, e.newJail(t), escControl{stdin: f}, "stdin", e.marker), e.secret)
	})
}

// escSetidFiles lists what is setuid or setgid at or below dir.
func escSetidFiles(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	found := map[string]os.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			found[filepath.Base(p)] = fi.Mode()
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return found
}

// escSetidWays are the probe's ways to make a setuid or setgid file that
// the kernel honours as root (mkdir and mkdirat, also tried, drop the
// bits themselves); the legacy calls exist only on some architectures.
func escSetidWays() []string {
	ways := []string{"fchmod", "fchmodat", "fchmodat2", "openat", "tmpfile", "openat2", "io_uring", "mknodat"}
	if runtime.GOARCH == "amd64" {
		ways = append(ways, "chmod", "open", "creat", "mknod")
	}
	return ways
}

// TestEscapeSetuidFile: a setuid-root program made by root in the jail is
// setuid-root on the host for whoever reaches it there: in a tree written
// in place (--persist), a writable bind mount, files taken out of a run.
// The seccomp filter refuses every way to make one; the probe checks
// inside the jail (so this holds whatever the root is mounted as), the
// host checks the tree and the bind mount.
func TestEscapeSetuidFile(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		escWantContained(t, escEnter(t, jail, nil, "setuid", "/suid"), "")
		if found := escSetidFiles(t, filepath.Join(jail, "suid")); len(found) > 0 {
			t.Errorf("ESCAPE: setuid or setgid files made in the jail's tree: %v", found)
		}
	})
	t.Run("jailer-bind", func(t *testing.T) {
		jail, out := lab.newJail(t), t.TempDir()
		opts := escEnterOptions(t, jail, "setuid", "/out/suid")
		opts.Mounts = append(opts.Mounts, manifest.Mount{Type: "bind", Source: out, Target: "/out"})
		escWantContained(t, escEnterWith(t, jail, opts, nil), "")
		if found := escSetidFiles(t, out); len(found) > 0 {
			t.Errorf("ESCAPE: setuid or setgid files made in a host directory bound into the jail: %v", found)
		}
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		escWantEscaped(t, escChroot(t, jail, escControl{hostProc: true}, "setuid", "/suid"), "")
		found := escSetidFiles(t, filepath.Join(jail, "suid"))
		for _, way := range escSetidWays() {
			if _, ok := found[way]; !ok {
				t.Errorf("the control made no setuid or setgid file by %s (got %v): the test of that way proves nothing", way, found)
			}
		}
	})
	// Without root, root in the jail is the user: a setuid file it left
	// in the user's tree or an output would run as the user for whoever
	// can run it on the host. A fresh root, --persist, an --output and
	// a writable bind mount each get none.
	for _, c := range []struct {
		name  string
		inOut bool // the probe makes them in /out, the host directory out
		opts  func(out string) map[string]any
	}{
		{"rootless", false, func(string) map[string]any { return nil }},
		{"rootless-persist", false, func(string) map[string]any { return map[string]any{"Persist": true} }},
		{"rootless-output", true, func(out string) map[string]any {
			return map[string]any{"Outputs": []Output{{Host: out, Target: "/out"}}}
		}},
		{"rootless-bind", true, func(out string) map[string]any {
			return map[string]any{"Mounts": []manifest.Mount{{Type: "bind", Source: out, Target: "/out"}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := lab.rootless(t)
			jail := e.newJail(t)
			out := filepath.Join(filepath.Dir(jail), "out")
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			e.user.Chown(t, out)
			dir, host := "/suid", filepath.Join(jail, "suid")
			if c.inOut {
				dir, host = "/out/suid", out
			}
			escWantContained(t, e.enter(t, jail, rlRun{opts: c.opts(out)}, "setuid", dir), "")
			if found := escSetidFiles(t, host); len(found) > 0 {
				t.Errorf("ESCAPE: setuid or setgid files of %s's left on the host: %v", e.user.Name, found)
			}
		})
	}
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		escWantEscaped(t, e.control(t, jail, escControl{}, "setuid", "/suid"), "")
		found := escSetidFiles(t, filepath.Join(jail, "suid"))
		if len(found) == 0 {
			t.Fatal("the control says it made setuid files, but the tree has none")
		}
		for name := range found {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(jail, "suid", name), &st); err == nil && int(st.Uid) != e.user.UID {
				t.Errorf("the control's setuid file %s is %d's, not %s's", name, st.Uid, e.user.Name)
			}
		}
	})
}

// escFileCaps returns the security.capability attribute of p, or nil.
func escFileCaps(t *testing.T, p string) []byte {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, "security.capability", buf)
	switch {
	case errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		t.Fatalf("getxattr %s security.capability: %v", p, err)
	}
	return buf[:n]
}

// TestEscapeFileCapabilities: file capabilities are setuid's finer cousin
// (security.capability: the program gets CAP_SYS_ADMIN, say, whoever runs
// it). Setting them takes CAP_SETFCAP, which the jail does not keep.
func TestEscapeFileCapabilities(t *testing.T) {
	lab := newEscapeLab(t)
	t.Run("jailer", func(t *testing.T) {
		jail := lab.newJail(t)
		escWantContained(t, escEnter(t, jail, nil, "fcap", "/fcap-tool"), "")
		if caps := escFileCaps(t, filepath.Join(jail, "fcap-tool")); caps != nil {
			t.Errorf("ESCAPE: the jail gave a file in its tree file capabilities: %x", caps)
		}
	})
	t.Run("jailer-bind", func(t *testing.T) {
		jail, out := lab.newJail(t), t.TempDir()
		opts := escEnterOptions(t, jail, "fcap", "/out/fcap-tool")
		opts.Mounts = append(opts.Mounts, manifest.Mount{Type: "bind", Source: out, Target: "/out"})
		escWantContained(t, escEnterWith(t, jail, opts, nil), "")
		if caps := escFileCaps(t, filepath.Join(out, "fcap-tool")); caps != nil {
			t.Errorf("ESCAPE: the jail gave a host file file capabilities: %x", caps)
		}
	})
	t.Run("chroot-control", func(t *testing.T) {
		jail := lab.newJail(t)
		escWantEscaped(t, escChroot(t, jail, escControl{}, "fcap", "/fcap-tool"), "")
		if escFileCaps(t, filepath.Join(jail, "fcap-tool")) == nil {
			t.Fatal("the control says it set file capabilities, but the host sees none")
		}
	})
	t.Run("rootless-persist", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		escWantContained(t, e.enter(t, jail, rlRun{opts: map[string]any{"Persist": true}}, "fcap", "/fcap-tool"), "")
		if caps := escFileCaps(t, filepath.Join(jail, "fcap-tool")); caps != nil {
			t.Errorf("ESCAPE: the jail gave a file in its tree file capabilities: %x", caps)
		}
	})
	t.Run("rootless-output", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		out := filepath.Join(filepath.Dir(jail), "out")
		run := rlRun{opts: map[string]any{"Outputs": []Output{{Host: out, Target: "/out"}}}}
		escWantContained(t, e.enter(t, jail, run, "fcap", "/out/fcap-tool"), "")
		if caps := escFileCaps(t, filepath.Join(out, "fcap-tool")); caps != nil {
			t.Errorf("ESCAPE: the jail gave a host file file capabilities: %x", caps)
		}
	})
	// In a user namespace of its own the naive setup gives a file
	// capabilities that hold for that namespace's root (the user).
	t.Run("rootless-control", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		escWantEscaped(t, e.control(t, jail, escControl{}, "fcap", "/fcap-tool"), "")
		if escFileCaps(t, filepath.Join(jail, "fcap-tool")) == nil {
			t.Fatal("the control says it set file capabilities, but the host sees none")
		}
	})
}

// TestEscapeDiskFill: a run writes as much as it likes into the tree, and
// so onto the host's disk. The bound belongs to the fresh root of every
// run (issue 10: an overlay whose writes go to a tmpfs of --tmp-size, on
// another branch): until it is merged the default run writes into the
// tree, which the control shows.
func TestEscapeDiskFill(t *testing.T) {
	lab := newEscapeLab(t)
	const mib = 64
	t.Run("jailer", func(t *testing.T) {
		// The fresh root's writes land on a tmpfs of --tmp-size: the
		// probe stops at ENOSPC, and the tree on the host's disk is as
		// built.
		jail := lab.newJail(t)
		opts := escEnterOptions(t, jail, "fill", "/fill", strconv.Itoa(mib))
		opts.TmpSize = mib / 2 << 20
		r := escEnterWith(t, jail, opts, nil)
		escWantContained(t, r, "")
		if !strings.Contains(r.out, "ENOSPC") {
			t.Errorf("the probe stopped for another reason than a full fresh root: %s", r.out)
		}
		if fi, err := os.Lstat(filepath.Join(jail, "fill")); err == nil {
			t.Errorf("ESCAPE: the run wrote %d bytes into the tree on the host's disk", fi.Size())
		}
	})
	t.Run("persist-control", func(t *testing.T) {
		jail := lab.newJail(t)
		opts := escEnterOptions(t, jail, "fill", "/fill", strconv.Itoa(mib))
		opts.Persist = true
		escWantEscaped(t, escEnterWith(t, jail, opts, nil), "")
		if fi, err := os.Lstat(filepath.Join(jail, "fill")); err != nil || fi.Size() != mib<<20 {
			t.Fatalf("the control says it wrote %d MiB, but the tree has %v, %v", mib, fi, err)
		}
	})
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		r := e.enter(t, jail, rlRun{opts: map[string]any{"TmpSize": mib / 2 << 20}}, "fill", "/fill", strconv.Itoa(mib))
		escWantContained(t, r, "")
		if !strings.Contains(r.out, "ENOSPC") {
			t.Errorf("the probe stopped for another reason than a full fresh root: %s", r.out)
		}
		if fi, err := os.Lstat(filepath.Join(jail, "fill")); err == nil {
			t.Errorf("ESCAPE: the run wrote %d bytes into the tree on the host's disk", fi.Size())
		}
	})
	t.Run("rootless-persist-control", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		escWantEscaped(t, e.enter(t, jail, rlRun{opts: map[string]any{"Persist": true}}, "fill", "/fill", strconv.Itoa(mib)), "")
		if fi, err := os.Lstat(filepath.Join(jail, "fill")); err != nil || fi.Size() != mib<<20 {
			t.Fatalf("the control says it wrote %d MiB, but the tree has %v, %v", mib, fi, err)
		}
	})
}

// TestEscapeForkCount: without a pids limit, a fork bomb in the jail takes
// the host's pid space (and its memory) with it. The default limit stops
// it at 4096 processes, counted exactly: the init's own threads are not
// among them.
func TestEscapeForkCount(t *testing.T) {
	lab := newEscapeLab(t)
	if base, err := v1Base("pids"); err != nil {
		if _, ok := unifiedBase(map[string]bool{"pids": true}); !ok {
			t.Skipf("no pids controller on this host (%v): the default limit does not apply", err)
		}
	} else if _, err := os.Stat(base); err != nil {
		t.Fatal(err)
	}
	forks := func(t *testing.T, limit int, ask int) escResult {
		jail := lab.newJail(t)
		opts := escEnterOptions(t, jail, "forks", strconv.Itoa(ask))
		if limit >= 0 {
			opts.Limits.Pids, opts.Limits.PidsDefault = limit, false
		}
		return escEnterWith(t, jail, opts, nil)
	}
	t.Run("jailer", func(t *testing.T) {
		r := forks(t, -1, manifest.DefaultPids+100)
		escWantContained(t, r, "")
		if want := fmt.Sprintf("contained: forked %d children (%d processes with this one)", manifest.DefaultPids-1, manifest.DefaultPids); !strings.HasPrefix(r.out, want) {
			t.Errorf("probe under the default limit: %q, want %q", r.out, want)
		}
	})
	t.Run("jailer-pids-8", func(t *testing.T) {
		r := forks(t, 8, 100)
		escWantContained(t, r, "")
		if want := "contained: forked 7 children (8 processes with this one)"; !strings.HasPrefix(r.out, want) {
			t.Errorf("probe under --pids 8: %q, want %q", r.out, want)
		}
	})
	t.Run("pids-0-control", func(t *testing.T) {
		escWantEscaped(t, forks(t, 0, manifest.DefaultPids+100), "")
	})
	// Without root, a pids limit needs a cgroup v2 subtree delegated to
	// the user: where there is one the limits hold as for root; where
	// there is none, one asked for is refused, never dropped, and
	// jailer's default does not apply (as on a host without a pids
	// controller, above).
	t.Run("rootless", func(t *testing.T) {
		e := lab.rootless(t)
		jail := e.newJail(t)
		limit := func(pids int) rlRun {
			return rlRun{opts: map[string]any{"Limits": map[string]any{"Pids": pids, "PidsDefault": false}}}
		}
		if h := e.rootless.host(t); h.Cgroup == "" || !slices.Contains(h.CgroupControllers, "pids") {
			r := e.enter(t, jail, limit(8), "forks", "100")
			if r.code != ExitSetupFailed || !strings.Contains(r.out, "cannot apply the pids limit without root") {
				t.Errorf("--pids 8 without a delegated pids controller: exit %d, %q; want it refused (125)", r.code, r.out)
			}
			t.Skipf("no cgroup v2 pids controller delegated to %s (%s): jailer's default pids limit does not apply without root", e.user.Name, h.NoCgroup)
		}
		r := e.enter(t, jail, rlRun{}, "forks", strconv.Itoa(manifest.DefaultPids+100))
		escWantContained(t, r, "")
		r = e.enter(t, jail, limit(8), "forks", "100")
		escWantContained(t, r, "")
		if want := "contained: forked 7 children (8 processes with this one)"; !strings.HasPrefix(r.out, want) {
			t.Errorf("probe under --pids 8: %q, want %q", r.out, want)
		}
	})
}

// TestEscapeRewriteSetuidFile: a setuid program the build made on purpose
// (allow_setuid) must not become another one: without CAP_FSETID, a write
// to it clears its setuid bit. The control is a plain chroot, which keeps
// every capability.
func TestEscapeRewriteSetuidFile(t *testing.T) {
	testutil.RequireRoot(t)
	for _, mode := range []string{"jailer", "persist", "no-namespaces-control"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			m := testutil.WriteManifest(t, dir, "m.yaml", `version: 1
binaries: [/bin/sh]
files: [{dest: /bin/helper, content: "#!/bin/sh\n", mode: "4755", allow_setuid: true}]
`)
			mustBuild(t, m, build.Options{})
			jail := filepath.Join(dir, "jail")
			code, out, err := runIn(t, jail, func(o *Options) {
				o.NoNamespaces = mode == "no-namespaces-control"
				o.Persist = mode == "persist"
			}, "/bin/sh", "-c", "echo 'exec /bin/sh' >> /bin/helper")
			if code != 0 || err != nil {
				t.Fatalf("exit %d, %v, %q", code, err, out)
			}
			helper := filepath.Join(jail, "bin/helper")
			fi, err := os.Stat(helper)
			if err != nil {
				t.Fatal(err)
			}
			content, _ := os.ReadFile(helper)
			setuid := fi.Mode()&os.ModeSetuid != 0
			switch {
			case mode == "jailer" && string(content) != "#!/bin/sh\n":
				// The rewrite went to the run's fresh root, never to the tree.
				t.Errorf("ESCAPE: a run rewrote the tree's setuid program /bin/helper: %q (%v)", content, fi.Mode())
			case mode == "persist" && setuid:
				t.Errorf("ESCAPE: root in the jail rewrote the setuid program /bin/helper in the tree and it stayed setuid (%v)", fi.Mode())
			case mode == "no-namespaces-control" && !setuid:
				t.Fatalf("the control rewrote /bin/helper with every capability, and its setuid bit went anyway (%v): the test proves nothing", fi.Mode())
			}
		})
	}
	// Without root the helper is setuid to the user who built the jail.
	for _, mode := range []string{"rootless", "rootless-persist"} {
		t.Run(mode, func(t *testing.T) {
			e := newRootless(t)
			jail := e.build(t, `version: 1
binaries: [/bin/sh]
files: [{dest: /bin/helper, content: "#!/bin/sh\n", mode: "4755", allow_setuid: true}]
`)
			helper := filepath.Join(jail, "bin/helper")
			if fi, err := os.Stat(helper); err != nil || fi.Mode()&os.ModeSetuid == 0 {
				t.Fatalf("the build as %s made no setuid /bin/helper: %v, %v", e.user.Name, fi, err)
			}
			e.mustEnter(t, jail, rlRun{opts: map[string]any{"Persist": mode == "rootless-persist"}}, "/bin/sh", "-c", "echo 'exec /bin/sh' >> /bin/helper")
			fi, err := os.Stat(helper)
			if err != nil {
				t.Fatal(err)
			}
			content, _ := os.ReadFile(helper)
			switch {
			case mode == "rootless" && string(content) != "#!/bin/sh\n":
				t.Errorf("ESCAPE: a run rewrote the tree's setuid program /bin/helper: %q (%v)", content, fi.Mode())
			case mode == "rootless-persist" && fi.Mode()&os.ModeSetuid != 0:
				t.Errorf("ESCAPE: root in the jail rewrote the setuid program /bin/helper in the tree and it stayed setuid (%v)", fi.Mode())
			case mode == "rootless-persist" && !strings.HasSuffix(string(content), "exec /bin/sh\n"):
				t.Fatalf("the --persist run did not rewrite /bin/helper (%q): the test proves nothing", content)
			}
		})
	}
}
