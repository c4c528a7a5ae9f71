//go:build linux

package enter

// jailer exec and stop, for real: a jail runs in a jailer enter of its
// own (this test binary, JAILER_TEST_ENTER), as root or as the
// unprivileged user, and commands are run in it as root or as the user
// (JAILER_TEST_EXEC=JAIL|ID, the command after "--").

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/runs"
)

// testExecMain is `jailer exec NAME -- CMD...`, as whoever runs it.
func testExecMain(name string) int {
	var argv []string
	for i, a := range os.Args {
		if a == "--" {
			argv = os.Args[i+1:]
		}
	}
	r, err := runs.Find(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitSetupFailed
	}
	code, err := Exec(context.Background(), r, ExecOptions{Command: argv}, Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}

// liveJail is a jail whose command has written its token to /tmp/marker,
// said "ready", and waits for its stdin to close.
type liveJail struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	rec   *runs.Record
	token string
}

// liveScript is the command of a liveJail; $0 is its token.
const liveScript = `echo "$0" > /tmp/marker; echo ready; read x; exit 0`

func newToken() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "tok" + hex.EncodeToString(b)
}

// startLive starts cmd (a jailer enter of this test binary, without its
// command) on a liveScript, and waits for it to be ready and recorded.
func startLive(t *testing.T, cmd *exec.Cmd, script string) *liveJail {
	t.Helper()
	j := &liveJail{cmd: cmd, token: newToken()}
	cmd.Args = append(cmd.Args, "--", "/bin/sh", "-c", script, j.token)
	var err error
	if j.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		j.stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("jail's first line %q, %v", line, err)
	}
	go io.Copy(io.Discard, out)
	waitFor(t, func() bool {
		for _, r := range runs.List() {
			if slices.Contains(r.Command, j.token) {
				j.rec = r
				return true
			}
		}
		return false
	})
	return j
}

// end closes the command's stdin (it exits 0) and waits for the jail.
func (j *liveJail) end(t *testing.T) int {
	t.Helper()
	j.stdin.Close()
	j.cmd.Wait()
	return j.cmd.ProcessState.ExitCode()
}

// startRootJail runs a liveJail in the shared shell jail, as root.
func startRootJail(t *testing.T, script string) *liveJail {
	dir := shellJail(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+dir)
	return startLive(t, cmd, script)
}

// execIn runs o in the jail of r, with stdin (default /dev/null), and
// returns its status, what it wrote and the error.
func execIn(t *testing.T, r *runs.Record, o ExecOptions, stdin *os.File) (int, string, error) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if stdin == nil {
		stdin, _ = os.Open(os.DevNull)
		defer stdin.Close()
	}
	code, err := Exec(context.Background(), r, o, Stdio{In: stdin, Out: out, Err: out})
	data, _ := os.ReadFile(out.Name())
	return code, string(data), err
}

