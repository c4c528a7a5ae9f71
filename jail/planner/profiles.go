package planner

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/plan"
)

// hostsFile maps localhost, so `getent hosts localhost` works in the jail.
const hostsFile = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// profile is what one runtime profile adds: generated files, and host
// paths copied (a directory recursively), at their host paths with the
// symlinks on the way kept unless a destination is given; the ELF files
// among them are resolved like binaries.
type profile struct {
	// content maps jail paths to generated text.
	Content map[string]string
	// copy are host paths that must exist.
	copy []string
	// optional are host paths copied when they exist.
	optional []string
	// find finds more when the plan is made, by looking at the host or
	// asking a host program (never one in the jail).
	find func() ([]profilePath, error)
	// skip lists base-name patterns of directories left out of copied trees.
	Skip []string
	// install is the Debian package that provides what the profile copies.
	install string
}

// profilePath is a host path a profile copies, and where to: "" keeps the
// host path.
type profilePath struct{ Src, Dest string }

// Profiles is the table of runtime profiles; manifest.Profiles describes
// each for users and for validation.
var Profiles = map[string]profile{
	"hosts": {Content: map[string]string{"/etc/hosts": hostsFile, "/etc/nsswitch.conf": nsswitch}},
	// OpenSSL looks for /usr/lib/ssl/cert.pem, Debian's link to the bundle.
	"certs": {copy: []string{"/etc/ssl/certs/ca-certificates.crt"}, optional: []string{"/usr/lib/ssl/cert.pem"}, install: "ca-certificates"},
	// glibc 2.35 and later find C.UTF-8 in this directory alone; no locale-archive is needed.
	"locale": {copy: []string{"/usr/lib/locale/C.utf8"}, install: "libc-bin"},
	// Each entry is copied to /usr/share/terminfo, which every ncurses
	// searches, from the first directory that has it, in ncurses' order.
	"terminfo": {find: findTerminfo(terminals, terminfoDirs, "/usr/share/terminfo"), install: "ncurses-base"},
	// -I ignores PYTHON* variables and the user's site directory; -S leaves
	// out site-packages and dist-packages. config-* holds the static
	// library and Makefile for building extensions, not needed to run.
	"python": {
		find:    askHost(PythonPath, "-I", "-S", "-c", "import sys; print('\\n'.join(sys.path))"),
		Skip:    []string{"config-*", "site-packages", "dist-packages"},
		install: "python3",
	},
	// CORE holds the C headers for building XS modules, not needed to run.
	"perl": {find: askHost(PerlPath, "-e", `print join "\n", @INC`), Skip: []string{"CORE"}, install: "perl"},
}

// The host interpreters the python and perl profiles ask for their paths:
// Debian's, by absolute path (python3 in PATH may be a pyenv shim).
const (
	PythonPath = "/usr/bin/python3"
	PerlPath   = "/usr/bin/perl"
)

// terminals are the terminal types the terminfo profile covers.
var terminals = []string{
	"ansi", "dumb", "linux", "rxvt", "rxvt-unicode", "rxvt-unicode-256color", "screen", "screen-256color",
	"tmux", "tmux-256color", "vt100", "vt102", "vt220", "xterm", "xterm-256color", "xterm-color",
}

// terminfoDirs are where ncurses looks for compiled entries on Debian, in order.
var terminfoDirs = []string{"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"}

// findTerminfo returns a function that finds each terminal's entry in the
// first of dirs that has it, to be copied to DEST/FIRST-LETTER/NAME.
func findTerminfo(names, dirs []string, dest string) func() ([]profilePath, error) {
	return func() ([]profilePath, error) {
		var out []profilePath
		for _, n := range names {
			for _, d := range dirs {
				src := path.Join(d, n[:1], n)
				if _, err := os.Stat(src); err == nil {
					out = append(out, profilePath{src, path.Join(dest, n[:1], n)})
					break
				}
			}
		}
		return out, nil
	}
}

// askHost returns a function that runs a host program with an empty
// environment and returns the absolute paths it prints, one a line, that
// exist and are not inside another.
func askHost(prog string, args ...string) func() ([]profilePath, error) {
	return func() ([]profilePath, error) {
		cmd := exec.Command(prog, args...)
		cmd.Env = []string{}
		cmd.Dir = "/"
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("run %s: %w: %s", prog, err, bytes.TrimSpace(stderr.Bytes()))
		}
		var kept []string
		var paths []profilePath
		for _, a := range strings.Split(string(out), "\n") {
			if !path.IsAbs(a) || below(path.Clean(a), kept) {
				continue
			}
			if _, err := os.Stat(a); err == nil {
				kept = append(kept, path.Clean(a))
				paths = append(paths, profilePath{Src: path.Clean(a)})
			}
		}
		return paths, nil
	}
}

// below reports whether p is one of dirs or inside one of them.
func below(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// paths returns what the profile copies: copy (which must exist),
// optional, then what find found.
func (def profile) Paths() (paths []profilePath, required map[string]bool, err error) {
	required = map[string]bool{}
	for _, c := range def.copy {
		required[c] = true
		paths = append(paths, profilePath{Src: c})
	}
	for _, o := range def.optional {
		paths = append(paths, profilePath{Src: o})
	}
	if def.find != nil {
		found, err := def.find()
		if err != nil {
			return nil, nil, err
		}
		paths = append(paths, found...)
	}
	return paths, required, nil
}

func (p *planner) profiles() {
	for _, pr := range p.m.Profiles {
		def := Profiles[pr.Name]
		why := fmt.Sprintf("profile %s (%s)", pr.Name, where(pr.Pos))
		p.es.at = pr.Pos
		for _, dest := range slices.Sorted(maps.Keys(def.Content)) {
			p.es.add(plan.Entry{Dest: dest, Kind: plan.KindFile, Content: []byte(def.Content[dest]), Mode: 0o644, Why: why})
		}
		paths, required, err := def.Paths()
		if err != nil {
			p.errorf("profile %s: %w (apt-get install %s)", pr.Name, err, def.install)
			continue
		}
		if len(paths) == 0 && len(def.Content) == 0 {
			p.errorf("profile %s found nothing to copy on the host (apt-get install %s)", pr.Name, def.install)
		}
		o := hostOpts{skip: def.Skip}
		for _, pp := range paths {
			var err error
			if pp.Dest == "" {
				err = p.hostTree(pp.Src, o, why)
			} else {
				var real string
				if real, err = filepath.EvalSymlinks(pp.Src); err == nil {
					err = p.copyTree(real, pp.Dest, o, why)
				}
			}
			switch {
			case err == nil:
			case errors.Is(err, fs.ErrNotExist) && !required[pp.Src]:
			case errors.Is(err, fs.ErrNotExist):
				p.errorf("profile %s needs %s on the host: %w (apt-get install %s)", pr.Name, pp.Src, err, def.install)
			default:
				p.errorf("profile %s: copy %s: %w", pr.Name, pp.Src, err)
			}
		}
	}
}
