// Package planner turns a validated manifest into a plan. Each manifest
// item adds entries (a binary at /bin/NAME or its host path, a copied
// tree, a package's files, a profile's, the accounts' files and homes);
// every ELF file collected on the way is then resolved in one batch with
// the host's loader (internal/elfdeps) and its libraries added as the
// layout places them; the layout's links (/usr/bin -> ../bin in flat, the
// host's /bin -> usr/bin in preserve) are added last. Entries for one path
// are merged when they ask for the same thing and refused, naming both
// manifest positions, when they do not; entries below a symlink entry are
// moved to where it leads, so a build never writes through a link. Plan
// errors carry the position of the item they come from.
package planner

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/manifest"
	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// MaxLinks bounds symlink chains and #! chains, as the kernel does.
const MaxLinks = 40

// planner turns a validated manifest into entries.
type planner struct {
	m     *manifest.Manifest
	es    *entries
	r     *elfdeps.Resolver
	elfs  map[string]string       // host path of each ELF to resolve -> its path in the jail
	elfAt map[string]manifest.Pos // host path of each ELF -> the manifest item that brought it
	found map[string]bool         // ELF files found in copied trees, not listed as programs
	// dataELFs counts the found ELF files copied as data.
	dataELFs int
	// excluded are the paths exclude: patterns left out.
	excluded []plan.Exclusion
	// dpkgDir is dpkg's database, dpkg.Dir but in tests.
	dpkgDir string
	libs    map[string]bool   // libraries installed already (most programs share them)
	dirs    map[string]string // host directory -> its real path
	warns   []string
}

// New works out every path a build of m creates, where each comes from
// and why, without writing anything. m must come from manifest.Load.
func New(m *manifest.Manifest) (*plan.Plan, error) {
	r := elfdeps.NewResolver()
	defer r.Save()
	return NewWith(m, r)
}

// NewWith is New with a Resolver that may already hold results.
func NewWith(m *manifest.Manifest, r *elfdeps.Resolver) (*plan.Plan, error) {
	p := newPlanner(m, r)
	p.skeleton()
	for _, b := range m.Binaries {
		p.es.at = b.Pos
		p.fromPath(b)
		p.binary(b.Host, b.Dest, b.AllowSetuid, fmt.Sprintf("binary %s (%s)", b.Src, where(b.Pos)), 0)
	}
	for _, f := range m.Files {
		p.es.at = f.Pos
		p.file(f, "files ("+where(f.Pos)+")")
	}
	for _, d := range m.Dirs {
		p.es.at = d.Pos
		e := plan.Entry{Dest: d.Path, Kind: plan.KindDir, Mode: 0o755, Why: "dirs (" + where(d.Pos) + ")"}
		if d.Mode.Set {
			e.Mode, e.Fixed = d.Mode.Perm, e.Fixed|plan.FixedMode
		}
		if d.Owner != "" {
			e.UID, e.GID, _ = manifest.ResolveUser(m, d.Owner)
			e.Fixed |= plan.FixedOwner
		}
		p.es.add(e)
	}
	for _, s := range m.Symlinks {
		p.es.at = s.Pos
		p.es.add(plan.Entry{Dest: s.Path, Kind: plan.KindSymlink, Target: s.Target, Mode: 0o777, Why: "symlinks (" + where(s.Pos) + ")"})
	}
	for _, d := range m.Devices {
		p.es.at = d.Pos
		dev := manifest.Devices[d.Name]
		p.es.add(plan.Entry{Dest: "/dev/" + d.Name, Kind: plan.KindDevice, Mode: 0o666, Major: dev.Major, Minor: dev.Minor, Why: "devices (" + where(d.Pos) + ")"})
	}
	p.accounts()
	p.packages()
	p.profiles()
	// Every ELF file collected above, from binaries, files, packages and
	// profiles, is resolved in one batch.
	p.libraries()
	p.es.at = manifest.Pos{}
	if p.dataELFs > 0 {
		p.warnf("%d ELF files among the copied files are not programs this machine can load, or need libraries it lacks: copied as data, their libraries not added (jailer plan says which)", p.dataELFs)
	}
	p.usrLinks()
	p.dropAliases()
	sorted := p.es.sorted()
	sort.SliceStable(p.excluded, func(i, j int) bool { return plan.PathLess(p.excluded[i].Dest, p.excluded[j].Dest) })
	if len(p.es.errs) > 0 {
		return nil, errors.Join(p.es.errs...)
	}
	p.checkCommand()
	p.checkMounts()
	out := m.Output
	if !filepath.IsAbs(out) {
		out = filepath.Join(filepath.Dir(m.Path), out)
	}
	return &plan.Plan{
		Name: m.Name, Manifest: m.Path, Output: filepath.Clean(out), Layout: m.Layout,
		Entries: sorted, Enter: m.Enter, Sources: m.Sources, Warnings: p.warns, Excluded: p.excluded,
	}, nil
}

