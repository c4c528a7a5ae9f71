package build

// Writing the file entries of a plan: several at once, each copied from the
// host (copy.go), hardlinked to it, linked from the store (store.go), or
// written from the manifest's content, and recorded in the lock with its
// size, sha256 and stats.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/jail/planner"
	"github.com/jailer-dev/jailer/jail/store"

	"golang.org/x/sys/unix"
)

// copyJob writes the file entries of a plan into the staging tree,
// several at once.
type copyJob struct {
	root  *os.Root           // the staging tree
	plan  *plan.Plan         // the plan applied
	files []int              // the indexes in plan.Entries of the files
	lock  *lockfile.Lock     // lock.Entries[i] records plan.Entries[i] as written
	total int64              // the bytes of all the files, for opts.Progress
	opts  Options            // the build's options
	cache *elfdeps.HostCache // the sums of host files hashed before
	sum   *Summary           // gets the counts
	// store is the content store of a build with --link store, nil
	// otherwise; linkable says its files can be linked into the tree.
	store    *store.Store
	linkable bool
	dirs     map[string]*os.File // the staging tree's directories, by path (guarded by mu)

	mu       sync.Mutex // guards firstErr and calls of opts.Progress
	firstErr error
	bytes    atomic.Int64
	progress atomic.Int64
	linked   atomic.Int64
	stored   atomic.Int64
	// storeAdded counts the store files this build added (or replaced).
	storeAdded atomic.Int64
}

