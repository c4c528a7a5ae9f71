package jail

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/inspect"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/planner"
	"github.com/jailer-dev/jailer/manifest"
)

// TestExamples does what `jailer run testdata/examples/NAME.yaml` does for
// every example: builds the jail (into a temporary directory rather than
// beside the manifest) and runs the manifest's enter.command in it with its
// enter: settings. Each must exit 0 with the output its comments promise,
// and `jailer check` must find nothing wrong with the jail.
func TestExamples(t *testing.T) {
	testutil.RequireRoot(t)
	examples := []struct {
		name  string
		needs func(t *testing.T) // host programs or packages the example uses
		argv  []string           // instead of enter.command, when set
		want  []string           // regexps the output must match
	}{
		{name: "shell", argv: []string{"/bin/bash", "-c", "cat /etc/motd; id -un; pwd"},
			want: []string{`(?m)^Welcome to a jailer jail\.$`, `(?m)^tester$`, `(?m)^/home/tester$`}},
		{name: "python", needs: func(t *testing.T) {
			testutil.RequirePackage(t, "libpython"+testutil.HostPython(t).Version+"-stdlib")
		},
			want: []string{`test_sqlite3 .* ok`, `test_ssl_default_context_has_ca_certificates .* ok`, `Ran 6 tests`, `(?m)^OK$`}},
		{name: "perl", needs: func(t *testing.T) { testutil.RequireHostFile(t, planner.PerlPath) },
			want: []string{`(?m)^ok - POSIX setlocale C\.UTF-8$`, `(?m)^ok - Digest::MD5$`, `(?m)^all ok$`}},
		{name: "git", needs: func(t *testing.T) { testutil.RequirePackage(t, "git") },
			want: []string{`(?m)^Jail Tester <tester@example\.com>: first commit$`, `1 file changed, 1 insertion`}},
		{name: "c-tests", needs: buildCTests,
			want: []string{`(?m)^ok - division\.cases:4 div 1 0 = error$`, `(?m)^9 cases, 0 failed$`}},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			if ex.needs != nil {
				ex.needs(t)
			}
			out := filepath.Join(t.TempDir(), ex.name+".jail")
			jailtest.MustBuild(t, filepath.Join("..", "testdata", "examples", ex.name+".yaml"), build.Options{Output: out})
			// Twice: every run gets a fresh root, so the second does not
			// trip over what the first wrote (git: "nothing to commit").
			for run := 1; run <= 2; run++ {
				code, got := runExample(t, out, ex.argv, nil)
				if code != 0 {
					t.Errorf("%s run %d exited %d:\n%s", ex.name, run, code, got)
				}
				for _, w := range ex.want {
					if !regexp.MustCompile(w).MatchString(got) {
						t.Errorf("%s run %d output does not match %q:\n%s", ex.name, run, w, got)
					}
				}
			}
			if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
				t.Errorf("Check(%s) = %v, %v; want a clean jail", ex.name, problems, err)
			}
		})
	}
}

// TestGitExampleTwiceWithPersist is the positive control of running the
// examples twice: with --persist, the git example's second run finds the
// first one's repository and has nothing to commit.
func TestGitExampleTwiceWithPersist(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequirePackage(t, "git")
	out := filepath.Join(t.TempDir(), "git.jail")
	jailtest.MustBuild(t, filepath.Join("..", "testdata", "examples", "git.yaml"), build.Options{Output: out})
	persist := func(o *enter.Options) { o.Persist = true }
	if code, got := runExample(t, out, nil, persist); code != 0 {
		t.Fatalf("first run exited %d:\n%s", code, got)
	}
	if code, got := runExample(t, out, nil, persist); code == 0 || !strings.Contains(got, "nothing to commit") {
		t.Errorf("second run with --persist: exit %d, want a failure with nothing to commit:\n%s", code, got)
	}
}

// runExample enters the jail with its manifest's enter: settings changed
// by edit, running argv instead of enter.command when given; a failure to
// enter is fatal.
func runExample(t *testing.T, dir string, argv []string, edit func(*enter.Options)) (int, string) {
	t.Helper()
	code, out, err := jailtest.RunIn(t, dir, edit, argv...)
	if err != nil {
		t.Fatalf("Enter(%s) = %v", dir, err)
	}
	return code, out
}

