// Package jailtest holds the test helpers of packages whose tests build and
// enter jails (inspect, export, trace, the end-to-end tests): building a
// manifest, running a command in a jail, a shared shell jail, and the
// TestMain that lets the test binary be the jails' init. build's and
// enter's own tests keep small copies, as they cannot import it.
package jailtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/manifest"
)

// MustBuild builds a manifest and fails the test on error.
func MustBuild(t testing.TB, path string, opts build.Options) *build.Summary {
	t.Helper()
	s, err := build.Build(context.Background(), testutil.LoadManifest(t, path), opts)
	if err != nil {
		t.Fatalf("Build(%s) = %v", path, err)
	}
	return s
}

// buildEnv, set to MANIFEST:OUTPUT, makes the test binary build that
// manifest and exit (see BuildAs).
const buildEnv = "JAILER_TEST_BUILD_AS"

// BuildAs builds the manifest at path into output as the user u, for
// real: the test binary (copied where u may run it) builds it as a process
// of u's, printing the summary on stdout and each warning on stderr, which
// it returns. The manifest and output's parent must be u's to read and
// write.
func BuildAs(t *testing.T, u testutil.User, path, output string) (stdout, stderr string) {
	t.Helper()
	cmd := u.Command(testutil.PublicExecutable(t))
	cmd.Env = append(cmd.Env, buildEnv+"="+path+":"+output)
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build %s as %s: %v\n%s", path, u.Name, err, errBuf.String())
	}
	return string(out), errBuf.String()
}

// buildFromEnv is the builder BuildAs runs: it returns the exit status.
func buildFromEnv(spec string) int {
	path, out, _ := strings.Cut(spec, ":")
	m, err := manifest.Load(path)
	var sum *build.Summary
	if err == nil {
		sum, err = build.Build(context.Background(), m, build.Options{Output: out})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range sum.Warnings {
		fmt.Fprintln(os.Stderr, "warning: "+w)
	}
	fmt.Println(sum)
	return 0
}

var (
	shellJailOnce sync.Once
	// ShellJailDir is where ShellJail built it, "" until it did.
	ShellJailDir string
	shellJailErr error
)

// ShellJail builds (once per test run) a jail with bash and the tools the
// enter tests use, with a user tester, and returns its path.
func ShellJail(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	shellJailOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jailer-enter-test-")
		if err != nil {
			shellJailErr = err
			return
		}
		m := testutil.WriteManifest(t, dir, "shell.yaml", testutil.ShellManifest)
		_, shellJailErr = build.Build(context.Background(), testutil.LoadManifest(t, m), build.Options{Output: filepath.Join(dir, "jail")})
		ShellJailDir = filepath.Join(dir, "jail")
	})
	if shellJailErr != nil {
		t.Fatalf("build the shell jail: %v", shellJailErr)
	}
	return ShellJailDir
}

// RunIn runs argv (or, when it is empty, the manifest's enter.command) in
// the jail with the jail's defaults changed by edit, and returns the exit
// status, stdout+stderr and the error.
func RunIn(t *testing.T, dir string, edit func(*enter.Options), argv ...string) (int, string, error) {
	t.Helper()
	opts, err := enter.Defaults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(argv) > 0 {
		opts.Command = argv
	}
	if edit != nil {
		edit(&opts)
	}
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	code, err := enter.Run(context.Background(), dir, opts, enter.Stdio{In: devnull, Out: out, Err: out})
	data, _ := os.ReadFile(out.Name())
	return code, string(data), err
}

// Main is the TestMain of a package whose tests enter jails: the test
// binary is also the jails' init (enter re-executes itself), and a builder
// for BuildAs; tests get a host cache of their own, and the shared shell
// jail is removed at the end.
func Main(m *testing.M) {
	if enter.IsInit() {
		os.Exit(enter.RunInit())
	}
	if spec := os.Getenv(buildEnv); spec != "" {
		os.Exit(buildFromEnv(spec))
	}
	code := testutil.RunIsolated(m)
	if ShellJailDir != "" {
		os.RemoveAll(filepath.Dir(ShellJailDir))
	}
	testutil.RemoveSharedDir()
	os.Exit(code)
}
