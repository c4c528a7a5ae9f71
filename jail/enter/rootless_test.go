//go:build linux

package enter

// Rootless runs, for real: the test runs as root and re-executes its own
// binary as the unprivileged user testutil.RootlessUser (jailer-ci, with
// a subordinate id range, which .ci/run creates), which builds jails as
// that user (JAILER_TEST_BUILD) and enters them (JAILER_TEST_ENTER, with
// JAILER_TEST_OPTS for the options); JAILER_TEST_NO_SUBIDS=1 hides the
// user's range, for the runs that map the caller alone.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

// rootlessManifest is the jail most rootless tests enter: tools, a user
// tester with its home, and a directory of tester's.
const rootlessManifest = `version: 1
name: rootless
binaries: [/bin/sh, /bin/ls, /bin/id, /bin/cat, /bin/touch, /bin/mkdir, /bin/chmod, /bin/chown, /bin/stat, /bin/sleep, /bin/echo, /bin/true, /bin/dd, /bin/rm, /bin/readlink, /bin/hostname]
dirs:
  - { path: /work, owner: tester }
  - { path: /tmp, mode: "1777" }
users:
  - { name: tester, uid: 1000, shell: /bin/sh }
enter:
  env: { PATH: /bin }
`

// rootless runs this test binary as the unprivileged user.
type rootless struct {
	user testutil.User
	bin  string // a copy of the test binary the user may run
}

func newRootless(t *testing.T) *rootless {
	t.Helper()
	return &rootless{user: testutil.RootlessUser(t), bin: testutil.SelfForUsers(t)}
}

// dir makes a directory of the user's, removed after the test (with
// whatever the user's subordinate ids left in it).
func (r *rootless) dir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp(testutil.SharedDir(t), "rootless-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	r.user.Chown(t, d)
	t.Cleanup(func() {
		escNoMountsUnder(t, d)
		os.RemoveAll(d)
	})
	return d
}

// command is the test binary run as the user in dir, with env.
func (r *rootless) command(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + r.user.Home, "LANG=C", "JAILER_CACHE_DIR=off"}, env...)
	cmd.Dir = dir
	cmd.SysProcAttr = r.user.Credential()
	return cmd
}

// build builds manifest (its text) as the user, as `jailer build` without
// root does, and returns the jail's path.
func (r *rootless) build(t *testing.T, manifest string) string {
	t.Helper()
	d := r.dir(t)
	m := testutil.WriteManifest(t, d, "jail.yaml", manifest)
	out := filepath.Join(d, "jail")
	cmd := r.command(context.Background(), d, []string{"JAILER_TEST_BUILD=" + m + ":" + out})
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s as %s: %v: %s", m, r.user.Name, err, b)
	}
	return out
}

// host is what HostRootless says as the user (JAILER_TEST_NO_SUBIDS
// among env hides the range).
func (r *rootless) host(t *testing.T, env ...string) Rootless {
	t.Helper()
	out, err := r.command(context.Background(), "/", append(env, "JAILER_TEST_HOST=1")).Output()
	if err != nil {
		t.Fatalf("HostRootless as %s: %v", r.user.Name, err)
	}
	var h Rootless
	if err := json.Unmarshal(out, &h); err != nil {
		t.Fatalf("HostRootless as %s: %v: %s", r.user.Name, err, out)
	}
	return h
}

// fullMapping returns the user's host facts, and fails (skips, outside
// CI) unless the user has a subordinate range to map.
func (r *rootless) fullMapping(t *testing.T) Rootless {
	t.Helper()
	h := r.host(t)
	if !h.FullMapping() {
		msg := fmt.Sprintf("%s cannot map a subordinate range: %s", r.user.Name, h.WhyNoRange())
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: .ci/run must give it one)")
		}
		t.Skip(msg)
	}
	return h
}

// rlRun is how to run a command in a jail as the user.
type rlRun struct {
	opts  map[string]any // laid over the jail's enter settings (Options' fields)
	env   []string       // more environment: JAILER_TEST_NO_SUBIDS=1
	stdin *os.File       // default /dev/null
	extra []*os.File     // fds 3, 4... of the user's jailer
	sys   func(*syscall.SysProcAttr)
}