// buildCTests builds the c-tests example's program and library with its
// Makefile, into testdata/examples/c-tests/build, as its manifest says to.
func buildCTests(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	mk := testutil.RequireTool(t, "make")
	cmd := exec.Command(mk, "-s", "-C", filepath.Join("..", "testdata", "examples", "c-tests"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make -C testdata/examples/c-tests: %v\n%s", err, out)
	}
}

// TestPreserveFilesInterpreters: in the preserve layout, interpreters whose
// helpers and libraries are listed as directories under files: work, and
// the ELF files among those directories (git's helpers, python's
// extension modules) have their libraries: item 1 of the design's list of
// what `layout: preserve` is for.
func TestPreserveFilesInterpreters(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequirePackage(t, "git")
	py := testutil.HostPython(t)
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", `version: 1
layout: preserve
binaries: [/usr/bin/git, /usr/bin/python3]
files:
  - /usr/lib/git-core
  - `+py.Stdlib+`
`)
	out := filepath.Join(dir, "jail")
	jailtest.MustBuild(t, m, build.Options{Output: out})
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/git", "--exec-path"}, "/usr/lib/git-core\n"},
		// An ELF helper in /usr/lib/git-core, run by git.
		{[]string{"/usr/bin/git", "sh-i18n--envsubst", "--variables", "a $FOO b"}, "FOO\n"},
		// -B: the build does not keep the host files' mtimes, so python
		// finds every .pyc out of date and, as root, would rewrite them.
		{[]string{"/usr/bin/python3", "-B", "-c", "import _ssl, _sqlite3, _ctypes, _hashlib; print('modules ok')"}, "modules ok\n"},
	}
	for _, tt := range tests {
		code, got := runExample(t, out, tt.argv, nil)
		if code != 0 || got != tt.want {
			t.Errorf("%v = %d, %q; want 0, %q", tt.argv, code, got, tt.want)
		}
	}
	if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
		t.Errorf("Check = %v, %v; want a clean jail", problems, err)
	}
}

// TestForeignSuite runs CPython's own test suite (a suite nobody here
// wrote, from Debian's libpython3.X-testsuite) in the jail of
// testdata/examples/cpython-tests.yaml and on the host, as the same user
// with the same environment, and requires every test's outcome (ok, FAIL,
// ERROR, skipped and why) to be the same: dlopen through ctypes, locales,
// threads and /proc behave in the jail as on the host.
func TestForeignSuite(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireHostFile(t, planner.PythonPath)
	man := filepath.Join("..", "testdata", "examples", "cpython-tests.yaml")
	// The example names the packages of one Debian release (Python 3.11,
	// gcc 12): a host of another release lacks them.
	parsed, err := manifest.Parse(man)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range parsed.Packages {
		testutil.RequirePackage(t, pkg.Name)
	}
	m := testutil.LoadManifest(t, man)
	out := filepath.Join(t.TempDir(), "cpython-tests.jail")
	jailtest.MustBuild(t, man, build.Options{Output: out})
	_, jailOut := runExample(t, out, nil, nil)

	// The host run: the same command, user, environment and a fresh
	// working directory.
	work, err := os.MkdirTemp("", "jailer-host-suite-") // t.TempDir's parents are closed to uid 1000
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	os.Chown(work, 1000, 1000)
	cmd := exec.Command(m.Enter.Command[0], m.Enter.Command[1:]...)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + m.Enter.Env["PATH"], "HOME=" + work, "LC_ALL=" + m.Enter.Env["LC_ALL"]}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000, Groups: []uint32{}}}
	hostOut, herr := cmd.CombinedOutput()

	host, jail := unittestOutcomes(string(hostOut)), unittestOutcomes(jailOut)
	if len(host) < 1000 {
		t.Fatalf("the host run has %d test outcomes, want over 1000 (%v):\n%s", len(host), herr, hostOut)
	}
	var diffs []string
	for id, h := range host {
		j := jail[id]
		if want, ok := foreignSuiteInJail[id]; ok && h == "ok" {
			h = want.outcome // the jail's own outcome, on purpose
		}
		if j != h {
			diffs = append(diffs, fmt.Sprintf("%s: host %q, jail %q", id, host[id], j))
		}
	}
	for id, j := range jail {
		if _, ok := host[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in the jail, %q", id, j))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%d of %d tests differ between the host and the jail:\n%s", len(diffs), len(host), strings.Join(diffs, "\n"))
	}
	t.Logf("%d tests, the same outcome on the host and in the jail", len(host))
}

// foreignSuiteInJail are the tests whose outcome in the jail differs from
// the host's on purpose: the outcome they must have there, and why.
var foreignSuiteInJail = map[string]struct{ outcome, why string }{
	"test.test_os.MakedirTests.test_exist_ok_s_isgid_directory": {"skipped 'Cannot set S_ISGID for dir.'",
		"the seccomp filter refuses setgid modes: a setgid program made in a jail is one on the host, and a filter cannot tell a directory from a program"},
}

var (
	unittestLine    = regexp.MustCompile(`^(test\w*) \(([\w.]+)\) \.\.\. ?(.*)$`)
	unittestOutcome = regexp.MustCompile(`^(ok|FAIL|ERROR|skipped .*|expected failure|unexpected success)$`)
)

// unittestOutcomes reads the outcome of every test in unittest's verbose
// output ("test_x (mod.Class.test_x) ... ok"); a test that prints puts
// its outcome on a later line of its own.
func unittestOutcomes(out string) map[string]string {
	res := map[string]string{}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		m := unittestLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		outcome := strings.TrimSpace(m[3])
		for j := i + 1; !unittestOutcome.MatchString(outcome) && j < len(lines) && j < i+20; j++ {
			outcome = strings.TrimSpace(lines[j])
		}
		if unittestOutcome.MatchString(outcome) {
			res[m[2]] = outcome
		}
	}
	return res
}
