package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// builtPrograms builds jailer (lean), jailer-full and jailer-init as the
// Makefile does (static, the Go build IDs of the init and of jailer-full
// linked into jailer) into a new directory every
// user may enter, and returns it. initID, when not "", is linked instead
// of the init's own ID (a jailer from another build).
func builtPrograms(t *testing.T, initID string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir, err := publicTempDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goTool, args...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, exitStderr(err))
		}
		return strings.TrimSpace(string(out))
	}
	run("build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "jailer-init"), "./cmd/jailer-init")
	if initID == "" {
		initID = run("tool", "buildid", filepath.Join(dir, "jailer-init"))
	}
	initFlag := "-X github.com/jailer-dev/jailer/jail/enter.initBuildID=" + initID
	run("build", "-trimpath", "-tags", "urfave_cli_no_docs",
		"-ldflags", "-s -w "+initFlag, "-o", filepath.Join(dir, "jailer-full"), "./cmd/jailer")
	fullID := run("tool", "buildid", filepath.Join(dir, "jailer-full"))
	run("build", "-trimpath", "-tags", "urfave_cli_no_docs,jailer_lean",
		"-ldflags", "-s -w "+initFlag+" -X main.fullBuildID="+fullID,
		"-o", filepath.Join(dir, "jailer"), "./cmd/jailer")
	return dir
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// initOf runs `jailer enter --no-tty JAIL CMD` (cmd, not started), whose
// command prints "ready" and then waits, and returns the program of the
// jail's init (the link /proc/PID/exe of jailer's child) and what the
// command printed after it was sent SIGTERM through jailer, and jailer's
// exit status.
func initOf(t *testing.T, cmd *exec.Cmd) (exe, rest string, code int) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%v: first line %q, %v; stderr:\n%s", cmd.Args, line, err, stderr.String())
	}
	// The init is a child of one of jailer's threads (the one that forked
	// it, locked to its OS thread).
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task/*/children")
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, pid := range strings.Fields(string(data)) {
			if link, err := os.Readlink("/proc/" + pid + "/exe"); err == nil {
				exe = link
			}
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		rest, _ = r.ReadString('\n')
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
	}
	cmd.Wait()
	return exe, rest, cmd.ProcessState.ExitCode()
}

// waiting is a command that says it is ready, then waits for SIGTERM, on
// which it prints got-term and exits 42.
var waiting = []string{"/bin/sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; sleep 60 & wait"}

// TestBuiltPrograms runs enter through jailer and jailer-init built as
// `make build` builds them, as root and as jailer-ci without root: the
// init is jailer-init, the command runs and gets the signal jailer gets,
// and the exit status is the command's. A jailer-init of another build,
// or none, is passed over: jailer is the init itself, and the run is the
// same.
func TestBuiltPrograms(t *testing.T) {
	requireRootCLI(t)
	bin := builtPrograms(t, "")
	work := t.TempDir()
	m := filepath.Join(work, "m.yaml")
	os.WriteFile(m, []byte("version: 1\nbinaries: [/bin/sh, /bin/sleep]\n"), 0o644)
	if out, err := exec.Command(filepath.Join(bin, "jailer"), "build", "-q", m).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	jail := filepath.Join(work, "jail")
	enter := func(bin string) *exec.Cmd {
		return exec.Command(filepath.Join(bin, "jailer"), append([]string{"enter", "--no-tty", jail}, waiting...)...)
	}

	// Another build's jailer-init: the same programs but jailer expects
	// another ID.
	other := builtPrograms(t, "not-the-init-of-this-build")
	// None at all.
	alone := t.TempDir()
	data, err := os.ReadFile(filepath.Join(bin, "jailer"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(alone, "jailer"), data, 0o755)

	for _, c := range []struct {
		name, bin, wantInit string
	}{
		{"jailer-init", bin, filepath.Join(bin, "jailer-init")},
		{"another build's jailer-init", other, filepath.Join(other, "jailer")},
		{"no jailer-init", alone, filepath.Join(alone, "jailer")},
	} {
		t.Run(c.name, func(t *testing.T) {
			exe, rest, code := initOf(t, enter(c.bin))
			if exe != c.wantInit || rest != "got-term\n" || code != 42 {
				t.Errorf("enter: init %q, after SIGTERM %q, exit %d; want init %s, got-term, 42", exe, rest, code, c.wantInit)
			}
		})
	}

	t.Run("rootless", func(t *testing.T) {
		u := requireTestUser(t, "jailer-ci")
		dir := userDir(t, u)
		um := filepath.Join(dir, "m.yaml")
		os.WriteFile(um, []byte("version: 1\nbinaries: [/bin/sh, /bin/sleep]\n"), 0o644)
		os.Chown(um, u.uid, u.gid)
		if code, out, errOut := runCmd(t, u.command(filepath.Join(bin, "jailer"), "build", "-q", um)); code != 0 {
			t.Fatalf("build as %s: exit %d\n%s%s", u.name, code, out, errOut)
		}
		cmd := u.command(filepath.Join(bin, "jailer"), append([]string{"enter", "--no-tty", filepath.Join(dir, "jail")}, waiting...)...)
		exe, rest, code := initOf(t, cmd)
		if want := filepath.Join(bin, "jailer-init"); exe != want || rest != "got-term\n" || code != 42 {
			t.Errorf("enter as %s: init %q, after SIGTERM %q, exit %d; want init %s, got-term, 42", u.name, exe, rest, code, want)
		}
	})
}