// enter runs argv in the jail as the user and returns the exit status
// and everything jailer and the command wrote.
func (r *rootless) enter(t *testing.T, jail string, run rlRun, argv ...string) (int, string) {
	t.Helper()
	env := append([]string{"JAILER_TEST_ENTER=" + jail}, run.env...)
	if run.opts != nil {
		b, err := json.Marshal(run.opts)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "JAILER_TEST_OPTS="+string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := r.command(ctx, filepath.Dir(jail), env, append([]string{"--"}, argv...)...)
	if run.sys != nil {
		run.sys(cmd.SysProcAttr)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if run.stdin != nil {
		cmd.Stdin = run.stdin
	}
	cmd.ExtraFiles = run.extra
	err := cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %s as %s: %v", r.bin, r.user.Name, err)
	}
	t.Logf("as %s: %v: exit %d: %s", r.user.Name, argv, code, out.String())
	return code, out.String()
}

// mustEnter is enter that fails the test unless the command succeeds.
func (r *rootless) mustEnter(t *testing.T, jail string, run rlRun, argv ...string) string {
	t.Helper()
	code, out := r.enter(t, jail, run, argv...)
	if code != 0 {
		t.Fatalf("%v as %s: exit %d: %s", argv, r.user.Name, code, out)
	}
	return out
}

// noSubIDs hides the user's subordinate range.
var noSubIDs = []string{"JAILER_TEST_NO_SUBIDS=1"}

// procStatus reads the fields of a /proc/PID/status text.
func procStatus(text string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// TestRootlessEnter: as an ordinary user, with no flag, a jail is entered
// in its own user, mount, PID, UTS, network and IPC namespaces, as root
// inside, mapped as HostRootless says, hardened as for root: the same
// bounding set, no ambient or inheritable capabilities (the rootless
// init starts with every capability in both), no_new_privs, seccomp.
func TestRootlessEnter(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	hostNS := map[string]string{}
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts"} {
		link, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		hostNS[ns] = link
	}
	wantBnd := uint64(0)
	for _, c := range jailinit.KeptCaps() {
		wantBnd |= 1 << c
	}
	for _, c := range []struct {
		name string
		env  []string
		opts map[string]any
	}{
		{"full-mapping", nil, nil},
		{"caller-only", noSubIDs, nil},
		{"full-mapping-as-tester", nil, map[string]any{"User": "tester"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := r.host(t, c.env...)
			if c.env == nil {
				h = r.fullMapping(t)
			}
			out := r.mustEnter(t, jail, rlRun{env: c.env, opts: c.opts}, "/bin/sh", "-c",
				`id -u; id -g; hostname; cat /proc/self/uid_map /proc/self/gid_map; echo; readlink /proc/self/ns/user /proc/self/ns/mnt /proc/self/ns/pid /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/uts; echo; cat /proc/self/status`)
			if c.env != nil {
				// The run says which owners are the caller's; see TestRootlessUser.
				warning, rest, _ := strings.Cut(out, "\n")
				if !strings.HasPrefix(warning, "jailer: warning: ") {
					t.Errorf("a run without a range of a jail with owners: first line %q, want a warning", warning)
				}
				out = rest
			}
			parts := strings.SplitN(out, "\n\n", 3)
			if len(parts) != 3 {
				t.Fatalf("output %q: want three parts", out)
			}
			head := strings.Fields(parts[0])
			wantID := "0"
			if c.opts != nil {
				wantID = "1000"
			}
			if len(head) < 3 || head[0] != wantID || head[1] != wantID || head[2] != "rootless" {
				t.Errorf("id -u, id -g, hostname = %q, want %s, %s, rootless", head, wantID, wantID)
			}
			wantMap := fmt.Sprintf("0 %d 1", h.UID)
			if h.FullMapping() {
				wantMap += fmt.Sprintf(" 1 %d %d", h.SubUIDs[0].Start, h.SubUIDs[0].Count)
			}
			if got := strings.Join(head[3:], " "); !strings.HasPrefix(got, wantMap) {
				t.Errorf("uid_map and gid_map = %q, want them to start with %q", got, wantMap)
			}
			links := strings.Fields(parts[1])
			for i, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts"} {
				if i >= len(links) || links[i] == hostNS[ns] || !strings.HasPrefix(links[i], ns+":[") {
					t.Errorf("namespace %s in the jail = %q, want one of its own (the host's is %s)", ns, links, hostNS[ns])
				}
			}
			st := procStatus(parts[2])
			bnd, _ := strconv.ParseUint(st["CapBnd"], 16, 64)
			if bnd != wantBnd {
				t.Errorf("CapBnd = %s, want %x (the kept capabilities)", st["CapBnd"], wantBnd)
			}
			for _, k := range []string{"CapInh", "CapAmb"} {
				if n, err := strconv.ParseUint(st[k], 16, 64); err != nil || n != 0 {
					t.Errorf("%s = %s, want 0: the rootless init's capabilities reach the command", k, st[k])
				}
			}
			if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
				t.Errorf("NoNewPrivs = %s, Seccomp = %s; want 1 and 2 (a filter)", st["NoNewPrivs"], st["Seccomp"])
			}
		})
	}
	t.Run("built-by-root", func(t *testing.T) {
		// A tree root built, in a directory the user may read: its
		// owners are not mapped (nobody inside), the fresh root's own
		// directory is root's, and no owners are said to collapse.
		d := r.dir(t)
		m := testutil.WriteManifest(t, d, "root.yaml", rootlessManifest)
		rootJail := filepath.Join(d, "root-jail")
		mustBuild(t, m, build.Options{Output: rootJail})
		// /work is tester's, host uid 1000: the user's own, on a host
		// where the user is 1000.
		inside := func(host, own int) int {
			if host == own {
				return 0
			}
			return 65534
		}
		work := fmt.Sprintf("%d:%d /work", inside(1000, r.user.UID), inside(1000, r.user.GID))
		for _, env := range [][]string{nil, noSubIDs} {
			out := r.mustEnter(t, rootJail, rlRun{env: env}, "/bin/stat", "-c", "%u:%g %n", "/", "/etc/passwd", "/work")
			if want := "0:0 /\n65534:65534 /etc/passwd\n" + work + "\n"; out != want {
				t.Errorf("a tree root built, entered by %s (%v):\n%s\nwant\n%s", r.user.Name, env, out, want)
			}
		}
	})
	t.Run("exit-status", func(t *testing.T) {
		if code, _ := r.enter(t, jail, rlRun{}, "/bin/sh", "-c", "exit 7"); code != 7 {
			t.Errorf("exit 7 in the jail: jailer exits %d", code)
		}
		if code, out := r.enter(t, jail, rlRun{}, "no-such-command"); code != ExitNotFound {
			t.Errorf("a missing command: exit %d (%s), want %d", code, out, ExitNotFound)
		}
	})
	t.Run("no-namespaces", func(t *testing.T) {
		code, out := r.enter(t, jail, rlRun{opts: map[string]any{"NoNamespaces": true}}, "/bin/true")
		if code != ExitSetupFailed || !strings.Contains(out, "--no-namespaces runs a plain chroot(2), which needs root") {
			t.Errorf("--no-namespaces as %s: exit %d, %q; want 125 and why", r.user.Name, code, out)
		}
	})
}