// TestExec runs commands in a running jail: they see what its command
// wrote in its fresh root, its processes (the PID namespace), its user,
// environment and directory unless told otherwise, and give their exit
// status; what cannot run is refused with the status enter gives.
func TestExec(t *testing.T) {
	j := startRootJail(t, liveScript)
	dir, _ := os.Open("/")
	defer dir.Close()
	for _, c := range []struct {
		name     string
		o        ExecOptions
		stdin    *os.File
		wantCode int
		want     string // in the output, or the error
	}{
		{"sees the run's /tmp", ExecOptions{Command: []string{"cat", "/tmp/marker"}}, nil, 0, j.token + "\n"},
		{"in its PID namespace", ExecOptions{Command: []string{"/bin/sh", "-c", "cat /proc/[0-9]*/cmdline"}}, nil, 0, liveScript + "\x00" + j.token},
		{"as its user", ExecOptions{Command: []string{"id", "-u"}}, nil, 0, "0\n"},
		{"as another", ExecOptions{Command: []string{"id", "-u"}, User: "tester"}, nil, 0, "1000\n"},
		{"its environment, and more", ExecOptions{Command: []string{"/bin/sh", "-c", `echo "$GREETING $X"`}, Env: map[string]string{"X": "more"}}, nil, 0, "hello more\n"},
		{"in a directory", ExecOptions{Command: []string{"/bin/sh", "-c", "pwd"}, Workdir: "/tmp"}, nil, 0, "/tmp\n"},
		{"its status", ExecOptions{Command: []string{"/bin/sh", "-c", "exit 7"}}, nil, 7, ""},
		{"not found", ExecOptions{Command: []string{"nosuch"}}, nil, ExitNotFound, "nosuch: file does not exist in the jail's PATH"},
		{"a missing directory", ExecOptions{Command: []string{"true"}, Workdir: "/nosuch"}, nil, ExitSetupFailed, "workdir /nosuch: no such directory in the jail"},
		{"an unknown user", ExecOptions{Command: []string{"true"}, User: "nobody2"}, nil, ExitSetupFailed, `user "nobody2" is not in the jail's /etc/passwd`},
		{"a directory as stdin", ExecOptions{Command: []string{"true"}}, dir, ExitSetupFailed, "stdin is the directory /"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, err := execIn(t, j.rec, c.o, c.stdin)
			if err != nil {
				out += err.Error()
			}
			if code != c.wantCode || !strings.Contains(out, c.want) {
				t.Errorf("exec %v = %d, %q; want %d, %q", c.o.Command, code, out, c.wantCode, c.want)
			}
		})
	}
	if code := j.end(t); code != 0 {
		t.Errorf("the jail's command exited %d, want 0", code)
	}
}

// TestExecDiesWithTheJail: a command exec started is killed when the
// jail's command exits, and its exec says so.
func TestExecDiesWithTheJail(t *testing.T) {
	j := startRootJail(t, liveScript)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Exec(context.Background(), j.rec, ExecOptions{Command: []string{"/bin/sh", "-c", "echo started; exec sleep 987651"}}, Stdio{In: devnull, Out: pw, Err: pw})
		done <- result{code, err}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	pw.Close()
	if line != "started\n" {
		t.Fatalf("exec said %q, %v", line, err)
	}
	j.end(t)
	res := <-done
	if res.code != 137 || res.err == nil || !strings.Contains(res.err.Error(), "ended while the command ran") {
		t.Errorf("exec of a command the jail's end killed = %d, %v; want 137 and why", res.code, res.err)
	}
	if p := hostProcesses("sleep\x00987651"); len(p) > 0 {
		t.Errorf("exec's command outlived the jail: host pids %v", p)
	}
}

// TestExecExitedJail: a jail whose command has exited, while its jailer
// has not yet removed its record (stopped here, so that it cannot), is
// refused naming the command; once the jailer is done, the jail is gone.
func TestExecExitedJail(t *testing.T) {
	j := startRootJail(t, liveScript)
	j.cmd.Process.Signal(syscall.SIGSTOP) // the init exits, and is not reaped
	j.stdin.Close()
	waitFor(t, func() bool { return !j.rec.Alive() })
	for _, name := range []string{j.rec.ID, j.rec.Tree} {
		_, err := runs.Find(name)
		var ee *runs.ExitedError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "its command (/bin/sh -c "+liveScript+" "+j.token+") has exited") {
			t.Errorf("Find(%s) = %v, want it refused as exited, naming its command", name, err)
		}
	}
	code, _, err := execIn(t, j.rec, ExecOptions{Command: []string{"true"}}, nil)
	if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "has exited") {
		t.Errorf("exec into an exited jail = %d, %v; want %d, has exited", code, err, ExitSetupFailed)
	}
	j.cmd.Process.Signal(syscall.SIGCONT)
	j.cmd.Wait()
	if _, err := runs.Find(j.rec.ID); !errors.Is(err, runs.ErrNotFound) {
		t.Errorf("Find after the jail ended = %v, want ErrNotFound", err)
	}
	for _, p := range []string{filepath.Join(j.rec.Dir(), j.rec.ID+".json"), j.rec.Socket} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left after the jail: %v", p, err)
		}
	}
}

