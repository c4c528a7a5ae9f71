// Package build makes the jail a manifest describes, atomically and only
// when it is stale.
//
// A build holds the output's mutex (flock on .NAME.jailer.flock beside it)
// so that builds of one output take turns, refuses an output that is not a
// jail it made, and asks lockfile.Staleness whether the jail there is what
// the manifest would make now; if so it stops, having made a few stat
// calls. Otherwise it plans the manifest (package planner) and applies the
// plan into a fresh staging directory beside the output: directories,
// symlinks and devices first, in path order, then the files, several at
// once, copied (copy_file_range, holes kept), hardlinked to the host's or
// linked from a content store (package store) and hashed as they go, and
// the directories' modes last, deepest first. Every write goes
// through an os.Root on the staging directory, so no path in the plan and
// no symlink in the tree makes it write elsewhere. The staged tree is then
// swapped with the old one in one renameat2(RENAME_EXCHANGE) and its lock
// renamed beside it, so the output is at every moment one whole jail; the
// old tree is deleted last, after the mutex is released, unless a running
// jail still holds it (oldtrees.go); such old trees, and what an
// interrupted build leaves, are deleted by the next build or `jailer gc`.
//
// Without root, a build cannot make device nodes nor give paths owners
// other than the user running it: it records both in the lock
// (lockfile.Rootless) and says so in one warning, and what reads the lock
// (staleness, check, export) knows they were never made.
package build

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/planner"
	"github.com/jailer-dev/jailer/jail/store"

	"github.com/jailer-dev/jailer/manifest"
)

