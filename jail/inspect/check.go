// Package inspect looks at a built jail without running anything in it:
// Check compares the tree with its lock (sizes, hashes, modes, links,
// setuid files and file capabilities made inside) and emulates the glibc loader's start of every
// program in the tree to find libraries it would miss; Inspect describes a
// jail (where from, what is in it, whether it is stale) for `jailer info`;
// Graph draws what a manifest's programs load. Every path inside the jail
// is resolved through internal/jailfs, never against the host.
package inspect

// `jailer check`: what is wrong with a built jail, found without executing
// anything in it. The tree is walked through directory descriptors without
// following symlinks, and every path the loader would resolve is opened
// through jailfs, as inside the jail, so a symlink in the jail to
// /etc/shadow names the jail's /etc/shadow, never the host's.

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/jailfs"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"

	"golang.org/x/sys/unix"
)

// Problem is one thing wrong with a jail, printed one per line.
type Problem struct {
	// Path is the path inside the jail, e.g. /bin/bash.
	Path string `json:"path"`
	// Kind is missing, modified, stale, unresolved, interpreter, unexpected-type,
	// unexpected-setuid or unexpected-capabilities.
	Kind string `json:"kind"`
	// Msg is one line that says what is wrong and what to do.
	Msg string `json:"msg"`
}

// String formats the problem as "PATH: MSG".
func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Check inspects the jail at dir without executing anything from it, and
// returns its problems sorted by path:
//
//   - every program (an ELF file with PT_INTERP) whose interpreter, or one
//     of the libraries its start loads, is not found inside the jail (kinds
//     "interpreter" and "unresolved"), searching as glibc's loader would
//     once chrooted there (see elfload.go), counting only ELF files of the
//     program's class and machine;
//   - every shared library no program loads that does not find one of its
//     DT_NEEDED libraries through its own RUNPATH or RPATH and the default
//     directories ("unresolved"); a corrupt ELF file is "unresolved" too;
//   - every lock entry missing from the tree ("missing"), of another kind
//     ("unexpected-type"), or whose size, sha256, mode or symlink target
//     differs ("modified"): a file linked from a store is so checked
//     against the sum in its store file's name, and has its mode without
//     write bits; devices are checked only for existence and type, and
//     a device that a build without root recorded but could not make
//     must be absent (owners are not compared: such a build records
//     them without giving them);
//   - every host source that is gone or whose content changed since the
//     build ("stale"); a source is hashed only when its stat changed.
//
// The contents of /proc, /dev and /sys are skipped when they are mount
// points. Check returns an error only when it could not inspect the jail:
// dir does not exist, or has no lock beside it (wrapping ErrNotAJail).
func Check(dir string) ([]Problem, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("check: %w", &fs.PathError{Op: "open", Path: dir, Err: syscall.ENOTDIR})
	}
	lock, err := lockfile.Read(dir)
	if err != nil {
		return nil, err
	}
	root, err := jailfs.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer root.Close()
	tree, err := root.Walk()
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	c := newChecker(root)
	c.store = lock.Store
	hash, sources := c.compareLock(lock, tree)
	var jobs []func()
	for _, p := range tree.Files {
		jobs = append(jobs, func() { c.checkFile(p, hash[p]) })
	}
	for _, e := range sources {
		jobs = append(jobs, func() { c.checkSource(e) })
	}
	parallel(jobs)
	c.checkLibraries()
	slices.SortFunc(c.problems, func(a, b Problem) int {
		if a.Path != b.Path {
			if plan.PathLess(a.Path, b.Path) {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Msg, b.Msg))
	})
	return c.problems, nil
}

// checker collects the problems of one jail; its methods are safe to call
// from several goroutines.
type checker struct {
	root       *jailfs.Root
	mu         sync.Mutex
	problems   []Problem
	candidates map[string]candidateResult // by jail path; see candidate
	parsed     map[fileID]parseResult     // see parse
	elves      []treeELF                  // the loadable ELF files of the tree without PT_INTERP
	loaded     map[fileID]bool            // the files some program's start maps
	store      string                     // the store of a jail built with --link store
}

// newChecker returns a checker of the jail open as root.
func newChecker(root *jailfs.Root) *checker {
	return &checker{
		root:       root,
		candidates: map[string]candidateResult{},
		parsed:     map[fileID]parseResult{},
		loaded:     map[fileID]bool{},
	}
}

// checkLibraries checks, once every program's start has been emulated
// (by readELF), that each library no program maps finds its own libraries.
func (c *checker) checkLibraries() {
	var libs []func()
	for _, e := range c.elves {
		if !c.loaded[e.file] {
			libs = append(libs, func() { c.checkAlone(e.path, e.deps) })
		}
	}
	parallel(libs)
}

// add records a problem of the jail path p.
func (c *checker) add(p, kind, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, Problem{Path: p, Kind: kind, Msg: msg})
}