// TestExecRacingTheEnd: commands exec'd while the jail ends (a stream of
// them from a few goroutines, and two long ones already running) each
// either ran, or were refused or killed with a clean error; none hangs,
// and nothing is left: no process, no record, no socket.
func TestExecRacingTheEnd(t *testing.T) {
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	for round := range 3 {
		j := startRootJail(t, liveScript)
		var wg sync.WaitGroup
		var mu sync.Mutex
		outcomes := map[string]int{}
		check := func(argv []string, code int, err error) bool {
			var ee *runs.ExitedError
			outcome := "ran"
			switch {
			case err == nil && code == 0:
			case errors.As(err, &ee) && code == ExitSetupFailed:
				outcome = "refused: has exited"
			case err != nil && code == 137 && strings.Contains(err.Error(), "ended while the command ran"):
				outcome = "killed with the jail"
			default:
				t.Errorf("round %d: exec %v racing the end = %d, %v", round, argv, code, err)
				outcome = "wrong"
			}
			mu.Lock()
			outcomes[argv[0]+": "+outcome]++
			mu.Unlock()
			return outcome == "ran"
		}
		for range 2 { // long ones, running when the jail ends
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			argv := []string{"/bin/sh", "-c", "echo started; exec sleep 987652"}
			go func() {
				defer wg.Done()
				code, err := Exec(context.Background(), j.rec, ExecOptions{Command: argv}, Stdio{In: devnull, Out: pw, Err: pw})
				pw.Close()
				check(argv, code, err)
			}()
			bufio.NewReader(pr).ReadString('\n')
			pr.Close()
		}
		var ran sync.WaitGroup
		for range 4 { // a stream of short ones, until the jail has ended
			wg.Add(1)
			ran.Add(1)
			go func() {
				defer wg.Done()
				first := true
				for {
					code, _, err := execIn(t, j.rec, ExecOptions{Command: []string{"true"}}, nil)
					if !check([]string{"true"}, code, err) {
						return
					}
					if first {
						ran.Done()
						first = false
					}
				}
			}()
		}
		ran.Wait()
		j.end(t)
		wg.Wait()
		t.Logf("round %d: %v", round, outcomes)
		if p := hostProcesses("sleep\x00987652"); len(p) > 0 {
			t.Errorf("round %d: exec'd commands outlived the jail: host pids %v", round, p)
		}
		for _, p := range []string{filepath.Join(j.rec.Dir(), j.rec.ID+".json"), j.rec.Socket} {
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("round %d: %s is left after the jail: %v", round, p, err)
			}
		}
	}
}

// TestStopJail: stop ends a jail whose command exits on SIGTERM (the
// init passes it on), and kills one whose command ignores it once the
// grace has passed, with every process exec started in it.
func TestStopJail(t *testing.T) {
	for _, c := range []struct {
		name       string
		script     string
		wantKilled bool
		wantCode   int
	}{
		{"exits on TERM", `trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done`, false, 3},
		{"ignores TERM", `trap '' TERM; echo ready; read x`, true, 137},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := startRootJail(t, c.script)
			grace := 200 * time.Millisecond
			if !c.wantKilled {
				grace = time.Minute // never reached
			}
			killed, err := runs.Stop(j.rec, grace)
			if err != nil || killed != c.wantKilled {
				t.Fatalf("Stop = %v, %v; want killed %v", killed, err, c.wantKilled)
			}
			if j.rec.Alive() {
				t.Errorf("the jail's init is alive after Stop")
			}
			j.cmd.Wait()
			if code := j.cmd.ProcessState.ExitCode(); code != c.wantCode {
				t.Errorf("jailer enter exited %d, want %d", code, c.wantCode)
			}
		})
	}
}

