package jail

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/manifest"
)

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