// drifted records a problem of the jail path p that the lock shows, worded
// as the reason a build would give for it (lockfile.Reason, without the
// path, which the problem prints first), with what was found.
func (c *checker) drifted(p, kind string, k lockfile.Kind, found string) {
	r := lockfile.Reason{Kind: k, Entry: p, Detail: found}
	c.add(p, kind, r.AtEntry()+" (rebuild)")
}

// driftedFile reports a change of the file p (entry e): as its store
// file's when the jail's file is still that store file, for the change is
// then in the store and in every jail that links it.
func (c *checker) driftedFile(p string, e *lockfile.Entry, found string) {
	if e.Store != "" {
		if f, err := c.root.OpenFile(p, jailfs.FollowNone); err == nil {
			stored := c.isStoreFile(f, e)
			f.Close()
			if stored {
				c.add(p, "modified", fmt.Sprintf("its store file %s changed: %s (jailer build replaces it in the store)", filepath.Join(c.store, e.Store), found))
				return
			}
		}
	}
	c.drifted(p, "modified", lockfile.TreeChanged, found)
}

// compareLock reports what the tree alone shows to differ from the lock. It
// returns the lock entries of the regular files whose content must be hashed
// (by jail path), and the entries whose host source must be checked.
func (c *checker) compareLock(l *lockfile.Lock, t *jailfs.Tree) (hash map[string]*lockfile.Entry, sources []*lockfile.Entry) {
	hash = map[string]*lockfile.Entry{}
	inLock := make(map[string]bool, len(l.Entries))
	for i := range l.Entries {
		inLock[path.Clean("/"+l.Entries[i].Dest)] = true
	}
	// A setuid or setgid file the build did not make: root in the jail made
	// it, and it is setuid on the host too.
	for p, n := range t.Nodes {
		if !inLock[p] && !t.Hidden(p) && n.Kind() == plan.KindFile && n.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			c.add(p, "unexpected-setuid", fmt.Sprintf("has mode %s but the build made no such file: a setuid program made inside the jail (remove it)", n.Perm()))
		}
	}
	for i := range l.Entries {
		e := &l.Entries[i]
		p := path.Clean("/" + e.Dest)
		if e.Kind == plan.KindFile && e.Source != "" && e.SHA256 != "" {
			sources = append(sources, e)
		}
		if t.Hidden(p) {
			continue
		}
		n, ok := t.Nodes[p]
		if l.Deferred(e) {
			// Recorded by a build without root, which could not make it.
			if ok {
				c.drifted(p, "unexpected-type", lockfile.TreeChanged, fmt.Sprintf("is a %s, but the build made nothing here (it ran without root)", n.Kind()))
			}
			continue
		}
		if !ok {
			c.drifted(p, "missing", lockfile.EntryMissing, fmt.Sprintf("the lock lists a %s here", e.Kind))
			continue
		}
		if got := n.Kind(); got != e.Kind && (e.Kind == plan.KindFile || e.Kind == plan.KindDir || e.Kind == plan.KindSymlink || e.Kind == plan.KindDevice) {
			c.drifted(p, "unexpected-type", lockfile.TreeChanged, fmt.Sprintf("is a %s, the lock says %s", got, e.Kind))
			continue
		}
		want, says := e.Mode, "the lock says "+e.Mode
		if e.Store != "" { // store files have no write bits
			want = lockfile.StoredModeString(e.Mode)
			says = fmt.Sprintf("want %s (a store file: the lock's %s without write bits)", want, e.Mode)
		}
		if e.Kind != plan.KindSymlink && want != "" && n.Perm() != want && !slices.Contains(t.Mounts, p) {
			c.driftedFile(p, e, fmt.Sprintf("mode is %s, %s", n.Perm(), says))
		}
		switch {
		case e.Kind == plan.KindSymlink && n.Target != e.Target:
			c.drifted(p, "modified", lockfile.TreeChanged, fmt.Sprintf("symlink points to %q, the lock says %q", n.Target, e.Target))
		case e.Kind == plan.KindFile && n.Size != e.Size:
			c.driftedFile(p, e, fmt.Sprintf("is %d bytes, the lock says %d", n.Size, e.Size))
		case e.Kind == plan.KindFile && e.SHA256 != "":
			hash[p] = e
		}
	}
	return hash, sources
}

