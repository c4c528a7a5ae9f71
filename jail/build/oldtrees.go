package build

// Old trees: what a build swaps out of the output, and what builds left.
//
// A build swaps its new tree in and the old one out (swapIn), renames the
// old one, still holding the output's mutex, to .NAME.jailer-old-XXXXXXXXXXXX
// beside the output (retire), and, once it has let the mutex go, deletes
// it, unless a run still holds it (lockfile.Hold): a running jail keeps
// its tree whole, with what it mounted there, until it ends. The next
// build of the output, or `jailer gc`, deletes every such tree that no run
// holds any more (sweep). A deleter takes the tree's flock(2), exclusive
// and without waiting, so that two jailers never delete one tree together.
//
// Staging trees of interrupted builds (and the old tree that an
// interrupted swap left under a staging name), and their locks, go the
// same way, but only with the output's mutex held: without it, a staging
// tree may be a build in progress.

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/store"

	"golang.org/x/sys/unix"
)

// Removed is a leftover that was deleted.
type Removed struct {
	Path string `json:"path"`
	// Bytes is the disk space freed.
	Bytes int64 `json:"bytes"`
}

// Kept is a leftover that was left alone, and why.
type Kept struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}

// Collected says what a sweep of leftovers did.
type Collected struct {
	Removed []Removed `json:"removed"`
	Kept    []Kept    `json:"kept"`
	// Bytes is the disk space freed in all, the store's included.
	Bytes int64 `json:"bytes"`
	// Store says what was swept in the store (GCStore), when there is one.
	Store *store.Swept `json:"store,omitempty"`
}

// String is what `jailer gc` prints: a line per leftover, the store's
// line, then the total.
func (c *Collected) String() string {
	if len(c.Removed)+len(c.Kept) == 0 && (c.Store == nil || c.Store.Removed == 0) {
		if c.Store != nil {
			return c.Store.String() + "\nnothing to remove"
		}
		return "nothing to remove"
	}
	var b strings.Builder
	for _, r := range c.Removed {
		fmt.Fprintf(&b, "removed %s (%s)\n", r.Path, human.Bytes(r.Bytes))
	}
	for _, k := range c.Kept {
		fmt.Fprintf(&b, "kept %s: %s\n", k.Path, k.Why)
	}
	if c.Store != nil {
		fmt.Fprintln(&b, c.Store)
	}
	fmt.Fprintf(&b, "freed %s: %d removed, %d kept", human.Bytes(c.Bytes), len(c.Removed), len(c.Kept))
	if c.Store != nil && c.Store.Removed > 0 {
		fmt.Fprintf(&b, ", %d store files removed", c.Store.Removed)
	}
	return b.String()
}

// outcome is what became of one leftover: removed, kept (why says why),
// or neither (it was gone already).
type outcome struct {
	removed bool
	freed   int64
	why     string
}

// add records what became of the leftover p.
func (c *Collected) add(p string, o outcome) {
	switch {
	case o.removed:
		c.Removed = append(c.Removed, Removed{Path: p, Bytes: o.freed})
		c.Bytes += o.freed
	case o.why != "":
		c.Kept = append(c.Kept, Kept{Path: p, Why: o.why})
		c.Bytes += o.freed
	}
}

// retire gives the old tree that swapIn left at staging its name as an
// old tree of out, and returns that name ("" when there was no old tree;
// staging when it cannot be renamed: the next build removes it as a
// staging tree). Its caller holds the output's mutex.
func retire(staging, out string) string {
	if _, err := os.Lstat(staging); err != nil {
		return ""
	}
	for range 5 {
		old := oldPrefix(out) + randomSuffix()
		if unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, old, unix.RENAME_NOREPLACE) == nil {
			return old
		}
	}
	return staging
}

// sweep deletes the leftovers of out that no run holds; staging trees and
// their locks only when mutexHeld says the caller holds the output's mutex.
func sweep(out string, mutexHeld bool) *Collected {
	c := &Collected{}
	for _, p := range leftovers(out) {
		var o outcome
		switch {
		case strings.HasPrefix(p, stagingPrefix(out)) && !mutexHeld:
			o.why = "a build of " + out + " is running"
		case strings.HasSuffix(p, ".lock"):
			o = removeFile(p)
		default:
			o = removeIfFree(p)
		}
		c.add(p, o)
	}
	return c
}

// removeIfFree deletes the tree p (RemoveAll) unless a run holds it or
// another jailer is deleting it.
func removeIfFree(p string) outcome {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return outcome{}
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		return removeFile(p) // not a tree: something with a leftover's name
	case err != nil:
		return outcome{why: (&os.PathError{Op: "open", Path: p, Err: err}).Error()}
	}
	defer unix.Close(fd)
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return outcome{why: "another jailer is using it"}
	}
	if held, err := lockfile.TreeHeld(fd); err != nil || held {
		return outcome{why: "a running jail uses it"}
	}
	freed, gone := removeTree(p)
	if !gone {
		return outcome{freed: freed, why: "not all of it could be removed (is something mounted in it?)"}
	}
	return outcome{removed: true, freed: freed}
}

// removeFile deletes the file p, a leftover lock.
func removeFile(p string) outcome {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return outcome{}
	}
	if err := unix.Unlink(p); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return outcome{}
		}
		return outcome{why: (&os.PathError{Op: "remove", Path: p, Err: err}).Error()}
	}
	return outcome{removed: true, freed: st.Blocks * 512}
}
