package planner

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

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