// hostProcesses are the pids of the host's processes whose command line
// is cmdline (NUL-separated).
func hostProcesses(cmdline string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.TrimRight(string(data), "\x00") == cmdline {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// waitFor polls cond until it holds (the test's own timeout bounds it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecRootless: the unprivileged user runs commands in their own
// jail (its user namespace first), and so does root, as the jail's
// owner; root's jail is not the user's to see, run commands in or stop,
// and the user is told no more than that they have no such jail.
func TestExecRootless(t *testing.T) {
	r := newRootless(t)
	jail := r.build(t, rootlessManifest)
	ctx := context.Background()
	j := startLive(t, r.command(ctx, filepath.Dir(jail), []string{"JAILER_TEST_ENTER=" + jail}), liveScript)
	if j.rec.Owner != r.user.UID || !j.rec.Rootless {
		t.Errorf("the user's jail is recorded as owner %d, rootless %v; want %d, true", j.rec.Owner, j.rec.Rootless, r.user.UID)
	}
	asUser := func(name string, argv ...string) (int, string) {
		cmd := r.command(ctx, "/", []string{"JAILER_TEST_EXEC=" + name}, append([]string{"--"}, argv...)...)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	for _, name := range []string{j.rec.ID, jail} {
		if code, out := asUser(name, "/bin/sh", "-c", "cat /tmp/marker; id -u"); code != 0 || out != j.token+"\n0\n" {
			t.Errorf("the user's exec in their jail (%s) = %d, %q; want the marker and uid 0", name, code, out)
		}
	}
	code, out, err := execIn(t, j.rec, ExecOptions{Command: []string{"/bin/sh", "-c", "cat /tmp/marker; id -u"}}, nil)
	if err != nil || code != 0 || out != j.token+"\n0\n" {
		t.Errorf("root's exec in the user's jail = %d, %q, %v; want the marker and uid 0 (the jail's root)", code, out, err)
	}

	rj := startRootJail(t, liveScript)
	for _, name := range []string{rj.rec.ID, rj.rec.Tree} {
		code, out := asUser(name, "true")
		if code != ExitSetupFailed || !strings.Contains(out, "no running jail of yours") || strings.Contains(out, rj.token) {
			t.Errorf("the user's exec in root's jail (%s) = %d, %q; want refused as no jail of theirs", name, code, out)
		}
	}
	// The init itself refuses whoever is not the jail's owner, had they
	// reached its socket: root, connecting as root, is not the user's
	// jail's owner (connectAs connects as the owner).
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: j.rec.Socket}); err != nil {
		t.Fatal(err)
	}
	if answer, _ := readAnswer(fd); !strings.Contains(answer, "refused: only the jail's owner") {
		t.Errorf("the init answered a connection of another uid's with %q, want it refused", answer)
	}
	if killed, err := runs.Stop(j.rec, time.Minute); err != nil || killed {
		t.Errorf("root's stop of the user's jail = %v, %v; want stopped by SIGTERM", killed, err)
	}
	j.cmd.Wait()
	if code := j.cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("the user's jailer enter exited %d after stop, want %d", code, 128+int(syscall.SIGTERM))
	}
	rj.end(t)
}

// TestExecPlainChroot: a jail run with --no-namespaces is listed, but its
// init (not PID 1 of anything) takes no commands.
func TestExecPlainChroot(t *testing.T) {
	dir := shellJail(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+dir, "JAILER_TEST_NONS=1")
	j := startLive(t, cmd, `echo ready; read x; exit 0`)
	if j.rec.Exec || j.rec.Socket != runs.SocketPath(j.rec.Dir(), j.rec.ID) {
		t.Errorf("a plain chroot's record says exec %v, socket %q", j.rec.Exec, j.rec.Socket)
	}
	if _, err := os.Lstat(j.rec.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a plain chroot has an exec socket: %v", err)
	}
	code, _, err := execIn(t, j.rec, ExecOptions{Command: []string{"true"}}, nil)
	if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "plain chroot (--no-namespaces)") {
		t.Errorf("exec into a plain chroot = %d, %v; want refused", code, err)
	}
	j.end(t)
}
