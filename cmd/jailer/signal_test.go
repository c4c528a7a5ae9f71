package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEnterForwardsSignals runs the real main: SIGTERM sent to jailer must
// reach the command (its trap runs and sets the exit status), not kill the
// jail.
func TestEnterForwardsSignals(t *testing.T) {
	requireRootCLI(t)
	dir := t.TempDir()
	m := filepath.Join(dir, "m.yaml")
	os.WriteFile(m, []byte("version: 1\nbinaries: [/bin/sh, /bin/sleep]\n"), 0o644)
	jailer := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "JAILER_TEST_MAIN=1")
		cmd.Args[0] = "jailer"
		return cmd
	}
	if out, err := jailer("build", "-q", m).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := jailer("enter", "--no-tty", filepath.Join(dir, "jail"), "/bin/sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; sleep 30 & wait")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := r.ReadString('\n')
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 42 || rest != "got-term\n" {
		t.Errorf("after SIGTERM: exit %d, output %q; want the command's trap to run and exit 42", code, rest)
	}
}

// TestBuildStopsOnSIGINT runs the real main on a manifest with a large
// sparse file (8 GiB of holes to hash: seconds of work) and sends SIGINT
// once the copy has begun. The signal must reach the build as a cancelled
// context, not kill it: exit status 1 with a message, the previous jail and
// its lock as they were, and no staging tree left. (That the copy stops
// within a chunk is shown by jail's TestBuildInterruptedDuringCopy.)
func TestBuildStopsOnSIGINT(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	os.WriteFile(big, []byte("v1\n"), 0o644)
	m := filepath.Join(dir, "m.yaml")
	os.WriteFile(m, []byte("version: 1\nfiles: [{src: ./big, dest: /big}]\n"), 0o644)
	jailer := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		// No cache: the build must hash the file, holes and all.
		cmd.Env = append(os.Environ(), "JAILER_TEST_MAIN=1", "JAILER_CACHE_DIR=off")
		cmd.Args[0] = "jailer"
		return cmd
	}
	if out, err := jailer("build", "-q", m).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "jail")
	lock, _ := os.ReadFile(filepath.Join(dir, "jail.jailer.lock"))
	os.WriteFile(big, []byte("v2\n"), 0o644)
	if err := os.Truncate(big, 8<<30); err != nil {
		t.Fatal(err)
	}
	cmd := jailer("build", "-q", m)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	staged := filepath.Join(dir, ".jail.jailer-staging-*", "big")
	for {
		if found, _ := filepath.Glob(staged); len(found) > 0 {
			break // the copy has begun
		}
		select {
		case err := <-exited:
			t.Fatalf("the build ended (%v) before its copy was seen in %s\n%s", err, staged, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	<-exited
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("build after SIGINT: exit %d, stderr %q; want exit 1 and a message saying it was interrupted", code, stderr.String())
	}
	if got, err := os.ReadFile(filepath.Join(out, "big")); err != nil || string(got) != "v1\n" {
		t.Errorf("the previous jail's /big = %q, %v; want it intact (v1)", got, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "jail.jailer.lock")); string(got) != string(lock) {
		t.Error("the interrupted build changed the previous jail's lock")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".jail.jailer-staging-*")); len(left) > 0 {
		t.Errorf("the interrupted build left %v", left)
	}
}
