package jail

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestExamples does what `jailer run testdata/examples/NAME.yaml` does for
// every example: builds the jail (into a temporary directory rather than
// beside the manifest) and runs the manifest's enter.command in it with its
// enter: settings. Each must exit 0 with the output its comments promise,
// and `jailer check` must find nothing wrong with the jail.
func TestExamples(t *testing.T) {
	requireRoot(t)
	examples := []struct {
		name  string
		needs func(t *testing.T) // host programs or packages the example uses
		argv  []string           // instead of enter.command, when set
		want  []string           // regexps the output must match
	}{
		{name: "shell", argv: []string{"/bin/bash", "-c", "cat /etc/motd; id -un; pwd"},
			want: []string{`(?m)^Welcome to a jailer jail\.$`, `(?m)^tester$`, `(?m)^/home/tester$`}},
		{name: "python", needs: func(t *testing.T) { requireHostFile(t, pythonPath); requirePackage(t, "libpython3.11-stdlib") },
			want: []string{`test_sqlite3 .* ok`, `test_ssl_default_context_has_ca_certificates .* ok`, `Ran 6 tests`, `(?m)^OK$`}},
		{name: "perl", needs: func(t *testing.T) { requireHostFile(t, perlPath) },
			want: []string{`(?m)^ok - POSIX setlocale C\.UTF-8$`, `(?m)^ok - Digest::MD5$`, `(?m)^all ok$`}},
		{name: "git", needs: func(t *testing.T) { requirePackage(t, "git") },
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
			build(t, filepath.Join("..", "testdata", "examples", ex.name+".yaml"), BuildOptions{Output: out})
			code, got := runExample(t, out, ex.argv)
			if code != 0 {
				t.Errorf("%s exited %d:\n%s", ex.name, code, got)
			}
			for _, w := range ex.want {
				if !regexp.MustCompile(w).MatchString(got) {
					t.Errorf("%s output does not match %q:\n%s", ex.name, w, got)
				}
			}
			if problems, err := Check(out); err != nil || len(problems) > 0 {
				t.Errorf("Check(%s) = %v, %v; want a clean jail", ex.name, problems, err)
			}
		})
	}
}

// runExample enters the jail with its manifest's enter: settings, running
// argv instead of enter.command when given; a failure to enter is fatal.
func runExample(t *testing.T, dir string, argv []string) (int, string) {
	t.Helper()
	code, out, err := enter(t, dir, nil, argv...)
	if err != nil {
		t.Fatalf("Enter(%s) = %v", dir, err)
	}
	return code, out
}

// buildCTests builds the c-tests example's program and library with its
// Makefile, into testdata/examples/c-tests/build, as its manifest says to.
func buildCTests(t *testing.T) {
	requireTool(t, "gcc")
	mk := requireTool(t, "make")
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
	requireRoot(t)
	requirePackage(t, "git")
	requireHostFile(t, pythonPath)
	dir := t.TempDir()
	m := writeManifest(t, dir, "m.yaml", `version: 1
layout: preserve
binaries: [/usr/bin/git, /usr/bin/python3]
files:
  - /usr/lib/git-core
  - /usr/lib/python3.11
`)
	out := filepath.Join(dir, "jail")
	build(t, m, BuildOptions{Output: out})
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
		code, got := runExample(t, out, tt.argv)
		if code != 0 || got != tt.want {
			t.Errorf("%v = %d, %q; want 0, %q", tt.argv, code, got, tt.want)
		}
	}
	if problems, err := Check(out); err != nil || len(problems) > 0 {
		t.Errorf("Check = %v, %v; want a clean jail", problems, err)
	}
}
