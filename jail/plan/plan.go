// Package plan is the data a build follows: every path a jail will hold,
// what it is (file, directory, symlink, device), its mode and owner, where
// it comes from and which manifest item asked for it. A Plan is pure data,
// sorted by path and byte-for-byte the same for the same manifest and host,
// so `jailer plan` shows exactly what `jailer build` will do. The planner
// package makes plans; build applies them.
package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
	Pos manifest.Pos
	// fixed says which attributes the manifest gave explicitly; the others
	// are defaults or the host's, which an explicit request overrides.
	Fixed Attrs
}

// Attrs are the attributes of an entry a manifest can give explicitly.
type Attrs uint8

const (
	FixedMode Attrs = 1 << iota
	FixedOwner
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

// PathLess orders paths component by component, so that /a/b sorts right
// after /a and before /a-b (a plain string sort puts "-" before "/").
func PathLess(a, b string) bool {
	ac, bc := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ac) && i < len(bc); i++ {
		if ac[i] != bc[i] {
			return ac[i] < bc[i]
		}
	}
	return len(ac) < len(bc)
}