// checkFile hashes the regular file at the jail path p when the lock has an
// entry for it, and checks it when it is an ELF file.
func (c *checker) checkFile(p string, want *lockfile.Entry) {
	f, err := c.root.OpenFile(p, jailfs.FollowNone)
	if err != nil {
		c.add(p, "missing", fmt.Sprintf("vanished or cannot be opened during the check: %v", err))
		return
	}
	defer f.Close()
	// File capabilities the build did not make (it copies no extended
	// attributes): root in the jail gave them, and whoever runs the file on
	// the host gets them, as with a setuid file. A hardlinked file is the
	// host's own, capabilities and all.
	if want == nil || !want.Linked {
		if n, err := unix.Fgetxattr(int(f.Fd()), "security.capability", nil); err == nil && n > 0 {
			c.add(p, "unexpected-capabilities", "has file capabilities (security.capability) but the build gives none: capabilities given inside the jail, which whoever runs it on the host gets (remove it, or rebuild)")
		}
	}
	if want != nil {
		sum, err := sha256Of(io.NewSectionReader(f, 0, math.MaxInt64))
		switch {
		case err != nil:
			c.add(p, "modified", fmt.Sprintf("cannot be read: %v", err))
		case !strings.EqualFold(sum, want.SHA256) && c.isStoreFile(f, want):
			c.add(p, "modified", fmt.Sprintf("its store file %s changed: its sha256 is not the one in its name (jailer build --force replaces it in the store)", filepath.Join(c.store, want.Store)))
		case !strings.EqualFold(sum, want.SHA256):
			c.drifted(p, "modified", lockfile.TreeChanged, "its sha256 differs from the lock's")
		}
	}
	if elfdeps.HasMagic(f) {
		c.readELF(p, f)
	}
}

// isStoreFile says whether f, the jail's file of the entry e, is still the
// store file the entry names (a build may have replaced a damaged one).
func (c *checker) isStoreFile(f *os.File, e *lockfile.Entry) bool {
	if e.Store == "" || c.store == "" {
		return false
	}
	var in, st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &in) != nil || unix.Lstat(filepath.Join(c.store, e.Store), &st) != nil {
		return false
	}
	return in.Dev == st.Dev && in.Ino == st.Ino
}

// readELF parses the ELF file at the jail path p, open as f, and reports it
// when it is corrupt. A program's start is emulated at once (see
// elfload.go); a library is kept for checkLibraries.
func (c *checker) readELF(p string, f *os.File) {
	id, err := fileIDOf(f)
	if err != nil {
		c.add(p, "unresolved", fmt.Sprintf("cannot be checked: %v", err))
		return
	}
	d, err := c.parse(f, id)
	if err != nil {
		c.add(p, "unresolved", fmt.Sprintf("corrupt ELF file, its interpreter and libraries cannot be checked: %v (rebuild, or remove it)", err))
		return
	}
	switch {
	case !d.Loadable:
	case d.Interp != "":
		c.loadProgram(p, d)
	default:
		c.mu.Lock()
		c.elves = append(c.elves, treeELF{path: p, file: id, deps: d})
		c.mu.Unlock()
	}
}

// checkSource reports e as stale when its host source is gone or its content
// differs from what was copied, in the words of lockfile.Staleness (the
// reason a build would give). An unchanged stat (taken with lstat, as the
// build does) saves hashing it, unless it is a symlink, whose target's
// content may have changed under an unchanged link; a changed stat with the
// same content is no problem here, though it makes a build copy it again.
func (c *checker) checkSource(e *lockfile.Entry) {
	p := path.Clean("/" + e.Dest)
	fi, err := os.Lstat(e.Source)
	if err == nil && fi.Mode().IsRegular() && lockfile.StatOf(fi) == e.SourceStat {
		return
	}
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(e.Source)
	}
	stale := func(r lockfile.Reason, do string) {
		r.Path, r.Entry = e.Source, p
		c.add(p, "stale", r.String()+" ("+do+")")
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		stale(lockfile.Reason{Kind: lockfile.SourceGone}, "rebuild, or drop it from the manifest")
		return
	case err != nil:
		c.add(p, "stale", fmt.Sprintf("cannot check its host file: %v", err))
		return
	case !fi.Mode().IsRegular():
		stale(lockfile.Reason{Kind: lockfile.SourceChanged, Detail: "it is no longer a regular file"}, "rebuild")
		return
	}
	f, err := os.Open(e.Source)
	if err != nil {
		c.add(p, "stale", fmt.Sprintf("cannot check its host file: %v", err))
		return
	}
	defer f.Close()
	sum, err := sha256Of(f)
	switch {
	case err != nil:
		c.add(p, "stale", fmt.Sprintf("cannot check its host file: %v", err))
	case !strings.EqualFold(sum, e.SHA256):
		stale(lockfile.Reason{Kind: lockfile.SourceChanged}, "rebuild to pick it up")
	}
}

// hashBufs holds read buffers for sha256Of: larger than io.Copy's 32 KiB,
// to make fewer read calls.
var hashBufs = sync.Pool{New: func() any { return new([256 << 10]byte) }}

// sha256Of returns the hex sha256 of everything r reads.
func sha256Of(r io.Reader) (string, error) {
	buf := hashBufs.Get().(*[256 << 10]byte)
	defer hashBufs.Put(buf)
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, buf[:]); err != nil { // hide WriterTo, which would not use buf
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// parallel runs the jobs on runtime.NumCPU() goroutines.
func parallel(jobs []func()) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), len(jobs)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
				jobs[i]()
			}
		})
	}
	wg.Wait()
}
