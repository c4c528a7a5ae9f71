// Package dpkg reads what jailer needs of dpkg's database of installed
// packages (/var/lib/dpkg), to copy every path a package owns. The method:
// PackageList finds a package's file list, info/NAME.list (NAME:ARCH.list
// for a multi-arch package; the native architecture wins when a package is
// installed for several); Open reads the status file (each package's state,
// architecture, Pre-Depends, Depends and Provides) and the diversions;
// Closure walks from the packages a manifest names, breadth-first through
// their dependencies when asked, choosing among alternatives and virtual
// packages the one installed, with the same architecture first; Paths reads
// a package's list and conffiles with diversions applied and documentation
// left out. It never runs dpkg or apt and writes nothing. The package knows
// nothing of manifests: the caller passes what it needs as Roots and places
// the problems at the manifest items they are about.
package dpkg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// docDirs hold documentation and translations, left out of packages
// unless the item says docs: true.
var docDirs = []string{
	"/usr/share/doc",
	"/usr/share/doc-base",
	"/usr/share/info",
	"/usr/share/lintian",
	"/usr/share/locale",
	"/usr/share/man",
}

// IsDoc reports whether the package path p is documentation.
func IsDoc(p string) bool {
	for _, d := range docDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// Package is one package instance as dpkg's status file describes it.
type Package struct {
	Name      string
	Arch      string
	MultiArch string
	// State is the last word of Status: installed, config-files, ...
	State string
	// Depends are Pre-Depends then Depends: each group lists alternatives.
	Depends [][]Dep
	// Provides names virtual packages this one stands for.
	Provides []string
}

// key names an instance of a package: NAME:ARCH.
func (d *Package) key() string { return d.Name + ":" + d.Arch }

// present reports whether the package's files are on disk: dpkg states
// from unpacked on, but not config-files, not-installed or half-installed.
func (d *Package) present() bool {
	switch d.State {
	case "installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending":
		return true
	}
	return false
}

// Dep is one alternative of a dependency: a package name and its
// architecture qualifier ("", "any", "native" or an architecture).
type Dep struct {
	Name string
	Arch string
}

// DB is what jailer reads of dpkg's database.
type DB struct {
	admin      string
	byName     map[string][]*Package // instances whose files are present
	providers  map[string][]*Package // virtual name -> present packages providing it
	diversions map[string]diversion
}

// Open reads the status and diversions files of the dpkg database at admin.
func Open(admin string) (*DB, error) {
	db := &DB{admin: admin, byName: map[string][]*Package{}, providers: map[string][]*Package{}, diversions: map[string]diversion{}}
	status := filepath.Join(admin, "status")
	f, err := os.Open(status)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pkgs, err := parseStatus(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", status, err)
	}
	sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].key() < pkgs[j].key() })
	for _, d := range pkgs {
		if !d.present() {
			continue
		}
		db.byName[d.Name] = append(db.byName[d.Name], d)
		for _, v := range d.Provides {
			db.providers[v] = append(db.providers[v], d)
		}
	}
	name := filepath.Join(admin, "diversions")
	if g, err := os.Open(name); err == nil {
		defer g.Close()
		if db.diversions, err = parseDiversions(g); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return db, nil
}

// Pick returns the present instance of the package name that a package of
// architecture from means by name with the qualifier arch: the same
// architecture first, then the native one, then Architecture: all.
func (db *DB) Pick(name, arch, from string) *Package {
	prefs := []string{from, NativeArch(), "all"}
	switch arch {
	case "", "any":
	case "native":
		prefs = []string{NativeArch()}
	default:
		prefs = []string{arch}
	}
	cands := db.byName[name]
	for _, a := range prefs {
		for _, c := range cands {
			if c.Arch == a {
				return c
			}
		}
	}
	if arch == "" || arch == "any" {
		if len(cands) > 0 {
			return cands[0]
		}
	}
	return nil
}

// Choose returns the package that satisfies one dependency group: the
// first alternative that is present, else the first present package that
// provides one (virtual packages).
func (db *DB) Choose(group []Dep, from *Package) *Package {
	for _, a := range group {
		if d := db.Pick(a.Name, a.Arch, from.Arch); d != nil {
			return d
		}
	}
	for _, a := range group {
		if ps := db.providers[a.Name]; len(ps) > 0 {
			return ps[0]
		}
	}
	return nil
}

// ListOf returns the file list of an instance: NAME:ARCH.list for a
// multi-arch package, NAME.list otherwise.
func (db *DB) ListOf(d *Package) string {
	ma := filepath.Join(db.admin, "info", d.key()+".list")
	if _, err := os.Stat(ma); err == nil {
		return ma
	}
	return filepath.Join(db.admin, "info", d.Name+".list")
}

