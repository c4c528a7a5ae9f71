//go:build linux

package enter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/manifest"
)

// treeManifest writes name in dir: a jail at dir/jail whose /etc/motd
// and /etc/marker both say version.
func treeManifest(t *testing.T, dir, name, version string) string {
	t.Helper()
	return testutil.WriteManifest(t, dir, name, fmt.Sprintf(`version: 1
output: ./jail
binaries: [/bin/sh, /bin/cat, /bin/ls, /bin/sleep]
dirs: [/ctl]
files:
  - { dest: /etc/motd, content: "%[1]s\n" }
  - { dest: /etc/marker, content: "%[1]s\n" }
`, version))
}

// readScript reads the jail's files every pause seconds, at least min
// times and until the host creates ctl/stop (bound at /ctl), and fails
// when they differ from what it read first.
const readScript = `a=$(cat /etc/motd /etc/marker; ls /bin)
echo "up $(cat /etc/motd)"
i=0
while [ $i -lt %d ] || [ ! -e /ctl/stop ]; do
  b=$(cat /etc/motd /etc/marker; ls /bin)
  [ "$a" = "$b" ] || { echo "changed: $b"; exit 1; }
  [ $i -lt 3000 ] || { echo "never told to stop"; exit 2; }
  sleep %s
  i=$((i+1))
done
echo "same $(cat /etc/motd) after $i reads"
`

// reader is a `jailer enter` process running readScript.
type reader struct {
	cmd *exec.Cmd
	out *bufio.Reader
	Up  string // its first line: "up VERSION"
}

// startReader enters the jail at out in a process of its own and returns
// once its command has read the tree a first time.
func startReader(t *testing.T, out, ctl string, min int, pause string) *reader {
	t.Helper()
	r, err := launchReader(out, ctl, min, pause)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// launchReader is startReader for any goroutine.
func launchReader(out, ctl string, min int, pause string) (*reader, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "/bin/sh", "-c", fmt.Sprintf(readScript, min, pause))
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+out, "JAILER_TEST_BIND="+ctl+":/ctl")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &reader{cmd: cmd, out: bufio.NewReader(stdout)}
	line, err := r.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "up ") {
		cmd.Process.Kill()
		rest, _ := io.ReadAll(r.out)
		cmd.Wait()
		return nil, fmt.Errorf("the run's first line is %q (%v), then:\n%s", line, err, rest)
	}
	r.Up = strings.TrimSpace(line)
	return r, nil
}

// wait waits for the run to end and returns the rest of its output.
func (r *reader) wait() (string, error) {
	rest, _ := io.ReadAll(r.out)
	return string(rest), r.cmd.Wait()
}

// oldTrees lists what builds of out left beside it.
func oldTrees(t *testing.T, out string) []string {
	t.Helper()
	var all []string
	for _, kind := range []string{"old", "staging"} {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".jailer-"+kind+"-*"))
		all = append(all, m...)
	}
	return all
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestRunKeepsItsTreeAcrossRebuilds: a run that reads its files for 3 s
// while the jail is rebuilt twice sees its own tree throughout, and its
// bind mount keeps working; the tree it holds is left beside the new one
// until it ends, and the next build deletes it.
func TestRunKeepsItsTreeAcrossRebuilds(t *testing.T) {
	testutil.RequireRoot(t)
	dir, ctl := t.TempDir(), t.TempDir()
	m := treeManifest(t, dir, "m.yaml", "v1")
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, build.Options{})
	first, _ := lockfile.TreeIDOf(out)
	r := startReader(t, out, ctl, 30, "0.1")
	treeManifest(t, dir, "m.yaml", "v2")
	mustBuild(t, m, build.Options{Force: true})
	mustBuild(t, m, build.Options{Force: true})
	left := oldTrees(t, out)
	if len(left) != 1 {
		t.Errorf("while the run runs, beside the jail: %v; want only the tree it holds", left)
	} else if id, _ := lockfile.TreeIDOf(left[0]); id != first || readFile(t, left[0]+"/etc/motd") != "v1" {
		t.Errorf("the old tree left is %s (%+v), not the one the run entered (%+v)", left[0], id, first)
	}
	os.WriteFile(filepath.Join(ctl, "stop"), nil, 0o644) // seen through the bind mount
	rest, err := r.wait()
	if err != nil || !strings.HasPrefix(rest, "same v1 after ") {
		t.Fatalf("the run (%s) = %v, then:\n%s; want it to see v1 throughout and exit 0", r.Up, err, rest)
	}
	if got := readFile(t, out+"/etc/motd"); got != "v2" {
		t.Errorf("the jail says %q after the rebuilds, want v2", got)
	}
	if sum := mustBuild(t, m, build.Options{}); !sum.UpToDate {
		t.Errorf("the build after the run rebuilt: %s", sum.Reason)
	}
	if left := oldTrees(t, out); len(left) > 0 {
		t.Errorf("after the run ended and the next build: %v left beside the jail", left)
	}
}

