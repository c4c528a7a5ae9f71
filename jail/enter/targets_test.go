//go:build linux

package enter

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/testutil"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/manifest"
)

func TestTreeTargets(t *testing.T) {
	tests := []struct {
		name   string
		pid    bool
		mounts []manifest.Mount
		want   []string
	}{
		{"no mounts, no pid namespace", false, nil, []string{"/dev"}},
		{"proc first", true, nil, []string{"/proc", "/dev"}},
		{"user mounts in order", true, []manifest.Mount{bindMount("/s", "/src", false), mountTmpfs("/scratch")}, []string{"/proc", "/dev", "/src", "/scratch"}},
		{"inside an earlier mount: not in the tree", true, []manifest.Mount{mountTmpfs("/t"), bindMount("/s", "/t/in", false), mountTmpfs("/dev/x")}, []string{"/proc", "/dev", "/t"}},
		{"below a later mount: made after it, inside it", true, []manifest.Mount{bindMount("/s", "/m/n", false), mountTmpfs("/m")}, []string{"/proc", "/dev", "/m"}},
		{"the same target twice", true, []manifest.Mount{mountTmpfs("/t"), mountTmpfs("/t")}, []string{"/proc", "/dev", "/t"}},
		{"a sibling with a common prefix", true, []manifest.Mount{mountTmpfs("/t"), mountTmpfs("/tt")}, []string{"/proc", "/dev", "/t", "/tt"}},
		{"uncleaned target", false, []manifest.Mount{mountTmpfs("/a//b/")}, []string{"/dev", "/a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &jailinit.Config{PID: tt.pid}
			for _, m := range tt.mounts {
				cfg.Mounts = append(cfg.Mounts, jailinit.Mount{Type: m.Type, Source: m.Source, Target: m.Target})
			}
			got := treeTargets(mountTargets(cfg))
			if !slices.Equal(got, tt.want) {
				t.Errorf("treeTargets = %q, want %q", got, tt.want)
			}
		})
	}
}

// treeListing lists every path below dir with its type and permissions,
// without following symlinks.
func treeListing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprintf("%s %v", rel, fi.Mode()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertTreeAsBuilt fails when the jail at dir differs from the listing
// before, when check finds a problem, or when the targets journal is left.
func assertTreeAsBuilt(t *testing.T, dir string, before []string) {
	t.Helper()
	if after := treeListing(t, dir); !slices.Equal(after, before) {
		var added, gone []string
		for _, p := range after {
			if !slices.Contains(before, p) {
				added = append(added, p)
			}
		}
		for _, p := range before {
			if !slices.Contains(after, p) {
				gone = append(gone, p)
			}
		}
		t.Errorf("the jail tree changed: added %q, gone %q", added, gone)
	}
	if _, err := os.Lstat(targetsPath(dir)); err == nil {
		t.Errorf("%s is left beside the jail", targetsPath(dir))
	}
}

// realJailDir is the shell jail's path with symlinks resolved, as Enter
// names its journal.
func realJailDir(t *testing.T) string {
	dir, err := filepath.EvalSymlinks(shellJail(t))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEnterLeavesNoMountTargets(t *testing.T) {
	dir := realJailDir(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "in.txt"), []byte("from host\n"), 0o644)
	tests := []struct {
		name   string
		mounts []manifest.Mount
		ro     bool
		cmd    string
		want   string
	}{
		{"bind onto a missing target", []manifest.Mount{bindMount(src, "/src", true)}, false, "cat /src/in.txt", "from host"},
		{"bind onto a missing nested path", []manifest.Mount{bindMount(src, "/a/b/c", false)}, false, "cat /a/b/c/in.txt; ls -ld /a", "drwxr-xr-x"},
		{"tmpfs onto a missing target", []manifest.Mount{mountTmpfs("/scratch")}, false, "touch /scratch/x && echo wrote", "wrote"},
		{"bind inside a missing tmpfs", []manifest.Mount{mountTmpfs("/t1"), bindMount(src, "/t1/in", true)}, false, "cat /t1/in/in.txt", "from host"},
		{"a target below a mount given after it", []manifest.Mount{bindMount(src, "/m/n/o", true), mountTmpfs("/m")}, false, "cat /m/n/o/in.txt", "from host"},
		{"existing targets", []manifest.Mount{mountTmpfs("/tmp"), bindMount(src, "/etc", true)}, false, "cat /etc/in.txt", "from host"},
		{"read-only jail, existing target", []manifest.Mount{mountTmpfs("/tmp")}, true, "touch /tmp/x && echo wrote", "wrote"},
	}
	// With a fresh root the targets are made in its upper layer, and
	// with --persist in the tree, to be removed after the run.
	for _, persist := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/persist=%v", tt.name, persist), func(t *testing.T) {
				before := treeListing(t, dir)
				code, out, err := runIn(t, dir, func(o *Options) {
					o.Mounts = append(o.Mounts, tt.mounts...)
					o.Readonly = tt.ro
					o.Persist = persist
				}, "bash", "-c", tt.cmd)
				if code != 0 || err != nil || !strings.Contains(out, tt.want) {
					t.Errorf("exit %d, %v, output %q; want %q", code, err, out, tt.want)
				}
				assertTreeAsBuilt(t, dir, before)
			})
		}
	}
	t.Run("with --persist, what the command wrote stays", func(t *testing.T) {
		before := treeListing(t, dir)
		defer os.RemoveAll(filepath.Join(dir, "w"))
		code, out, err := runIn(t, dir, func(o *Options) {
			o.Mounts = append(o.Mounts, bindMount(src, "/w/x", true))
			o.Persist = true
		}, "bash", "-c", "echo kept > /w/file")
		if code != 0 || err != nil {
			t.Fatalf("exit %d, %v, %q", code, err, out)
		}
		// /w holds the command's file, so it stays; /w/x was empty.
		want := append(slices.Clone(before), "w drwxr-xr-x", "w/file -rw-r--r--")
		slices.Sort(want)
		if got := treeListing(t, dir); !slices.Equal(got, want) {
			t.Errorf("tree after = %q, want %q", got, want)
		}
	})
}

