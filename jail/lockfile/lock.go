package lockfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// LockFormat is the version of the lock file layout.
const Format = 1

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
	// Format is LockFormat.
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
	// Link is copy or hardlink (hardlinked jails must be entered read-only).
	Link string `json:"link"`
	// Built is when the build finished.
	Built time.Time `json:"built"`
	// Tree identifies the jail directory this lock describes; a lock whose
	// tree was replaced (an interrupted swap) no longer matches.
	Tree Stat `json:"tree"`
	// Enter holds the manifest's defaults for `jailer enter`.
	Enter manifest.Enter `json:"enter"`
	// Inputs are the manifest files read, with their stat at build time.
	Inputs []Input `json:"inputs"`
	// Entries are every path in the jail.
	Entries []Entry `json:"entries"`
}

// Stat is the part of a file's stat that tells whether it changed.
type Stat struct {
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	Size  int64  `json:"size,omitempty"`
	Mtime int64  `json:"mtime,omitempty"` // nanoseconds since the epoch
	// Ctime is kept for files in the jail only (treeStatOf): a process in
	// the jail can reset a file's mtime after changing it, not its ctime.
	Ctime int64 `json:"ctime,omitempty"`
}

// treeStatOf is statOf with the ctime, for files in the jail.
func TreeStatOf(fi fs.FileInfo) Stat {
	st := StatOf(fi)
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Ctime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
	}
	return st
}

// Input is a host file the build read.
type Input struct {
	Path string `json:"path"`
	Stat Stat   `json:"stat"`
}

// LockEntry is one path in the jail as built.
type Entry struct {
	Dest   string    `json:"dest"`
	Kind   plan.Kind `json:"kind"`
	Source string    `json:"source,omitempty"`
	Target string    `json:"target,omitempty"`
	Mode   string    `json:"mode"`
	UID    int       `json:"uid,omitempty"`
	GID    int       `json:"gid,omitempty"`
	Size   int64     `json:"size,omitempty"`
	SHA256 string    `json:"sha256,omitempty"`
	// Linked says the file is a hardlink to its host source.
	Linked bool `json:"linked,omitempty"`
	// SourceStat is the host source's stat when it was copied.
	SourceStat Stat `json:"source_stat,omitzero"`
	// TreeStat is the jail file's stat right after the build.
	TreeStat Stat   `json:"tree_stat,omitzero"`
	Why      string `json:"why,omitempty"`
}

// LockPath returns the lock file path of the jail at dir.
func Path(dir string) string { return filepath.Clean(dir) + LockSuffix }

// ReadLock reads the lock beside the jail at dir. It returns an error
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
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("read lock %s: %w (rebuild with --force)", p, err)
	}
	if l.Format != Format {
		return nil, fmt.Errorf("lock %s has format %d, this jailer reads %d (rebuild the jail)", p, l.Format, Format)
	}
	return &l, nil
}

// statOf returns the change-detecting fields of fi.
func StatOf(fi fs.FileInfo) Stat {
	st := Stat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Dev, st.Ino = uint64(sys.Dev), sys.Ino
	}
	if fi.IsDir() {
		st.Size = 0
	}
	return st
}

// lstat returns the Stat of path, not following a final symlink.
func Lstat(path string) (Stat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Stat{}, err
	}
	return StatOf(fi), nil
}

// ReadLockHead reads a lock's settings (everything but Entries), stopping
// where the entries start: `jailer enter` needs only the enter settings,
// and a jail of a hundred programs has a lock of a few hundred kilobytes.
func ReadHead(dir string) (*Lock, error) {
	p := Path(dir)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s beside it)", dir, ErrNotAJail, filepath.Base(p))
	}
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	defer f.Close()
	var l Lock
	fields := map[string]any{
		"format": &l.Format, "name": &l.Name, "manifest": &l.Manifest, "digest": &l.Digest,
		"layout": &l.Layout, "link": &l.Link, "built": &l.Built, "tree": &l.Tree, "enter": &l.Enter, "inputs": &l.Inputs,
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
	if l.Format != Format {
		return nil, fmt.Errorf("lock %s has format %d, this jailer reads %d (rebuild the jail)", p, l.Format, Format)
	}
	return &l, nil
}

// Link modes for BuildOptions.Link.
const (
	LinkCopy     = "copy"
	LinkHardlink = "hardlink"
)
