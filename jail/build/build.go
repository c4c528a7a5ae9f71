package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/jail/planner"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/manifest"
)

// Options changes how Build works.
type Options struct {
	// Output overrides the manifest's output directory.
	Output string
	// Force replaces an output that is not a jailer jail, and rebuilds even
	// when the jail is up to date.
	Force bool
	// Link is LinkCopy (default) or LinkHardlink.
	Link string
	// Progress, when set, is called after each file, and every few MiB of
	// a large one, with the bytes done and the bytes to do in all.
	Progress func(done, total int64)
	// Waiting, when set, is called once if another build holds the jail.
	Waiting func()
}

// Summary tells what a build did.
type Summary struct {
	Output   string `json:"output"`
	UpToDate bool   `json:"up_to_date"`
	// Reason says why the jail was (re)built.
	Reason   string        `json:"reason,omitempty"`
	Files    int           `json:"files"`
	Dirs     int           `json:"dirs"`
	Symlinks int           `json:"symlinks"`
	Devices  int           `json:"devices"`
	Bytes    int64         `json:"bytes"`
	Linked   int           `json:"linked,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Warnings say what the build could not do as asked (and did instead).
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Summary) String() string {
	if s.UpToDate {
		return fmt.Sprintf("%s is up to date: nothing rewritten (%s)", s.Output, s.Duration.Round(time.Microsecond))
	}
	linked := ""
	if s.Linked > 0 {
		linked = fmt.Sprintf(" (%d hardlinked)", s.Linked)
	}
	return fmt.Sprintf("built %s: %d files%s, %d dirs, %d symlinks, %d devices, %s in %s",
		s.Output, s.Files, linked, s.Dirs, s.Symlinks, s.Devices, human.Bytes(s.Bytes), s.Duration.Round(time.Millisecond))
}

// OutputDir is where a build of m goes: opts.Output, else the manifest's
// output relative to the manifest file.
func OutputDir(m *manifest.Manifest, output string) (string, error) {
	if output == "" {
		output = m.Output
		if !filepath.IsAbs(output) {
			output = filepath.Join(filepath.Dir(m.Path), output)
		}
	}
	return filepath.Abs(output)
}

// Build makes the jail that m describes. It builds into a staging
// directory beside the output and swaps it into place, so an interrupted or
// failed build leaves the previous jail whole; builds of one output are
// serialised with a lock; a jail that is up to date is not rewritten.
func Build(ctx context.Context, m *manifest.Manifest, opts Options) (*Summary, error) {
	start := time.Now()
	if opts.Link == "" {
		opts.Link = lockfile.LinkCopy
	}
	if opts.Link != lockfile.LinkCopy && opts.Link != lockfile.LinkHardlink {
		return nil, fmt.Errorf("unknown link mode %q (use copy or hardlink)", opts.Link)
	}
	out, err := OutputDir(m, opts.Output)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("create parent of %s: %w", out, err)
	}
	unlock, err := lockOutput(ctx, out, opts.Waiting)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	release := func() { once.Do(unlock) }
	defer release()
	old, err := checkOutput(out, opts.Force) // before the leftovers go: it may need their lock
	if err != nil {
		return nil, err
	}
	cleanLeftovers(out)
	digest, err := lockfile.Digest(m, opts.Link)
	if err != nil {
		return nil, err
	}
	reason := "no jail there yet"
	switch {
	case opts.Force:
		reason = "--force"
	case old == nil:
	case old.Digest != digest:
		reason = "the manifest, a program's place in PATH or the build options changed"
	default:
		err := lockfile.UpToDate(old, out)
		if err == nil {
			return &Summary{Output: out, UpToDate: true, Duration: time.Since(start)}, nil
		}
		reason = err.Error()
	}
	r := elfdeps.NewResolver()
	defer r.Save()
	plan, err := planner.NewWith(m, r)
	if err != nil {
		return nil, err
	}
	if err := canApply(plan, opts); err != nil {
		return nil, err
	}
	sum := &Summary{Output: out, Reason: reason, Warnings: plan.Warnings}
	lock, staging, err := apply(ctx, plan, out, opts, sum, r.Cache)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// Interrupted after the last copy: the old jail stays.
		RemoveAll(staging)
		return nil, fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	lock.Digest, lock.Manifest, lock.Name, lock.Layout, lock.Link = digest, m.Path, m.Name, m.Layout, opts.Link
	lock.Enter = m.Enter
	inputs := append(append([]string{}, m.Sources...), lockfile.LdCache)
	if len(m.Packages) > 0 {
		// A package installed, upgraded or removed rewrites dpkg's status
		// and the package's file list.
		inputs = append(inputs, "/var/lib/dpkg/status")
		for _, p := range m.Packages {
			inputs = append(inputs, p.List)
		}
	}
	for _, src := range inputs {
		if st, err := lockfile.Lstat(src); err == nil {
			lock.Inputs = append(lock.Inputs, lockfile.Input{Path: src, Stat: st})
		}
	}
	if err := swapIn(staging, out, lock); err != nil {
		RemoveAll(staging)
		return nil, err
	}
	sum.Duration = time.Since(start)
	// The old tree (now under the staging name) is deleted without holding
	// the lock; if this process dies first, the next build deletes it.
	release()
	RemoveAll(staging)
	return sum, nil
}

// lockOutput serialises builds of one output with flock(2) on a hidden
// file beside it; the lock is released when the process dies, so a build
// killed with SIGKILL never blocks the next one.
func lockOutput(ctx context.Context, out string, waiting func()) (func(), error) {
	name := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".jailer.flock")
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open build lock", Path: name, Err: err}
	}
	release := func() { unix.Close(fd) }
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return release, nil
	}
	if waiting != nil {
		waiting()
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(fd, unix.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			release()
			return nil, &os.PathError{Op: "flock", Path: name, Err: err}
		}
		return release, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// Names of the build's temporary directories, beside the output.
func stagingPrefix(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".jailer-staging-")
}

// leftovers lists what interrupted builds of out left beside it: staging
// trees (and, after an interrupted swap, the previous tree) and their locks.
// Names are matched exactly — the prefix, 12 hex digits, maybe ".lock" —
// never as a glob, so another output's files are never taken for them.
func leftovers(out string) []string {
	prefix := filepath.Base(stagingPrefix(out))
	ents, _ := os.ReadDir(filepath.Dir(out))
	var found []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".lock")
		if _, err := hex.DecodeString(rest); err == nil && len(rest) == 12 {
			found = append(found, filepath.Join(filepath.Dir(out), e.Name()))
		}
	}
	return found
}

// cleanLeftovers removes what interrupted builds left beside out. It runs
// under the build lock, so nothing else is using them.
func cleanLeftovers(out string) {
	for _, m := range leftovers(out) {
		RemoveAll(m)
	}
}

// checkOutput refuses to replace an output that is not a jailer jail
// (unless forced) and returns the lock of the jail there, if any. A lock
// only vouches for the tree it was written for (its inode): a directory put
// in the jail's place since is not a jail, unless an interrupted build
// swapped it in and died before renaming its lock (that lock is left over).
func checkOutput(out string, force bool) (*lockfile.Lock, error) {
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, _ := lockfile.TreeID(out)
	lock, lerr := lockfile.Read(out)
	if lerr == nil && lock.Tree != st {
		lock, lerr = nil, fmt.Errorf("%s: %w (it is not the directory its lock was written for)", out, lockfile.ErrNotAJail)
		for _, l := range leftovers(out) {
			if data, err := os.ReadFile(l); strings.HasSuffix(l, ".lock") && err == nil {
				var left lockfile.Lock
				if json.Unmarshal(data, &left) == nil && left.Tree == st {
					// Finish what the interrupted build began.
					if err := os.Rename(l, lockfile.Path(out)); err == nil {
						lock, lerr = &left, nil
					}
				}
			}
		}
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
			return nil, nil
		}
	}
	return nil, fmt.Errorf("%s exists and is %w (no %s beside it that matches it): choose another output, or pass --force to replace it",
		out, lockfile.ErrNotAJail, filepath.Base(lockfile.Path(out)))
}

// canApply finds what would make the build fail half-way, before it starts.
func canApply(p *plan.Plan, opts Options) error {
	if os.Geteuid() == 0 {
		return nil
	}
	for _, e := range p.Entries {
		if e.Kind == plan.KindDevice {
			return fmt.Errorf("%s: creating device nodes needs root (run the build as root, or remove devices: from %s)", e.Dest, filepath.Base(p.Manifest))
		}
	}
	return nil
}

// swapIn puts the staged tree at out and its lock beside it. With an old
// tree there, renameat2(RENAME_EXCHANGE) swaps both in one step, so out is
// at every moment either the old jail or the new one.
func swapIn(staging, out string, lock *lockfile.Lock) error {
	st, err := lockfile.TreeID(staging)
	if err != nil {
		return err
	}
	lock.Tree = st
	lock.Built = time.Now().UTC()
	data, err := json.Marshal(lock)
	if err != nil {
		return err
	}
	tmp := staging + ".lock"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
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
	if err := os.Rename(tmp, lockfile.Path(out)); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	return nil
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// relPath turns a jail path into a path relative to the jail root.
func relPath(dest string) string { return strings.TrimPrefix(dest, "/") }

// sortByDepth orders directories deepest first, to apply modes bottom-up.
func sortByDepth(dirs []plan.Entry) {
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i].Dest, "/") > strings.Count(dirs[j].Dest, "/")
	})
}

var _ = io.EOF