// TestRootlessUser: --user works for an id the namespace maps: with the
// subordinate range, tester's 1000 is one of the user's own ids; without
// it, only 0 is mapped, and asking for another is one clear line. Runs
// as root without a range say once which declared owners collapse to
// the caller.
func TestRootlessUser(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	t.Run("with-range", func(t *testing.T) {
		h := r.fullMapping(t)
		out := r.mustEnter(t, jail, rlRun{opts: map[string]any{"User": "tester"}}, "/bin/sh", "-c", "id; touch /work/made && stat -c '%u:%g' /work/made")
		if !strings.Contains(out, "uid=1000(tester) gid=1000(tester) groups=1000(tester)") || !strings.HasSuffix(out, "1000:1000\n") {
			t.Errorf("--user tester: %q, want tester's ids, and a file of tester's", out)
		}
		if strings.Contains(out, "warning") {
			t.Errorf("a run with the full mapping warns: %q", out)
		}
		// A uid past the range is refused before anything starts.
		past := fmt.Sprint(1 + h.SubUIDs[0].Count + func() int {
			n := 0
			for _, s := range h.SubUIDs[1:] {
				n += s.Count
			}
			return n
		}())
		code, out := r.enter(t, jail, rlRun{opts: map[string]any{"User": past}}, "/bin/id")
		if code != ExitSetupFailed || !strings.Contains(out, "(uid "+past+") is not mapped") || !strings.Contains(out, "jailer doctor") {
			t.Errorf("--user %s (past the range): exit %d, %q; want 125 and which id", past, code, out)
		}
	})
	t.Run("without-range", func(t *testing.T) {
		run := rlRun{env: noSubIDs, opts: map[string]any{"User": "tester"}}
		code, out := r.enter(t, jail, run, "/bin/id")
		if code != ExitSetupFailed || strings.Count(strings.TrimSpace(out), "\n") != 0 ||
			!strings.Contains(out, "user tester (uid 1000) is not mapped") || !strings.Contains(out, "no subordinate id range") || !strings.Contains(out, "jailer doctor") {
			t.Errorf("--user tester without a range: exit %d, %q; want 125 and one line that says which id and what to do", code, out)
		}
		code, out = r.enter(t, jail, rlRun{env: noSubIDs, opts: map[string]any{"User": "0:5"}}, "/bin/id")
		if code != ExitSetupFailed || !strings.Contains(out, "(gid 5) is not mapped") {
			t.Errorf("--user 0:5 without a range: exit %d, %q; want 125 and which id", code, out)
		}
		// Root works, without setgroups (denied in the namespace), and
		// says once that tester's files are the caller's.
		out = r.mustEnter(t, jail, rlRun{env: noSubIDs}, "/bin/sh", "-c", "id -u; stat -c '%u:%g' /work /home/tester")
		if !strings.HasSuffix(out, "0\n0:0\n0:0\n") {
			t.Errorf("root without a range: %q, want uid 0 and the declared directories root's", out)
		}
		if n := strings.Count(out, "jailer: warning:"); n != 1 || !strings.Contains(out, "declared owners are you (root) inside, for want of a subordinate id range: tester 1000:1000 (/home/tester, /work)") {
			t.Errorf("root without a range: %d warnings in %q; want one naming tester and its directories", n, out)
		}
	})
}

