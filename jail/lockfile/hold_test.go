package lockfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jailer-dev/jailer/jail/lockfile"

	"golang.org/x/sys/unix"
)

// held says whether a run holds the directory at p, asked through a
// descriptor of its own.
func held(t *testing.T, p string) bool {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	h, err := lockfile.TreeHeld(fd)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHoldFollowsTheTree: a hold is on the tree, not on its path: the
// tree stays held when a build moves it aside, and the tree put at the
// path is not held; Release ends it.
func TestHoldFollowsTheTree(t *testing.T) {
	dir := t.TempDir()
	tree, moved := filepath.Join(dir, "jail"), filepath.Join(dir, ".jail.jailer-old-0123456789ab")
	os.Mkdir(tree, 0o755)
	if held(t, tree) {
		t.Fatal("a tree no run entered is held")
	}
	h := lockfile.HoldTree(tree)
	if !h.Held() || !held(t, tree) {
		t.Fatalf("after HoldTree, Held() = %v and TreeHeld = %v; want both true", h.Held(), held(t, tree))
	}
	if _, err := os.Lstat(lockfile.MutexPath(tree)); err == nil {
		t.Error("HoldTree made a mutex file beside a directory that is not a jail")
	}
	os.Rename(tree, moved)
	os.Mkdir(tree, 0o755)
	if !held(t, moved) || held(t, tree) {
		t.Errorf("after the tree was moved: old held %v, new held %v; want true, false", held(t, moved), held(t, tree))
	}
	h.Started() // the swap lock goes, the hold stays
	if !held(t, moved) {
		t.Error("Started released the hold")
	}
	h.Release()
	if held(t, moved) {
		t.Error("the tree is held after Release")
	}
	h.Release() // a second time does nothing
}

// TestSwapWaitsForStartingRuns: a build cannot swap while a run is
// starting (between HoldTree and Started), and can once it has started;
// other runs do not keep each other out.
func TestSwapWaitsForStartingRuns(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "jail")
	os.Mkdir(tree, 0o755)
	os.WriteFile(lockfile.Path(tree), []byte("{}"), 0o644) // a jail, of a jailer without a mutex file
	starting := lockfile.HoldTree(tree)
	defer starting.Release()
	other := lockfile.HoldTree(tree) // does not wait for the first
	other.Started()
	defer other.Release()
	mu, err := unix.Open(lockfile.MutexPath(tree), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("HoldTree made no mutex file beside the tree: %v", err)
	}
	defer unix.Close(mu)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lockfile.LockSwap(done, mu); !errors.Is(err, context.Canceled) {
		t.Fatalf("LockSwap while a run is starting = %v, want it to wait (here: give up, canceled)", err)
	}
	starting.Started()
	unlock, err := lockfile.LockSwap(context.Background(), mu)
	if err != nil {
		t.Fatalf("LockSwap once the runs started = %v", err)
	}
	unlock()
	if !held(t, tree) {
		t.Error("the runs no longer hold the tree")
	}
}

// TestMutexPath names the file beside the output, whatever the output's
// path looks like.
func TestMutexPath(t *testing.T) {
	for _, c := range []struct{ out, want string }{
		{"/srv/jail", "/srv/.jail.jailer.flock"},
		{"/srv/jail/", "/srv/.jail.jailer.flock"},
		{"rel/j*", "rel/.j*.jailer.flock"},
	} {
		if got := lockfile.MutexPath(c.out); got != c.want {
			t.Errorf("MutexPath(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}