// Options changes how Build works.
type Options struct {
	// Output overrides the manifest's output directory.
	Output string
	// Force replaces an output that is not a jailer jail, and rebuilds even
	// when the jail is up to date.
	Force bool
	// Link is lockfile.LinkCopy, LinkHardlink or LinkStore; "" is
	// $JAILER_LINK, else the manifest's link:, else LinkCopy.
	Link string
	// Store is the store directory of a build with LinkStore; "" is
	// store.Dir's default ($JAILER_STORE, else by user).
	Store string
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
	// Reason says why the jail was (re)built: lockfile.Staleness's answer,
	// the message `jailer info` gives for the same cause.
	Reason   lockfile.Reason `json:"reason,omitzero"`
	Files    int             `json:"files"`
	Dirs     int             `json:"dirs"`
	Symlinks int             `json:"symlinks"`
	Devices  int             `json:"devices"`
	Bytes    int64           `json:"bytes"`
	Linked   int             `json:"linked,omitempty"`
	// Stored counts the files linked from the store (LinkStore).
	Stored int `json:"stored,omitempty"`
	// StoreAdded counts those of them this build put into the store.
	StoreAdded int           `json:"store_added,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	// Warnings say what the build could not do as asked (and did instead).
	Warnings []string `json:"warnings,omitempty"`
}

// String is the line `jailer build` prints.
func (s *Summary) String() string {
	if s.UpToDate {
		return fmt.Sprintf("%s is up to date: nothing rewritten (%s)", s.Output, s.Duration.Round(time.Microsecond))
	}
	linked := ""
	if s.Linked > 0 {
		linked = fmt.Sprintf(" (%d hardlinked)", s.Linked)
	}
	switch {
	case s.Stored > 0 && s.StoreAdded > 0:
		linked = fmt.Sprintf(" (%d from the store, %d of them new to it)", s.Stored, s.StoreAdded)
	case s.Stored > 0:
		linked = fmt.Sprintf(" (%d from the store)", s.Stored)
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
// failed build leaves the previous jail whole; builds of one output take
// turns (outputMutex); a jail that is up to date is not rewritten.
func Build(ctx context.Context, m *manifest.Manifest, opts Options) (*Summary, error) {
	start := time.Now()
	if err := opts.fill(m); err != nil {
		return nil, err
	}
	out, err := OutputDir(m, opts.Output)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("create parent of %s: %w", out, err)
	}
	mu, err := acquireOutput(ctx, out, opts.Waiting)
	if err != nil {
		return nil, err
	}
	defer mu.release()
	reason, digest, err := decide(m, out, opts)
	if err != nil {
		return nil, err
	}
	if !reason.Stale() {
		return &Summary{Output: out, UpToDate: true, Duration: time.Since(start)}, nil
	}
	sum, lock, staging, err := stage(ctx, m, out, opts)
	if err != nil {
		return nil, err
	}
	sum.Reason = reason
	record(lock, m, opts, digest)
	if err := swapIn(ctx, mu, staging, out, lock); err != nil {
		removeIfFree(staging) // the new tree, or the old one if the swap was made
		return nil, err
	}
	old := retire(staging, out)
	sum.Duration = time.Since(start)
	// The old tree is deleted without holding the output, and only when no
	// running jail holds it; if one does, or this process dies first, the
	// next build or `jailer gc` deletes it.
	mu.release()
	if old != "" {
		removeIfFree(old)
	}
	return sum, nil
}

// LinkEnv names the environment variable that sets the link mode of
// builds that do not pass one (a machine's default: a fleet of CI
// machines sets JAILER_LINK=store once).
const LinkEnv = "JAILER_LINK"

// fill puts in the defaults of opts for a build of m and refuses what
// Build cannot do. The link mode comes from the build's options, else the
// environment, else the manifest: the manifest travels between machines,
// whose owners know their disks.
func (opts *Options) fill(m *manifest.Manifest) error {
	if opts.Link == "" {
		if v := os.Getenv(LinkEnv); v != "" {
			if !slices.Contains(lockfile.LinkModes, v) {
				return fmt.Errorf("%s=%q: unknown link mode (use %s)", LinkEnv, v, strings.Join(lockfile.LinkModes, ", "))
			}
			opts.Link = v
		}
	}
	opts.Link = cmp.Or(opts.Link, m.Link, lockfile.LinkCopy)
	if !slices.Contains(lockfile.LinkModes, opts.Link) {
		return fmt.Errorf("unknown link mode %q (use %s)", opts.Link, strings.Join(lockfile.LinkModes, ", "))
	}
	if opts.Link != lockfile.LinkStore {
		opts.Store = ""
		return nil
	}
	var err error
	opts.Store, err = store.Dir(opts.Store)
	return err
}

// decide looks at what is at out and says whether, and why, a build of m
// must replace it (see lockfile.Staleness), with the digest of m that the
// new lock records. Its caller holds the output's mutex.
func decide(m *manifest.Manifest, out string, opts Options) (lockfile.Reason, string, error) {
	old, err := checkOutput(out, opts.Force) // before the leftovers go: it may need their lock
	if err != nil {
		return lockfile.Reason{}, "", err
	}
	sweep(out, true)
	want := lockfile.Want{Manifest: m.Path, Link: opts.Link, Store: opts.Store, Force: opts.Force, Rootless: lockfile.BuildsRootless()}
	if want.Digest, err = lockfile.Digest(m, opts.Link); err != nil {
		return lockfile.Reason{}, "", err
	}
	return lockfile.Staleness(old, out, want), want.Digest, nil
}

// stage plans m and applies the plan in a new staging tree beside out. It
// returns the summary so far, the lock of the staged tree (its entries) and
// the tree's path; on failure nothing is left behind.
func stage(ctx context.Context, m *manifest.Manifest, out string, opts Options) (*Summary, *lockfile.Lock, string, error) {
	r := elfdeps.NewResolver()
	defer r.Save()
	p, err := planner.NewWith(m, r)
	if err != nil {
		return nil, nil, "", err
	}
	sum := &Summary{Output: out, Warnings: p.Warnings}
	lock, staging, err := apply(ctx, p, out, opts, sum, r.Cache)
	if err != nil {
		return nil, nil, "", err
	}
	if ctx.Err() != nil {
		// Interrupted after the last copy: the old jail stays.
		RemoveAll(staging)
		return nil, nil, "", fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	return sum, lock, staging, nil
}

// record writes into the staged tree's lock what it was built from: the
// manifest, its digest, the options, and the files the build read, with
// their stats (lockfile.Inputs).
func record(lock *lockfile.Lock, m *manifest.Manifest, opts Options, digest string) {
	lock.Digest, lock.Manifest, lock.Name, lock.Layout, lock.Link, lock.Store = digest, m.Path, m.Name, m.Layout, opts.Link, opts.Store
	lock.Enter = m.Enter
	lock.Inputs = lockfile.Inputs(m)
}