// TestRootlessOwnership: a build without root leaves the tree the
// user's; with the full mapping a run's fresh root gives the declared
// directories their owners, and the tree stays as it was; with --persist
// the tree is never chowned (it would no longer be the user's), and the
// run says so.
func TestRootlessOwnership(t *testing.T) {
	r := newRootless(t)
	r.fullMapping(t)
	jail := r.build(t, rootlessManifest)
	owners := func(t *testing.T) map[string]uint32 {
		got := map[string]uint32{}
		for _, p := range []string{"work", "home/tester", "etc/passwd"} {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(jail, p), &st); err != nil {
				t.Fatal(err)
			}
			got[p] = st.Uid
		}
		return got
	}
	for p, uid := range owners(t) {
		if int(uid) != r.user.UID {
			t.Fatalf("the tree built as %s has %s owned by %d", r.user.Name, p, uid)
		}
	}
	out := r.mustEnter(t, jail, rlRun{}, "/bin/stat", "-c", "%u:%g %a %n", "/work", "/home/tester", "/etc/passwd", "/tmp")
	want := "1000:1000 755 /work\n1000:1000 755 /home/tester\n0:0 644 /etc/passwd\n0:0 1777 /tmp\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("owners in the fresh root:\n%s\nwant\n%s", out, want)
	}
	for p, uid := range owners(t) {
		if int(uid) != r.user.UID {
			t.Errorf("a run chowned %s in the tree to %d", p, uid)
		}
	}
	t.Run("persist", func(t *testing.T) {
		out := r.mustEnter(t, jail, rlRun{opts: map[string]any{"Persist": true}}, "/bin/stat", "-c", "%u:%g %n", "/work")
		if !strings.HasSuffix(out, "0:0 /work\n") || !strings.Contains(out, "jailer: warning: --persist without root: the tree stays yours") || !strings.Contains(out, "tester 1000:1000 (/home/tester, /work)") {
			t.Errorf("--persist: %q; want /work root's inside, and a warning naming tester's directories", out)
		}
		for p, uid := range owners(t) {
			if int(uid) != r.user.UID {
				t.Errorf("a --persist run chowned %s in the tree to %d", p, uid)
			}
		}
	})
	t.Run("keep-changes", func(t *testing.T) {
		// The init's chown is not the run's change.
		keep := filepath.Join(r.dir(t), "keep")
		r.mustEnter(t, jail, rlRun{opts: map[string]any{"KeepChanges": keep}}, "/bin/touch", "/tmp/x")
		entries := listTree(t, filepath.Join(keep, "files"))
		if want := []string{"tmp/", "tmp/x"}; strings.Join(entries, " ") != strings.Join(want, " ") {
			t.Errorf("--keep-changes of a run that touched /tmp/x saved %q, want %q", entries, want)
		}
	})
}

