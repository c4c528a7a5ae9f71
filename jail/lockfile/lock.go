// Package lockfile is the record jailer keeps beside every jail it built,
// NAME.jailer.lock (beside the tree, never inside it, where the jail could
// rewrite it), the one decision whether a jail is stale, and the locks
// that keep a tree a run uses from being deleted (hold.go).
//
// The lock lists every entry of the tree with its kind, mode, owner, size
// and sha256, where it came from, and two stats: its host source's when it
// was copied, and its own right after the build (with the ctime, which a
// process in the jail cannot put back). It also holds the stat of every
// file the build read (the manifests, /etc/ld.so.cache, dpkg's database),
// a digest of what decides the plan besides file contents (the manifests'
// bytes, where each program was found in PATH, the build options), and the
// identity of the tree it describes (device, inode, birth time). Staleness
// compares all that with the host and the tree by stat alone (only the
// manifest is read again, for its digest), from the broadest cause to the
// narrowest, and returns the first cause found as a typed Reason; build, info and check
// print that Reason, so that they give one message for one cause. `jailer
// check` goes further (it hashes), but words what it finds the same way.
package lockfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// Format is the version of the lock file layout this jailer writes.
// Format 2 names the tree's birth time "birth" (format 1 kept it under
// "mtime"); format 3 records a build without root (Rootless: its devices
// and owners are recorded, not made) and the numbers of devices. Locks of
// formats 1 and 2 are still read, and their jails rebuilt by the next
// build (OldFormat); a jailer that reads only up to 2 refuses a lock of 3
// rather than take a rootless jail's missing devices for drift. Format 4
// records jails whose files are hardlinks into a content store (LinkStore,
// Store, Entry.Store): a jailer that reads only up to 3 refuses them rather
// than let a --persist run write into files other jails share. Format 5
// holds paths that are not UTF-8 (paths.go); a lock without one is still
// written as format 4, and both are current.
const Format = 5

// oldestFormat is the oldest lock layout this jailer reads.
const oldestFormat = 1

// LockSuffix is appended to a jail's path to name its lock file, which sits
// beside the tree (never inside it, where the jail could rewrite it).
const LockSuffix = ".jailer.lock"

// ErrNotAJail means a directory has no jailer lock beside it.
var ErrNotAJail = errors.New("not a jailer jail")

// Lock records what a build put into a jail: every entry with its size,
// mode, sha256 and source, and the stat of every input, so that a rebuild can
// tell in a few stat calls whether anything changed, `jailer check` can tell
// what drifted, and `jailer enter` knows the manifest's enter settings.
type Lock struct {
	// Format is the layout's version (Format when this jailer wrote it).
	Format int `json:"format"`
	// Name is the jail's name from the manifest.
	Name string `json:"name"`
	// Manifest is the absolute path of the manifest built.
	Manifest string `json:"manifest"`
	// Digest covers the manifest files, PATH and build options: when it
	// changes, the plan must be made again.
	Digest string `json:"digest"`
	// Layout is flat or preserve.
	Layout string `json:"layout"`
	// Link is copy, hardlink or store (hardlinked and stored jails are
	// only entered with a fresh root).
	Link string `json:"link"`
	// Store is the content store's directory, for a jail built with
	// --link store.
	Store string `json:"store,omitempty"`
	// Built is when the build finished.
	Built time.Time `json:"built"`
	// Tree identifies the jail directory this lock describes; a lock whose
	// tree was replaced (an interrupted swap) no longer matches.
	Tree TreeID `json:"tree"`
	// Enter holds the manifest's defaults for `jailer enter`.
	Enter manifest.Enter `json:"enter"`
	// Rootless is set when the jail was built without root: see Rootless.
	Rootless *Rootless `json:"rootless,omitempty"`
	// Inputs are the host files the build read besides the sources (see
	// Inputs), with their stat at build time.
	Inputs []Input `json:"inputs"`
	// Entries are every path in the jail.
	Entries []Entry `json:"entries"`
}

// Input is a host file the build read: a manifest, /etc/ld.so.cache,
// dpkg's status or a package's file list.
type Input struct {
	Path string `json:"path"`
	Stat Stat   `json:"stat"`
}