// TestGCKeepsTheTreeOfARun: gc leaves the old tree a live run holds, and
// deletes it once the run has ended.
func TestGCKeepsTheTreeOfARun(t *testing.T) {
	testutil.RequireRoot(t)
	dir, ctl := t.TempDir(), t.TempDir()
	m := treeManifest(t, dir, "m.yaml", "v1")
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, build.Options{})
	r := startReader(t, out, ctl, 0, "0.05")
	mustBuild(t, m, build.Options{Force: true})
	got, err := build.GC([]string{out})
	if err != nil || len(got.Removed) != 0 || len(got.Kept) != 1 || got.Kept[0].Why != "a running jail uses it" {
		t.Errorf("GC during the run = %+v, %v; want the run's tree kept", got, err)
	}
	os.WriteFile(filepath.Join(ctl, "stop"), nil, 0o644)
	if rest, err := r.wait(); err != nil {
		t.Fatalf("the run = %v:\n%s", err, rest)
	}
	got, err = build.GC([]string{out})
	if err != nil || len(got.Removed) != 1 || len(got.Kept) != 0 || got.Bytes <= 0 {
		t.Errorf("GC after the run = %+v, %v; want its tree removed, and the space freed", got, err)
	}
	if left := oldTrees(t, out); len(left) > 0 {
		t.Errorf("after gc: %v left", left)
	}
}

// TestKilledRunHoldsNothing: a jailer killed with SIGKILL during a run
// does not keep its old tree from gc.
func TestKilledRunHoldsNothing(t *testing.T) {
	testutil.RequireRoot(t)
	dir, ctl := t.TempDir(), t.TempDir()
	m := treeManifest(t, dir, "m.yaml", "v1")
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, build.Options{})
	r := startReader(t, out, ctl, 0, "0.05")
	mustBuild(t, m, build.Options{Force: true})
	if got, _ := build.GC([]string{out}); len(got.Kept) != 1 {
		t.Fatalf("GC during the run = %+v; want the run's tree kept", got)
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	r.wait()
	got, err := build.GC([]string{out})
	if err != nil || len(got.Removed) != 1 || len(got.Kept) != 0 {
		t.Errorf("GC after the jailer was killed = %+v, %v; want the tree removed", got, err)
	}
	if left := oldTrees(t, out); len(left) > 0 {
		t.Errorf("after gc: %v left", left)
	}
}

// TestRebuildsAndRunsInParallel: builds of two manifests into one jail
// and runs of it, all at once. Every run sees one whole tree throughout;
// once all have ended and gc has run, there is one tree, described by its
// lock, and nothing beside it.
func TestRebuildsAndRunsInParallel(t *testing.T) {
	testutil.RequireRoot(t)
	dir, ctl := t.TempDir(), t.TempDir()
	manifests := []string{treeManifest(t, dir, "a.yaml", "A"), treeManifest(t, dir, "b.yaml", "B")}
	out := filepath.Join(dir, "jail")
	mustBuild(t, manifests[0], build.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for b := range 3 {
		wg.Go(func() {
			for i := range 3 {
				m, err := manifest.Load(manifests[(b+i)%2])
				if err == nil {
					_, err = build.Build(context.Background(), m, build.Options{Force: true})
				}
				if err != nil {
					errs <- fmt.Errorf("build: %w", err)
				}
			}
		})
	}
	readers := make([]*reader, 4)
	var started sync.WaitGroup
	for i := range readers {
		started.Go(func() {
			var err error
			if readers[i], err = launchReader(out, ctl, 10, "0.02"); err != nil {
				errs <- err
			}
		})
	}
	started.Wait()
	wg.Wait()
	os.WriteFile(filepath.Join(ctl, "stop"), nil, 0o644)
	for _, r := range readers {
		if r == nil {
			continue // it did not start: errs says why
		}
		if rest, err := r.wait(); err != nil || !strings.HasPrefix(rest, "same "+strings.TrimPrefix(r.Up, "up ")+" after") {
			t.Errorf("a run (%s) = %v:\n%s", r.Up, err, rest)
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := build.GC([]string{out}); err != nil {
		t.Fatal(err)
	}
	if left := oldTrees(t, out); len(left) > 0 {
		t.Errorf("after all ended and gc: %v left", left)
	}
	lock, err := lockfile.Read(out)
	id, _ := lockfile.TreeIDOf(out)
	if err != nil || lock.Tree != id {
		t.Errorf("the lock beside the jail (%v) does not describe it", err)
	}
	if a, b := readFile(t, out+"/etc/motd"), readFile(t, out+"/etc/marker"); a != b {
		t.Errorf("the jail is not one whole tree: motd %q, marker %q", a, b)
	}
}