// TestEnterConcurrentMissingTarget: two --persist runs that bind the same missing
// target both get it; the first to end leaves it to the other, and the
// last removes it.
func TestEnterConcurrentMissingTarget(t *testing.T) {
	dir := realJailDir(t)
	src := t.TempDir()
	for _, f := range []string{"first", "second"} {
		if err := unix.Mkfifo(filepath.Join(src, f), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	before := treeListing(t, dir)
	bind := func(o *Options) {
		o.Persist = true
		o.Mounts = append(o.Mounts, bindMount(src, "/shared/target", false))
		o.Limits.Timeout = time.Minute // a run stuck on a FIFO is a failure, not a stuck test
	}
	type result struct {
		code int
		out  string
		err  error
	}
	reader, writer := make(chan result, 1), make(chan result, 1)
	go func() {
		// Blocks on the first FIFO until the writer run opens it, then on
		// the second until the test writes it, after the writer ended;
		// then its mount must still be there.
		code, out, err := runIn(t, dir, bind, "bash", "-c", "cat /shared/target/first; cat /shared/target/second; ls /shared/target")
		reader <- result{code, out, err}
	}()
	go func() {
		code, out, err := runIn(t, dir, bind, "bash", "-c", "echo from-the-writer > /shared/target/first")
		writer <- result{code, out, err}
	}()
	w := <-writer
	if w.code != 0 || w.err != nil {
		t.Errorf("writer run: exit %d, %v, %q", w.code, w.err, w.out)
	}
	// The reader still runs (it waits for "second"): the target stays.
	if fi, err := os.Lstat(filepath.Join(dir, "shared/target")); err != nil || !fi.IsDir() {
		t.Errorf("the target went while a run still used it: %v", err)
	}
	second := filepath.Join(src, "second")
	wrote := make(chan error, 1)
	go func() { wrote <- os.WriteFile(second, []byte("from-the-test\n"), 0o644) }()
	r := <-reader
	// A reader run that ended without opening the FIFO would leave the
	// write waiting: be its reader then.
	if f, err := os.OpenFile(second, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
		if err := <-wrote; err != nil {
			t.Error(err)
		}
		f.Close()
	}
	if r.code != 0 || r.err != nil || r.out != "from-the-writer\nfrom-the-test\nfirst\nsecond\n" {
		t.Errorf("reader run: exit %d, %v, %q", r.code, r.err, r.out)
	}
	assertTreeAsBuilt(t, dir, before)
	assertNoMountsUnder(t, dir)
}

// TestEnterKilledLeavesTargetsToTheNextRun: a jailer killed during a --persist run
// cannot remove what it made; the next run that ends alone does.
func TestEnterKilledLeavesTargetsToTheNextRun(t *testing.T) {
	dir := realJailDir(t)
	before := treeListing(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "bash", "-c", "echo ready; exec sleep 1000")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+dir, "JAILER_TEST_BIND="+t.TempDir()+":/killed/target", "JAILER_TEST_PERSIST=1")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Lstat(filepath.Join(dir, "killed/target")); err != nil {
		t.Errorf("the killed run's target is not there to clean up: %v", err)
	}
	if code, out, err := runIn(t, dir, func(o *Options) { o.Persist = true }, "true"); code != 0 || err != nil {
		t.Fatalf("next run: exit %d, %v, %q", code, err, out)
	}
	assertTreeAsBuilt(t, dir, before)
}

// newTargetTree is a directory standing for a jail tree, with one built
// directory, /built.
func newTargetTree(t *testing.T) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "jail")
	if err := os.MkdirAll(filepath.Join(tree, "built"), 0o755); err != nil {
		t.Fatal(err)
	}
	return tree
}

