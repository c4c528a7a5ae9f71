// Package privdirs knows the host directories that hold a person's own
// files: home directories (root's, every login user's, the caller's) and
// the caller's caches. Nothing there is ever suggested or copied into a
// jail on jailer's initiative: a home holds credentials (ssh keys, tokens in
// dotfiles), and caches hold hundreds of megabytes a program only happened
// to look at.
package privdirs

// The host directories that hold a person's own files, which trace never
// suggests copying into a jail: a home directory holds credentials (ssh
// keys, tokens in dotfiles) and caches hold hundreds of megabytes that a
// test suite only happened to look at.

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Dir is a host directory nothing is suggested from.
type Dir struct {
	// Path is the directory, absolute and clean.
	Path string `json:"path"`
	// Why says whose it is ("the home directory of alice (/etc/passwd)").
	Why string `json:"why"`
}

// Default bounds of login users' uids, as Debian's /etc/login.defs has them.
const (
	defaultUIDMin = 1000
	defaultUIDMax = 60000
)

// Host returns the host's private directories: the cache and
// home directories of the user running jailer ($XDG_CACHE_HOME,
// $HOME/.cache, $HOME) and the home directory of root and of every login
// user in /etc/passwd. Longest first, so that the most specific reason
// is found first.
func Host() []Dir {
	passwd, _ := os.ReadFile("/etc/passwd")
	defs, _ := os.ReadFile("/etc/login.defs")
	return parse(string(passwd), string(defs), os.Getenv)
}

// parse works out the private directories from the text of
// /etc/passwd and /etc/login.defs and the environment. A login user is
// one whose uid is between UID_MIN and UID_MAX of login.defs, or whose
// home is under /home: system users have homes such as /bin, /usr/sbin or
// /var/www, which are no one's private files. "/" is never private.
func parse(passwd, loginDefs string, getenv func(string) string) []Dir {
	uidMin, uidMax := defaultUIDMin, defaultUIDMax
	for _, line := range strings.Split(loginDefs, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		switch {
		case err != nil:
		case f[0] == "UID_MIN":
			uidMin = n
		case f[0] == "UID_MAX":
			uidMax = n
		}
	}
	var out []Dir
	seen := map[string]bool{}
	add := func(dir, why string) {
		if !path.IsAbs(dir) {
			return
		}
		dir = path.Clean(dir)
		if dir == "/" || seen[dir] {
			return
		}
		seen[dir] = true
		out = append(out, Dir{Path: dir, Why: why})
		// A lookup is compared as looked for and with its symlinks
		// resolved: compare with the directory's real path too.
		if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir && real != "/" && !seen[real] {
			seen[real] = true
			out = append(out, Dir{Path: real, Why: why})
		}
	}
	const cache = "the cache directory of the user running jailer"
	add(getenv("XDG_CACHE_HOME"), cache+" ($XDG_CACHE_HOME)")
	if home := getenv("HOME"); home != "" {
		add(path.Join(home, ".cache"), cache+" (~/.cache)")
		add(home, "the home directory of the user running jailer ($HOME)")
	}
	for _, line := range strings.Split(passwd, "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		home := path.Clean(f[5])
		if uid == 0 || uid >= uidMin && uid <= uidMax || strings.HasPrefix(home, "/home/") {
			add(home, "the home directory of "+f[0]+" (/etc/passwd)")
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return len(out[a].Path) > len(out[b].Path) })
	return out
}

// Find returns the private directory that holds p or real (p with
// its symlinks resolved), if any.
func Find(dirs []Dir, p, real string) (Dir, bool) {
	for _, d := range dirs {
		if within(p, d.Path) || within(real, d.Path) {
			return d, true
		}
	}
	return Dir{}, false
}

// Holds says whether the host directory dir holds a private one,
// so that copying it whole would copy someone's files.
func Holds(dirs []Dir, dir string) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	for _, d := range dirs {
		if within(d.Path, dir) || within(d.Path, real) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