// run writes the files. An interrupt (ctx done) stops each copy within a
// chunk and the build with an error wrapping the context's.
func (j *copyJob) run(ctx context.Context) error {
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(4, 2*runtime.NumCPU()) {
		wg.Go(func() { j.worker(ctx, work) })
	}
	j.dispatch(ctx, work)
	close(work)
	wg.Wait()
	for _, d := range j.dirs {
		d.Close()
	}
	if ctx.Err() != nil {
		// Whatever each copy said, the build stopped because it was told to.
		return fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	if j.firstErr != nil {
		return j.firstErr
	}
	sum := j.sum
	sum.Files = len(j.files)
	sum.Linked = int(j.linked.Load())
	sum.Stored = int(j.stored.Load())
	sum.StoreAdded = int(j.storeAdded.Load())
	sum.Bytes = j.bytes.Load()
	if j.opts.Link == lockfile.LinkHardlink && sum.Linked < sum.Files {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%d of %d files were copied, not hardlinked (generated, another filesystem, or their mode or owner differs from the host's)", sum.Files-sum.Linked, sum.Files))
	}
	return nil
}

// dispatch hands the files to the workers until they are all given out, one
// failed, or ctx is done.
func (j *copyJob) dispatch(ctx context.Context, work chan<- int) {
	for _, i := range j.files {
		if ctx.Err() != nil {
			return
		}
		j.mu.Lock()
		failed := j.firstErr != nil
		j.mu.Unlock()
		if failed {
			return
		}
		select {
		case work <- i:
		case <-ctx.Done():
			return
		}
	}
}

// worker writes the files it is handed, keeping the first error.
func (j *copyJob) worker(ctx context.Context, work <-chan int) {
	var report func(int64)
	if j.opts.Progress != nil {
		report = j.report
	}
	buf := make([]byte, 256<<10)
	for i := range work {
		le := &j.lock.Entries[i]
		var wasLinked, wasStored bool
		var err error
		if j.store != nil {
			wasStored, err = j.storeFile(ctx, j.plan.Entries[i], le, buf, report)
		} else {
			wasLinked, err = writeFile(ctx, j.root, j.plan.Entries[i], le, j.opts.Link == lockfile.LinkHardlink, buf, j.cache, report)
		}
		if err != nil {
			j.mu.Lock()
			if j.firstErr == nil {
				j.firstErr = err
			}
			j.mu.Unlock()
			continue
		}
		if wasLinked {
			j.linked.Add(1)
		}
		if wasStored {
			j.stored.Add(1)
		}
		j.bytes.Add(le.Size)
	}
}

// report tells opts.Progress of n more bytes done.
func (j *copyJob) report(n int64) {
	done := j.progress.Add(n)
	j.mu.Lock()
	j.opts.Progress(done, j.total)
	j.mu.Unlock()
}

// writeFile creates one file entry in root, recording its size, sha256 and
// stats in le. With hardlink set it links the host file instead of copying
// when that gives the same file (same mode and owner, same filesystem).
// report, when not nil, is told of the bytes done as they are done.
func writeFile(ctx context.Context, root *os.Root, e plan.Entry, le *lockfile.Entry, hardlink bool, buf []byte, cache *elfdeps.HostCache, report func(int64)) (linked bool, err error) {
	rel := relPath(e.Dest)
	if e.Source == "" {
		if err := writeContent(root, rel, e, le); err != nil {
			return false, err
		}
		if report != nil {
			report(le.Size)
		}
		return false, nil
	}
	src, err := os.Open(e.Source)
	if err != nil {
		return false, fmt.Errorf("copy %s: %w", e.Source, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return false, fmt.Errorf("copy %s: %w", e.Source, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("copy %s: not a regular file", e.Source)
	}
	le.SourceStat = lockfile.StatOf(fi)
	cached, haveSum := cache.SHA(e.Source, le.SourceStat)
	var h hash.Hash
	if !haveSum {
		h = sha256.New()
	}
	if hardlink && canHardlink(fi, e) {
		if err := linkInto(root, rel, e.Source); err == nil {
			le.Size, le.SHA256, le.Linked = fi.Size(), cached, true
			if haveSum {
				if report != nil {
					report(fi.Size())
				}
			} else {
				if err := copyContent(ctx, nil, src, fi, h, buf, report); err != nil {
					return false, fmt.Errorf("hash %s: %w", e.Source, err)
				}
				le.SHA256 = hex.EncodeToString(h.Sum(nil))
				cache.PutSHA(e.Source, le.SourceStat, le.SHA256)
			}
			if tfi, err := root.Lstat(rel); err == nil {
				le.TreeStat = lockfile.TreeStatOf(tfi)
			}
			return true, nil
		} else if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EPERM) {
			return false, err
		}
	}
	dst, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", e.Source, e.Dest, err)
	}
	// With the sum known (h nil) the kernel copies the data alone.
	err = copyContent(ctx, dst, src, fi, h, buf, report)
	if err == nil {
		err = finish(dst, e, le)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", e.Source, e.Dest, err)
	}
	le.Size, le.SHA256 = fi.Size(), cached
	if !haveSum {
		le.SHA256 = hex.EncodeToString(h.Sum(nil))
		cache.PutSHA(e.Source, le.SourceStat, le.SHA256)
	}
	return false, nil
}

// finish sets owner and mode of a freshly written file (owner first: chown
// clears setuid bits) and records its stat.
func finish(f *os.File, e plan.Entry, le *lockfile.Entry) error {
	if (e.UID != 0 || e.GID != 0) && !lockfile.BuildsRootless() {
		if err := f.Chown(e.UID, e.GID); err != nil {
			return err
		}
	}
	if err := f.Chmod(e.Mode); err != nil {
		return err
	}
	// A copy keeps its source's mtime, as cp -p does: Python compares .pyc
	// files with their sources by mtime, and make compares targets.
	if le.SourceStat.Mtime != 0 {
		ts := []unix.Timespec{unix.NsecToTimespec(le.SourceStat.Mtime), unix.NsecToTimespec(le.SourceStat.Mtime)}
		if err := unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH); err != nil {
			return err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	le.TreeStat = lockfile.TreeStatOf(fi)
	return nil
}

func writeContent(root *os.Root, rel string, e plan.Entry, le *lockfile.Entry) error {
	dst, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", e.Dest, err)
	}
	_, err = dst.Write(e.Content)
	if err == nil {
		err = finish(dst, e, le)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", e.Dest, err)
	}
	sum := sha256.Sum256(e.Content)
	le.Size, le.SHA256 = int64(len(e.Content)), hex.EncodeToString(sum[:])
	return nil
}

// canHardlink says whether linking the host file gives exactly the entry:
// same permission bits (setuid not stripped) and owner.
func canHardlink(fi os.FileInfo, e plan.Entry) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && planner.HostMode(fi, true) == e.Mode && int(st.Uid) == e.UID && int(st.Gid) == e.GID
}

// linkInto hardlinks the host file src at rel inside root. The new name is
// created with linkat on a directory fd from root, so it cannot land
// outside the jail.
func linkInto(root *os.Root, rel, src string) error {
	dir, err := root.Open(path.Dir(rel))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Linkat(unix.AT_FDCWD, src, int(dir.Fd()), path.Base(rel), 0); err != nil {
		return &os.LinkError{Op: "link", Old: src, New: rel, Err: err}
	}
	return nil
}