func claim(t *testing.T, tree string, targets ...string) *targetClaim {
	t.Helper()
	c, err := claimTargets(tree, targets, nil, true)
	if err != nil {
		t.Fatalf("claimTargets(%s, %q) = %v", tree, targets, err)
	}
	return c
}

func TestClaimTargets(t *testing.T) {
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	t.Run("the last run removes what the first made", func(t *testing.T) {
		tree := newTargetTree(t)
		before := treeListing(t, tree)
		first := claim(t, tree, "/x/y", "/built")
		second := claim(t, tree, "/x/y")
		if !exists(filepath.Join(tree, "x/y")) || !exists(targetsPath(tree)) {
			t.Fatal("the target or the journal was not made")
		}
		first.release()
		if !exists(filepath.Join(tree, "x/y")) {
			t.Fatal("the first run to end removed a target the second still uses")
		}
		second.release()
		if got := treeListing(t, tree); !slices.Equal(got, before) {
			t.Errorf("tree after = %q, want %q", got, before)
		}
		if exists(targetsPath(tree)) {
			t.Error("the journal is left")
		}
	})
	t.Run("a killed run's targets go with the next", func(t *testing.T) {
		tree := newTargetTree(t)
		killed := claim(t, tree, "/k")
		unix.Close(killed.root) // what the kernel does to a killed process's files
		if !exists(filepath.Join(tree, "k")) {
			t.Fatal("the target was not made")
		}
		claim(t, tree).release()
		if exists(filepath.Join(tree, "k")) || exists(targetsPath(tree)) {
			t.Error("the next run to end alone did not remove what the killed one made")
		}
	})
	t.Run("only empty, unchanged directories reached without symlinks are removed", func(t *testing.T) {
		tree := newTargetTree(t)
		outside := t.TempDir()
		c := claim(t, tree, "/full/sub", "/moved/t", "/replaced")
		// The command wrote into a directory that was made.
		os.WriteFile(filepath.Join(tree, "full/file"), nil, 0o644)
		// /moved (with the very directory t made in it) now lies outside,
		// and a symlink leads there: it must not be followed.
		if err := os.Rename(filepath.Join(tree, "moved"), filepath.Join(outside, "moved")); err != nil {
			t.Fatal(err)
		}
		os.Symlink(filepath.Join(outside, "moved"), filepath.Join(tree, "moved"))
		// Another directory, not the one made, now has the name.
		os.Rename(filepath.Join(tree, "replaced"), filepath.Join(tree, "replaced-old"))
		os.Mkdir(filepath.Join(tree, "replaced"), 0o755)
		c.release()
		for _, p := range []string{"full", "full/file", "moved", "replaced", "replaced-old", "built"} {
			if !exists(filepath.Join(tree, p)) {
				t.Errorf("/%s was removed", p)
			}
		}
		if exists(filepath.Join(tree, "full/sub")) {
			t.Error("/full/sub, made and empty, is left")
		}
		if !exists(filepath.Join(outside, "moved/t")) {
			t.Error("a directory outside the tree was removed through a symlink")
		}
	})
	t.Run("a journal of another tree is not applied", func(t *testing.T) {
		tree := newTargetTree(t)
		old := claim(t, tree, "/o")
		unix.Close(old.root)
		// A rebuild puts another tree in its place, with an empty /o.
		os.Rename(tree, tree+"-old")
		os.MkdirAll(filepath.Join(tree, "o"), 0o755)
		claim(t, tree).release()
		if !exists(filepath.Join(tree, "o")) {
			t.Error("the new tree's /o was removed by the old tree's records")
		}
		if exists(targetsPath(tree)) {
			t.Error("the journal of a tree no longer there is left")
		}
	})
	t.Run("a run of a replaced tree leaves the new tree's journal alone", func(t *testing.T) {
		tree := newTargetTree(t)
		old := claim(t, tree, "/a")
		os.Rename(tree, tree+"-old") // a rebuild swaps in another tree
		os.MkdirAll(tree, 0o755)
		cur := claim(t, tree, "/b")
		old.release()
		if !exists(filepath.Join(tree, "b")) || !exists(targetsPath(tree)) {
			t.Fatal("the end of a run of the old tree took the new tree's target or journal")
		}
		cur.release()
		if exists(filepath.Join(tree, "b")) || exists(targetsPath(tree)) {
			t.Error("the new tree's target or journal is left")
		}
	})
	t.Run("a run that makes nothing writes nothing", func(t *testing.T) {
		tree := newTargetTree(t)
		before := treeListing(t, filepath.Dir(tree))
		c := claim(t, tree, "/built")
		if got := treeListing(t, filepath.Dir(tree)); !slices.Equal(got, before) {
			t.Errorf("while it runs: %q, want %q", got, before)
		}
		c.release()
		if got := treeListing(t, filepath.Dir(tree)); !slices.Equal(got, before) {
			t.Errorf("after it ran: %q, want %q", got, before)
		}
	})
	t.Run("no journal possible", func(t *testing.T) {
		tree := newTargetTree(t)
		os.Mkdir(targetsPath(tree), 0o755) // open(2) fails: a directory
		c, err := claimTargets(tree, []string{"/built"}, nil, true)
		if err != nil {
			t.Errorf("nothing to make, yet claimTargets = %v", err)
		} else {
			c.release()
		}
		if _, err := claimTargets(tree, []string{"/new"}, nil, true); err == nil || !strings.Contains(err.Error(), "mount targets /new in "+tree+": open "+targetsPath(tree)+": is a directory (add them under dirs: and rebuild)") {
			t.Errorf("a target to make and no journal: claimTargets = %v, want an error", err)
		}
		if exists(filepath.Join(tree, "new")) {
			t.Error("a target was made without a record")
		}
	})
	t.Run("read-only: nothing made", func(t *testing.T) {
		tree := newTargetTree(t)
		c, err := claimTargets(tree, []string{"/new"}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(tree, "new")) {
			t.Error("a target was made in a read-only jail")
		}
		c.release()
	})
	t.Run("a symlink on the way is not followed", func(t *testing.T) {
		tree := newTargetTree(t)
		outside := t.TempDir()
		os.Symlink(outside, filepath.Join(tree, "link"))
		claim(t, tree, "/link/x").release()
		if exists(filepath.Join(outside, "x")) {
			t.Error("a target was made outside the tree through a symlink")
		}
	})
}

func TestClaimTargetsRefusesAJournalNotItsOwn(t *testing.T) {
	testutil.RequireRoot(t)
	tree := newTargetTree(t)
	os.WriteFile(targetsPath(tree), nil, 0o600)
	os.Chown(targetsPath(tree), 1000, 1000)
	_, err := claimTargets(tree, []string{"/new"}, nil, true)
	if err == nil || !strings.Contains(err.Error(), "is not jailer's own (owned by uid 1000") {
		t.Errorf("claimTargets with a journal of uid 1000 = %v, want a refusal", err)
	}
}
