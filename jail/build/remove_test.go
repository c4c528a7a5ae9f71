package build

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveAllRacingSymlinks: the old tree a rebuild deletes may still be
// in use by a jail entered before, whose processes can swap a directory
// for a symlink to a host directory while the tree is removed. Nothing on
// the host is deleted through such a symlink.
func TestRemoveAllRacingSymlinks(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	os.Mkdir(victim, 0o755)
	var want []string
	for i := range 20 {
		p := filepath.Join(victim, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, []byte("host"), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	for round := range 8 {
		tree := filepath.Join(base, fmt.Sprintf("tree%d", round))
		const dirs = 20
		for d := range dirs {
			sub := filepath.Join(tree, fmt.Sprintf("d%d", d))
			os.MkdirAll(sub, 0o755)
			for f := range 10 {
				os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", f)), nil, 0o644)
			}
			os.Symlink(victim, filepath.Join(tree, fmt.Sprintf("l%d", d)))
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the jail's process
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				d := i % dirs
				unix.Renameat2(unix.AT_FDCWD, filepath.Join(tree, fmt.Sprintf("d%d", d)),
					unix.AT_FDCWD, filepath.Join(tree, fmt.Sprintf("l%d", d)), unix.RENAME_EXCHANGE)
			}
		}()
		RemoveAll(tree)
		stop.Store(true)
		wg.Wait()
		RemoveAll(tree)
		for _, p := range want {
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("round %d: ESCAPE: the host file %s was deleted through a symlink in the tree: %v", round, p, err)
			}
		}
		if _, err := os.Lstat(tree); err == nil {
			t.Errorf("round %d: RemoveAll left %s", round, tree)
		}
	}
}
