package jail

// Turning what a trace found into manifest items.

import (
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"
)

// Suggestion is a manifest item that would add a path the program looked
// for: the same path on the host and in the jail.
type Suggestion struct {
	// Field is the manifest list it goes in: binaries, files or dirs.
	Field string `json:"field"`
	// Path is the host path, and the path in the jail.
	Path string `json:"path"`
	// Dest is set for a program that a flat jail would otherwise put in /bin.
	Dest string `json:"dest,omitempty"`
	// Mode is set for a directory to create whose host mode is not 0755.
	Mode string `json:"mode,omitempty"`
	// Why says what looked for it, and for a directory how big it is.
	Why string `json:"why"`
}

// Item is the suggestion as a YAML list item (flow style).
func (s Suggestion) Item() string {
	switch {
	case s.Dest != "":
		return "{ src: " + yamlScalar(s.Path) + ", dest: " + yamlScalar(s.Dest) + " }"
	case s.Mode != "":
		return "{ path: " + yamlScalar(s.Path) + ", mode: \"" + s.Mode + "\" }"
	}
	return yamlScalar(s.Path)
}

// yamlScalar quotes s when YAML needs it.
func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// Limits on collapsing several missing files into their directory.
const (
	collapseMaxEntries = 64
	collapseMaxBytes   = 16 << 20
)

// candidate is a missing path that the host has.
type candidate struct {
	Lookup
	fi   fs.FileInfo
	why  string
	gone bool
}

// Suggest turns a trace's lookups into manifest items: every path that
// the jail at root lacks and the host has, without the searches that went
// on to succeed, /proc, /sys, /dev, the loader's cache, paths under skip
// (mount targets) and the jail itself. Duplicates (one host file by two
// names) keep the name looked for first. A looked-for directory is copied
// whole, or only created (dirs:) when it is a top-level one such as /tmp
// or holds the jail; two or more missing files of one small directory
// that the jail lacks become that directory. Programs (executed, or ELF
// executables and scripts) go under binaries:, the rest under files:.
// The result is sorted by field, then path.
func Suggest(root, layout string, lookups []Lookup, skip []string) []Suggestion {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	j := jailStat(root)
	var cands []*candidate
	seenReal := map[string]bool{}
	for _, l := range append(slices.Clone(lookups), loaderSearches(lookups)...) {
		if l.FoundElsewhere || l.Loader && !isLibName(path.Base(l.Path)) {
			continue
		}
		// A link in the jail to a missing file: the file is what is missing.
		l.Path = j.linkTarget(l.Path)
		if ignoredPath(l.Path, skip) || j.exists(l.Path) {
			continue
		}
		fi, err := os.Stat(l.Path)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(l.Path)
		if err != nil || seenReal[real] || within(real, root) {
			continue
		}
		seenReal[real] = true
		cands = append(cands, &candidate{Lookup: l, fi: fi, why: describeLookup(l)})
	}
	cands = collapse(cands, root, j)
	var out []Suggestion
	var copied []string // directories copied whole
	sort.Slice(cands, func(a, b int) bool { return cands[a].Path < cands[b].Path })
	for _, c := range cands {
		if slices.ContainsFunc(copied, func(d string) bool { return within(c.Path, d) }) {
			continue
		}
		s := Suggestion{Field: "files", Path: c.Path, Why: c.why}
		switch {
		case c.fi.IsDir() && (strings.Count(c.Path, "/") < 2 || within(root, c.Path)):
			s.Field = "dirs"
			if perm := c.fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetgid); perm != 0o755 {
				s.Mode = fmt.Sprintf("%04o", unixPerm(perm))
			}
		case c.fi.IsDir():
			n, size := treeSize(c.Path)
			s.Why = fmt.Sprintf("directory, %d entries, %s; %s", n, humanBytes(size), c.why)
			copied = append(copied, c.Path)
		case !c.fi.Mode().IsRegular():
			continue // a device, socket or fifo: nothing to copy
		case isProgram(c.Path, c.fi, c.Exec):
			s.Field = "binaries"
			if layout != "preserve" && c.Path != "/bin/"+path.Base(c.Path) {
				s.Dest = c.Path
			}
		}
		out = append(out, s)
	}
	// A directory to create that holds something else suggested is made
	// by that already.
	out = slices.DeleteFunc(out, func(s Suggestion) bool {
		return s.Field == "dirs" && slices.ContainsFunc(out, func(o Suggestion) bool { return o.Path != s.Path && within(o.Path, s.Path) })
	})
	order := map[string]int{"binaries": 0, "files": 1, "dirs": 2}
	sort.SliceStable(out, func(a, b int) bool { return order[out[a].Field] < order[out[b].Field] })
	return out
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

// collapse replaces two or more missing files of a directory by the
// directory, when the jail lacks it and it is small.
func collapse(cands []*candidate, root string, j jailStat) []*candidate {
	byDir := map[string][]*candidate{}
	for _, c := range cands {
		if c.fi.Mode().IsRegular() && !isProgram(c.Path, c.fi, c.Exec) {
			byDir[path.Dir(c.Path)] = append(byDir[path.Dir(c.Path)], c)
		}
	}
	for _, dir := range sortedKeys(byDir) {
		files := byDir[dir]
		if len(files) < 2 || strings.Count(dir, "/") < 2 || within(root, dir) || j.exists(dir) {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		if n, size := treeSize(dir); n > collapseMaxEntries || size > collapseMaxBytes {
			continue
		}
		var names []string
		for _, c := range files {
			c.gone = true
			names = append(names, path.Base(c.Path))
		}
		why := "looked for " + strings.Join(names, ", ")
		if files[0].Program != "" {
			why += " (" + files[0].Program + ")"
		}
		cands = append(cands, &candidate{Lookup: Lookup{Path: dir}, fi: fi, why: why})
	}
	return slices.DeleteFunc(cands, func(c *candidate) bool { return c.gone })
}

// treeSize counts the entries and bytes of a host directory tree.
func treeSize(dir string) (n int, size int64) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		n++
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return n, size
}

// isProgram says whether a host file is a program to install with its
// libraries: it was executed, or it is an executable ELF program (not a
// shared library) or a #! script.
func isProgram(p string, fi fs.FileInfo, executed bool) bool {
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return false
	}
	if executed {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	if string(head[:2]) == "#!" {
		return true
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return false
	}
	switch ef.Type {
	case elf.ET_EXEC:
		return true
	case elf.ET_DYN:
		return !isLibName(path.Base(p)) && slices.ContainsFunc(ef.Progs, func(pr *elf.Prog) bool { return pr.Type == elf.PT_INTERP })
	}
	return false
}

// jailStat answers whether a path exists in a jail tree, resolving
// symlinks as the jail would, never outside it.
type jailStat string

func (j jailStat) exists(p string) bool {
	rfd, err := unix.Open(string(j), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, strings.TrimPrefix(p, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// linkTarget follows p while it is a symlink in the jail, and returns the
// path it ends at (p itself when it is no symlink).
func (j jailStat) linkTarget(p string) string {
	rfd, err := unix.Open(string(j), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return p
	}
	defer unix.Close(rfd)
	for range 40 {
		fd, err := unix.Openat2(rfd, strings.TrimPrefix(p, "/"), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return p
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, "", buf)
		unix.Close(fd)
		if err != nil {
			return p // not a symlink
		}
		target := string(buf[:n])
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return p
}