// listTree lists what is below dir, directories with a slash, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRootlessLimits: without a delegated cgroup v2 subtree, a limit
// asked for is refused with one line naming jailer doctor (exit 125),
// never silently dropped; jailer's own default pids limit goes without a
// word; rlimits and the timeout work.
func TestRootlessLimits(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	h := r.host(t)
	for _, c := range []struct {
		limits map[string]any
		ctrl   string
	}{
		{map[string]any{"Memory": 64 << 20}, "memory"},
		{map[string]any{"Pids": 8, "PidsDefault": false}, "pids"},
		{map[string]any{"CPU": 0.5}, "cpu"},
	} {
		t.Run(c.ctrl, func(t *testing.T) {
			code, out := r.enter(t, jail, rlRun{opts: map[string]any{"Limits": c.limits}}, "/bin/true")
			if h.Cgroup != "" && slices.Contains(h.CgroupControllers, c.ctrl) {
				if code != 0 {
					t.Errorf("a %s limit with the delegated cgroup %s: exit %d, %q", c.ctrl, h.Cgroup, code, out)
				}
				return
			}
			if code != ExitSetupFailed || strings.Count(strings.TrimSpace(out), "\n") != 0 ||
				!strings.Contains(out, "cannot apply the "+c.ctrl+" limit without root: it needs a cgroup v2 subtree delegated to you") || !strings.Contains(out, "jailer doctor") {
				t.Errorf("a %s limit without a delegated cgroup: exit %d, %q; want 125 and one line that says what is missing", c.ctrl, code, out)
			}
		})
	}
	t.Run("default-pids", func(t *testing.T) {
		if out := r.mustEnter(t, jail, rlRun{}, "/bin/echo", "ran"); out != "ran\n" {
			t.Errorf("a run with the default pids limit: %q, want the command's output alone", out)
		}
	})
	t.Run("rlimits", func(t *testing.T) {
		out := r.mustEnter(t, jail, rlRun{opts: map[string]any{"Limits": map[string]any{"Nofile": 64}}}, "/bin/sh", "-c", "ulimit -n")
		if out != "64\n" {
			t.Errorf("--nofile 64: ulimit -n says %q", out)
		}
		// RLIMIT_NPROC holds for root in a user namespace, and counts
		// the init's threads: a limit below them is said to be.
		out = r.mustEnter(t, jail, rlRun{opts: map[string]any{"Limits": map[string]any{"Nproc": 64}}}, "/bin/cat", "/proc/self/limits")
		if !regexp.MustCompile(`(?m)^Max processes +64 +64 `).MatchString(out) {
			t.Errorf("--nproc 64: /proc/self/limits says\n%s", out)
		}
		code, out := r.enter(t, jail, rlRun{opts: map[string]any{"Limits": map[string]any{"Nproc": 2}}}, "/bin/true")
		if code != ExitCannotExec || !strings.Contains(out, "--nproc 2 counts every process and thread of the jail's root, jailer's init among them") {
			t.Errorf("--nproc 2: exit %d, %q; want 126 and why", code, out)
		}
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		above := lim.Max + 1 // the user inherits the test's hard limit
		code, out = r.enter(t, jail, rlRun{opts: map[string]any{"Limits": map[string]any{"Nofile": above}}}, "/bin/true")
		if code != ExitSetupFailed || !strings.Contains(out, fmt.Sprintf("above the hard limit of %d, which only root may raise", lim.Max)) {
			t.Errorf("--nofile %d: exit %d, %q; want 125 and why", above, code, out)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		code, out := r.enter(t, jail, rlRun{opts: map[string]any{"Limits": map[string]any{"Timeout": time.Second}}}, "/bin/sleep", "60")
		if code != ExitTimeout || !strings.Contains(out, "timed out after 1s") {
			t.Errorf("--timeout 1s of sleep 60: exit %d, %q; want %d", code, out, ExitTimeout)
		}
	})
	t.Run("delegated-cgroup", func(t *testing.T) {
		// A cgroup v2 directory of the user's, with jailer alone in it,
		// as systemd-run --user --scope -p Delegate=yes makes.
		dir, fd := delegatedCgroupFor(t, r.user)
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		ctrls := strings.Fields(string(data))
		run := rlRun{opts: map[string]any{"Limits": map[string]any{"Memory": 64 << 20}}, sys: func(s *syscall.SysProcAttr) {
			s.UseCgroupFD, s.CgroupFD = true, fd
		}}
		code, out := r.enter(t, jail, run, "/bin/true")
		if slices.Contains(ctrls, "memory") {
			if code != 0 {
				t.Errorf("a memory limit in the delegated cgroup %s (controllers %v): exit %d, %q", dir, ctrls, code, out)
			}
			return
		}
		if code != ExitSetupFailed || !strings.Contains(out, "your cgroup "+dir+" has no") {
			t.Errorf("a memory limit in the delegated cgroup %s without controllers: exit %d, %q; want 125 and why", dir, code, out)
		}
	})
}

// delegatedCgroupFor makes a cgroup v2 directory below the test's own and
// delegates it to u (its directory, cgroup.procs, cgroup.threads and
// cgroup.subtree_control are u's), and returns it with an fd of it to
// start a process in (CLONE_INTO_CGROUP).
func delegatedCgroupFor(t *testing.T, u testutil.User) (string, int) {
	t.Helper()
	mount := cgroupRoot
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
		mount = filepath.Join(cgroupRoot, "unified")
	}
	self := selfCgroup("")
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil || self == "" {
		t.Fatalf("no cgroup v2 hierarchy at %s or %s/unified", cgroupRoot, cgroupRoot)
	}
	dir, err := os.MkdirTemp(filepath.Join(mount, self), "jailer-test-delegated-")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.threads"), filepath.Join(dir, "cgroup.subtree_control")} {
		if err := os.Chown(p, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fd)
		// Below it: what jailer made (and left when it was killed).
		subs, _ := filepath.Glob(filepath.Join(dir, "*", cmdCgroup))
		more, _ := filepath.Glob(filepath.Join(dir, cgroupPrefix+"*"))
		for _, d := range append(subs, more...) {
			rmdirCgroup(d)
		}
		rmdirCgroup(dir)
	})
	return dir, fd
}

