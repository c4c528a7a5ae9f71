//go:build linux

package trace

// Turning what a trace found into manifest items.

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/internal/privdirs"

	"gopkg.in/yaml.v3"

	"github.com/jailer-dev/jailer/manifest"
)

// Suggestion is a manifest item that would add what the program looked
// for: a host path at the same path in the jail, a profile or a package.
type Suggestion struct {
	// Field is the manifest list it goes in: binaries, packages, profiles,
	// files or dirs.
	Field string `json:"field"`
	// Path is the host path, and the path in the jail (binaries, files, dirs).
	Path string `json:"path,omitempty"`
	// Dest is set for a program that a flat jail would otherwise put in /bin.
	Dest string `json:"dest,omitempty"`
	// Mode is set for a directory to create whose host mode is not 0755.
	Mode string `json:"mode,omitempty"`
	// Name is the profile's or the package's name.
	Name string `json:"name,omitempty"`
	// Depends is set for a package whose dependencies the jail lacks.
	Depends bool `json:"depends,omitempty"`
	// Why says what looked for it, and for a directory how big it is.
	Why string `json:"why"`
}

// Item is the suggestion as a YAML list item (flow style).
func (s Suggestion) Item() string {
	switch {
	case s.Field == "packages" && s.Depends:
		return "{ name: " + yamlScalar(s.Name) + ", depends: true }"
	case s.Name != "":
		return yamlScalar(s.Name)
	case s.Dest != "":
		return "{ src: " + yamlScalar(s.Path) + ", dest: " + yamlScalar(s.Dest) + " }"
	case s.Mode != "":
		return "{ path: " + yamlScalar(s.Path) + ", mode: \"" + s.Mode + "\" }"
	}
	return yamlScalar(s.Path)
}

// key tells suggestions apart across rounds.
func (s Suggestion) key() string { return s.Field + " " + s.Path + s.Name }

// Note is something a trace found that no suggestion answers: what was
// left out and why, or what the manifest should say instead.
type Note struct {
	// Subject is what it is about: a path, or a module.
	Subject string `json:"subject"`
	// Text says what was left out and why, and what to do.
	Text string `json:"note"`
}

// yamlScalar quotes s when YAML needs it.
func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// Limits on copying a directory whole: one looked for, or one that two or
// more missing files are in. A bigger one is never suggested; what was
// looked for inside it is.
const (
	collapseMaxEntries = 64
	collapseMaxBytes   = 16 << 20
)

// fieldOrder is the order of the manifest's lists, for output.
var fieldOrder = map[string]int{"binaries": 0, "packages": 1, "profiles": 2, "files": 3, "dirs": 4}

// accountFiles are the name service files jailer writes itself from the
// manifest, never copied from the host: they name the host's users and
// hosts (and shadow files hold password hashes). The text says which
// manifest field answers a lookup of each. /etc/hosts is the hosts
// profile's, which is suggested instead.
var accountFiles = map[string]string{
	"/etc/passwd":        "a user lookup; jailer writes /etc/passwd from users: (declare the users the command needs)",
	"/etc/group":         "a group lookup; jailer writes /etc/group from groups: and users:",
	"/etc/nsswitch.conf": "a user, group or host lookup; jailer writes /etc/nsswitch.conf for users:, groups: or profiles: [hosts]",
	"/etc/shadow":        "password hashes; jailer writes no /etc/shadow",
	"/etc/gshadow":       "password hashes; jailer writes no /etc/gshadow",
}

// SuggestOptions is what Suggest knows besides the lookups.
type SuggestOptions struct {
	// Manifest is the jail's manifest (nil: an empty one). Its layout
	// decides where programs go; what it has jailer write (users:,
	// groups:, profiles:, files with content:) is never suggested from
	// the host.
	Manifest *manifest.Manifest
	// Skip are jail paths whose lookups are someone else's: mount targets.
	Skip []string
	// Private are host directories nothing is suggested from (HostPrivateDirs).
	Private []privdirs.Dir
	// Modules are the imports the command's output says failed.
	Modules []MissingModule
	// Dpkg is dpkg's database, searched for the packages that ship
	// Modules; default dpkg.Dir.
	Dpkg string
}

// candidate is a missing path that the host has.
type candidate struct {
	Lookup
	fi   fs.FileInfo
	why  string
	gone bool
}

