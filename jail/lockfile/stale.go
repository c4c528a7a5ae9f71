package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// LdCache is the loader's cache: installing or removing libraries rewrites
// it, so a change to it makes a jail stale.
const LdCache = "/etc/ld.so.cache"

// hostInputs are the host files outside any manifest whose change makes
// every jail stale. A variable only so that a test can put a file it may
// change in the place of /etc/ld.so.cache.
var hostInputs = []string{LdCache}

// Digest covers what decides the plan besides the files' contents: the
// manifests, where each binary was found, and the build options.
func Digest(m *manifest.Manifest, link string) (string, error) {
	h := sha256.New()
	for _, src := range m.Sources {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("read manifest %s: %w", src, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", src, len(data))
		h.Write(data)
	}
	for _, b := range m.Binaries {
		fmt.Fprintf(h, "bin\x00%s\x00%s\n", b.Host, b.Dest)
	}
	fmt.Fprintf(h, "link\x00%s\x00format\x00%d\n", link, Format)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Inputs returns the host files a build of m reads besides the sources it
// copies, with their stats, for Lock.Inputs: m's manifest files,
// /etc/ld.so.cache and, when m names packages, dpkg's status (a package
// installed, upgraded or removed rewrites it) and each package's file list.
// A file that does not exist is left out.
func Inputs(m *manifest.Manifest) []Input {
	paths := append(append([]string{}, m.Sources...), hostInputs...)
	if len(m.Packages) > 0 {
		paths = append(paths, "/var/lib/dpkg/status")
		for _, p := range m.Packages {
			paths = append(paths, p.List)
		}
	}
	var inputs []Input
	for _, p := range paths {
		if st, err := Lstat(p); err == nil {
			inputs = append(inputs, Input{Path: p, Stat: st})
		}
	}
	return inputs
}

// Want is the build a jail is compared with: what a build would make it
// from now.
type Want struct {
	// Manifest is the absolute path of the manifest.
	Manifest string
	// Digest is the Digest of the manifest as it is now, with Link; ""
	// when Err says why there is none.
	Digest string
	// Err is why the manifest could not be read again: it is gone, or no
	// longer loads.
	Err error
	// Link is the build's link mode ("" is LinkCopy).
	Link string
	// Store is the store directory of a build with LinkStore.
	Store string
	// Force asks for a build whatever the jail is.
	Force bool
	// Rootless says the build is one without root (BuildsRootless).
	Rootless bool
}

// WantManifest loads the manifest at path again and returns what a build
// of it with the link mode link would make; a manifest that is gone or no
// longer loads is recorded in Err, for Staleness to report.
func WantManifest(path, link string) Want {
	w := Want{Manifest: path, Link: link, Rootless: BuildsRootless()}
	m, err := manifest.Load(path)
	if err == nil {
		w.Digest, err = Digest(m, linkMode(link))
	}
	w.Err = err
	return w
}

// linkMode is the link mode link stands for ("" is the default).
func linkMode(link string) string {
	if link == "" {
		return LinkCopy
	}
	return link
}

// Staleness decides whether the jail at dir, which lock describes (nil when
// there is none), is what the build want would make, and if not, why. Every
// test is a stat (or a readlink): no file is read from the tree or the
// host. It looks, in this order, and reports the first cause it finds:
//
//   - whether the build is forced, and whether there is a jail: a lock, and
//     at dir the very directory it was written for (device, inode and
//     birth time: a directory made where a jail was deleted is not it);
//   - the build as a whole: the lock's format, the manifest it was built
//     from, the link mode (and the store), and whether it was built without root when
//     root builds now (a build without root of a jail root built changes
//     nothing: it could only make it worse);
//   - the files the build read (Inputs): a manifest edited or gone, the
//     loader's cache or dpkg's database rewritten;
//   - entry by entry, in the lock's order: its host source (gone, or its
//     stat changed), then its place in the tree (missing; a file's stat
//     changed, with the ctime, which a process in the jail cannot put back
//     (a stored file's without it, as every jail linking it changes it,
//     and with its mode, which must still lack write bits);
//     a symlink's target; a directory or device of another type; a
//     device a build without root recorded but could not make must be
//     absent, and the owners such a build could not give are not looked
//     at);
//   - last, the manifest read again: it no longer loads, or its digest
//     changed, which no stat shows when a program it names is found
//     elsewhere in PATH now.
//
// A cause comes before those it explains: an edited manifest also changes
// the digest, a replaced tree every entry, a source gone from the host
// makes the manifest fail to load.
func Staleness(lock *Lock, dir string, want Want) Reason {
	if want.Force {
		return Reason{Kind: Forced}
	}
	if lock == nil {
		return Reason{Kind: NoJail, Path: dir}
	}
	if r := lock.treeReason(dir); r.Stale() {
		return r
	}
	if r := lock.buildReason(want); r.Stale() {
		return r
	}
	if r := lock.inputReason(); r.Stale() {
		return r
	}
	if r := lock.entriesReason(dir); r.Stale() {
		return r
	}
	return lock.planReason(want)
}

// entriesReason is entryReason of the first entry, in the lock's order,
// that is stale. Its stats (two per file) are most of an up-to-date
// build's own work, so a large lock is checked by a few goroutines at
// once, each taking the next block of entries and keeping the first
// stale entry of a block in that block's slot; the answer is the first
// slot filled, in order, which is what a check one by one finds. A block
// after one found stale is not checked: only blocks before it could hold
// the answer, and those were all taken before it.
func (l *Lock) entriesReason(dir string) Reason {
	tree, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		tree = -1 // each entry by its whole path
	} else {
		defer unix.Close(tree)
	}
	const block = 32
	n := len(l.Entries)
	blocks := (n + block - 1) / block
	workers := min(runtime.GOMAXPROCS(0), 4, blocks/2)
	if workers < 2 {
		for i := range l.Entries {
			if r := l.entryReason(&l.Entries[i], dir, tree); r.Stale() {
				return r
			}
		}
		return Reason{}
	}
	found := make([]Reason, blocks) // each block's first stale entry, by the one goroutine that took it
	var next, stale atomic.Int64    // the next block to take; the first block found stale so far
	stale.Store(int64(blocks))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= int64(blocks) || k > stale.Load() {
					return
				}
				for i := int(k) * block; i < min(int(k+1)*block, n); i++ {
					if r := l.entryReason(&l.Entries[i], dir, tree); r.Stale() {
						found[k] = r
						for s := stale.Load(); k < s && !stale.CompareAndSwap(s, k); s = stale.Load() {
						}
						break
					}
				}
			}
		})
	}
	wg.Wait()
	for _, r := range found {
		if r.Stale() {
			return r
		}
	}
	return Reason{}
}