// TestRootlessDevices: /dev without mknod, from the host's nodes bound
// in: each is the device it should be, and works.
func TestRootlessDevices(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	out := r.mustEnter(t, jail, rlRun{}, "/bin/sh", "-c", `
stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
echo x > /dev/null && echo null-ok
dd if=/dev/zero of=/tmp/z bs=16 count=1 2>/dev/null && stat -c 'zero %s' /tmp/z
dd if=/dev/urandom of=/tmp/u bs=16 count=1 2>/dev/null && stat -c 'urandom %s' /tmp/u
echo x > /dev/full || echo full-refused
stat -c '%n %F' /dev/pts/ptmx /dev/shm`)
	want := []string{
		"/dev/null character special file 1:3 666", "/dev/zero character special file 1:5 666", "/dev/full character special file 1:7 666",
		"/dev/random character special file 1:8 666", "/dev/urandom character special file 1:9 666", "/dev/tty character special file 5:0 666",
		"null-ok", "zero 16", "urandom 16", "full-refused", "/dev/pts/ptmx character special file", "/dev/shm directory",
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("/dev in a rootless jail: no %q in\n%s", w, out)
		}
	}
}

// TestRootlessOverlay: a rootless run writes into a fresh root (an
// overlay mounted in its user namespace) and the tree on disk stays as
// built; the next run starts from the tree again. With --persist (the
// control) the writes land in the tree.
func TestRootlessOverlay(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	passwd, err := os.ReadFile(filepath.Join(jail, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	const write = "echo extra >> /etc/passwd && rm /bin/true && mkdir /made && echo wrote"
	const look = "cat /etc/passwd; ls /bin/true /made 2>&1"
	r.mustEnter(t, jail, rlRun{}, "/bin/sh", "-c", write)
	out := r.mustEnter(t, jail, rlRun{}, "/bin/sh", "-c", look+"; true")
	if strings.Contains(out, "extra") || !strings.Contains(out, "/bin/true\n") || !strings.Contains(out, "'/made': No such file") {
		t.Errorf("the second run sees the first's writes: %q", out)
	}
	if got, _ := os.ReadFile(filepath.Join(jail, "etc/passwd")); !bytes.Equal(got, passwd) {
		t.Errorf("a run wrote into the tree's /etc/passwd: %q", got)
	}
	for _, p := range []string{"bin/true", "made"} {
		_, err := os.Lstat(filepath.Join(jail, p))
		if want := p == "bin/true"; (err == nil) != want {
			t.Errorf("after a run, the tree has %s = %v, want %v", p, err == nil, want)
		}
	}
	t.Run("persist-control", func(t *testing.T) {
		r.mustEnter(t, jail, rlRun{opts: map[string]any{"Persist": true}}, "/bin/sh", "-c", "mkdir /made")
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(jail, "made"), &st); err != nil || int(st.Uid) != r.user.UID {
			t.Errorf("--persist: mkdir /made left %v (uid %d) in the tree, want a directory of %s's", err, st.Uid, r.user.Name)
		}
	})
}

// TestRootlessResults: --keep-changes, --output and --stats as an
// ordinary user. Files the run leaves owned by the jail's users (the
// user's subordinate ids on the host, mode 0600 or 0700, which the user
// could neither read nor chown) are saved and handed over as the
// user's; setuid bits go.
func TestRootlessResults(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	for _, c := range []struct {
		name  string
		env   []string
		chown string // the owner the command gives what it makes
	}{
		{"full-mapping", nil, "1000:1000"},
		{"caller-only", noSubIDs, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env == nil {
				r.fullMapping(t)
			}
			d := r.dir(t)
			keep, out, stats := filepath.Join(d, "keep"), filepath.Join(d, "out"), filepath.Join(d, "stats.json")
			script := `set -e
mkdir -m 700 /work/d /out/d; echo secret > /work/d/f; echo result > /out/d/f; chmod 600 /work/d/f /out/d/f
mkdir -m 0 /out/locked
rm /etc/passwd`
			if c.chown != "" {
				script += "\nchown -R " + c.chown + " /work/d /out/d /out/locked"
			}
			run := rlRun{env: c.env, opts: map[string]any{"KeepChanges": keep, "StatsFile": stats, "Outputs": []Output{{Host: out, Target: "/out"}}}}
			r.mustEnter(t, jail, run, "/bin/sh", "-c", script)
			for p, want := range map[string]string{"keep/files/work/d/f": "secret\n", "keep/deleted.txt": "/etc/passwd\n", "out/d/f": "result\n"} {
				if got, err := os.ReadFile(filepath.Join(d, p)); err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			err := filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != r.user.UID || int(st.Gid) != r.user.GID {
					t.Errorf("%s is %d:%d, want %s's (%d:%d)", p, st.Uid, st.Gid, r.user.Name, r.user.UID, r.user.GID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var s Stats
			if data, err := os.ReadFile(stats); err != nil || json.Unmarshal(data, &s) != nil || s.ExitStatus != 0 || s.PeakMemoryBytes == 0 {
				t.Errorf("--stats: %+v, %v", s, err)
			}
		})
	}
}

// TestSubIDs: the caller's ranges are found by name or uid, in file
// order; malformed lines and other users' are left out.
func TestSubIDs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "subuid")
	text := "alice:100000:65536\nbob:165536:65536\n1001:300000:1000\nalice:x:1\nalice:5:0\n\n# comment\nalice:400000:10\nalice:100000:65536\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		uid  int
		want []IDRange
	}{
		{"alice", 1000, []IDRange{{100000, 65536}, {400000, 10}}},
		{"bob", 1001, []IDRange{{165536, 65536}, {300000, 1000}}},
		{"", 1001, []IDRange{{300000, 1000}}},
		{"carol", 1002, nil},
	} {
		if got, err := SubIDs(file, c.name, c.uid); err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("SubIDs(%q, %d) = %v, %v; want %v", c.name, c.uid, got, err, c.want)
		}
	}
	if got, err := SubIDs(filepath.Join(t.TempDir(), "none"), "alice", 1000); got != nil || err == nil {
		t.Errorf("SubIDs of a missing file = %v, %v; want none and the error", got, err)
	}
}

