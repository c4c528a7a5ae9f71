package jail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/manifest"
)

// Kind is what a jail entry is.
type Kind string

// The kinds of jail entries.
const (
	KindFile    Kind = "file"
	KindDir     Kind = "dir"
	KindSymlink Kind = "symlink"
	KindDevice  Kind = "device"
)

// Entry is one path the build creates in the jail. A plan is a sorted list
// of them: pure data, so `jailer plan` can print exactly what a build does.
type Entry struct {
	// Dest is the absolute path inside the jail.
	Dest string `json:"dest"`
	// Kind is file, dir, symlink or device.
	Kind Kind `json:"kind"`
	// Source is the host file copied (files only; empty for generated content).
	Source string `json:"source,omitempty"`
	// Content is written instead of copying a Source (generated files, inline content).
	Content []byte `json:"content,omitempty"`
	// Target is where a symlink points.
	Target string `json:"target,omitempty"`
	// Mode holds the permission bits, including setuid/setgid/sticky.
	Mode os.FileMode `json:"mode"`
	// UID and GID own the entry.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// Major and Minor number a device.
	Major uint32 `json:"major,omitempty"`
	Minor uint32 `json:"minor,omitempty"`
	// Why says which manifest item pulled the entry in.
	Why string `json:"why"`
}

// Plan is everything a build will create, and where from.
type Plan struct {
	// Name is the jail's name.
	Name string `json:"name"`
	// Manifest is the absolute path of the manifest.
	Manifest string `json:"manifest"`
	// Output is the absolute path of the jail directory.
	Output string `json:"output"`
	// Layout is flat or preserve.
	Layout string `json:"layout"`
	// Entries are sorted by Dest, so parents come before their children.
	Entries []Entry `json:"entries"`
	// Enter holds the manifest's defaults for `jailer enter`.
	Enter manifest.Enter `json:"enter"`
	// Sources are the manifest files the plan was made from.
	Sources []string `json:"sources"`
}

// ModeString formats a mode as four octal digits, as chmod takes it.
func ModeString(m os.FileMode) string {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return fmt.Sprintf("%04o", u)
}