// Entry is one path in the jail as built.
type Entry struct {
	Dest   string    `json:"dest"`
	Kind   plan.Kind `json:"kind"`
	Source string    `json:"source,omitempty"`
	Target string    `json:"target,omitempty"`
	Mode   string    `json:"mode"`
	UID    int       `json:"uid,omitempty"`
	GID    int       `json:"gid,omitempty"`
	// Major and Minor number a device.
	Major  uint32 `json:"major,omitempty"`
	Minor  uint32 `json:"minor,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Linked says the file is a hardlink to its host source.
	Linked bool `json:"linked,omitempty"`
	// Store names the store file the jail's file is a hardlink of (see
	// package store), relative to the lock's Store; such a file has Mode
	// without its write bits (StoredMode), and its TreeStat no ctime,
	// which every new link to it changes.
	Store string `json:"store,omitempty"`
	// SourceStat is the host source's stat when it was copied.
	SourceStat Stat `json:"source_stat,omitzero"`
	// TreeStat is the jail file's stat right after the build.
	TreeStat Stat   `json:"tree_stat,omitzero"`
	Why      string `json:"why,omitempty"`
}

// Rootless describes a build made without root. Such a build cannot give
// a path an owner other than the user who ran it, nor make a device node
// (mknod needs CAP_MKNOD), so it records both and leaves them to what
// reads the lock: every path of the tree belongs to UID:GID, each entry's
// UID and GID are the owner the plan meant, and its devices are absent
// from the tree (Deferred). Staleness and `jailer check` do not take that
// for drift, `jailer export` writes the recorded owners and devices (an
// image is the same whoever built it), and `jailer enter` gives every
// jail a /dev of its own anyway.
type Rootless struct {
	// UID and GID are the builder's: the owner of every path in the tree.
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// BuildsRootless reports whether a build by this process is one without
// root (see Rootless): the one place that decides it.
func BuildsRootless() bool { return os.Geteuid() != 0 }

// Deferred reports whether the lock records e without the tree holding
// it: a device of a jail built without root.
func (l *Lock) Deferred(e *Entry) bool { return l.Rootless != nil && e.Kind == plan.KindDevice }

// Path returns the lock file path of the jail at dir.
func Path(dir string) string { return filepath.Clean(dir) + LockSuffix }

// Read reads the lock beside the jail at dir. It returns an error
// wrapping ErrNotAJail when there is none.
func Read(dir string) (*Lock, error) {
	p := Path(dir)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s beside it)", dir, ErrNotAJail, filepath.Base(p))
	}
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	l, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w (rebuild with --force)", p, err)
	}
	if err := checkFormat(p, l.Format); err != nil {
		return nil, err
	}
	return l, nil
}

// ReadHead reads a lock's settings (everything but Entries), stopping
// where the entries start: `jailer enter` needs only the enter settings,
// and a jail of a hundred programs has a lock of a few hundred kilobytes.
func ReadHead(dir string) (*Lock, error) {
	f, err := openLock(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHead(f)
}

// openLock opens the lock beside the jail at dir.
func openLock(dir string) (*os.File, error) {
	p := Path(dir)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s beside it)", dir, ErrNotAJail, filepath.Base(p))
	}
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	return f, nil
}

// readHead is ReadHead of the lock open as f.
func readHead(f *os.File) (*Lock, error) {
	p := f.Name()
	var l Lock
	fields := map[string]any{
		"format": &l.Format, "name": &l.Name, "manifest": &l.Manifest, "digest": &l.Digest,
		"layout": &l.Layout, "link": &l.Link, "store": &l.Store, "built": &l.Built, "tree": &l.Tree, "enter": &l.Enter, "inputs": &l.Inputs,
		"rootless": &l.Rootless,
	}
	dec := json.NewDecoder(f)
	bad := func(err error) error { return fmt.Errorf("read lock %s: %w (rebuild with --force)", p, err) }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad(errors.New("not a JSON object"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := tok.(string)
		if key == "entries" {
			break
		}
		dst, ok := fields[key]
		if !ok {
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return nil, bad(err)
		}
	}
	if err := checkFormat(p, l.Format); err != nil {
		return nil, err
	}
	l.decodePaths()
	return &l, nil
}

// checkFormat refuses a lock this jailer cannot read.
func checkFormat(p string, format int) error {
	if format < oldestFormat || format > Format {
		return fmt.Errorf("lock %s has format %d, this jailer reads %d to %d (rebuild the jail with --force, or use the jailer that built it)", p, format, oldestFormat, Format)
	}
	return nil
}

// Link modes for build.Options.Link.
const (
	LinkCopy     = "copy"
	LinkHardlink = "hardlink"
	// LinkStore hardlinks every file from a content store (package store).
	LinkStore = "store"
)

// LinkModes are the link modes a build takes, in the order help text
// names them.
var LinkModes = []string{LinkCopy, LinkHardlink, LinkStore}

// SharesFiles says whether a jail built with the link mode link shares
// its files' inodes with something outside it (the host's files, or a
// store's that other jails link too), so that no run may write into its
// tree: only a fresh root per run.
func SharesFiles(link string) bool { return link == LinkHardlink || link == LinkStore }

// StoredMode is the mode a stored file has in the tree for an entry of
// mode m: without write bits, so that nobody writes into a file many
// jails share (root would still be allowed to; runs never get the tree).
func StoredMode(m fs.FileMode) fs.FileMode { return m &^ 0o222 }

// StoredModeString is StoredMode of a mode as the lock writes it
// (plan.ModeString: four octal digits); "" when mode is not one.
func StoredModeString(mode string) string {
	m, err := strconv.ParseUint(mode, 8, 32)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%04o", m&^0o222)
}