// TestIDMapping: 0 is the caller, 1 on the ranges one after another, as
// newuidmap is told and as ids are checked and translated.
func TestIDMapping(t *testing.T) {
	m := idMapping{Host: 1001, Sub: []IDRange{{100000, 10}, {200000, 5}}}
	if got, want := strings.Join(m.args(), " "), "0 1001 1 1 100000 10 11 200000 5"; got != want {
		t.Errorf("args() = %q, want %q", got, want)
	}
	if m.size() != 16 {
		t.Errorf("size() = %d, want 16", m.size())
	}
	for _, c := range []struct{ in, host int }{{0, 1001}, {1, 100000}, {10, 100009}, {11, 200000}, {15, 200004}, {16, -1}, {-1, -1}} {
		if got := m.toHost(c.in); got != c.host {
			t.Errorf("toHost(%d) = %d, want %d", c.in, got, c.host)
		}
		if c.host >= 0 {
			if got := m.fromHost(c.host); got != c.in {
				t.Errorf("fromHost(%d) = %d, want %d", c.host, got, c.in)
			}
		}
	}
	for _, host := range []int{0, 99999, 100010, 200005} {
		if got := m.fromHost(host); got != -1 {
			t.Errorf("fromHost(%d) = %d, want -1 (not mapped)", host, got)
		}
	}
	alone := idMapping{Host: 1001}
	if alone.size() != 1 || alone.toHost(1) != -1 || strings.Join(alone.args(), " ") != "0 1001 1" {
		t.Errorf("the caller alone: size %d, toHost(1) %d, args %q", alone.size(), alone.toHost(1), alone.args())
	}
}

// TestCheckIDs: the command's user, group and groups must be mapped.
func TestCheckIDs(t *testing.T) {
	host := Rootless{UID: 1001, GID: 1001, User: "ci", SubUIDs: []IDRange{{100000, 65536}}, SubGIDs: []IDRange{{100000, 65536}}, NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap"}
	bare := host
	bare.SubUIDs, bare.SubGIDs = nil, nil
	for _, c := range []struct {
		host          Rootless
		uid, gid      int
		groups        []int
		err           string // "" for none
		groupsAfter   int
		wantSetgroups bool
	}{
		{host, 1000, 1000, []int{27}, "", 1, true},
		{host, 65536, 0, nil, "", 0, true},
		{host, 65537, 0, nil, "(uid 65537) is not mapped", 0, true},
		{host, 0, 70000, nil, "(gid 70000) is not mapped", 0, true},
		{host, 0, 0, []int{70000}, "its group 70000 is not mapped", 0, true},
		{bare, 0, 0, []int{27}, "", 0, false},
		{bare, 1000, 1000, nil, "(uid 1000) is not mapped", 0, false},
		{bare, 0, 5, nil, "(gid 5) is not mapped", 0, false},
	} {
		ns := rootlessNS(c.host)
		cfg := &jailinit.Config{UID: c.uid, GID: c.gid, Groups: c.groups}
		err := ns.checkIDs(cfg, "user x")
		switch {
		case c.err == "" && err != nil, c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "jailer doctor")):
			t.Errorf("checkIDs(%d:%d %v, full %v) = %v, want %q", c.uid, c.gid, c.groups, ns.full, err, c.err)
		case err == nil && len(cfg.Groups) != c.groupsAfter:
			t.Errorf("checkIDs(%d:%d %v, full %v) left groups %v", c.uid, c.gid, c.groups, ns.full, cfg.Groups)
		}
		if ns.full != c.wantSetgroups {
			t.Errorf("full mapping = %v for %+v", ns.full, c.host)
		}
	}
	noTools := host
	noTools.NewGIDMap = ""
	if rootlessNS(noTools).full || !strings.Contains(noTools.WhyNoRange(), "apt install uidmap") {
		t.Errorf("without newgidmap: full %v, why %q", rootlessNS(noTools).full, noTools.WhyNoRange())
	}
	if !strings.Contains(bare.WhyNoRange(), "ci has no subordinate id range") {
		t.Errorf("without a range: why %q", bare.WhyNoRange())
	}
}