// Text writes the plan as aligned text, one entry per line.
func (p *Plan) Text(w io.Writer) error {
	width := 0
	for _, e := range p.Entries {
		width = max(width, len(e.Dest))
	}
	var b bytes.Buffer
	for _, e := range p.Entries {
		from := ""
		switch {
		case e.Kind == KindSymlink:
			from = "-> " + e.Target
		case e.Kind == KindDevice:
			from = fmt.Sprintf("%d:%d", e.Major, e.Minor)
		case e.Source != "":
			from = "< " + e.Source
		case e.Kind == KindFile:
			from = fmt.Sprintf("(%d bytes generated)", len(e.Content))
		}
		owner := ""
		if e.UID != 0 || e.GID != 0 {
			owner = fmt.Sprintf(" %d:%d", e.UID, e.GID)
		}
		fmt.Fprintf(&b, "%-*s  %-7s %s%s  %s  [%s]\n", width, e.Dest, e.Kind, ModeString(e.Mode), owner, from, e.Why)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// JSON writes the plan as indented JSON.
func (p *Plan) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// Stats counts the plan's entries by kind.
func (p *Plan) Stats() map[Kind]int {
	s := map[Kind]int{}
	for _, e := range p.Entries {
		s[e.Kind]++
	}
	return s
}

// Digest is a sha256 over everything the plan would create; two plans with
// the same digest build the same tree from the same sources.
func (p *Plan) Digest() string {
	h := sha256.New()
	for _, e := range p.Entries {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%x\x00%s\x00%o\x00%d:%d\x00%d:%d\n",
			e.Dest, e.Kind, e.Source, sha256.Sum256(e.Content), e.Target, uint32(e.Mode), e.UID, e.GID, e.Major, e.Minor)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// entries collects plan entries, refusing two different ones at one path.
type entries struct {
	m    map[string]Entry
	errs []error
}

func newEntries() *entries { return &entries{m: map[string]Entry{}} }

func (es *entries) errorf(format string, args ...any) {
	es.errs = append(es.errs, fmt.Errorf(format, args...))
}

// add records e, with a parent directory for each missing ancestor.
func (es *entries) add(e Entry) {
	e.Dest = path.Clean(e.Dest)
	if prev, ok := es.m[e.Dest]; ok {
		switch {
		case sameEntry(prev, e):
			if prev.Source == "" && e.Source != "" {
				es.m[e.Dest] = e // a directory with a host source to watch
			}
			return
		case isWeak(e) && (prev.Kind == KindDir || prev.Kind == KindSymlink):
			return // an implied directory gives way to anything explicit
		case isWeak(prev) && (e.Kind == KindDir || e.Kind == KindSymlink):
			es.m[e.Dest] = e
			return
		}
		es.errorf("%s: wanted both as %s and as %s (%s; %s)", e.Dest, describe(prev), describe(e), prev.Why, e.Why)
		return
	}
	es.m[e.Dest] = e
	for dir := path.Dir(e.Dest); dir != "/"; dir = path.Dir(dir) {
		if _, ok := es.m[dir]; ok {
			break
		}
		es.m[dir] = Entry{Dest: dir, Kind: KindDir, Mode: 0o755, Why: whyParent}
	}
}

// Reasons for directories that nobody asked for by name.
const (
	whyParent   = "parent directory"
	whySkeleton = "jail skeleton"
)

func isWeak(e Entry) bool { return e.Kind == KindDir && (e.Why == whyParent || e.Why == whySkeleton) }

// throughSymlinks moves every entry that lies below a symlink entry to
// where that symlink leads, so that a build never writes through a link
// (a file at /lib/x with /lib -> usr/lib is created as /usr/lib/x).
func (es *entries) throughSymlinks() {
	dests := make([]string, 0, len(es.m))
	for d := range es.m {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		e, ok := es.m[d]
		if !ok {
			continue
		}
		nd, ok := es.canonical(d)
		if !ok {
			es.errorf("%s: too many levels of symbolic links in the jail", d)
			continue
		}
		if nd != d {
			delete(es.m, d)
			e.Dest = nd
			es.add(e)
		}
	}
}

// canonical rewrites p so that none of its parents is a symlink entry.
func (es *entries) canonical(p string) (string, bool) {
	for i := 0; i < maxLinks; i++ {
		changed := false
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			s, ok := es.m[dir]
			if !ok || s.Kind != KindSymlink {
				continue
			}
			t := s.Target
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(dir), t)
			}
			p, changed = path.Join(t, strings.TrimPrefix(p, dir)), true
			break
		}
		if !changed {
			return p, true
		}
	}
	return p, false
}

func sameEntry(a, b Entry) bool {
	if a.Kind == KindDir && b.Kind == KindDir {
		// One directory, wherever its contents come from.
		return a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID
	}
	return a.Kind == b.Kind && a.Source == b.Source && a.Target == b.Target &&
		bytes.Equal(a.Content, b.Content) && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID &&
		a.Major == b.Major && a.Minor == b.Minor
}

func describe(e Entry) string {
	switch {
	case e.Kind == KindSymlink:
		return "a symlink to " + e.Target
	case e.Source != "":
		return string(e.Kind) + " from " + e.Source
	case e.Kind == KindFile:
		return "generated content"
	}
	return "a " + string(e.Kind)
}

// sorted returns the entries ordered by path, parents first.
func (es *entries) sorted() []Entry {
	es.throughSymlinks()
	out := make([]Entry, 0, len(es.m))
	for _, e := range es.m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return pathLess(out[i].Dest, out[j].Dest) })
	return out
}

// pathLess orders paths component by component, so that /a/b sorts right
// after /a and before /a-b (a plain string sort puts "-" before "/").
func pathLess(a, b string) bool {
	ac, bc := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ac) && i < len(bc); i++ {
		if ac[i] != bc[i] {
			return ac[i] < bc[i]
		}
	}
	return len(ac) < len(bc)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
