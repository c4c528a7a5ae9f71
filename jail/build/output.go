package build

// The output directory and its neighbours: the mutex that makes builds of
// one output take turns, the staging trees and the names of what builds
// left (oldtrees.go removes them), the check that an output is a jail, and
// the swap.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jailer-dev/jailer/jail/lockfile"

	"golang.org/x/sys/unix"
)

// outputMutex makes builds of one output take turns: flock(2) on a hidden
// file beside it, lockfile.MutexPath. The kernel releases it when the
// process dies, so a build killed with SIGKILL never blocks the next one.
type outputMutex struct {
	fd   int
	once sync.Once
}

// openMutex opens the mutex of out, not yet taken.
func openMutex(out string) (*outputMutex, error) {
	name := lockfile.MutexPath(out)
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open build mutex", Path: name, Err: err}
	}
	return &outputMutex{fd: fd}, nil
}

// acquireOutput waits until no other build holds out, calling waiting once
// if it must, and returns the held mutex. It gives up when ctx is done.
func acquireOutput(ctx context.Context, out string, waiting func()) (*outputMutex, error) {
	mu, err := openMutex(out)
	if err != nil {
		return nil, err
	}
	if unix.Flock(mu.fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
		return mu, nil
	}
	if waiting != nil {
		waiting()
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(mu.fd, unix.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			mu.release()
			return nil, &os.PathError{Op: "flock", Path: lockfile.MutexPath(out), Err: err}
		}
		return mu, nil
	case <-ctx.Done():
		mu.release()
		return nil, ctx.Err()
	}
}

// tryOutput takes the mutex of out if no build holds it, and returns nil
// (and no error) if one does.
func tryOutput(out string) (*outputMutex, error) {
	mu, err := openMutex(out)
	if err != nil {
		return nil, err
	}
	if unix.Flock(mu.fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		mu.release()
		return nil, nil
	}
	return mu, nil
}

// release lets the next build of the output go; a second call does nothing.
func (mu *outputMutex) release() {
	mu.once.Do(func() { unix.Close(mu.fd) })
}

// stagingPrefix starts the names of the build's temporary directories,
// beside the output.
func stagingPrefix(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".jailer-staging-")
}

// randomSuffix ends a staging directory's name: 12 hex digits.
func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// oldPrefix starts the names of old trees that builds swapped out of out
// and could not delete (a run still held them), beside the output.
func oldPrefix(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".jailer-old-")
}

// leftovers lists what builds of out left beside it: staging trees of
// interrupted builds (and, after an interrupted swap, the previous tree)
// and their locks, and old trees (see oldtrees.go). Names are matched
// exactly — the prefix, 12 hex digits, maybe ".lock" — never as a glob, so
// another output's files are never taken for them.
func leftovers(out string) []string {
	var found []string
	ents, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range ents {
		if isLeftoverOf(out, e.Name()) {
			found = append(found, filepath.Join(filepath.Dir(out), e.Name()))
		}
	}
	return found
}

// isLeftoverOf says whether name, in the directory of out, is one of its
// leftovers.
func isLeftoverOf(out, name string) bool {
	for _, prefix := range []string{stagingPrefix(out), oldPrefix(out)} {
		rest, ok := strings.CutPrefix(name, filepath.Base(prefix))
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".lock")
		if _, err := hex.DecodeString(rest); err == nil && len(rest) == 12 {
			return true
		}
	}
	return false
}

// checkOutput refuses to replace an output that is not a jailer jail
// (unless forced) and returns the lock of the jail there, if any. A lock
// only vouches for the tree it was written for (its TreeID): a directory
// put in the jail's place since is not a jail, unless an interrupted build
// swapped it in and died before renaming its lock (that lock is left over).
func checkOutput(out string, force bool) (*lockfile.Lock, error) {
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, _ := lockfile.TreeIDOf(out)
	lock, lerr := lockfile.ReadForCheck(out) // what Staleness needs, which is all a build uses of it
	if lerr == nil && lock.Tree != id {
		if left, err := leftoverLock(out, id); err == nil {
			return left, nil
		}
		lerr = fmt.Errorf("%s: %w (it is not the directory its lock was written for)", out, lockfile.ErrNotAJail)
	}
	if lerr == nil {
		return lock, nil
	}
	if force {
		return nil, nil
	}
	if !errors.Is(lerr, lockfile.ErrNotAJail) {
		return nil, lerr
	}
	if fi.IsDir() {
		if ents, err := os.ReadDir(out); err == nil && len(ents) == 0 {
			// Nothing to lose. A lock that does not describe it stays,
			// for Staleness to say so.
			return lock, nil
		}
	}
	return nil, fmt.Errorf("%s exists and is %w (no %s beside it that matches it): choose another output, or pass --force to replace it",
		out, lockfile.ErrNotAJail, filepath.Base(lockfile.Path(out)))
}

// leftoverLock finds, among the leftovers of out, the lock of the tree id
// that an interrupted build swapped in, and finishes that build's work by
// renaming it beside out.
func leftoverLock(out string, id lockfile.TreeID) (*lockfile.Lock, error) {
	for _, l := range leftovers(out) {
		if data, err := os.ReadFile(l); strings.HasSuffix(l, ".lock") && err == nil {
			if left, err := lockfile.Unmarshal(data); err == nil && left.Tree == id {
				if err := os.Rename(l, lockfile.Path(out)); err == nil {
					return left, nil
				}
			}
		}
	}
	return nil, fs.ErrNotExist
}

// swapIn puts the staged tree at out and its lock beside it. With an old
// tree there, renameat2(RENAME_EXCHANGE) swaps both in one step, so out is
// at every moment either the old jail or the new one; the old tree is then
// at staging. It holds the swap lock (lockfile.LockSwap) on mu meanwhile,
// so that a run starting in the old tree mounts the tree it holds.
func swapIn(ctx context.Context, mu *outputMutex, staging, out string, lock *lockfile.Lock) error {
	id, err := lockfile.TreeIDOf(staging)
	if err != nil {
		return err
	}
	lock.Tree = id
	lock.Built = time.Now().UTC()
	data, err := json.Marshal(lock)
	if err != nil {
		return err
	}
	tmp := staging + ".lock"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	unlock, err := lockfile.LockSwap(ctx, mu.fd)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("swap in %s: %w", out, err)
	}
	defer func() { unlock() }()
	_, err = os.Lstat(out)
	switch {
	case err == nil:
		err = unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, out, unix.RENAME_EXCHANGE)
	case errors.Is(err, fs.ErrNotExist):
		err = unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, out, unix.RENAME_NOREPLACE)
	}
	if err != nil {
		os.Remove(tmp)
		return &os.LinkError{Op: "swap in", Old: staging, New: out, Err: err}
	}
	err = os.Rename(tmp, lockfile.Path(out))
	unlock() // runs may start: what follows is for up-to-date checks, which hold the output
	unlock = func() {}
	if err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	lockfile.WriteCheck(out, data) // without it, up-to-date checks read the lock
	return nil
}