// suggester holds what one Suggest works with.
type suggester struct {
	root string
	j    jailStat
	o    SuggestOptions
	// gen are the jail paths the manifest has jailer write.
	gen map[string]bool
	// profiles are the paths each profile copies or writes, loaded when
	// first needed (the python and perl profiles ask the host's
	// interpreters).
	provides []providedPath
	loaded   bool
	named    map[string]bool // profiles the manifest names
	// hits are the files of installed packages that are the missing
	// modules, by "lang name" (moduleHits).
	hits    map[string][]moduleHit
	hitsErr error

	// Set aside by collect: the first lookup of each account file, what
	// was looked for in each private directory, the lookups of the paths
	// each profile provides.
	accounts  map[string]Lookup
	private   map[privdirs.Dir][]string
	byProfile map[string][]Lookup
}

// providedPath is a jail path a profile provides, with the base-name
// patterns of what it leaves out below it.
type providedPath struct {
	profile, path string
	skip          []string
}

// Suggest turns a trace's lookups into manifest items: every path that
// the jail at root lacks and the host has, without the searches that went
// on to succeed, /proc, /sys, /dev, the loader's cache, paths under
// o.Skip (mount targets) and the jail itself. Duplicates (one host file
// by two names) keep the name looked for first.
//
// Never suggested, and said so in a note instead: anything in a private
// directory (a home or a cache, o.Private); the host's /etc/passwd,
// /etc/group, /etc/nsswitch.conf and shadow files, which jailer writes
// from users: and groups:; a directory too big to copy whole. A path a
// profile provides becomes that profile (nothing when the manifest has it
// already): /etc/hosts becomes profiles: [hosts]. A looked-for directory is
// copied whole when small, or only created (dirs:) when it is a top-level
// one such as /tmp or holds the jail; two or more missing files of one
// small directory that the jail lacks become that directory. Programs
// (executed, or ELF executables and scripts) go under binaries:, the rest
// under files:. A module the command failed to import becomes the Debian
// package that ships it, and the interpreter's probes for it are dropped. The result is sorted by field, then path or
// name; the notes by subject.
func Suggest(root string, lookups []Lookup, o SuggestOptions) ([]Suggestion, []Note) {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	if o.Manifest == nil {
		o.Manifest = &manifest.Manifest{}
	}
	s := &suggester{root: root, j: openJailStat(root), o: o, gen: generatedPaths(o.Manifest), named: map[string]bool{},
		accounts: map[string]Lookup{}, private: map[privdirs.Dir][]string{}, byProfile: map[string][]Lookup{}}
	defer s.j.close()
	for _, p := range o.Manifest.Profiles {
		s.named[p.Name] = true
	}
	cands := collapse(s.collect(lookups), root, s.j, o.Private)
	out, tooBig := s.place(cands)
	for _, name := range slices.Sorted(maps.Keys(s.byProfile)) {
		ls := s.byProfile[name]
		slices.SortFunc(ls, func(a, b Lookup) int { return strings.Compare(a.Path, b.Path) })
		why := ls[0].Path + ": " + describeLookup(ls[0])
		if len(ls) > 1 {
			why += fmt.Sprintf(", and %d more %s it has", len(ls)-1, plural(len(ls)-1, "path", "paths"))
		}
		out = append(out, Suggestion{Field: "profiles", Name: name, Why: why})
	}
	pkgs, notes := s.moduleSuggestions(out)
	out = append(out, pkgs...)
	notes = s.leftOut(out, notes, tooBig)
	sort.SliceStable(out, func(a, b int) bool {
		if fieldOrder[out[a].Field] != fieldOrder[out[b].Field] {
			return fieldOrder[out[a].Field] < fieldOrder[out[b].Field]
		}
		return out[a].Path+out[a].Name < out[b].Path+out[b].Name
	})
	sort.SliceStable(notes, func(a, b int) bool { return notes[a].Subject < notes[b].Subject })
	return out, notes
}

// collect returns the lookups of paths the jail lacks and the host has
// that may be copied, and sets aside those that may not (account files,
// private directories) and those a profile provides.
func (s *suggester) collect(lookups []Lookup) []*candidate {
	var cands []*candidate
	seenReal := map[string]bool{}
	for _, l := range append(slices.Clone(lookups), loaderSearches(lookups)...) {
		if l.FoundElsewhere || l.Loader && !isLibName(path.Base(l.Path)) {
			continue
		}
		// A link in the jail to a missing file: the file is what is missing.
		l.Path = s.j.linkTarget(l.Path)
		if ignoredPath(l.Path, s.o.Skip) || s.j.exists(l.Path) || s.gen[l.Path] {
			continue
		}
		if _, ok := accountFiles[l.Path]; ok {
			if _, seen := s.accounts[l.Path]; !seen {
				s.accounts[l.Path] = l
			}
			continue
		}
		fi, err := os.Stat(l.Path)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(l.Path)
		if err != nil || within(real, s.root) {
			continue
		}
		if d, ok := privdirs.Find(s.o.Private, l.Path, real); ok {
			if !slices.Contains(s.private[d], l.Path) {
				s.private[d] = append(s.private[d], l.Path)
			}
			continue
		}
		if s.isModuleProbe(l.Path) {
			continue
		}
		if name, named, ok := s.profileFor(l.Path); ok {
			if !named {
				s.byProfile[name] = append(s.byProfile[name], l)
			}
			continue
		}
		if seenReal[real] {
			continue
		}
		seenReal[real] = true
		cands = append(cands, &candidate{Lookup: l, fi: fi, why: describeLookup(l)})
	}
	return cands
}

