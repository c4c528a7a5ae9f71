package jail

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// build builds a manifest and fails the test on error.
func build(t testing.TB, path string, opts BuildOptions) *Summary {
	t.Helper()
	s, err := Build(context.Background(), load(t, path), opts)
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
	requireRoot(t)
	shellJailOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jailer-enter-test-")
		if err != nil {
			shellJailErr = err
			return
		}
		m := writeManifest(t, dir, "shell.yaml", `version: 1
binaries: [/bin/bash, /bin/sh, /bin/ls, /bin/cat, /bin/sleep, /bin/id, /bin/grep, /bin/wc, /bin/touch, /bin/mkdir, /bin/echo, /bin/true]
users: [{name: tester, uid: 1000}]
enter:
  env: { PATH: /bin, GREETING: hello }
`)
		_, shellJailErr = Build(context.Background(), load(t, m), BuildOptions{Output: filepath.Join(dir, "jail")})
		shellJailDir = filepath.Join(dir, "jail")
	})
	if shellJailErr != nil {
		t.Fatalf("build the shell jail: %v", shellJailErr)
	}
	return shellJailDir
}

// enter runs argv (or, when it is empty, the manifest's enter.command) in
// the jail with the jail's defaults changed by edit, and returns the exit
// status, stdout+stderr and the error.
func enter(t *testing.T, dir string, edit func(*EnterOptions), argv ...string) (int, string, error) {
	t.Helper()
	lock, err := ReadLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := DefaultEnterOptions(lock)
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
	code, err := Enter(context.Background(), dir, opts, Stdio{In: devnull, Out: out, Err: out})
	data, _ := os.ReadFile(out.Name())
	return code, string(data), err
}
