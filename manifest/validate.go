package manifest

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/jailer-dev/jailer/manifest/dpkg"
	"github.com/jailer-dev/jailer/manifest/internal/rules"
)

// Devices are the device nodes a manifest may ask for, by name.
var Devices = map[string]struct {
	Major, Minor uint32
}{
	"null": {1, 3}, "zero": {1, 5}, "full": {1, 7},
	"random": {1, 8}, "urandom": {1, 9}, "tty": {5, 0},
}

// Namespaces are the namespace names `enter.namespaces` accepts.
var Namespaces = []string{"cgroup", "ipc", "mount", "net", "pid", "user", "uts"}

// Networks are the values enter.network accepts; IPCModes those of enter.ipc.
var (
	Networks = []string{NetworkNone, NetworkHost, NetworkUser}
	IPCModes = []string{IPCPrivate, IPCHost}
)

// MountTypes are the mount types `enter.mounts` accepts.
var MountTypes = []string{"bind", "tmpfs"}

// Layouts are the jail layouts a manifest may choose.
var Layouts = []string{"flat", "preserve"}

// Links are the link modes a manifest may choose (lockfile.LinkModes).
var Links = []string{"copy", "hardlink", "store"}

// Profiles are the runtime profiles a manifest may switch on, with what
// each adds; the jail package holds their contents.
var Profiles = map[string]string{
	"hosts":    "/etc/hosts with localhost, and /etc/nsswitch.conf",
	"certs":    "the host's CA bundle (/etc/ssl/certs/ca-certificates.crt) and OpenSSL's link to it (/usr/lib/ssl/cert.pem)",
	"locale":   "the C.UTF-8 locale (/usr/lib/locale/C.utf8), for LANG or LC_ALL=C.UTF-8",
	"terminfo": "terminfo entries for common terminals (xterm, xterm-256color, screen, tmux, linux, vt100, dumb, ...)",
	"python":   "the standard library of the host's /usr/bin/python3 (its sys.path without site dirs), with the libraries of its extension modules",
	"perl":     "the module directories of the host's /usr/bin/perl (its @INC), with the libraries of its XS modules",
}

// validator collects every problem, so a user fixes a manifest in one pass.
type validator struct{ errs []error }