// place turns candidates into suggestions under binaries:, files: and
// dirs:, and returns the directories too big to copy whole apart.
func (s *suggester) place(cands []*candidate) (out []Suggestion, tooBig []*candidate) {
	var copied []string // directories copied whole
	sort.Slice(cands, func(a, b int) bool { return cands[a].Path < cands[b].Path })
	for _, c := range cands {
		if slices.ContainsFunc(copied, func(d string) bool { return within(c.Path, d) }) {
			continue
		}
		sug := Suggestion{Field: "files", Path: c.Path, Why: c.why}
		switch {
		case c.fi.IsDir() && (strings.Count(c.Path, "/") < 2 || within(s.root, c.Path)):
			sug.Field = "dirs"
			if perm := c.fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetgid); perm != 0o755 {
				sug.Mode = fmt.Sprintf("%04o", unixPerm(perm))
			}
		case c.fi.IsDir():
			n, size, small := treeSize(c.Path, collapseMaxEntries, collapseMaxBytes)
			if !small || privdirs.Holds(s.o.Private, c.Path) {
				tooBig = append(tooBig, c)
				continue
			}
			sug.Why = fmt.Sprintf("directory, %d entries, %s; %s", n, human.Bytes(size), c.why)
			copied = append(copied, c.Path)
		case !c.fi.Mode().IsRegular():
			continue // a device, socket or fifo: nothing to copy
		case isProgram(c.Path, c.fi, c.Exec):
			sug.Field = "binaries"
			if s.o.Manifest.Layout != "preserve" && c.Path != "/bin/"+path.Base(c.Path) {
				sug.Dest = c.Path
			}
		}
		out = append(out, sug)
	}
	// A directory to create that holds something else suggested is made
	// by that already.
	out = slices.DeleteFunc(out, func(sug Suggestion) bool {
		return sug.Field == "dirs" && slices.ContainsFunc(out, func(o Suggestion) bool { return o.Path != sug.Path && within(o.Path, sug.Path) })
	})
	return out, tooBig
}

// leftOut adds to notes a line for each account file, each private
// directory, and each directory too big to copy whole in which nothing is
// suggested or left out already.
func (s *suggester) leftOut(out []Suggestion, notes []Note, tooBig []*candidate) []Note {
	for p, l := range s.accounts {
		notes = append(notes, Note{Subject: p, Text: fmt.Sprintf("left out (%s): %s; the host's is never copied", describeLookup(l), accountFiles[p])})
	}
	for d, ps := range s.private {
		slices.Sort(ps)
		notes = append(notes, Note{Subject: d.Path, Text: fmt.Sprintf("left out %s: in %s; a host user's files are never suggested (add what the command needs yourself, or bind-mount it with --bind)", listPaths(ps), d.Why)})
	}
	for _, c := range tooBig {
		if slices.ContainsFunc(out, func(o Suggestion) bool { return o.Path != "" && o.Path != c.Path && within(o.Path, c.Path) }) ||
			slices.ContainsFunc(notes, func(n Note) bool { return n.Subject != c.Path && within(n.Subject, c.Path) }) {
			continue
		}
		why := fmt.Sprintf("a directory of more than %d entries or %s", collapseMaxEntries, human.Bytes(collapseMaxBytes))
		if privdirs.Holds(s.o.Private, c.Path) {
			why = "a directory that holds a home or cache directory"
		}
		notes = append(notes, Note{Subject: c.Path, Text: fmt.Sprintf("left out (%s): %s is never copied whole; add what the command needs in it", c.why, why)})
	}
	return notes
}

// listPaths names up to three paths, and how many more there are.
func listPaths(ps []string) string {
	if len(ps) <= 3 {
		return strings.Join(ps, ", ")
	}
	return fmt.Sprintf("%s and %d more paths", strings.Join(ps[:3], ", "), len(ps)-3)
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}
