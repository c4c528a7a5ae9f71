package elfdeps

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/jailer-dev/jailer/jail/lockfile"
)

// HostCache remembers what jailer learned about host files — a file's
// sha256, a program's libraries — keyed by path and stat, so that building
// the same programs again (another output, --force, a changed manifest)
// neither runs the dynamic loader nor hashes a byte for files that did not
// change. Library lists are also tied to /etc/ld.so.cache: installing or
// removing a library rewrites it and so empties their part of the cache.
//
// The cache is one small file per host directory, loaded when a file of
// that directory is first looked up: a build reads only the directories it
// copies from, however many others earlier builds saw. It lives in
// $JAILER_CACHE_DIR, else $XDG_CACHE_HOME/jailer, else ~/.cache/jailer;
// JAILER_CACHE_DIR=off disables it. It is only ever a shortcut: a missing or
// unreadable cache means the work is done again.
type HostCache struct {
	mu      sync.Mutex
	dir     string // "" when disabled
	ldCache lockfile.Stat
	shards  map[string]*cacheShard // by host directory
}

// cacheShard holds the entries of the files of one host directory.
type cacheShard struct {
	files map[string]cacheEntry // by file name
	dirty bool
}

type cacheEntry struct {
	Stat   lockfile.Stat `json:"stat"`
	SHA256 string        `json:"sha256,omitempty"`
	Deps   *Deps         `json:"deps,omitempty"`
	// LdCache is the stat of /etc/ld.so.cache when Deps was found.
	LdCache lockfile.Stat `json:"ld_cache,omitzero"`
}

type cacheFile struct {
	Format int                   `json:"format"`
	Dir    string                `json:"dir"`
	Files  map[string]cacheEntry `json:"files"`
}

// cacheFormat changes whenever what is cached changes meaning.
const cacheFormat = 2

// cacheDir returns where the cache lives, or "" when it is disabled.
func cacheDir() string {
	if d := os.Getenv("JAILER_CACHE_DIR"); d != "" {
		if d == "off" {
			return ""
		}
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "jailer")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "jailer")
	}
	return ""
}

// OpenHostCache starts using the cache; nothing is read until a lookup.
func OpenHostCache() *HostCache {
	c := &HostCache{dir: cacheDir(), shards: map[string]*cacheShard{}}
	c.ldCache, _ = lockfile.Lstat(lockfile.LdCache)
	return c
}

// shardFile names the file holding the entries of host directory dir.
func (c *HostCache) shardFile(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(c.dir, "files", hex.EncodeToString(sum[:12])+".json")
}

// shard returns the entries of dir, loading them on first use. c.mu is held.
func (c *HostCache) shard(dir string) *cacheShard {
	if s, ok := c.shards[dir]; ok {
		return s
	}
	s := &cacheShard{files: map[string]cacheEntry{}}
	c.shards[dir] = s
	if c.dir == "" {
		return s
	}
	f0, err := os.Open(c.shardFile(dir))
	if err != nil {
		return s
	}
	defer f0.Close()
	// Only a cache that no one else can write is trusted: a forged entry
	// could make a build as root copy any host file into a jail.
	if fi, err := f0.Stat(); err != nil || fi.Mode().Perm()&0o022 != 0 || !ownedByMe(fi) {
		return s
	}
	data, err := io.ReadAll(f0)
	if err != nil {
		return s
	}
	var f cacheFile
	if json.Unmarshal(data, &f) == nil && f.Format == cacheFormat && f.Dir == dir && f.Files != nil {
		s.files = f.Files
	}
	return s
}

func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// lookup returns the entry for path if the file still has stat st.
func (c *HostCache) lookup(path string, st lockfile.Stat) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.shard(filepath.Dir(path)).files[filepath.Base(path)]
	if !ok || e.Stat != st {
		return cacheEntry{}, false
	}
	return e, true
}

// SHA returns the cached sha256 of path at stat st.
func (c *HostCache) SHA(path string, st lockfile.Stat) (string, bool) {
	e, ok := c.lookup(path, st)
	return e.SHA256, ok && e.SHA256 != ""
}

// Deps returns the cached libraries of path at stat st.
func (c *HostCache) Deps(path string, st lockfile.Stat) (*Deps, bool) {
	e, ok := c.lookup(path, st)
	if !ok || e.Deps == nil || e.LdCache != c.ldCache {
		return nil, false
	}
	return e.Deps, true
}

// update changes path's entry, starting it afresh when the file changed.
func (c *HostCache) update(path string, st lockfile.Stat, edit func(*cacheEntry)) {
	if c == nil || st.Ino == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.shard(filepath.Dir(path))
	e := s.files[filepath.Base(path)]
	if e.Stat != st {
		e = cacheEntry{Stat: st}
	}
	edit(&e)
	s.files[filepath.Base(path)] = e
	s.dirty = true
}

// PutSHA records the sha256 of path at stat st.
func (c *HostCache) PutSHA(path string, st lockfile.Stat, sum string) {
	c.update(path, st, func(e *cacheEntry) { e.SHA256 = sum })
}

func (c *HostCache) putDeps(path string, st lockfile.Stat, d *Deps) {
	c.update(path, st, func(e *cacheEntry) { e.Deps, e.LdCache = d, c.ldCache })
}

// save writes back the directories whose entries changed, each atomically;
// failures are ignored (the cache is only a shortcut).
func (c *HostCache) save() {
	if c == nil || c.dir == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for dir, s := range c.shards {
		if !s.dirty {
			continue
		}
		// Entries of files that are gone would only grow the shard.
		for name := range s.files {
			if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
				delete(s.files, name)
			}
		}
		data, err := json.Marshal(cacheFile{Format: cacheFormat, Dir: dir, Files: s.files})
		if err != nil {
			continue
		}
		file := c.shardFile(dir)
		if os.MkdirAll(filepath.Dir(file), 0o700) != nil {
			return
		}
		tmp := file + "." + rand.Text()
		if os.WriteFile(tmp, data, 0o600) != nil || os.Rename(tmp, file) != nil {
			os.Remove(tmp)
			continue
		}
		s.dirty = false
	}
}
