package build

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
)

// motdManifest writes m.yaml in dir: a jail whose /etc/motd says text.
func motdManifest(t *testing.T, dir, text string) string {
	return testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{dest: /etc/motd, content: \""+text+"\"}]\n")
}

// TestBuildKeepsAHeldOldTree: a rebuild leaves the tree a run holds whole,
// under an old tree's name, and deletes an old tree no run holds; once
// the run lets go, the next build deletes the rest.
func TestBuildKeepsAHeldOldTree(t *testing.T) {
	dir := t.TempDir()
	m := motdManifest(t, dir, "one")
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, Options{})
	first, _ := lockfile.TreeIDOf(out)
	h := lockfile.HoldTree(out)
	h.Started()
	motdManifest(t, dir, "two")
	mustBuild(t, m, Options{})
	mustBuild(t, m, Options{Force: true}) // swaps out "two", which no run holds
	left := leftovers(out)
	if len(left) != 1 || !strings.HasPrefix(left[0], oldPrefix(out)) {
		h.Release()
		t.Fatalf("leftovers while a run holds the first tree = %v, want one old tree", left)
	}
	if id, _ := lockfile.TreeIDOf(left[0]); id != first {
		t.Errorf("the old tree kept is %+v, want the held one %+v", id, first)
	}
	if got, _ := os.ReadFile(filepath.Join(left[0], "etc/motd")); string(got) != "one" {
		t.Errorf("the held tree's /etc/motd = %q, want it whole (one)", got)
	}
	h.Release()
	if sum := mustBuild(t, m, Options{}); !sum.UpToDate {
		t.Errorf("the build after the run let go rebuilt: %s", sum.Reason)
	}
	if left := leftovers(out); len(left) > 0 {
		t.Errorf("leftovers after the run let go and a build ran = %v, want none", left)
	}
}

// TestGCSparesARunningBuild: gc keeps a staging tree while a build of its
// output runs (it may be that build's), and deletes it once none does.
func TestGCSparesARunningBuild(t *testing.T) {
	dir := t.TempDir()
	mustBuild(t, motdManifest(t, dir, "x"), Options{})
	out := filepath.Join(dir, "jail")
	staging := stagingPrefix(out) + "0123456789ab"
	os.MkdirAll(filepath.Join(staging, "etc"), 0o755)
	mu, err := acquireOutput(context.Background(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := GC([]string{out})
	mu.release()
	if err != nil || len(got.Removed) != 0 || len(got.Kept) != 1 || got.Kept[0].Why != "a build of "+out+" is running" {
		t.Fatalf("GC during a build = %+v, %v; want the staging tree kept", got, err)
	}
	got, err = GC([]string{out})
	if err != nil || len(got.Removed) != 1 || got.Removed[0].Path != staging || len(got.Kept) != 0 {
		t.Errorf("GC after the build = %+v, %v; want the staging tree removed", got, err)
	}
}

// TestGCFinishesAnInterruptedSwap: a build killed between its swap and
// the renaming of its lock leaves the lock of the jail under a staging
// name; gc puts it beside the jail rather than delete it.
func TestGCFinishesAnInterruptedSwap(t *testing.T) {
	dir := t.TempDir()
	mustBuild(t, motdManifest(t, dir, "x"), Options{})
	out := filepath.Join(dir, "jail")
	left := stagingPrefix(out) + "0123456789ab.lock"
	if err := os.Rename(lockfile.Path(out), left); err != nil {
		t.Fatal(err)
	}
	got, err := GC([]string{out})
	if err != nil || len(got.Removed)+len(got.Kept) != 0 {
		t.Errorf("GC = %+v, %v; want nothing removed", got, err)
	}
	lock, err := lockfile.Read(out)
	if id, _ := lockfile.TreeIDOf(out); err != nil || lock.Tree != id {
		t.Errorf("after GC the jail's lock is %v; want it back beside the jail", err)
	}
}

// TestOutputsIn finds the outputs that have leftovers in a directory, by
// the exact names builds give them.
func TestOutputsIn(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		".a.jailer-old-0123456789ab", ".a.jailer-staging-0123456789ab.lock", // a, twice
		".b.c.jailer-staging-abcdefabcdef",        // b.c
		".d.jailer-old-0123456789a",               // too short
		".e.jailer-old-0123456789ab.lock.x",       // not a lock's name
		".f.jailer-tmp-0123456789ab",              // not a leftover's kind
		"g.jailer-old-0123456789ab",               // no leading dot
		"..jailer-old-0123456789ab",               // no name
		".h.jailer-old-0123456789ab.jailer.flock", // a mutex file
	} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	got, err := OutputsIn(dir)
	want := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b.c")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("OutputsIn = %q, %v; want %q", got, err, want)
	}
}