// TestRootlessCgroupRefusals: without a delegated cgroup (or without the
// controller), a limit asked for is refused with what is missing; the
// default pids limit and --stats's measure go without; with no limit
// at all, nothing is made.
func TestRootlessCgroupRefusals(t *testing.T) {
	none := Rootless{NoCgroup: "your cgroup /sys/fs/cgroup/x is not delegated to you"}
	noMem := Rootless{Cgroup: "/sys/fs/cgroup/user.slice/x", CgroupControllers: []string{"pids"}}
	for _, c := range []struct {
		host    Rootless
		limits  Limits
		measure bool
		err     string // "" for none
	}{
		{none, Limits{Memory: 1 << 20}, false, "cannot apply the memory limit without root: it needs a cgroup v2 subtree delegated to you, and your cgroup /sys/fs/cgroup/x is not delegated to you"},
		{none, Limits{Memory: 1 << 20, CPU: 1}, false, "cannot apply the memory and cpu limit"},
		{none, Limits{Pids: 8}, false, "cannot apply the pids limit"},
		{none, Limits{Pids: 4096, PidsDefault: true}, true, ""},
		{none, Limits{Nofile: 10}, false, ""},
		{noMem, Limits{Memory: 1 << 20}, false, "your cgroup /sys/fs/cgroup/user.slice/x has no memory controller delegated to it"},
		{noMem, Limits{CPU: 2}, false, "has no cpu controller"},
	} {
		cg, err := rootlessCgroup(c.limits, c.measure, c.host)
		switch {
		case c.err == "" && (err != nil || len(cg.dirs) != 0):
			t.Errorf("rootlessCgroup(%+v, %+v) = %+v, %v; want no cgroup and no error", c.limits, c.host, cg, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "jailer doctor")):
			t.Errorf("rootlessCgroup(%+v, %+v) = %v; want an error with %q", c.limits, c.host, err, c.err)
		}
	}
}

// TestOwnedEntries: the entries with an owner other than root, read from
// the lock only when it has one.
func TestOwnedEntries(t *testing.T) {
	dir := t.TempDir()
	jail := filepath.Join(dir, "jail")
	for _, c := range []struct {
		lock string
		want string
	}{
		{`{"format":2,"entries":[{"dest":"/bin","kind":"dir","mode":"0755"}]}`, "[]"},
		{`{"format":2,"entries":[{"dest":"/bin","kind":"dir"},{"dest":"/home/t","kind":"dir","uid":1000,"gid":1000},{"dest":"/srv","kind":"dir","gid":50}]}`, "[{/home/t 1000 1000} {/srv 0 50}]"},
	} {
		if err := os.WriteFile(jail+".jailer.lock", []byte(c.lock), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ownedEntries(jail)
		if err != nil || fmt.Sprint(got) != c.want && !(c.want == "[]" && got == nil) {
			t.Errorf("ownedEntries of %s = %v, %v; want %s", c.lock, got, err, c.want)
		}
	}
}

// TestRootlessKeepChangesNotUTF8: a rootless run of a jail in a
// directory whose name is not UTF-8 saves --keep-changes: the request to
// the save helper holds its paths without loss (jsonpath), where JSON
// alone gave the helper a directory that is nowhere.
func TestRootlessKeepChangesNotUTF8(t *testing.T) {
	r := newRootless(t)
	r.fullMapping(t)
	built := r.build(t, rootlessManifest)
	odd := filepath.Join(filepath.Dir(built), "caf\xe9")
	if err := os.Mkdir(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	r.user.Chown(t, odd)
	jail := filepath.Join(odd, "jail")
	for _, p := range []string{"", ".jailer.lock"} { // the tree and its lock move together
		if err := os.Rename(built+p, jail+p); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(r.dir(t), "keep")
	r.mustEnter(t, jail, rlRun{opts: map[string]any{"KeepChanges": keep}}, "/bin/touch", "/tmp/x")
	if entries := listTree(t, filepath.Join(keep, "files")); strings.Join(entries, " ") != "tmp/ tmp/x" {
		t.Errorf("--keep-changes of a jail in %q saved %q, want tmp/ tmp/x", odd, entries)
	}
}
