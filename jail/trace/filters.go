//go:build linux

package trace

// Turning what a trace found into manifest items.

import (
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/planner"

	"github.com/jailer-dev/jailer/manifest"
)

// generatedPaths are the jail paths the manifest has jailer write: the
// account files for users: and groups:, the files of the hosts profile,
// and files with content:.
func generatedPaths(m *manifest.Manifest) map[string]bool {
	gen := map[string]bool{}
	if len(m.Users) > 0 || len(m.Groups) > 0 {
		gen["/etc/passwd"], gen["/etc/group"], gen["/etc/nsswitch.conf"] = true, true, true
	}
	for _, p := range m.Profiles {
		for dest := range planner.Profiles[p.Name].Content {
			gen[dest] = true
		}
	}
	for _, f := range m.Files {
		if f.Content != nil {
			gen[path.Clean(f.Dest)] = true
		}
	}
	return gen
}

// profileFor returns the profile that provides the jail path p, and
// whether the manifest names it already.
func (s *suggester) profileFor(p string) (name string, named, ok bool) {
	if !s.loaded {
		s.loaded = true
		for _, name := range slices.Sorted(maps.Keys(planner.Profiles)) {
			def := planner.Profiles[name]
			for _, dest := range slices.Sorted(maps.Keys(def.Content)) {
				s.provides = append(s.provides, providedPath{profile: name, path: dest})
			}
			paths, _, err := def.Paths()
			if err != nil {
				continue // the host lacks what the profile needs: it provides nothing
			}
			for _, pp := range paths {
				dest := pp.Dest
				if dest == "" {
					dest = pp.Src
				}
				s.provides = append(s.provides, providedPath{profile: name, path: path.Clean(dest), skip: def.Skip})
			}
		}
	}
	for _, pp := range s.provides {
		if within(p, pp.path) && !skippedBelow(p, pp.path, pp.skip) {
			return pp.profile, s.named[pp.profile], true
		}
	}
	return "", false, false
}

// skippedBelow says whether a directory between dir and p (or p) has a
// name that matches one of the patterns a profile leaves out.
func skippedBelow(p, dir string, skip []string) bool {
	if p == dir || len(skip) == 0 {
		return false
	}
	for _, part := range strings.Split(strings.TrimPrefix(p, dir+"/"), "/") {
		for _, pat := range skip {
			if ok, _ := path.Match(pat, part); ok {
				return true
			}
		}
	}
	return false
}

// loaderSearches adds what the loader would have opened in the search
// directories it found missing: glibc remembers a missing directory and
// does not look in it again, so a library that a program dlopens later
// (or a dependency of a later library) is never looked for there. Each
// library name the loader looked for and never found is paired with each
// missing directory it probed, in the order it probed them, and the first
// directory that has it on the host is suggested.
func loaderSearches(lookups []Lookup) []Lookup {
	var dirs, names []Lookup
	for _, l := range lookups {
		switch {
		case !l.Loader || l.FoundElsewhere:
		case isLibName(path.Base(l.Path)):
			if !slices.ContainsFunc(names, func(n Lookup) bool { return path.Base(n.Path) == path.Base(l.Path) }) {
				names = append(names, l)
			}
		case l.Syscall != "openat" && l.Syscall != "open" && l.Syscall != "openat2":
			dirs = append(dirs, l) // a stat of a search directory
		}
	}
	var out []Lookup
	for _, n := range names {
		for _, d := range dirs {
			p := path.Join(d.Path, path.Base(n.Path))
			if _, err := os.Stat(p); err == nil {
				out = append(out, Lookup{Path: p, Syscall: "library search", Errno: n.Errno, Program: n.Program, Loader: true})
				break // the loader takes the first it finds
			}
		}
	}
	return out
}

func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	return p
}

// within says whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// ignoredPath says whether a lookup is noise: kernel file systems, the
// loader's cache and preload list, mount targets.
func ignoredPath(p string, skip []string) bool {
	if p == "/" || strings.HasPrefix(p, "/etc/ld.so.") {
		return true
	}
	for _, d := range append([]string{"/proc", "/sys", "/dev"}, skip...) {
		if within(p, d) {
			return true
		}
	}
	return false
}

func describeLookup(l Lookup) string {
	s := l.Syscall
	if l.Loader {
		s = "the loader's " + s
	}
	if l.Program != "" {
		s += " by " + l.Program
	}
	return s
}
