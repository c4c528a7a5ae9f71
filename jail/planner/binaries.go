package planner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"
)

// HostMode is the mode a copied host file gets: its permission bits, with
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

// Shebang reads a #! line: the interpreter and its arguments. ELF
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
