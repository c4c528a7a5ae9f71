package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/store"
)

// GC deletes, beside each output (the path of a jail, or of where one
// was), the old trees that no running jail holds any more, and what
// interrupted builds left, and says what it deleted and what it kept and
// why (see oldtrees.go). What an interrupted build left is kept while a
// build of its output runs.
func GC(outputs []string) (*Collected, error) {
	all := &Collected{Removed: []Removed{}, Kept: []Kept{}}
	seen := map[string]bool{}
	for _, out := range outputs {
		out, err := filepath.Abs(out)
		if err != nil {
			return all, err
		}
		if seen[out] || len(leftovers(out)) == 0 {
			continue
		}
		seen[out] = true
		mu, err := tryOutput(out)
		if errors.Is(err, fs.ErrPermission) {
			// Another user's jail in a shared directory: theirs to
			// collect; the rest of the directory and the store go on.
			all.Kept = append(all.Kept, Kept{Path: out, Why: "another user's (its owner or root collects it)"})
			continue
		}
		if err != nil {
			return all, fmt.Errorf("gc %s: %w", out, err)
		}
		if mu != nil {
			recoverLock(out)
		}
		c := sweep(out, mu != nil)
		if mu != nil {
			mu.release()
		}
		all.Removed = append(all.Removed, c.Removed...)
		all.Kept = append(all.Kept, c.Kept...)
		all.Bytes += c.Bytes
	}
	return all, nil
}

// recoverLock finishes the work of a build interrupted between its swap
// and the renaming of its lock: the lock of the tree at out is then left
// over, and must not be deleted with the leftovers. Its caller holds the
// output's mutex.
func recoverLock(out string) {
	id, err := lockfile.TreeIDOf(out)
	if err != nil {
		return
	}
	if lock, err := lockfile.ReadHead(out); err == nil && lock.Tree == id {
		return
	}
	leftoverLock(out, id)
}

// GCStore deletes, in the store at dir, the store files that no tree
// links and what interrupted builds left (store.Sweep), and adds it to c.
// Call it after GC: the old trees GC deletes may be the last to link some
// store files. A store that does not exist is no error.
func GCStore(ctx context.Context, c *Collected, dir string) error {
	w, err := store.Sweep(ctx, dir)
	if err != nil || w == nil {
		return err
	}
	c.Store = w
	c.Bytes += w.Bytes
	return nil
}

// OutputsIn lists, sorted, the outputs in dir (jails, or paths where one
// was) that have leftovers beside them.
func OutputsIn(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		i := strings.LastIndex(name, ".jailer-")
		if !strings.HasPrefix(name, ".") || i < 2 {
			continue
		}
		if out := filepath.Join(dir, name[1:i]); isLeftoverOf(out, name) {
			seen[out] = true
		}
	}
	var outs []string
	for out := range seen {
		outs = append(outs, out)
	}
	sort.Strings(outs)
	return outs, nil
}
