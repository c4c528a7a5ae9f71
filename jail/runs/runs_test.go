//go:build linux

package runs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDirFor(t *testing.T) {
	for _, c := range []struct {
		uid  int
		xdg  string
		want string
	}{
		{0, "", "/run/jailer"},
		{0, "/run/user/0", "/run/jailer"}, // root's is one place, whatever the environment says
		{1001, "/run/user/1001", "/run/user/1001/jailer"},
		{1001, "", "/tmp/jailer-1001"},
		{1001, "relative/dir", "/tmp/jailer-1001"}, // as the XDG spec says: ignored
	} {
		if got := dirFor(c.uid, c.xdg); got != c.want {
			t.Errorf("dirFor(%d, %q) = %q, want %q", c.uid, c.xdg, got, c.want)
		}
	}
}

// TestCheckDir: a runtime directory is used only when it is the user's,
// a real directory, and open to nobody else.
func TestCheckDir(t *testing.T) {
	base := t.TempDir()
	uid := os.Geteuid()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	good := mk("good", 0o700)
	open := mk("open", 0o755)
	link := filepath.Join(base, "link")
	os.Symlink(good, link)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	for _, c := range []struct {
		dir string
		uid int
		ok  bool
	}{
		{good, uid, true},
		{good, uid + 1, false}, // another user's
		{open, uid, false},     // others may enter it
		{link, uid, false},     // a symlink, even to a good one
		{file, uid, false},
		{filepath.Join(base, "missing"), uid, false},
	} {
		err := checkDir(c.dir, c.uid)
		if (err == nil) != c.ok {
			t.Errorf("checkDir(%s, %d) = %v, want ok %v", c.dir, c.uid, err, c.ok)
		}
	}
}

func TestLimitsString(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		want string
	}{
		{Limits{}, "-"},
		{Limits{Pids: 4096}, "pids 4096"},
		{Limits{Memory: 64 << 20, Pids: 10, CPUs: 1.5, Timeout: "10m0s"}, "memory 64.0 MiB, pids 10, cpus 1.5, timeout 10m0s"},
	} {
		if got := c.l.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.l, got, c.want)
		}
	}
}

// process starts a process standing in for a jail's init (the record
// only names its pid and start time), killed and reaped at the end.
func process(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The script says "ready" once its traps are set.
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("%s: read %q, %v", script, buf, err)
	}
	return cmd
}

// record writes a record of a jail of tree whose init is p.
func record(t *testing.T, tree string, p *exec.Cmd) *Record {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewID(dir)
	if err != nil {
		t.Fatal(err)
	}
	start, err := StartTime(p.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{ID: id, Tree: tree, Command: []string{"/bin/sh", "-c", "test " + id}, PID: p.Process.Pid, PIDStart: start, Started: time.Now(), Owner: os.Geteuid(), Net: "none"}
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Remove(dir, id) })
	return r
}

func listed(id string) bool {
	for _, r := range List() {
		if r.ID == id {
			return true
		}
	}
	return false
}

// TestRecords: a record is listed while its init runs; one whose init
// exited, or whose pid another process has now, is not, and the record
// of a dead init is removed; Find knows records by id, prefix and tree,
// refuses a tree with two running jails naming both, and says that a
// jail whose init has exited (not yet reaped) has exited.
func TestRecords(t *testing.T) {
	tree := t.TempDir()
	p1 := process(t, "echo ready; exec sleep 1000")
	p2 := process(t, "echo ready; exec sleep 1000")
	r1 := record(t, tree, p1)
	if !listed(r1.ID) {
		t.Fatalf("List() lacks %s, whose init runs", r1.ID)
	}
	for _, name := range []string{r1.ID, r1.ID[:6], tree} {
		got, err := Find(name)
		if err != nil || got.ID != r1.ID || got.PID != r1.PID || got.Owner != os.Geteuid() || got.Socket != SocketPath(got.Dir(), r1.ID) {
			t.Errorf("Find(%s) = %+v, %v; want the record %s", name, got, err, r1.ID)
		}
	}
	r2 := record(t, tree, p2)
	if _, err := Find(tree); err == nil || !strings.Contains(err.Error(), r1.ID) || !strings.Contains(err.Error(), r2.ID) {
		t.Errorf("Find(%s) with two jails = %v, want an error naming %s and %s", tree, err, r1.ID, r2.ID)
	}
	if _, err := Find("0badc0de"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(unknown id) = %v, want ErrNotFound", err)
	}

	// A pid that is no longer the init's: another start time.
	wrong := *r2
	wrong.PIDStart++
	if wrong.Alive() {
		t.Errorf("a record whose start time is not the process's is alive")
	}

	// The init exits, and is not reaped yet (its jailer still saves the
	// run's results): the jail has exited.
	p2.Process.Kill()
	waitFor(t, func() bool { return !r2.Alive() })
	var ee *ExitedError
	if _, err := Find(r2.ID); !errors.As(err, &ee) || !strings.Contains(err.Error(), "has exited") || !strings.Contains(err.Error(), "test "+r2.ID) {
		t.Errorf("Find(exited jail) = %v, want an ExitedError naming its command", err)
	}
	if got, err := Find(tree); err != nil || got.ID != r1.ID {
		t.Errorf("Find(%s) with one jail left running = %v, %v; want %s", tree, got, err, r1.ID)
	}
	p2.Wait()
	if listed(r2.ID) {
		t.Errorf("List() has %s, whose init is gone", r2.ID)
	}
	if _, err := os.Stat(filepath.Join(r2.Dir(), r2.ID+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale record of %s is left after List: %v", r2.ID, err)
	}
}

// TestStop: a command that exits on SIGTERM is stopped; one that
// ignores it is killed after the grace; both are gone when Stop returns.
func TestStop(t *testing.T) {
	for _, c := range []struct {
		name       string
		script     string
		wantKilled bool
	}{
		{"exits on TERM", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done", false},
		{"ignores TERM", "trap '' TERM; echo ready; while :; do sleep 0.1; done", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := process(t, c.script)
			r := record(t, t.TempDir(), p)
			grace := 100 * time.Millisecond
			if !c.wantKilled {
				grace = time.Minute // never reached: it exits on SIGTERM
			}
			killed, err := Stop(r, grace)
			if err != nil || killed != c.wantKilled {
				t.Fatalf("Stop = %v, %v; want killed %v", killed, err, c.wantKilled)
			}
			if r.Alive() {
				t.Fatalf("the process is alive after Stop")
			}
			p.Wait()
			ws := p.ProcessState.Sys().(syscall.WaitStatus)
			if c.wantKilled && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
				t.Errorf("status %v, want killed by SIGKILL", ws)
			}
			if !c.wantKilled && ws.ExitStatus() != 3 {
				t.Errorf("status %v, want exit 3 from its TERM trap", ws)
			}
		})
	}
}

// waitFor polls cond until it holds (the test's own timeout bounds it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(10 * time.Millisecond)
	}
}
