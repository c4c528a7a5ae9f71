package jail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

	// pos is where that item was written, for errors about the entry.
	pos manifest.Pos
	// fixed says which attributes the manifest gave explicitly; the others
	// are defaults or the host's, which an explicit request overrides.
	fixed attrs
}

// attrs are the attributes of an entry a manifest can give explicitly.
type attrs uint8

const (
	fixedMode attrs = 1 << iota
	fixedOwner
)

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
	// Excluded are the paths of copied directories that exclude: patterns
	// left out, in path order (a directory left out stands for all in it).
	Excluded []Exclusion `json:"excluded,omitempty"`
	// Warnings are what the build will do but probably not what the
	// manifest meant (a program found in PATH that is a version manager's
	// shim, a command that is not in the jail), each with its position.
	Warnings []string `json:"warnings,omitempty"`
}

// Exclusion is a path of a copied directory that the manifest left out.
type Exclusion struct {
	// Dest is where it would have been in the jail.
	Dest string `json:"dest"`
	// Source is the host path left out.
	Source string `json:"source"`
	// Pattern is the exclude: pattern that matched it.
	Pattern string `json:"pattern"`
	// Why names the files: item.
	Why string `json:"why"`
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
	for _, x := range p.Excluded {
		width = max(width, len(x.Dest))
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
	for _, x := range p.Excluded {
		fmt.Fprintf(&b, "%-*s  %-7s       < %s  [exclude %q of %s]\n", width, x.Dest, "left out", x.Source, x.Pattern, x.Why)
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

// entries collects plan entries, merging identical requests for one path
// and refusing different ones.
type entries struct {
	m    map[string]Entry
	errs []error
	// at is where the manifest item being planned was written: entries
	// added without a position of their own get it.
	at manifest.Pos
}

func newEntries() *entries { return &entries{m: map[string]Entry{}} }

func (es *entries) errorf(format string, args ...any) {
	es.errs = append(es.errs, fmt.Errorf(format, args...))
}

// errorAt records a problem with the manifest item at pos, in the
// FILE:LINE:COL form of manifest errors when the position is known.
func (es *entries) errorAt(pos manifest.Pos, format string, args ...any) {
	if pos.Line == 0 {
		es.errorf(format, args...)
		return
	}
	err := fmt.Errorf(format, args...)
	es.errs = append(es.errs, &manifest.Error{Pos: pos, Msg: err.Error(), Err: errors.Unwrap(err)})
}

// add records e, with a parent directory for each missing ancestor. The
// same path asked for twice is one entry when both ask for the same thing:
// an explicit mode or owner wins over a default one, and only two explicit
// values that differ, or two different contents, are an error.
func (es *entries) add(e Entry) {
	e.Dest = path.Clean(e.Dest)
	if e.pos.File == "" {
		e.pos = es.at
	}
	if prev, ok := es.m[e.Dest]; ok {
		switch {
		case isWeak(e) && (prev.Kind == KindDir || prev.Kind == KindSymlink):
			return // an implied directory gives way to anything explicit
		case isWeak(prev) && (e.Kind == KindDir || e.Kind == KindSymlink):
			es.m[e.Dest] = e
			return
		}
		merged, here, there := mergeEntries(prev, e)
		if here == "" {
			es.m[e.Dest] = merged
			return
		}
		es.conflict(prev, e, here, there)
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

// conflict reports two requests for one path that cannot both be met,
// naming both places and what differs.
func (es *entries) conflict(prev, e Entry, here, there string) {
	by := prev.Why
	if prev.pos.Line != 0 {
		by += " at " + prev.pos.String()
	}
	es.errorAt(e.pos, "%s: wanted %s here (%s), and %s by %s (make them agree, or keep one)", e.Dest, here, e.Why, there, by)
}

// mergeEntries returns the one entry that meets both requests for a path,
// a and then b; when there is none, here and there say what b and a want.
func mergeEntries(a, b Entry) (out Entry, here, there string) {
	if a.Kind != b.Kind || a.Kind != KindDir && (a.Source != b.Source || a.Target != b.Target ||
		!bytes.Equal(a.Content, b.Content) || a.Major != b.Major || a.Minor != b.Minor) {
		return a, "as " + describe(b), "as " + describe(a)
	}
	out = a
	if a.Source == "" && b.Source != "" {
		out.Source = b.Source // a directory with a host source to watch
	}
	var hs, ts []string
	switch {
	case a.Mode == b.Mode:
	case b.fixed&fixedMode != 0 && a.fixed&fixedMode == 0:
		out.Mode = b.Mode
	case a.fixed&fixedMode != 0 && b.fixed&fixedMode == 0:
	default:
		hs, ts = append(hs, "mode "+ModeString(b.Mode)), append(ts, "mode "+ModeString(a.Mode))
	}
	switch {
	case a.UID == b.UID && a.GID == b.GID:
	case b.fixed&fixedOwner != 0 && a.fixed&fixedOwner == 0:
		out.UID, out.GID = b.UID, b.GID
	case a.fixed&fixedOwner != 0 && b.fixed&fixedOwner == 0:
	default:
		hs, ts = append(hs, fmt.Sprintf("owner %d:%d", b.UID, b.GID)), append(ts, fmt.Sprintf("owner %d:%d", a.UID, a.GID))
	}
	out.fixed = a.fixed | b.fixed
	if len(hs) == 0 {
		return out, "", ""
	}
	return out, "with " + strings.Join(hs, " and "), "with " + strings.Join(ts, " and ")
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
			if e.Kind == KindSymlink && es.leadsTo(e, nd) {
				// A link from /usr/bin/env to /bin/env, once /usr/bin
				// leads to /bin, would point at itself: the directory
				// link already gives what it asked for.
				continue
			}
			es.add(e)
		}
	}
}

// leadsTo reports whether the symlink entry e, placed at dest, points at
// dest itself.
func (es *entries) leadsTo(e Entry, dest string) bool {
	t := e.Target
	if !path.IsAbs(t) {
		t = path.Join(path.Dir(dest), t)
	}
	c, ok := es.canonical(path.Clean(t))
	return ok && c == dest
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

func describe(e Entry) string {
	switch {
	case e.Kind == KindSymlink:
		return "a symlink to " + e.Target
	case e.Source != "":
		return string(e.Kind) + " from " + e.Source
	case e.Kind == KindFile:
		c := string(e.Content)
		if len(c) > 24 {
			c = c[:24] + "..."
		}
		return fmt.Sprintf("generated content %q", c)
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
