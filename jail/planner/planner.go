package planner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/manifest"
	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// maxLinks bounds symlink chains and #! chains, as the kernel does.
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

// NewPlan works out every path a build of m creates, where each comes from
// and why, without writing anything. m must come from manifest.Load.
func New(m *manifest.Manifest) (*plan.Plan, error) {
	r := elfdeps.NewResolver()
	defer r.Save()
	return NewWith(m, r)
}

// NewPlanWith is NewPlan with a Resolver that may already hold results.
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

// hostMode is the mode a copied host file gets: its permission bits, with
// setuid and setgid removed unless the manifest allows them.
func HostMode(fi fs.FileInfo, allowSetuid bool) os.FileMode {
	m := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if !allowSetuid {
		m &^= os.ModeSetuid | os.ModeSetgid
	}
	return m
}

// binary installs the program at host as dest: an ELF file with its
// libraries, or a #! script with its interpreter.
func (p *planner) binary(host, dest string, allowSetuid bool, why string, depth int) {
	if depth > MaxLinks {
		p.errorf("%s: too many levels of #! interpreters", host)
		return
	}
	real, err := p.realPath(host)
	if err != nil {
		p.errorf("binary %s: %w", host, err)
		return
	}
	fi, err := os.Stat(real)
	if err != nil {
		p.errorf("binary %s: %w", host, err)
		return
	}
	if p.m.Layout == "preserve" && dest == host {
		p.hostPath(host, allowSetuid, why)
	} else if alias := p.linkedName(host, real, dest); alias != "" {
		// python3 -> python3.11, gp-archive -> x86_64-linux-gnu-gp-archive:
		// the program is installed under its own name with the listed
		// name a link to it, as on the host, since programs read their
		// name from /proc/self/exe.
		p.es.add(plan.Entry{Dest: alias, Kind: plan.KindFile, Source: real, Mode: HostMode(fi, allowSetuid), Why: why})
		p.es.add(plan.Entry{Dest: dest, Kind: plan.KindSymlink, Target: path.Base(alias), Mode: 0o777, Why: why})
		dest = alias
	} else {
		p.es.add(plan.Entry{Dest: dest, Kind: plan.KindFile, Source: real, Mode: HostMode(fi, allowSetuid), Why: why})
	}
	interp, args, isScript, err := Shebang(real)
	if err != nil {
		p.errorf("binary %s: %w", host, err)
		return
	}
	if !isScript {
		p.addELF(real, dest, false)
		return
	}
	if !strings.HasPrefix(interp, "/") {
		p.errorf("binary %s: its #! interpreter %q is not an absolute path", host, interp)
		return
	}
	if _, err := os.Stat(interp); err != nil {
		p.errorf("binary %s: its #! interpreter %s is not on the host: %w (install it, or fix the #! line)", host, interp, unwrapPath(err))
		return
	}
	iwhy := "#! interpreter of " + dest
	p.binary(interp, path.Clean(interp), false, iwhy, depth+1)
	if path.Base(interp) == "env" && len(args) > 0 {
		prog := args[0]
		if strings.HasPrefix(prog, "-") {
			p.errorf("binary %s: #!%s %s: env options are not supported (name the interpreter directly)", host, interp, prog)
			return
		}
		found, err := exec.LookPath(prog)
		if err != nil {
			p.errorf("binary %s: #!%s %s: %s not found in PATH", host, interp, prog, prog)
			return
		}
		found, _ = filepath.Abs(found)
		pdest := "/bin/" + path.Base(prog)
		if p.m.Layout == "preserve" {
			pdest = found
		}
		p.binary(found, pdest, false, fmt.Sprintf("run by #!%s %s in %s", interp, prog, dest), depth+1)
	}
}

// linkedName returns where a flat jail puts the program real that the
// host reaches through the symlink host, when it is to be installed at
// dest: beside dest under real's own name, unless dest was given in the
// manifest or that name is taken by another file.
func (p *planner) linkedName(host, real, dest string) string {
	if p.m.Layout != "flat" || path.Base(real) == path.Base(dest) || dest != "/bin/"+path.Base(host) {
		return ""
	}
	alias := path.Join(path.Dir(dest), path.Base(real))
	if e, ok := p.es.m[alias]; ok && (e.Kind != plan.KindFile || e.Source != real) {
		return ""
	}
	return alias
}

// shebang reads a #! line: the interpreter and its arguments. ELF
// programs have none; anything else is not a program jailer can install.
func Shebang(file string) (interp string, args []string, ok bool, err error) {
	f, err := os.Open(file)
	if err != nil {
		return "", nil, false, err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("\x7fELF")) {
		return "", nil, false, nil
	}
	if !bytes.HasPrefix(head, []byte("#!")) {
		return "", nil, false, errors.New("is neither an ELF program nor a #! script")
	}
	line, _, found := bytes.Cut(head[2:], []byte("\n"))
	if !found && n == 256 {
		return "", nil, false, errors.New("#! line is too long")
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return "", nil, false, errors.New("#! line names no interpreter")
	}
	return fields[0], fields[1:], true, nil
}

// realPath is filepath.EvalSymlinks with the directories' answers kept:
// a hundred programs load the same few dozen libraries from the same
// directories, and every lstat counts.
func (p *planner) realPath(path string) (string, error) {
	dir, base := filepath.Split(path)
	rdir, ok := p.dirs[dir]
	if !ok {
		var err error
		if rdir, err = filepath.EvalSymlinks(dir); err != nil {
			return "", err
		}
		p.dirs[dir] = rdir
	}
	full := filepath.Join(rdir, base)
	fi, err := os.Lstat(full)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return filepath.EvalSymlinks(full)
	}
	return full, nil
}