// Root is a package a manifest names: where a Closure starts.
type Root struct {
	// Name is the package as written, NAME or NAME:ARCH.
	Name string
	// List is its file list, as PackageList found it.
	List string
	// Depends says to copy its dependencies too; Docs to keep documentation.
	Depends, Docs bool
	// At says where the package was named, such as m.yaml:3; every reason
	// given for a package it brings in ends with it.
	At string
}

// Item is one package to copy, and why.
type Item struct {
	Pkg  *Package
	List string
	Why  string
	Docs bool
	// Root is the index, among the roots given to Closure, of the one that
	// brought this package in.
	Root int
}

// RootError is a problem with the packages of one root: it is not
// installed, or a dependency is not. The caller says where the root was
// written.
type RootError struct {
	// Root is the index of the root among those given to Closure.
	Root int
	Err  error
}

// Error returns the problem, without the root: the caller says which.
func (e *RootError) Error() string { return e.Err.Error() }

// Unwrap returns the problem.
func (e *RootError) Unwrap() error { return e.Err }

// Closure returns the packages to copy for roots: those written, in order,
// each followed breadth-first by its dependencies when it says Depends. A
// package reached twice is copied once, for the first reason.
func (db *DB) Closure(roots []Root) ([]Item, []*RootError) {
	var out []Item
	var errs []*RootError
	seen := map[string]bool{}
	for i, r := range roots {
		base := strings.TrimSuffix(filepath.Base(r.List), ".list")
		name, arch, _ := strings.Cut(base, ":")
		root := db.Pick(name, arch, NativeArch())
		if root == nil {
			errs = append(errs, &RootError{Root: i, Err: fmt.Errorf("package %s is not installed (dpkg has its file list but not its files; apt-get install %s)", r.Name, name)})
			continue
		}
		queue := []*Package{root}
		if !seen[root.key()] {
			seen[root.key()] = true
			out = append(out, Item{Pkg: root, List: r.List, Why: fmt.Sprintf("package %s (%s)", r.Name, r.At), Docs: r.Docs, Root: i})
		}
		for len(queue) > 0 && r.Depends {
			cur := queue[0]
			queue = queue[1:]
			for _, g := range cur.Depends {
				d := db.Choose(g, cur)
				if d == nil {
					errs = append(errs, &RootError{Root: i, Err: fmt.Errorf("package %s depends on %s, which is not installed (apt-get install %s)", cur.Name, describeGroup(g), g[0].Name)})
					continue
				}
				if seen[d.key()] {
					continue
				}
				seen[d.key()] = true
				queue = append(queue, d)
				out = append(out, Item{Pkg: d, List: db.ListOf(d), Why: fmt.Sprintf("package %s, a dependency of %s (%s)", d.Name, cur.Name, r.At), Docs: r.Docs, Root: i})
			}
		}
	}
	return out, errs
}

// describeGroup names a dependency's alternatives as dpkg writes them.
func describeGroup(g []Dep) string {
	names := make([]string, len(g))
	for i, a := range g {
		names[i] = a.Name
	}
	return strings.Join(names, " | ")
}

// Paths returns the paths a package owns, as installed: its list and its
// conffiles, diversions applied, documentation left out unless docs.
func (db *DB) Paths(it Item) ([]string, error) {
	var all []string
	for _, name := range []string{it.List, strings.TrimSuffix(it.List, ".list") + ".conffiles"} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) && name != it.List {
			continue // most packages have no conffiles
		}
		if err != nil {
			return nil, err
		}
		var ps []string
		if name == it.List {
			ps, err = parseList(f)
		} else {
			ps, err = parseConffiles(f)
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		all = append(all, ps...)
	}
	seen := map[string]bool{}
	out := all[:0]
	for _, p := range all {
		if d, ok := db.diversions[p]; ok && d.By != it.Pkg.Name {
			p = d.To
		}
		if seen[p] || (!it.Docs && IsDoc(p)) {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// Listed counts, for every path in any installed package's file list, how
// many packages list it, under the path as listed and with its directory's
// symlinks resolved (packages list /bin/bash; a merged-/usr host has it
// at /usr/bin/bash); the targets of diversions count as listed.
func (db *DB) Listed() (map[string]int, error) {
	lists, err := filepath.Glob(filepath.Join(db.admin, "info", "*.list"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, 1<<17)
	realDirs := map[string]string{}
	for _, l := range lists {
		f, err := os.Open(l)
		if err != nil {
			return nil, err
		}
		paths, err := parseList(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", l, err)
		}
		for _, p := range paths {
			out[p]++
			dir, base := filepath.Split(p)
			real, ok := realDirs[dir]
			if !ok {
				real, _ = filepath.EvalSymlinks(dir)
				realDirs[dir] = real
			}
			if r := filepath.Join(real, base); real != "" && r != p {
				out[r]++
			}
		}
	}
	for from, d := range db.diversions {
		out[d.To] = max(out[d.To], out[from])
	}
	return out, nil
}
