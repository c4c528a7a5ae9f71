package planner

// Plan warnings: what a build would do as written but that will not work
// as the manifest surely meant.

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/privdirs"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// systemPATH is where a system's own programs are, as Debian's login PATH
// has it: where a program a version manager shims has its system copy.
var systemPATH = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// versionManagers are the directories of version managers that put
// programs first in PATH: shims (pyenv, rbenv, nodenv, asdf) are scripts
// that run a program they pick from the user's home at run time, and
// nvm's and volta's programs live there too.
var versionManagers = []string{"/.pyenv/", "/.rbenv/", "/.nodenv/", "/.asdf/", "/.nvm/", "/.volta/"}

// fromPath warns when PATH lookup of a binaries: item landed on a script
// in a home directory or a version manager's directory: the jail gets the
// shim, which fails there (the program it runs is not in the jail).
func (p *planner) fromPath(b manifest.Binary) {
	if strings.Contains(b.Src, "/") {
		return
	}
	_, _, isScript, err := Shebang(b.Host)
	if err != nil || !isScript {
		return
	}
	where := ""
	for _, vm := range versionManagers {
		if strings.Contains(b.Host, vm) {
			where = "a " + strings.Trim(vm, "/.") + " shim"
		}
	}
	if where == "" {
		for _, d := range privdirs.Host() {
			if strings.HasPrefix(b.Host, d.Path+"/") {
				where = "a script in " + d.Why
				break
			}
		}
	}
	if where == "" {
		return
	}
	instead := "give the absolute path of the system program"
	if sys := systemProgram(path.Base(b.Src)); sys != "" {
		instead = "use " + sys
	}
	p.warnf("binary %s: PATH finds %s, %s; the jail gets the script, which will fail there (%s)", b.Src, b.Host, where, instead)
}

// systemProgram finds name in the system's own directories, or "".
func systemProgram(name string) string {
	for _, dir := range systemPATH {
		f := filepath.Join(dir, name)
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return f
		}
	}
	return ""
}

// checkCommand warns when the manifest's enter.command names a program
// that the jail will not have.
func (p *planner) checkCommand() {
	e := p.m.Enter
	if len(e.Command) == 0 || e.Command[0] == "" {
		return
	}
	p.es.at = e.Fields["command"]
	defer func() { p.es.at = manifest.Pos{} }()
	prog := e.Command[0]
	if strings.Contains(prog, "/") {
		if !path.IsAbs(prog) {
			return // relative to the workdir: known only when entered
		}
		if boundAt(e.Mounts, prog) {
			return // a mount brings it when the jail runs
		}
		if t, ok := p.es.resolve(path.Clean(prog)); !ok || t.Kind != plan.KindFile {
			p.warnf("enter.command %s is not in the jail (add it under binaries:)", prog)
		}
		return
	}
	pathVar, ok := e.Env["PATH"]
	if !ok {
		pathVar = manifest.DefaultPATH
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if t, ok := p.es.resolve(path.Join("/", dir, prog)); ok && t.Kind == plan.KindFile {
			return
		}
		if boundAt(e.Mounts, path.Join("/", dir, prog)) {
			return
		}
	}
	p.warnf("enter.command %s is not in the jail's PATH (%s) (add it under binaries:)", prog, pathVar)
}

// boundAt says whether the jail path p is a bind mount's target or lies
// below one: what is there comes from the host when the jail runs.
func boundAt(mounts []manifest.Mount, p string) bool {
	p = path.Clean(p)
	for _, mt := range mounts {
		t := path.Clean("/" + mt.Target)
		if mt.Type == "bind" && (p == t || strings.HasPrefix(p, t+"/") || t == "/") {
			return true
		}
	}
	return false
}

// checkMounts warns of a bind source of enter.mounts that does not exist
// now: the jail builds (a service's socket, a checkout made later), and
// jailer enter fails naming it if it still does not when the jail runs.
func (p *planner) checkMounts() {
	defer func() { p.es.at = manifest.Pos{} }()
	for _, mt := range p.m.Enter.Mounts {
		if mt.Type != "bind" || mt.Source == "" {
			continue
		}
		if _, err := os.Stat(mt.Source); err != nil {
			p.es.at = mt.Pos
			p.warnf("enter.mounts: bind source %s does not exist now; jailer enter needs it when the jail runs", mt.Source)
		}
	}
}