// addELF collects the host ELF file h, installed at dest, for library
// resolution, remembering the manifest item that brought it. A file
// listed as a program must resolve; one found in a copied tree (found)
// may be test data, firmware or another system's object, copied as data
// when it does not.
func (p *planner) addELF(h, dest string, found bool) {
	if _, ok := p.elfs[h]; ok {
		if !found {
			delete(p.found, h) // listed too: it must resolve
		}
		return
	}
	p.elfs[h], p.elfAt[h] = dest, p.es.at
	if found {
		p.found[h] = true
	}
}

// libraries resolves every ELF collected and installs what they load.
func (p *planner) libraries() {
	hosts := make([]string, 0, len(p.elfs))
	for h := range p.elfs {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	deps, failed := p.r.ResolveEach(hosts)
	var libc string
	for _, h := range hosts {
		p.es.at = p.elfAt[h]
		d, err := deps[h], failed[h]
		switch {
		case p.found[h] && err != nil:
			p.asData(h, err.Error())
			continue
		case p.found[h] && d != nil && len(d.Missing) > 0:
			p.asData(h, "needs "+strings.Join(d.Missing, ", ")+", not on this host")
			continue
		case err != nil:
			p.errorf("%w", err)
			continue
		case d == nil:
			continue
		}
		dest := p.elfs[h]
		for _, miss := range d.Missing {
			p.errorf("%s needed by %s: not found (install it on the host, or add its directory to the binary's RUNPATH)", miss, h)
		}
		if d.Interp != "" {
			p.installLib(d.Interp, true, "ELF interpreter of "+dest)
		}
		for _, l := range d.Libs {
			p.installLib(l, false, path.Base(l)+" needed by "+dest)
			if path.Base(l) == "libc.so.6" {
				libc = l
			}
		}
	}
	p.es.at = manifest.Pos{}
	if libc != "" {
		// glibc loads libgcc_s with dlopen to unwind a thread in
		// pthread_exit or pthread_cancel, and aborts when it is missing
		// ("libgcc_s.so.1 must be installed for pthread_exit to work").
		gccS := filepath.Join(filepath.Dir(libc), "libgcc_s.so.1")
		if _, err := os.Stat(gccS); err == nil {
			p.installLib(gccS, false, "libgcc_s.so.1: loaded with dlopen by libc for pthread_exit and pthread_cancel")
		}
	}
	if libc != "" && (len(p.m.Users) > 0 || len(p.m.Groups) > 0) && !nssFilesInLibc(libc) {
		nss := filepath.Join(filepath.Dir(libc), "libnss_files.so.2")
		p.installLib(nss, false, "libnss_files.so.2: user names on glibc before 2.34 (loaded with dlopen)")
	}
}

// asData notes in the plan that the ELF file h, found in a copied tree,
// is copied as data: it is not a program this machine can load (test data,
// a damaged or foreign object) or needs what the host lacks.
func (p *planner) asData(h, why string) {
	dest, ok := p.es.canonical(p.elfs[h])
	if e, found := p.es.m[dest]; ok && found {
		e.Why += "; copied as data, not resolved: " + why
		p.es.m[dest] = e
	}
	p.dataELFs++
}

// installLib puts a library (or the ELF interpreter) into the jail: at its
// host path in the preserve layout; in the flat layout by file name in /lib,
// or for the interpreter at its PT_INTERP path, keeping symlink chains.
func (p *planner) installLib(host string, interp bool, why string) {
	key := fmt.Sprint(host, interp)
	if p.libs[key] {
		return // same entries as before; the first reason stays
	}
	p.libs[key] = true
	if p.m.Layout == "preserve" {
		p.hostPath(host, false, why)
		return
	}
	if interp {
		real, err := p.realPath(host)
		if err != nil {
			p.errorf("%s: %w", why, err)
			return
		}
		p.copyFile(real, host, why)
		return
	}
	cur := host
	for i := 0; i < MaxLinks; i++ {
		fi, err := os.Lstat(cur)
		if err != nil {
			p.errorf("%s: %w", why, err)
			return
		}
		dest := "/lib/" + path.Base(cur)
		if fi.Mode()&fs.ModeSymlink == 0 {
			real, err := p.realPath(cur)
			if err != nil {
				p.errorf("%s: %w", why, err)
				return
			}
			p.copyFile(real, dest, why)
			return
		}
		target, err := os.Readlink(cur)
		if err != nil {
			p.errorf("%s: %w", why, err)
			return
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(cur), target)
		}
		if path.Base(target) != path.Base(cur) {
			p.es.add(plan.Entry{Dest: dest, Kind: plan.KindSymlink, Target: path.Base(target), Mode: 0o777, Why: why})
		}
		cur = target
	}
	p.errorf("%s: too many levels of symbolic links at %s", why, host)
}

// copyFile adds a file entry copied from the host file real.
func (p *planner) copyFile(real, dest, why string) {
	fi, err := os.Stat(real)
	if err != nil {
		p.errorf("%s: %w", why, err)
		return
	}
	if prev, ok := p.es.m[dest]; ok && prev.Kind == plan.KindFile && prev.Source != real && strings.HasPrefix(dest, "/lib/") {
		p.errorf("two different libraries are named %s: %s (%s) and %s (%s); use `layout: preserve`", path.Base(dest), prev.Source, prev.Why, real, why)
		return
	}
	p.es.add(plan.Entry{Dest: dest, Kind: plan.KindFile, Source: real, Mode: HostMode(fi, false), Why: why})
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
