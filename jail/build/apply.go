package build

import (
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"

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
	rootless := lockfile.BuildsRootless()
	lock := &lockfile.Lock{Format: lockfile.Format, Entries: make([]lockfile.Entry, len(p.Entries))}
	if rootless {
		lock.Rootless = &lockfile.Rootless{UID: os.Geteuid(), GID: os.Getegid()}
	}
	var files []int
	var dirs []plan.Entry
	var total int64
	// Directories, symlinks and devices first, in path order (parents
	// before children); directories stay writable until the end.
	for i, e := range p.Entries {
		rel := relPath(e.Dest)
		le := &lock.Entries[i]
		*le = lockfile.Entry{Dest: e.Dest, Kind: e.Kind, Source: e.Source, Target: e.Target, Mode: plan.ModeString(e.Mode), UID: e.UID, GID: e.GID, Major: e.Major, Minor: e.Minor, Why: e.Why}
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
			if !rootless { // recorded only: see lockfile.Rootless
				err = mknod(root, rel, e)
			}
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
		if (e.UID != 0 || e.GID != 0) && e.Kind != plan.KindDir && !rootless {
			if err := chown(root, rel, e); err != nil {
				return nil, err
			}
		}
	}
	job := &copyJob{root: root, plan: p, files: files, lock: lock, total: total, opts: opts, cache: cache, sum: sum}
	if opts.Link == lockfile.LinkStore {
		// Held until every store file is linked into the tree: until
		// then, jailer gc could take one for unused.
		if job.store, job.linkable, err = openStore(ctx, root, opts, sum); err != nil {
			return nil, err
		}
	}
	err = job.run(ctx)
	if job.store != nil {
		job.store.Close()
	}
	if err != nil {
		return nil, err
	}
	sortByDepth(dirs)
	for _, d := range dirs {
		rel := relPath(d.Dest)
		if (d.UID != 0 || d.GID != 0) && !rootless {
			if err := chown(root, rel, d); err != nil {
				return nil, err
			}
		}
		if err := root.Chmod(rel, d.Mode); err != nil {
			return nil, fmt.Errorf("chmod %s: %w", d.Dest, err)
		}
	}
	if rootless {
		if w := rootlessWarning(p); w != "" {
			sum.Warnings = append(sum.Warnings, w)
		}
	}
	return lock, nil
}

// chown gives an entry its owner.
func chown(root *os.Root, rel string, e plan.Entry) error {
	if err := root.Lchown(rel, e.UID, e.GID); err != nil {
		return fmt.Errorf("chown %s: %w", e.Dest, err)
	}
	return nil
}

// rootlessWarning is the one line a build without root prints about what
// it recorded in the lock but could not make: the owners the manifest
// declares (every path is the builder's) and the devices. "" when there
// are neither.
func rootlessWarning(p *plan.Plan) string {
	var owned, devices []string
	for _, e := range p.Entries {
		switch {
		case e.Kind == plan.KindDevice:
			devices = append(devices, path.Base(e.Dest))
		case e.UID != 0 || e.GID != 0:
			owned = append(owned, fmt.Sprintf("%s %d:%d", e.Dest, e.UID, e.GID))
		}
	}
	var what []string
	if n := len(owned); n > 0 {
		more := ""
		if n > 1 {
			more = fmt.Sprintf(" and %d more", n-1)
		}
		what = append(what, fmt.Sprintf("owners (%s%s) are yours on disk", owned[0], more))
	}
	if len(devices) > 0 {
		what = append(what, fmt.Sprintf("devices (%s) are not made", strings.Join(devices, ", ")))
	}
	if len(what) == 0 {
		return ""
	}
	return "built without root: " + strings.Join(what, " and ") + "; the lock records them: enter gives the jail its own /dev, export writes them (build as root to make them in the tree)"
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

// relPath turns a jail path into a path relative to the jail root, as
// os.Root takes it.
func relPath(dest string) string { return strings.TrimPrefix(dest, "/") }

// sortByDepth orders directories deepest first, to apply modes bottom-up.
func sortByDepth(dirs []plan.Entry) {
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i].Dest, "/") > strings.Count(dirs[j].Dest, "/")
	})
}
