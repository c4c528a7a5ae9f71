package planner

// packages: copies every path an installed Debian package owns, as dpkg's
// database (/var/lib/dpkg) records it: info/NAME.list (NAME:ARCH.list for
// multi-arch packages) and info/NAME.conffiles, with diversions applied.
// With depends: true the packages named by Pre-Depends and Depends in
// /var/lib/dpkg/status are copied too, recursively.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// packages adds every path of the manifest's packages: (and, with
// depends: true, of their dependencies) at its host path. Paths dpkg lists
// but that are not on disk (left out by a dpkg path-exclude, or a
// conffile the administrator deleted) are skipped.
func (p *planner) packages() {
	if len(p.m.Packages) == 0 {
		return
	}
	db, err := dpkg.Open(p.dpkgDir)
	if err != nil {
		p.errorf("packages: read the dpkg database: %w", err)
		return
	}
	roots := make([]dpkg.Root, len(p.m.Packages))
	for i, r := range p.m.Packages {
		roots[i] = dpkg.Root{Name: r.Name, List: r.List, Depends: r.Depends, Docs: r.Docs,
			At: fmt.Sprintf("%s:%d", filepath.Base(r.Pos.File), r.Pos.Line)}
	}
	items, errs := db.Closure(roots)
	for _, e := range errs {
		p.es.errorAt(p.m.Packages[e.Root].Pos, "%w", e.Err)
	}
	var listed map[string]int // read once, only when a package has directories
	for _, it := range items {
		p.es.at = p.m.Packages[it.Root].Pos
		paths, err := db.Paths(it)
		if err != nil {
			p.errorf("%s: %w", it.Why, err)
			continue
		}
		var dirs []string
		for _, h := range paths {
			real, fi, err := p.hostEntry(h, hostOpts{}, it.Why)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				p.errorf("%s: %w", it.Why, err)
			case fi.IsDir():
				dirs = append(dirs, h)
			case fi.Mode().IsRegular():
				if err := p.maybeELF(real, real); err != nil {
					p.errorf("%s: %w", it.Why, err)
				}
			}
		}
		if listed == nil && len(dirs) > 0 {
			if listed, err = db.Listed(); err != nil {
				p.errorf("packages: read dpkg's file lists: %w", err)
				return
			}
		}
		p.generated(it, dirs, listed)
	}
}

// generatedRoots are where dpkg triggers and maintainer scripts write
// caches that programs need (mime.cache, gconv-modules.cache,
// gschemas.compiled, icon-theme.cache, fontconfig's cache). Generated
// files elsewhere, in /etc and /var/lib, are the host's own state (ssh
// host keys, databases) and never copied.
var generatedRoots = []string{"/usr/", "/var/cache/"}

// generated adds the files that sit in the package's directories but that
// no package lists: made by a trigger or a maintainer script (the
// shared-mime-info trigger writes /usr/share/mime/mime.cache). In a
// directory only this package has, they come with it; in one shared with
// other packages, whose they are cannot be told, and the plan warns with
// their names. Files others may not read are never copied.
func (p *planner) generated(it dpkg.Item, dirs []string, listed map[string]int) {
	var shared []string
	for _, d := range dirs {
		if !slices.ContainsFunc(generatedRoots, func(r string) bool { return strings.HasPrefix(d+"/", r) }) {
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			h := filepath.Join(d, e.Name())
			if listed[h] > 0 || (!it.Docs && dpkg.IsDoc(h)) || e.Name() == "__pycache__" {
				continue // Python writes __pycache__ again where it can
			}
			fi, err := os.Lstat(h)
			if err != nil || fi.Mode().Perm()&0o004 == 0 && fi.Mode()&fs.ModeSymlink == 0 {
				continue // private to its owner on the host
			}
			if listed[d] > 1 {
				// Only a directory a few packages share is looked at: in
				// /usr/bin or /usr/lib, unlisted files are alternatives'
				// links and the like, whose they are cannot be told.
				if listed[d] <= maxSharers && !fi.IsDir() && !isAlternative(h, fi) {
					shared = append(shared, h)
				}
				continue
			}
			why := fmt.Sprintf("generated in %s, a directory only %s has (made by a dpkg trigger or maintainer script, not in its file list)", d, it.Pkg.Name)
			if err := p.hostTree(h, hostOpts{}, why); err != nil {
				p.errorf("%s: %w", it.Why, err)
			}
		}
	}
	if len(shared) > 0 {
		names := shared
		if len(names) > 5 {
			names = append(names[:5:5], "...")
		}
		n := fmt.Sprintf("%d files in directories it shares with other packages are", len(shared))
		if len(shared) == 1 {
			n = "1 file in directories it shares with other packages is"
		}
		p.warnf("%s: %s in no package's file list (made by a trigger?): %s; add those the jail needs under files:",
			it.Why, n, strings.Join(names, ", "))
	}
}

// maxSharers is the most packages a directory may be shared by for its
// unlisted files to be named in a warning.
const maxSharers = 8

// isAlternative reports whether h is a link update-alternatives made.
func isAlternative(h string, fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	t, err := os.Readlink(h)
	return err == nil && strings.HasPrefix(t, "/etc/alternatives/")
}
