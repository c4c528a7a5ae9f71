package build

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

	"golang.org/x/sys/unix"
)

// apply creates the plan's entries in a new staging directory beside out
// and returns the lock describing them. Every write goes through an
// os.Root opened on the staging directory, so no path in the plan, and no
// symlink created by an earlier entry, can make it write elsewhere.
//
// os.Root, not jailfs: jailfs is the one resolver for trees a jail could
// have changed, and it only reads. The staging tree is not such a tree: it
// is made empty here, under a random name, and holds nothing but what this
// build writes from the plan (nothing is reused from the old jail) until it
// is swapped in. What it needs is to create, link, chown and chmod without
// leaving the directory, which is what os.Root does, kept by the standard
// library (it refuses symlinks that lead out and absolute ones).
func apply(ctx context.Context, p *plan.Plan, out string, opts Options, sum *Summary, cache *elfdeps.HostCache) (*lockfile.Lock, string, error) {
	staging := stagingPrefix(out) + randomSuffix()
	if err := os.Mkdir(staging, 0o755); err != nil {
		return nil, "", fmt.Errorf("create staging directory: %w", err)
	}
	lock, err := applyIn(ctx, p, staging, opts, sum, cache)
	if err != nil {
		RemoveAll(staging)
		return nil, "", err
	}
	return lock, staging, nil
}

func applyIn(ctx context.Context, p *plan.Plan, staging string, opts Options, sum *Summary, cache *elfdeps.HostCache) (*lockfile.Lock, error) {
	root, err := os.OpenRoot(staging)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	isRoot := os.Geteuid() == 0
	lock := &lockfile.Lock{Format: lockfile.Format, Entries: make([]lockfile.Entry, len(p.Entries))}
	var files []int
	var dirs []plan.Entry
	var total int64
	// Directories, symlinks and devices first, in path order (parents
	// before children); directories stay writable until the end.
	for i, e := range p.Entries {
		rel := relPath(e.Dest)
		le := &lock.Entries[i]
		*le = lockfile.Entry{Dest: e.Dest, Kind: e.Kind, Source: e.Source, Target: e.Target, Mode: plan.ModeString(e.Mode), UID: e.UID, GID: e.GID, Why: e.Why}
		var err error
		switch e.Kind {
		case plan.KindDir:
			err = root.Mkdir(rel, 0o700)
			dirs = append(dirs, e)
			sum.Dirs++
			if e.Source != "" {
				le.SourceStat, _ = lockfile.Lstat(e.Source)
			}
		case plan.KindSymlink:
			err = root.Symlink(e.Target, rel)
			sum.Symlinks++
		case plan.KindDevice:
			err = mknod(root, rel, e)
			sum.Devices++
		case plan.KindFile:
			files = append(files, i)
			if e.Source != "" {
				if fi, serr := os.Stat(e.Source); serr == nil {
					total += fi.Size()
				}
			} else {
				total += int64(len(e.Content))
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", e.Dest, err)
		}
		if (e.UID != 0 || e.GID != 0) && e.Kind != plan.KindDir {
			if err := chown(root, rel, e, isRoot, sum); err != nil {
				return nil, err
			}
		}
	}
	if err := copyFiles(ctx, root, p, files, lock, opts, total, sum, cache); err != nil {
		return nil, err
	}
	sortByDepth(dirs)
	for _, d := range dirs {
		rel := relPath(d.Dest)
		if d.UID != 0 || d.GID != 0 {
			if err := chown(root, rel, d, isRoot, sum); err != nil {
				return nil, err
			}
		}
		if err := root.Chmod(rel, d.Mode); err != nil {
			return nil, fmt.Errorf("chmod %s: %w", d.Dest, err)
		}
	}
	return lock, nil
}

// chown gives an entry its owner, or, when jailer is not root and cannot,
// records a warning instead of failing the build.
func chown(root *os.Root, rel string, e plan.Entry, isRoot bool, sum *Summary) error {
	if !isRoot {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s: not owned by %d:%d (build as root to set owners)", e.Dest, e.UID, e.GID))
		return nil
	}
	if err := root.Lchown(rel, e.UID, e.GID); err != nil {
		return fmt.Errorf("chown %s: %w", e.Dest, err)
	}
	return nil
}

// mknod creates a character device inside root.
func mknod(root *os.Root, rel string, e plan.Entry) error {
	dir, err := root.Open(path.Dir(rel))
	if err != nil {
		return err
	}
	defer dir.Close()
	dev := unix.Mkdev(e.Major, e.Minor)
	if err := unix.Mknodat(int(dir.Fd()), path.Base(rel), unix.S_IFCHR|uint32(e.Mode.Perm()), int(dev)); err != nil {
		return &os.PathError{Op: "mknod", Path: e.Dest, Err: err}
	}
	return root.Chmod(rel, e.Mode) // mknod's mode is masked by the umask
}

// copyFiles writes every file entry, several at once. An interrupt (ctx
// done) stops each copy within a chunk and the build with an error wrapping
// the context's.
func copyFiles(ctx context.Context, root *os.Root, p *plan.Plan, idx []int, lock *lockfile.Lock, opts Options, total int64, sum *Summary, cache *elfdeps.HostCache) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		bytes    atomic.Int64
		progress atomic.Int64
		linked   atomic.Int64
	)
	var report func(int64)
	if opts.Progress != nil {
		report = func(n int64) {
			done := progress.Add(n)
			mu.Lock()
			opts.Progress(done, total)
			mu.Unlock()
		}
	}
	work := make(chan int)
	workers := max(4, 2*runtime.NumCPU())
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for i := range work {
				e := p.Entries[i]
				le := &lock.Entries[i]
				wasLinked, err := writeFile(ctx, root, e, le, opts.Link == lockfile.LinkHardlink, buf, cache, report)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				if wasLinked {
					linked.Add(1)
				}
				bytes.Add(le.Size)
			}
		}()
	}
dispatch:
	for _, i := range idx {
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		select {
		case work <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		// Whatever each copy said, the build stopped because it was told to.
		return fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	if firstErr != nil {
		return firstErr
	}
	sum.Files = len(idx)
	sum.Linked = int(linked.Load())
	sum.Bytes = bytes.Load()
	if opts.Link == lockfile.LinkHardlink && sum.Linked < sum.Files {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%d of %d files were copied, not hardlinked (generated, another filesystem, or their mode or owner differs from the host's)", sum.Files-sum.Linked, sum.Files))
	}
	return nil
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
	if (e.UID != 0 || e.GID != 0) && os.Geteuid() == 0 {
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
