package jail

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
)

// hostCache remembers what jailer learned about host files — a file's
// sha256, a program's libraries — keyed by path and stat, so that building
// the same programs again (another output, --force, a changed manifest)
// neither runs the dynamic loader nor hashes a byte for files that did not
// change. Library lists are also tied to /etc/ld.so.cache: installing or
// removing a library rewrites it and so empties their part of the cache.
//
// The cache lives in $JAILER_CACHE_DIR, else $XDG_CACHE_HOME/jailer, else
// ~/.cache/jailer; JAILER_CACHE_DIR=off disables it. It is only ever a
// shortcut: a missing or unreadable cache means the work is done again.
type hostCache struct {
	mu      sync.Mutex
	path    string
	ldCache Stat
	files   map[string]cacheEntry
	dirty   bool
}

type cacheEntry struct {
	Stat   Stat     `json:"stat"`
	SHA256 string   `json:"sha256,omitempty"`
	Deps   *ELFDeps `json:"deps,omitempty"`
	// LdCache is the stat of /etc/ld.so.cache when Deps was found.
	LdCache Stat `json:"ld_cache,omitzero"`
}

type cacheFile struct {
	Format int                   `json:"format"`
	Files  map[string]cacheEntry `json:"files"`
}

// cacheFormat changes whenever what is cached changes meaning.
const cacheFormat = 1

// maxCacheEntries bounds the cache; past it, the cache starts afresh.
const maxCacheEntries = 50000

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

// openHostCache loads the cache (or starts an empty one).
func openHostCache() *hostCache {
	c := &hostCache{files: map[string]cacheEntry{}}
	c.ldCache, _ = lstat(ldCache)
	dir := cacheDir()
	if dir == "" {
		return c
	}
	c.path = filepath.Join(dir, "host.json")
	data, err := os.ReadFile(c.path)
	if err != nil {
		return c
	}
	var f cacheFile
	if json.Unmarshal(data, &f) == nil && f.Format == cacheFormat && f.Files != nil && len(f.Files) < maxCacheEntries {
		c.files = f.Files
	}
	return c
}

// lookup returns the entry for path if the file still has stat st.
func (c *hostCache) lookup(path string, st Stat) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.files[path]
	if !ok || e.Stat != st {
		return cacheEntry{}, false
	}
	return e, true
}

// sha returns the cached sha256 of path at stat st.
func (c *hostCache) sha(path string, st Stat) (string, bool) {
	e, ok := c.lookup(path, st)
	return e.SHA256, ok && e.SHA256 != ""
}

// deps returns the cached libraries of path at stat st.
func (c *hostCache) deps(path string, st Stat) (*ELFDeps, bool) {
	e, ok := c.lookup(path, st)
	if !ok || e.Deps == nil || e.LdCache != c.ldCache {
		return nil, false
	}
	return e.Deps, true
}

// update changes path's entry, starting it afresh when the file changed.
func (c *hostCache) update(path string, st Stat, edit func(*cacheEntry)) {
	if c == nil || st.Ino == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.files[path]
	if e.Stat != st {
		e = cacheEntry{Stat: st}
	}
	edit(&e)
	c.files[path] = e
	c.dirty = true
}

func (c *hostCache) putSHA(path string, st Stat, sum string) {
	c.update(path, st, func(e *cacheEntry) { e.SHA256 = sum })
}

func (c *hostCache) putDeps(path string, st Stat, d *ELFDeps) {
	c.update(path, st, func(e *cacheEntry) { e.Deps, e.LdCache = d, c.ldCache })
}

// save writes the cache back if it changed, atomically; failures are
// ignored (the cache is only a shortcut).
func (c *hostCache) save() {
	if c == nil || c.path == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return
	}
	data, err := json.Marshal(cacheFile{Format: cacheFormat, Files: c.files})
	if err != nil || os.MkdirAll(filepath.Dir(c.path), 0o700) != nil {
		return
	}
	tmp := c.path + "." + randomSuffix()
	if os.WriteFile(tmp, data, 0o600) != nil || os.Rename(tmp, c.path) != nil {
		os.Remove(tmp)
		return
	}
	c.dirty = false
}