// dropAliases removes the file entries that a symlink in the plan already
// provides: a flat jail's ELF interpreter at /lib64/ld-linux-x86-64.so.2
// when a package made /lib64 a link to usr/lib64 and put a link to the same
// host file there, or a flat /bin/sh next to a package's /usr/bin/sh ->
// dash. Moved through the links, such an entry would clash with the link.
func (p *planner) dropAliases() {
	for _, dest := range slices.Sorted(maps.Keys(p.es.m)) {
		e := p.es.m[dest]
		if e.Kind != plan.KindFile || e.Source == "" {
			continue
		}
		nd, ok := p.es.canonical(dest)
		if link, found := p.es.m[nd]; !ok || !found || link.Kind != plan.KindSymlink {
			continue
		}
		if to, ok := p.es.resolve(nd); ok && to.Kind == plan.KindFile && to.Source == e.Source && to.Mode == e.Mode {
			delete(p.es.m, dest)
		}
	}
}

func newPlanner(m *manifest.Manifest, r *elfdeps.Resolver) *planner {
	return &planner{m: m, es: newEntries(), r: r, elfs: map[string]string{}, elfAt: map[string]manifest.Pos{},
		found: map[string]bool{}, libs: map[string]bool{}, dirs: map[string]string{}, dpkgDir: dpkg.Dir}
}

// where names a manifest position briefly and independently of how the
// manifest was named on the command line, so plans are reproducible.
func where(p manifest.Pos) string { return fmt.Sprintf("%s:%d", filepath.Base(p.File), p.Line) }

// errorf records a problem with the manifest item being planned, at its
// position.
func (p *planner) errorf(format string, args ...any) {
	p.es.errorAt(p.es.at, format, args...)
}

// warnf records something the build can do but the user should know, at
// the position of the manifest item being planned.
func (p *planner) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.es.at.Line != 0 {
		msg = p.es.at.String() + ": " + msg
	}
	p.warns = append(p.warns, msg)
}

// skeleton adds the directories every jail has: mount points for enter and
// the homes of programs and libraries in the flat layout.
func (p *planner) skeleton() {
	dirs := []string{"/dev", "/etc", "/proc", "/tmp"}
	if p.m.Layout == "flat" {
		dirs = append(dirs, "/bin", "/lib", "/lib64")
	}
	for _, d := range dirs {
		mode := os.FileMode(0o755)
		if d == "/tmp" {
			mode = 0o777 | os.ModeSticky
		}
		p.es.add(plan.Entry{Dest: d, Kind: plan.KindDir, Mode: mode, Why: whySkeleton})
	}
}

// file adds a files: item: inline content, a host file, or a host
// directory copied recursively (symlinks inside it copied as symlinks). In
// the preserve layout a host path kept as it is gets the symlinks on the
// way to it too. The ELF files copied are resolved with the binaries.
func (p *planner) file(f manifest.File, why string) {
	if f.Content != nil {
		e := plan.Entry{Dest: f.Dest, Kind: plan.KindFile, Content: []byte(*f.Content), Mode: 0o644, Why: why}
		if f.Mode.Set {
			e.Mode, e.Fixed = f.Mode.Perm, plan.FixedMode
		}
		if !f.AllowSetuid {
			e.Mode &^= os.ModeSetuid | os.ModeSetgid
		}
		p.es.add(e)
		return
	}
	o := hostOpts{allowSetuid: f.AllowSetuid, exclude: f.Exclude}
	if f.Mode.Set {
		o.mode = &f.Mode.Perm
	}
	var err error
	if p.m.Layout == "preserve" && f.Dest == f.Host {
		err = p.hostTree(f.Host, o, why)
	} else {
		var root string
		if root, err = filepath.EvalSymlinks(f.Host); err == nil {
			err = p.copyTree(root, f.Dest, o, why)
		}
	}
	if err != nil {
		p.errorf("%s: copy %s: %w", why, f.Src, err)
	}
}

// unwrapPath drops the path from a *fs.PathError whose message names the
// path already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
