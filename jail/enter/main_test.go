//go:build linux

package enter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/term"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/manifest"
)

// TestMain: the test binary is also the jails' init (Run re-executes
// itself), and with JAILER_TEST_ENTER=DIR it is `jailer enter DIR -- CMD`
// for tests that need a real process to signal or kill.
func TestMain(m *testing.M) {
	if IsInit() {
		os.Exit(RunInit())
	}
	if os.Getenv("JAILER_TEST_NO_SUBIDS") != "" {
		// A host without a subordinate range for the caller.
		subuidFile, subgidFile = "/nonexistent/subuid", "/nonexistent/subgid"
	}
	if m := os.Getenv("JAILER_TEST_BUILD"); m != "" {
		os.Exit(testBuildMain(m))
	}
	if os.Getenv("JAILER_TEST_HOST") != "" {
		json.NewEncoder(os.Stdout).Encode(HostRootless())
		os.Exit(0)
	}
	if dir := os.Getenv("JAILER_TEST_ENTER"); dir != "" {
		os.Exit(testEnterMain(dir))
	}
	if name := os.Getenv("JAILER_TEST_EXEC"); name != "" {
		os.Exit(testExecMain(name))
	}
	code := testutil.RunIsolated(m)
	if shellJailDir != "" {
		os.RemoveAll(filepath.Dir(shellJailDir))
	}
	testutil.RemoveSharedDir()
	os.Exit(code)
}

// testBuildMain is `jailer build MANIFEST -o OUT` for JAILER_TEST_BUILD=
// MANIFEST:OUT, as whoever runs it (the rootless tests build as the
// unprivileged user).
func testBuildMain(spec string) int {
	mf, out, _ := strings.Cut(spec, ":")
	m, err := manifest.Load(mf)
	if err == nil {
		var sum *build.Summary
		sum, err = build.Build(context.Background(), m, build.Options{Output: out})
		if err == nil {
			for _, w := range sum.Warnings {
				fmt.Fprintln(os.Stderr, "jailer: warning: "+w)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testEnterMain is `jailer enter DIR CMD...`: the command follows "--" in
// the arguments; JAILER_TEST_BIND=SRC:DST adds a bind mount,
// JAILER_TEST_NONS=1 asks for a plain chroot, JAILER_TEST_PERSIST=1 for
// --persist and JAILER_TEST_KEEP=DIR for --keep-changes DIR;
// JAILER_TEST_OPTS is JSON laid over the options (the rootless tests say
// all they change there). Warnings go to stderr, as jailer's do.
func testEnterMain(dir string) int {
	var argv []string
	for i, a := range os.Args {
		if a == "--" {
			argv = os.Args[i+1:]
		}
	}
	opts, err := Defaults(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitSetupFailed
	}
	opts.Command = argv
	opts.Interactive = term.IsTerminal(0)
	opts.NoNamespaces = os.Getenv("JAILER_TEST_NONS") != ""
	opts.Persist = os.Getenv("JAILER_TEST_PERSIST") != ""
	opts.KeepChanges = os.Getenv("JAILER_TEST_KEEP")
	if b := os.Getenv("JAILER_TEST_BIND"); b != "" {
		src, dst, _ := strings.Cut(b, ":")
		opts.Mounts = append(opts.Mounts, manifest.Mount{Type: "bind", Source: src, Target: dst})
	}
	if o := os.Getenv("JAILER_TEST_OPTS"); o != "" {
		if err := json.Unmarshal([]byte(o), &opts); err != nil {
			fmt.Fprintln(os.Stderr, "JAILER_TEST_OPTS:", err)
			return ExitSetupFailed
		}
	}
	opts.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "jailer: warning: "+msg) }
	code, err := Run(context.Background(), dir, opts, Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}

// mustBuild builds a manifest and fails the test on error.
func mustBuild(t testing.TB, path string, opts build.Options) *build.Summary {
	t.Helper()
	s, err := build.Build(context.Background(), testutil.LoadManifest(t, path), opts)
	if err != nil {
		t.Fatalf("Build(%s) = %v", path, err)
	}
	return s
}

var (
	shellJailOnce sync.Once
	shellJailDir  string
	shellJailErr  error
)

// shellJail builds (once per test run) a jail with bash and the tools the
// enter tests use, with a user tester, and returns its path.
func shellJail(t *testing.T) string {
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
		shellJailDir = filepath.Join(dir, "jail")
	})
	if shellJailErr != nil {
		t.Fatalf("build the shell jail: %v", shellJailErr)
	}
	return shellJailDir
}

// runIn runs argv (or, when it is empty, the manifest's enter.command) in
// the jail with the jail's defaults changed by edit, and returns the exit
// status, stdout+stderr and the error.
func runIn(t *testing.T, dir string, edit func(*Options), argv ...string) (int, string, error) {
	t.Helper()
	opts, err := Defaults(dir)
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
	code, err := Run(context.Background(), dir, opts, Stdio{In: devnull, Out: out, Err: out})
	data, _ := os.ReadFile(out.Name())
	return code, string(data), err
}
