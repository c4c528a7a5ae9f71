package planner

// Host paths kept in the jail: the preserve layout, packages and profiles
// put host files at their host paths, with every symlink on the way
// recreated, and copy directories in bulk. The ELF files among what they
// copy are collected while walking (by their magic number) and resolved
// with the others in one batch, so that a python lib-dynload module gets
// its libssl without the resolver running on every file.

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/bmatcuk/doublestar/v4"
)

// hostOpts say how a host path is copied.
type hostOpts struct {
	// follow resolves a symlink at the end of the path too (it is
	// replicated either way); without it the symlink is the entry.
	follow bool
	// allowSetuid keeps setuid and setgid bits.
	allowSetuid bool
	// mode, when set, replaces the host mode of the path itself (not of
	// what a directory contains).
	mode *os.FileMode
	// skip lists base-name patterns of directories left out of a copied tree.
	skip []string
	// exclude lists the manifest's glob patterns of paths, relative to the
	// copied directory, left out of it; the plan says what each left out.
	exclude []string
}

// modeOf is the mode the entry for the host file fi gets.
func (o hostOpts) modeOf(fi fs.FileInfo, top bool) os.FileMode {
	if top && o.mode != nil {
		return *o.mode
	}
	return HostMode(fi, o.allowSetuid)
}

// fixedOf says which attributes of the entry for a host file the manifest
// gave: the mode of the path itself when it says one.
func (o hostOpts) fixedOf(top bool) plan.Attrs {
	if top && o.mode != nil {
		return plan.FixedMode
	}
	return 0
}

// hostEntry adds the host path h at the same path in the jail, replicating
// every symlink on the way (such as /lib -> usr/lib on merged-/usr
// systems). What h itself is decides the entry: a file, a directory (its
// contents are not copied) or, unless o.follow, a symlink, which is then
// not followed. It returns the real host path and what is there.
func (p *planner) hostEntry(h string, o hostOpts, why string) (string, fs.FileInfo, error) {
	// The symlinks on the way are added only once the path is found, so
	// that a missing optional path leaves no trace in the plan.
	var links []plan.Entry
	done := func(e plan.Entry, fi fs.FileInfo) (string, fs.FileInfo, error) {
		for _, l := range links {
			p.es.add(l)
		}
		p.es.add(e)
		return e.Dest, fi, nil
	}
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(h), "/"), "/")
	cur := "/"
	for len(rest) > 0 {
		next := path.Join(cur, rest[0])
		fi, err := os.Lstat(next)
		if err != nil {
			return "", nil, err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if len(links) >= MaxLinks {
				return "", nil, fmt.Errorf("%s: too many levels of symbolic links", h)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", nil, err
			}
			link := plan.Entry{Dest: next, Kind: plan.KindSymlink, Target: target, Mode: 0o777, Why: why}
			if len(rest) == 1 && !o.follow {
				return done(link, fi)
			}
			links = append(links, link)
			resolved := target
			if !path.IsAbs(target) {
				resolved = path.Join(cur, target)
			}
			rest = append(strings.Split(strings.TrimPrefix(path.Clean(resolved), "/"), "/"), rest[1:]...)
			cur = "/"
		case fi.IsDir() && len(rest) == 1:
			return done(plan.Entry{Dest: next, Kind: plan.KindDir, Source: next, Mode: o.modeOf(fi, true), Why: why, Fixed: o.fixedOf(true)}, fi)
		case fi.IsDir():
			cur, rest = next, rest[1:]
		case fi.Mode().IsRegular() && len(rest) == 1:
			return done(plan.Entry{Dest: next, Kind: plan.KindFile, Source: next, Mode: o.modeOf(fi, true), Why: why, Fixed: o.fixedOf(true)}, fi)
		case len(rest) == 1:
			return "", nil, fmt.Errorf("%s is a device, socket or pipe; only files, directories and symlinks are copied", next)
		default:
			return "", nil, &fs.PathError{Op: "lstat", Path: next, Err: syscall.ENOTDIR}
		}
	}
	return "", nil, fmt.Errorf("%s: not a path below /", h)
}

// hostPath installs the host file h at the same path in the jail, symlinks
// on the way and at its end replicated and followed.
func (p *planner) hostPath(h string, allowSetuid bool, why string) {
	_, fi, err := p.hostEntry(h, hostOpts{follow: true, allowSetuid: allowSetuid}, why)
	switch {
	case err != nil:
		p.errorf("%s: %w", why, err)
	case !fi.Mode().IsRegular():
		p.errorf("%s: %s is not a regular file", why, h)
	}
}

// hostTree copies the host path h (a directory recursively) to the same
// path in the jail, following and replicating symlinks up to it; symlinks
// inside a directory are copied as symlinks.
func (p *planner) hostTree(h string, o hostOpts, why string) error {
	o.follow = true
	real, _, err := p.hostEntry(h, o, why)
	if err != nil {
		return err
	}
	return p.copyTree(real, real, o, why)
}

// copyTree copies the host path root (a real path; a directory
// recursively) to dest in the jail: directories, files and symlinks (not
// followed), with their modes as o says. The ELF files among them are
// collected for library resolution.
func (p *planner) copyTree(root, dest string, o hostOpts, why string) error {
	return filepath.WalkDir(root, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && hp != root && skipped(d.Name(), o.skip) {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, hp)
		jp := path.Join(dest, filepath.ToSlash(rel))
		if pat := excluded(filepath.ToSlash(rel), o.exclude); pat != "" && hp != root {
			p.excluded = append(p.excluded, plan.Exclusion{Dest: jp, Source: hp, Pattern: pat, Why: why})
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			// The source is kept so that a file added to or removed from
			// the host directory (its mtime changes) makes the jail stale.
			p.es.add(plan.Entry{Dest: jp, Kind: plan.KindDir, Source: hp, Mode: o.modeOf(fi, hp == root), Why: why, Fixed: o.fixedOf(hp == root)})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(hp)
			if err != nil {
				return err
			}
			p.es.add(plan.Entry{Dest: jp, Kind: plan.KindSymlink, Target: target, Mode: 0o777, Why: why})
		case d.Type().IsRegular():
			p.es.add(plan.Entry{Dest: jp, Kind: plan.KindFile, Source: hp, Mode: o.modeOf(fi, hp == root), Why: why, Fixed: o.fixedOf(hp == root)})
			return p.maybeELF(hp, jp)
		default:
			return fmt.Errorf("%s is a device, socket or pipe; only files, directories and symlinks are copied (use devices: for device nodes)", hp)
		}
		return nil
	})
}

// excluded returns the first pattern that matches rel, a path relative to
// a copied directory, or "".
func excluded(rel string, patterns []string) string {
	for _, pat := range patterns {
		if ok, _ := doublestar.Match(pat, rel); ok {
			return pat
		}
	}
	return ""
}

func skipped(name string, patterns []string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// maybeELF collects the host file h, installed at dest, for library
// resolution when it is an ELF program or shared library of this machine.
func (p *planner) maybeELF(h, dest string) error {
	if _, ok := p.elfs[h]; ok {
		return nil
	}
	ok, err := elfdeps.IsLoadable(h)
	if err != nil {
		return err
	}
	if ok {
		p.addELF(h, dest, true)
	}
	return nil
}