// gone reports whether err means a path does not exist (any more).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// treeReason says whether dir is the tree l describes.
func (l *Lock) treeReason(dir string) Reason {
	id, err := TreeIDOf(dir)
	switch {
	case gone(err):
		return Reason{Kind: NoJail, Path: dir}
	case err != nil:
		return Reason{Kind: NoJail, Path: dir, Detail: err.Error()}
	case id != l.Tree:
		return Reason{Kind: NotThisTree, Path: dir}
	}
	return Reason{}
}

// buildReason compares the build that made the jail with want as a whole.
func (l *Lock) buildReason(want Want) Reason {
	switch {
	case l.Format != Format && l.Format != plainFormat:
		return Reason{Kind: OldFormat, Detail: strconv.Itoa(l.Format)}
	case want.Manifest != "" && want.Manifest != l.Manifest:
		return Reason{Kind: OtherManifest, Path: l.Manifest}
	case linkMode(want.Link) != linkMode(l.Link):
		return Reason{Kind: OtherLink, Detail: linkMode(l.Link)}
	case want.Link == LinkStore && want.Store != l.Store:
		return Reason{Kind: OtherStore, Path: l.Store}
	case l.Rootless != nil && !want.Rootless:
		return Reason{Kind: BuiltRootless}
	}
	return Reason{}
}

// inputReason says whether a file the build read changed.
func (l *Lock) inputReason() Reason {
	for _, in := range l.Inputs {
		st, err := Lstat(in.Path)
		switch {
		case gone(err) && in.Path == l.Manifest:
			return Reason{Kind: ManifestGone, Path: in.Path}
		case gone(err):
			return Reason{Kind: InputGone, Path: in.Path}
		case err != nil || st != in.Stat:
			return Reason{Kind: InputChanged, Path: in.Path}
		}
	}
	return Reason{}
}

