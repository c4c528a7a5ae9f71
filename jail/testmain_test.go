package jail

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/term"

	"github.com/jailer-dev/jailer/manifest"
)

// TestMain lets a test run this test binary as a builder process
// (JAILER_TEST_BUILD=manifest[:output]), so that builds can be killed and
// raced like real `jailer build` processes.
func TestMain(m *testing.M) {
	if IsInit() {
		os.Exit(RunInit())
	}
	// Tests get a cache of their own, never the user's.
	if os.Getenv("JAILER_CACHE_DIR") == "" {
		dir, err := os.MkdirTemp("", "jailer-test-cache-")
		if err == nil {
			os.Setenv("JAILER_CACHE_DIR", dir)
			defer os.RemoveAll(dir)
		}
	}
	if dir := os.Getenv("JAILER_TEST_ENTER"); dir != "" {
		os.Exit(testEnterMain(dir))
	}
	if spec := os.Getenv("JAILER_TEST_BUILD"); spec != "" {
		path, out, _ := strings.Cut(spec, ":")
		man, err := manifest.Load(path)
		if err == nil {
			_, err = Build(context.Background(), man, BuildOptions{Output: out, Force: os.Getenv("JAILER_TEST_FORCE") != ""})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if shellJailDir != "" {
		removeAll(filepath.Dir(shellJailDir))
	}
	os.Exit(code)
}

// testEnterMain is `jailer enter DIR CMD...` for tests that need a real
// process to signal: the command follows "--" in the arguments;
// JAILER_TEST_BIND=SRC:DST adds a bind mount.
func testEnterMain(dir string) int {
	var argv []string
	for i, a := range os.Args {
		if a == "--" {
			argv = os.Args[i+1:]
		}
	}
	lock, err := ReadLock(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitSetupFailed
	}
	opts, _ := DefaultEnterOptions(lock)
	opts.Command = argv
	opts.Interactive = term.IsTerminal(0)
	opts.NoNamespaces = os.Getenv("JAILER_TEST_NONS") != ""
	if b := os.Getenv("JAILER_TEST_BIND"); b != "" {
		src, dst, _ := strings.Cut(b, ":")
		opts.Mounts = append(opts.Mounts, manifest.Mount{Type: "bind", Source: src, Target: dst})
	}
	code, err := Enter(context.Background(), dir, opts, Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}

// requireRoot skips a test that needs root, except in CI (CI=true), where a
// missing privilege is a failure: those tests must run there.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root, and CI=true: run the tests as root")
	}
	t.Skip("needs root (set CI=true to make this a failure)")
}

// requireTool skips (or, in CI, fails) when a host program is missing.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed and CI=true: .ci/run must install it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// writeManifest writes a manifest into dir and returns its path.
func writeManifest(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// load loads a manifest and fails the test on error.
func load(t testing.TB, path string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatalf("manifest.Load(%s) = %v", path, err)
	}
	return m
}

// build builds a manifest and fails the test on error.
func build(t testing.TB, path string, opts BuildOptions) *Summary {
	t.Helper()
	s, err := Build(context.Background(), load(t, path), opts)
	if err != nil {
		t.Fatalf("Build(%s) = %v", path, err)
	}
	return s
}

// chrootRun runs argv inside dir with chroot(8) and returns its output.
func chrootRun(t testing.TB, dir string, argv ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("chroot", append([]string{dir}, argv...)...)
	cmd.Env = []string{"PATH=/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// chrootRunProc is chrootRun with /proc mounted in a new mount and PID
// namespace, as jailer enter provides it.
func chrootRunProc(t testing.TB, dir string, argv ...string) (string, error) {
	t.Helper()
	requireTool(t, "unshare")
	chroot := requireTool(t, "chroot")
	args := append([]string{"--mount", "--pid", "--fork", "--mount-proc=" + filepath.Join(dir, "proc"), chroot, dir}, argv...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = []string{"PATH=/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// gcc compiles a C program for a test, failing when gcc is missing in CI.
func gcc(t testing.TB, args ...string) {
	t.Helper()
	requireTool(t, "gcc")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
}