func (v *validator) errorf(p Pos, format string, args ...any) {
	v.errs = append(v.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks m against the rules of the format and against the host
// (programs in PATH, source files present, packages installed) and reports
// every problem, each at its FILE:LINE:COL; it changes nothing. It expects
// a manifest that SetDefaults and then Normalize have prepared, as Load
// does: what Normalize could not work out (a binary's host path, a file's
// jail path) Validate reports as missing.
func Validate(m *Manifest) error {
	v := &validator{}
	if !slices.Contains(Layouts, m.Layout) {
		v.errorf(fieldPos(m.Fields, "layout", m.Pos), "unknown layout %q (use one of: %s)", m.Layout, strings.Join(Layouts, ", "))
	}
	if m.Link != "" && !slices.Contains(Links, m.Link) {
		v.errorf(fieldPos(m.Fields, "link", m.Pos), "unknown link mode %q (use one of: %s)", m.Link, strings.Join(Links, ", "))
	}
	if strings.ContainsAny(m.Name, "/\x00") || len(m.Name) > 64 {
		v.errorf(fieldPos(m.Fields, "name", m.Pos), "name %q must be at most 64 characters with no slash", m.Name)
	}
	dests := newDests(v)
	for _, b := range m.Binaries {
		v.binary(b, dests)
	}
	for _, f := range m.Files {
		v.file(f, dests)
	}
	for _, d := range m.Dirs {
		v.jailPath(d.Pos, "dirs path", d.Path)
		if d.Owner != "" {
			if _, _, err := ResolveUser(m, d.Owner); err != nil {
				v.errorf(d.Pos, "owner: %v", err)
			}
		}
	}
	for _, s := range m.Symlinks {
		v.jailPath(s.Pos, "symlink path", s.Path)
		if s.Target == "" || strings.ContainsRune(s.Target, 0) {
			v.errorf(s.Pos, "symlink %s needs a target", s.Path)
		}
		dests.add(s.Path, "symlink to "+s.Target, s.Pos)
	}
	for _, d := range m.Devices {
		if _, ok := Devices[d.Name]; !ok {
			v.errorf(d.Pos, "unknown device %q (use one of: %s)", d.Name, strings.Join(slices.Sorted(maps.Keys(Devices)), ", "))
		}
	}
	for _, p := range m.Profiles {
		if _, ok := Profiles[p.Name]; !ok {
			v.errorf(p.Pos, "unknown profile %q (use one of: %s)", p.Name, strings.Join(slices.Sorted(maps.Keys(Profiles)), ", "))
		}
	}
	for _, p := range m.Packages {
		v.pkg(p)
	}
	v.accounts(m)
	v.enter(m)
	sortByPos(v.errs)
	return errors.Join(v.errs...)
}

// sortByPos orders problems by file, line and column; errors without a
// position keep their order, after those with one.
func sortByPos(errs []error) {
	pos := func(e error) (Pos, bool) {
		var me *Error
		if errors.As(e, &me) {
			return me.Pos, true
		}
		return Pos{}, false
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, aok := pos(errs[i])
		b, bok := pos(errs[j])
		switch {
		case !aok || !bok:
			return aok && !bok
		case a.File != b.File:
			return a.File < b.File
		}
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
}

// dests records which item claims each jail path, to catch two items that
// want one path with different contents.
type dests struct {
	v    *validator
	seen map[string]struct {
		src string
		pos Pos
	}
}

func newDests(v *validator) *dests {
	return &dests{v: v, seen: map[string]struct {
		src string
		pos Pos
	}{}}
}

func (d *dests) add(dest, src string, p Pos) {
	if dest == "" {
		return
	}
	if prev, ok := d.seen[dest]; ok {
		if prev.src != src {
			d.v.errorf(p, "%s is already taken by %s at %s (give one of them another dest)", dest, prev.src, prev.pos)
		}
		return
	}
	d.seen[dest] = struct {
		src string
		pos Pos
	}{src, p}
}

// jailPath checks a path inside the jail: absolute, no "..".
func (v *validator) jailPath(p Pos, what, s string) {
	if err := CheckJailPath(s); err != nil {
		v.errorf(p, "%s: %v", what, err)
	}
}

// CheckJailPath reports why s is not a valid path inside a jail.
func CheckJailPath(s string) error {
	switch {
	case s == "":
		return errors.New("path is empty (give an absolute path inside the jail)")
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%q contains a NUL byte", s)
	case !strings.HasPrefix(s, "/"):
		return fmt.Errorf("%q is relative (jail paths start with /)", s)
	case path.Clean(s) == "/":
		return fmt.Errorf("%q is the jail root itself (name a path below it)", s)
	}
	for _, e := range strings.Split(s, "/") {
		if e == ".." {
			return fmt.Errorf("%q contains .. and could leave the jail (write the path without ..)", s)
		}
	}
	return nil
}

// binary checks that a binary is an executable file on the host, found
// where Normalize looked for it, and that its jail path is free.
func (v *validator) binary(b Binary, d *dests) {
	if b.Src == "" {
		v.errorf(b.Pos, "binary needs a src (a program name or path)")
		return
	}
	if strings.Contains(b.Src, "/") {
		fi, err := os.Stat(b.Host)
		switch {
		case err != nil:
			v.errorf(b.Pos, "binary %s: %v (check the path)", b.Src, unwrapPath(err))
			return
		case !fi.Mode().IsRegular():
			v.errorf(b.Pos, "binary %s is not a regular file", b.Src)
			return
		case fi.Mode().Perm()&0o111 == 0:
			v.errorf(b.Pos, "binary %s is not executable (chmod +x it, or list it under files:)", b.Src)
			return
		}
	} else if b.Host == "" { // Normalize looked in PATH
		v.errorf(b.Pos, "binary %q not found in PATH (install it, or give its absolute path)", b.Src)
		return
	}
	v.jailPath(b.Pos, "binary dest", b.Dest)
	d.add(b.Dest, b.Host, b.Pos)
}

// pkg checks that a packages: item names an installed Debian package.
func (v *validator) pkg(p Package) {
	if p.Name == "" {
		v.errorf(p.Pos, "package needs a name")
		return
	}
	_, err := dpkg.PackageList(dpkg.Dir, p.Name)
	switch {
	case errors.Is(err, dpkg.ErrNotInstalled):
		bare, _, _ := strings.Cut(p.Name, ":")
		v.errorf(p.Pos, "package %s is not installed (apt-get install %s)", p.Name, bare)
	case err != nil:
		v.errorf(p.Pos, "package %s: %v", p.Name, err)
	}
}

// file checks a files: item: a source that exists or inline content, and
// a jail path that is valid and free.
func (v *validator) file(f File, d *dests) {
	switch {
	case f.Content != nil && f.Src != "":
		v.errorf(f.Pos, "file has both src and content (keep one)")
		return
	case f.Content != nil:
		if len(f.Exclude) > 0 {
			v.errorf(f.Pos, "file with content has nothing to exclude (remove exclude)")
		}
		if f.Dest == "" {
			v.errorf(f.Pos, "file with content needs a dest")
			return
		}
		v.jailPath(f.Pos, "file dest", f.Dest)
		// Two contents for one path conflict; the same content twice does not.
		d.add(f.Dest, fmt.Sprintf("inline content %.8x", sha256.Sum256([]byte(*f.Content))), f.Pos)
		return
	case f.Src == "":
		v.errorf(f.Pos, "file needs a src or a content")
		return
	}
	if _, err := os.Lstat(f.Host); err != nil {
		v.errorf(f.Pos, "file %s: %v (check the path; it is relative to the manifest)", f.Src, unwrapPath(err))
		return
	}
	if len(f.Exclude) > 0 {
		if fi, err := os.Stat(f.Host); err != nil || !fi.IsDir() {
			v.errorf(f.Pos, "file %s: exclude is for directories, and %s is not one (remove exclude)", f.Src, f.Src)
		}
		for _, pat := range f.Exclude {
			if pat == "" || strings.HasPrefix(pat, "/") || !doublestar.ValidatePattern(pat) {
				v.errorf(f.Pos, "file %s: exclude %q is not a glob relative to the directory (such as .git, **/testdata or *.o)", f.Src, pat)
			}
		}
	}
	if f.Dest == "" { // Normalize gives an absolute src its own path
		v.errorf(f.Pos, "file %s is relative: give a dest inside the jail", f.Src)
		return
	}
	v.jailPath(f.Pos, "file dest", f.Dest)
	d.add(f.Dest, f.Host, f.Pos)
}

// fieldPos is where key was written in a struct's Fields, else fallback.
func fieldPos(fields map[string]Pos, key string, fallback Pos) Pos {
	if p, ok := fields[key]; ok {
		return p
	}
	return fallback
}

// enter checks the enter: defaults: names from the fixed lists, users
// that exist, jail paths, mount sources present, sizes and limits readable.
func (v *validator) enter(m *Manifest) {
	e := &m.Enter
	at := func(key string) Pos { return fieldPos(e.Fields, key, fieldPos(m.Fields, "enter", m.Pos)) }
	if len(e.Command) > 0 && e.Command[0] == "" {
		v.errorf(at("command[0]"), "enter.command must start with a program")
	}
	for i, ns := range e.Namespaces {
		if !slices.Contains(Namespaces, ns) {
			v.errorf(at(fmt.Sprintf("namespaces[%d]", i)), "enter.namespaces: unknown namespace %q (use: %s)", ns, strings.Join(Namespaces, ", "))
		}
	}
	for _, o := range []struct{ key, ns, value, host string }{
		{"network", "net", e.Network, NetworkHost}, {"ipc", "ipc", e.IPC, IPCHost},
	} {
		values := map[string][]string{"network": Networks, "ipc": IPCModes}[o.key]
		if o.value != "" && !slices.Contains(values, o.value) {
			v.errorf(at(o.key), "enter.%s: unknown value %q (use: %s)", o.key, o.value, strings.Join(values, ", "))
		}
		// Only a list written in the manifest can contradict it (the
		// default list leaves out what enter.network or enter.ipc opts out of).
		if _, written := e.Fields["namespaces"]; written && o.value == o.host {
			if i := slices.Index(e.Namespaces, o.ns); i >= 0 {
				v.errorf(at(fmt.Sprintf("namespaces[%d]", i)), "enter.namespaces lists %s, but enter.%s is host (drop one of them)", o.ns, o.key)
			}
		}
	}
	if len(e.Hostname) > 64 {
		v.errorf(at("hostname"), "enter.hostname %q is longer than 64 characters", e.Hostname)
	}
	if e.User != "" {
		if _, _, err := ResolveUser(m, e.User); err != nil {
			v.errorf(at("user"), "enter.user: %v", err)
		}
	}
	if e.Workdir != "" {
		v.jailPath(at("workdir"), "enter.workdir", e.Workdir)
	}
	for k := range e.Env {
		if !rules.EnvName().MatchString(k) {
			v.errorf(at("env."+k), "enter.env: %q is not a valid variable name", k)
		}
	}
	for _, mt := range e.Mounts {
		if !slices.Contains(MountTypes, mt.Type) {
			v.errorf(mt.Pos, "unknown mount type %q (use: %s)", mt.Type, strings.Join(MountTypes, ", "))
		}
		v.jailPath(mt.Pos, "mount target", mt.Target)
		switch mt.Type {
		case "bind":
			// A source that is missing now (a socket a service makes, a
			// directory a CI job checks out) is the run's business: plan
			// warns, enter fails naming it.
			if mt.Source == "" {
				v.errorf(mt.Pos, "bind mount of %s needs a source", mt.Target)
			}
			if mt.Size != "" {
				v.errorf(mt.Pos, "size is only for tmpfs mounts")
			}
		case "tmpfs":
			if mt.Source != "" {
				v.errorf(mt.Pos, "a tmpfs mount has no source")
			}
			if mt.Size != "" {
				if _, err := ParseSize(mt.Size); err != nil {
					v.errorf(mt.Pos, "tmpfs size: %v", err)
				}
			}
		}
	}
	for i, p := range e.Publish {
		if _, err := ParsePublish(p); err != nil {
			v.errorf(at(fmt.Sprintf("publish[%d]", i)), "enter.publish: %v", err)
		}
	}
	if len(e.Publish) > 0 && e.Network != NetworkUser {
		v.errorf(at("publish"), "enter.publish forwards ports into the user-mode network, and enter.network is %q (add network: user)", cmp.Or(e.Network, NetworkNone))
	}
	if e.TmpSize != "" {
		if _, err := ParseSize(e.TmpSize); err != nil {
			v.errorf(at("tmp_size"), "enter.tmp_size: %v", err)
		}
	}
	l := e.Limits
	lat := func(key string) Pos { return fieldPos(l.Fields, key, at("limits")) }
	if l.Memory != "" {
		if _, err := ParseSize(l.Memory); err != nil {
			v.errorf(lat("memory"), "limits.memory: %v", err)
		}
	}
	if l.CPU < 0 || l.CPU > 1024 {
		v.errorf(lat("cpu"), "limits.cpu %v must be between 0 and 1024 CPUs", l.CPU)
	}
	if l.Timeout != "" {
		if _, err := ParseTimeout(l.Timeout); err != nil {
			v.errorf(lat("timeout"), "limits.timeout: %v", err)
		}
	}
}
