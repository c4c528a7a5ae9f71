package planner

// Programs hard-code paths: /bin/sh in system(3) and popen(3), #!/usr/bin/perl,
// /usr/bin/env in scripts, /usr/bin/dpkg in apt. Whatever the layout puts
// where, a jail answers the paths a program would find on the host. In the
// flat layout, /usr/bin, /usr/sbin and /sbin lead to /bin and /usr/lib and
// /usr/lib64 to /lib and /lib64; in the preserve layout, the host's own
// top-level links (/bin -> usr/bin on a merged-/usr system) are kept
// wherever the jail has what they point to.

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"
)

// FlatAliases are the directories a flat jail answers besides the ones
// it fills, and where each leads.
var FlatAliases = []struct{ dir, to string }{
	{"/sbin", "/bin"},
	{"/usr/bin", "/bin"},
	{"/usr/lib", "/lib"},
	{"/usr/lib64", "/lib64"},
	{"/usr/sbin", "/bin"},
}

// usrLinks adds the links that make the layout answer host paths.
func (p *planner) usrLinks() {
	switch p.m.Layout {
	case "flat":
		for _, a := range FlatAliases {
			p.alias(a.dir, a.to, "flat layout: "+a.dir+" is "+a.to+" (for programs that hard-code "+a.dir+")")
		}
	case "preserve":
		p.hostTopLinks("/")
	}
}

// alias makes dir a symlink to the directory to, unless something the
// manifest asked for is at dir already or dir and to are one directory
// (a package's /bin -> usr/bin). Entries planned below dir move to to.
func (p *planner) alias(dir, to, why string) {
	if prev, ok := p.es.m[dir]; ok && !isWeak(prev) {
		return
	}
	if c, ok := p.es.canonical(dir + "/x"); !ok || c != dir+"/x" {
		return // dir is below a symlink already
	}
	if c, ok := p.es.canonical(to + "/x"); !ok || c == dir+"/x" || strings.HasPrefix(c, dir+"/") {
		return
	}
	target, err := filepath.Rel(path.Dir(dir), to)
	if err != nil {
		return
	}
	p.es.add(plan.Entry{Dest: dir, Kind: plan.KindSymlink, Target: target, Mode: 0o777, Why: why})
}

// hostTopLinks adds the symlinks in the host directory top (such as
// /bin -> usr/bin, /lib64 -> usr/lib64) whose target the jail has as a
// directory, where the jail has nothing of that name.
func (p *planner) hostTopLinks(top string) {
	ents, err := os.ReadDir(top)
	if err != nil {
		return
	}
	for _, ent := range ents {
		if ent.Type()&os.ModeSymlink == 0 {
			continue
		}
		link := path.Join("/", ent.Name())
		if _, ok := p.es.m[link]; ok {
			continue
		}
		target, err := os.Readlink(filepath.Join(top, ent.Name()))
		if err != nil {
			continue
		}
		to := target
		if !path.IsAbs(to) {
			to = path.Join("/", to)
		}
		if e, ok := p.es.resolve(path.Clean(to)); !ok || e.Kind != plan.KindDir {
			continue
		}
		p.es.add(plan.Entry{Dest: link, Kind: plan.KindSymlink, Target: target, Mode: 0o777,
			Why: "the host's " + link + " -> " + target + " (the jail has " + path.Clean(to) + ")"})
	}
}