// planReason compares the manifest's digest now with the lock's.
func (l *Lock) planReason(want Want) Reason {
	switch {
	case want.Err != nil && gone(want.Err):
		return Reason{Kind: ManifestGone, Path: want.Manifest}
	case want.Err != nil:
		first, _, _ := strings.Cut(want.Err.Error(), "\n")
		return Reason{Kind: ManifestBroken, Path: want.Manifest, Detail: first}
	case want.Digest != l.Digest:
		return Reason{Kind: PlanChanged}
	}
	return Reason{}
}

// entryReason says whether e's host source or its place in the tree at
// dir changed since the build. tree is dir opened (O_PATH), which the
// entry's path is looked up from, or -1.
func (l *Lock) entryReason(e *Entry, dir string, tree int) Reason {
	if e.Source != "" {
		st, err := lstatAt(unix.AT_FDCWD, e.Source)
		switch {
		case gone(err):
			return Reason{Kind: SourceGone, Path: e.Source, Entry: e.Dest}
		case err != nil || statOf(&st, false) != e.SourceStat:
			return Reason{Kind: SourceChanged, Path: e.Source, Entry: e.Dest}
		}
	}
	at, rel := tree, strings.TrimLeft(e.Dest, "/")
	if tree < 0 || rel == "" {
		at, rel = unix.AT_FDCWD, filepath.Join(dir, e.Dest)
	}
	var err error
	changed := false
	switch e.Kind {
	case plan.KindFile:
		if e.Store != "" {
			var fi fs.FileInfo
			if fi, err = os.Lstat(filepath.Join(dir, e.Dest)); err == nil {
				changed = StatOf(fi) != e.TreeStat || !storedModeIs(fi, e.Mode)
			}
			break
		}
		var st unix.Stat_t
		if st, err = lstatAt(at, rel); err == nil {
			changed = statOf(&st, true) != e.TreeStat
		}
	case plan.KindSymlink:
		var target string
		if target, err = readlinkAt(at, rel); err == nil {
			changed = target != e.Target
		}
	default:
		// A directory or device is not compared by stat (a run changes
		// directories' times), but it must still be one: a directory
		// replaced by a symlink would lead out of the jail.
		var st unix.Stat_t
		st, err = lstatAt(at, rel)
		typ := st.Mode & unix.S_IFMT
		switch {
		case l.Deferred(e) && gone(err):
			return Reason{} // recorded, never made: as built
		case l.Deferred(e) && err == nil:
			return Reason{Kind: TreeChanged, Entry: e.Dest, Detail: "the build made nothing here (it ran without root)"}
		case err == nil:
			changed = e.Kind == plan.KindDir && typ != unix.S_IFDIR || e.Kind == plan.KindDevice && typ != unix.S_IFCHR && typ != unix.S_IFBLK
		}
	}
	switch {
	case gone(err):
		return Reason{Kind: EntryMissing, Entry: e.Dest}
	case err != nil || changed:
		return Reason{Kind: TreeChanged, Entry: e.Dest}
	}
	return Reason{}
}

// lstatAt is lstat of path from the directory at (or AT_FDCWD), without
// the allocations of os.Lstat: an up-to-date check makes two per entry.
func lstatAt(at int, path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(at, path, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return st, err
		}
	}
}

// readlinkAt is readlink of path from the directory at (or AT_FDCWD).
func readlinkAt(at int, path string) (string, error) {
	for n := 256; ; n *= 2 {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(at, path, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if m < n {
			return string(buf[:m]), nil
		}
	}
}

// statOf is StatOf (tree false) or TreeStatOf (tree true) of what lstat
// answered.
func statOf(st *unix.Stat_t, tree bool) Stat {
	s := Stat{Dev: st.Dev, Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano()}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		s.Size = 0
	}
	if tree {
		s.Ctime = st.Ctim.Nano()
	}
	return s
}

// storedModeIs says whether fi, a stored file in a tree, has the mode a
// store gives an entry of the mode mode (StoredMode).
func storedModeIs(fi fs.FileInfo, mode string) bool {
	return fi.Mode().IsRegular() && plan.ModeString(fi.Mode()) == StoredModeString(mode)
}
