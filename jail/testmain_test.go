package jail

import (
	"context"
	"fmt"
	"os"
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
