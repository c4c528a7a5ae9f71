package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestEnterForwardsSignals runs the real main: SIGTERM sent to jailer must
// reach the command (its trap runs and sets the exit status), not kill the
// jail.
func TestEnterForwardsSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root, and CI=true")
		}
		t.Skip("needs root")
	}
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
