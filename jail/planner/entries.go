package planner

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// entries collects plan entries, merging identical requests for one path
// and refusing different ones.
type entries struct {
	m    map[string]plan.Entry
	errs []error
	// at is where the manifest item being planned was written: entries
	// added without a position of their own get it.
	at manifest.Pos
}

func newEntries() *entries { return &entries{m: map[string]plan.Entry{}} }

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
func (es *entries) add(e plan.Entry) {
	e.Dest = path.Clean(e.Dest)
	if e.Pos.File == "" {
		e.Pos = es.at
	}
	if prev, ok := es.m[e.Dest]; ok {
		switch {
		case isWeak(e) && (prev.Kind == plan.KindDir || prev.Kind == plan.KindSymlink):
			return // an implied directory gives way to anything explicit
		case isWeak(prev) && (e.Kind == plan.KindDir || e.Kind == plan.KindSymlink):
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
		es.m[dir] = plan.Entry{Dest: dir, Kind: plan.KindDir, Mode: 0o755, Why: whyParent}
	}
}

// conflict reports two requests for one path that cannot both be met,
// naming both places and what differs.
func (es *entries) conflict(prev, e plan.Entry, here, there string) {
	by := prev.Why
	if prev.Pos.Line != 0 {
		by += " at " + prev.Pos.String()
	}
	es.errorAt(e.Pos, "%s: wanted %s here (%s), and %s by %s (make them agree, or keep one)", e.Dest, here, e.Why, there, by)
}

// mergeEntries returns the one entry that meets both requests for a path,
// a and then b; when there is none, here and there say what b and a want.
func mergeEntries(a, b plan.Entry) (out plan.Entry, here, there string) {
	if a.Kind != b.Kind || a.Kind != plan.KindDir && (a.Source != b.Source || a.Target != b.Target ||
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
	case b.Fixed&plan.FixedMode != 0 && a.Fixed&plan.FixedMode == 0:
		out.Mode = b.Mode
	case a.Fixed&plan.FixedMode != 0 && b.Fixed&plan.FixedMode == 0:
	default:
		hs, ts = append(hs, "mode "+plan.ModeString(b.Mode)), append(ts, "mode "+plan.ModeString(a.Mode))
	}
	switch {
	case a.UID == b.UID && a.GID == b.GID:
	case b.Fixed&plan.FixedOwner != 0 && a.Fixed&plan.FixedOwner == 0:
		out.UID, out.GID = b.UID, b.GID
	case a.Fixed&plan.FixedOwner != 0 && b.Fixed&plan.FixedOwner == 0:
	default:
		hs, ts = append(hs, fmt.Sprintf("owner %d:%d", b.UID, b.GID)), append(ts, fmt.Sprintf("owner %d:%d", a.UID, a.GID))
	}
	out.Fixed = a.Fixed | b.Fixed
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

func isWeak(e plan.Entry) bool {
	return e.Kind == plan.KindDir && (e.Why == whyParent || e.Why == whySkeleton)
}

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
			if e.Kind == plan.KindSymlink && es.leadsTo(e, nd) {
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
func (es *entries) leadsTo(e plan.Entry, dest string) bool {
	t := e.Target
	if !path.IsAbs(t) {
		t = path.Join(path.Dir(dest), t)
	}
	c, ok := es.canonical(path.Clean(t))
	return ok && c == dest
}

// canonical rewrites p so that none of its parents is a symlink entry.
func (es *entries) canonical(p string) (string, bool) {
	for i := 0; i < MaxLinks; i++ {
		changed := false
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			s, ok := es.m[dir]
			if !ok || s.Kind != plan.KindSymlink {
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

func describe(e plan.Entry) string {
	switch {
	case e.Kind == plan.KindSymlink:
		return "a symlink to " + e.Target
	case e.Source != "":
		return string(e.Kind) + " from " + e.Source
	case e.Kind == plan.KindFile:
		c := string(e.Content)
		if len(c) > 24 {
			c = c[:24] + "..."
		}
		return fmt.Sprintf("generated content %q", c)
	}
	return "a " + string(e.Kind)
}

// sorted returns the entries ordered by path, parents first.
func (es *entries) sorted() []plan.Entry {
	es.throughSymlinks()
	out := make([]plan.Entry, 0, len(es.m))
	for _, e := range es.m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return plan.PathLess(out[i].Dest, out[j].Dest) })
	return out
}

// resolve follows the symlink entries of the plan from p to the entry
// they lead to, as the jail will once built.
func (es *entries) resolve(p string) (plan.Entry, bool) {
	for i := 0; i < MaxLinks; i++ {
		c, ok := es.canonical(p)
		if !ok {
			return plan.Entry{}, false
		}
		e, found := es.m[c]
		if !found {
			return plan.Entry{}, false
		}
		if e.Kind != plan.KindSymlink {
			return e, true
		}
		p = e.Target
		if !path.IsAbs(p) {
			p = path.Join(path.Dir(c), p)
		}
	}
	return plan.Entry{}, false
}
