package manifest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
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
	Networks = []string{NetworkNone, NetworkHost}
	IPCModes = []string{IPCPrivate, IPCHost}
)

// MountTypes are the mount types `enter.mounts` accepts.
var MountTypes = []string{"bind", "tmpfs"}

// Layouts are the jail layouts a manifest may choose.
var Layouts = []string{"flat", "preserve"}

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

var (
	userName = lazyRegexp(`^[a-z_][a-z0-9_.-]{0,31}$`)
	envName  = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// seconds is a timeout given as a bare number of seconds.
	seconds = lazyRegexp(`^[-+]?[0-9]+(\.[0-9]+)?$`)
)

// validator collects every problem, so a user fixes a manifest in one pass.
type validator struct{ errs []error }

func (v *validator) errorf(p Pos, format string, args ...any) {
	v.errs = append(v.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks m against the rules of the format and against the host
// (programs in PATH, source files present), and normalises it: jail paths
// are cleaned, host sources become absolute, binaries get their jail path.
func Validate(m *Manifest) error {
	v := &validator{}
	if !slices.Contains(Layouts, m.Layout) {
		v.errorf(fieldPos(m.Fields, "layout", m.Pos), "unknown layout %q (use one of: %s)", m.Layout, strings.Join(Layouts, ", "))
	}
	if strings.ContainsAny(m.Name, "/\x00") || len(m.Name) > 64 {
		v.errorf(fieldPos(m.Fields, "name", m.Pos), "name %q must be at most 64 characters with no slash", m.Name)
	}
	dests := newDests(v)
	for i := range m.Binaries {
		v.binary(m, &m.Binaries[i], dests)
	}
	for i := range m.Files {
		v.file(&m.Files[i], dests)
	}
	for i := range m.Dirs {
		d := &m.Dirs[i]
		d.Path = v.jailPath(d.Pos, "dirs path", d.Path)
		if d.Owner != "" {
			if _, _, err := ResolveUser(m, d.Owner); err != nil {
				v.errorf(d.Pos, "owner: %v", err)
			}
		}
	}
	for i := range m.Symlinks {
		s := &m.Symlinks[i]
		s.Path = v.jailPath(s.Pos, "symlink path", s.Path)
		if s.Target == "" || strings.ContainsRune(s.Target, 0) {
			v.errorf(s.Pos, "symlink %s needs a target", s.Path)
		}
		dests.add(s.Path, "symlink to "+s.Target, s.Pos)
	}
	for _, d := range m.Devices {
		if _, ok := Devices[d.Name]; !ok {
			v.errorf(d.Pos, "unknown device %q (use one of: %s)", d.Name, strings.Join(sortedKeys(Devices), ", "))
		}
	}
	for _, p := range m.Profiles {
		if _, ok := Profiles[p.Name]; !ok {
			v.errorf(p.Pos, "unknown profile %q (use one of: %s)", p.Name, strings.Join(sortedKeys(Profiles), ", "))
		}
	}
	for i := range m.Packages {
		v.pkg(&m.Packages[i])
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

// jailPath checks a path inside the jail: absolute, no "..", and returns it cleaned.
func (v *validator) jailPath(p Pos, what, s string) string {
	if err := CheckJailPath(s); err != nil {
		v.errorf(p, "%s: %v", what, err)
		return s
	}
	return path.Clean(s)
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

// hostPath makes a manifest-relative path absolute, relative to the file
// the item was written in.
func hostPath(p Pos, s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	dir, _ := filepath.Abs(filepath.Dir(p.File))
	return filepath.Join(dir, s)
}

func (v *validator) binary(m *Manifest, b *Binary, d *dests) {
	if b.Src == "" {
		v.errorf(b.Pos, "binary needs a src (a program name or path)")
		return
	}
	if strings.Contains(b.Src, "/") {
		b.Host = hostPath(b.Pos, b.Src)
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
	} else {
		p, err := exec.LookPath(b.Src)
		if err != nil {
			v.errorf(b.Pos, "binary %q not found in PATH (install it, or give its absolute path)", b.Src)
			return
		}
		if b.Host, err = filepath.Abs(p); err != nil {
			v.errorf(b.Pos, "binary %q: %v", b.Src, err)
			return
		}
	}
	if b.Dest == "" {
		if m.Layout == "preserve" {
			b.Dest = b.Host
		} else {
			b.Dest = "/bin/" + filepath.Base(b.Src)
		}
	}
	b.Dest = v.jailPath(b.Pos, "binary dest", b.Dest)
	d.add(b.Dest, b.Host, b.Pos)
}

// pkg checks that a packages: item names an installed Debian package and
// records its dpkg file list.
func (v *validator) pkg(p *Package) {
	if p.Name == "" {
		v.errorf(p.Pos, "package needs a name")
		return
	}
	list, err := PackageList(DpkgDir, p.Name)
	switch {
	case errors.Is(err, ErrNotInstalled):
		bare, _, _ := strings.Cut(p.Name, ":")
		v.errorf(p.Pos, "package %s is not installed (apt-get install %s)", p.Name, bare)
	case err != nil:
		v.errorf(p.Pos, "package %s: %v", p.Name, err)
	default:
		p.List = list
	}
}

func (v *validator) file(f *File, d *dests) {
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
		f.Dest = v.jailPath(f.Pos, "file dest", f.Dest)
		// Two contents for one path conflict; the same content twice does not.
		d.add(f.Dest, fmt.Sprintf("inline content %.8x", sha256.Sum256([]byte(*f.Content))), f.Pos)
		return
	case f.Src == "":
		v.errorf(f.Pos, "file needs a src or a content")
		return
	}
	f.Host = hostPath(f.Pos, f.Src)
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
	if f.Dest == "" {
		if !filepath.IsAbs(f.Src) {
			v.errorf(f.Pos, "file %s is relative: give a dest inside the jail", f.Src)
			return
		}
		f.Dest = f.Host
	}
	f.Dest = v.jailPath(f.Pos, "file dest", f.Dest)
	d.add(f.Dest, f.Host, f.Pos)
}

// sameAccounts drops a user or group declared again exactly as before (in
// an include and in the top file, say): one account, wherever it is written.
// Declarations that differ stay, and accounts reports them with what differs.
func (v *validator) sameAccounts(m *Manifest) {
	var users []User
	for _, u := range m.Users {
		if i := slices.IndexFunc(users, func(prev User) bool { return prev.Name == u.Name }); i >= 0 && userDiff(users[i], u) == "" {
			continue
		}
		users = append(users, u)
	}
	m.Users = users
	var groups []Group
	for _, g := range m.Groups {
		i := slices.IndexFunc(groups, func(prev Group) bool { return prev.Name == g.Name })
		if i >= 0 && eqID(groups[i].GID, g.GID) {
			for _, mem := range g.Members {
				if !slices.Contains(groups[i].Members, mem) {
					groups[i].Members = append(groups[i].Members, mem)
				}
			}
			continue
		}
		groups = append(groups, g)
	}
	m.Groups = groups
}

// userDiff says how two declarations of one user differ, "" when they do not.
func userDiff(a, b User) string {
	var d []string
	if !eqID(a.UID, b.UID) {
		d = append(d, fmt.Sprintf("uid %s there, %s here", idString(a.UID), idString(b.UID)))
	}
	if !eqID(a.GID, b.GID) {
		d = append(d, fmt.Sprintf("gid %s there, %s here", idString(a.GID), idString(b.GID)))
	}
	for _, f := range []struct{ name, a, b string }{
		{"home", path.Clean(a.Home), path.Clean(b.Home)}, {"shell", path.Clean(a.Shell), path.Clean(b.Shell)}, {"gecos", a.Gecos, b.Gecos},
	} {
		if f.a != f.b {
			d = append(d, fmt.Sprintf("%s %q there, %q here", f.name, f.a, f.b))
		}
	}
	return strings.Join(d, "; ")
}

func eqID(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func idString(id *int) string {
	if id == nil {
		return "unset"
	}
	return strconv.Itoa(*id)
}

func (v *validator) accounts(m *Manifest) {
	v.sameAccounts(m)
	names, uids := map[string]Pos{}, map[int]Pos{}
	declared := map[string]User{}
	for i := range m.Users {
		u := &m.Users[i]
		if !userName().MatchString(u.Name) {
			v.errorf(u.Pos, "user name %q is not valid (lowercase letters, digits, _ . -)", u.Name)
		}
		if u.UID == nil {
			v.errorf(u.Pos, "user %s needs a uid", u.Name)
			continue
		}
		if p, ok := names[u.Name]; ok {
			v.errorf(u.Pos, "user %s is declared twice, differently (also at %s): %s (make them agree, or keep one)", u.Name, p, userDiff(declared[u.Name], *u))
		} else if p, ok := uids[*u.UID]; ok {
			v.errorf(u.Pos, "uid %d is declared twice (also at %s)", *u.UID, p)
		}
		if (u.Name == "root") != (*u.UID == 0) {
			v.errorf(u.Pos, "root must have uid 0 and uid 0 must be root (root is always present)")
		}
		names[u.Name], uids[*u.UID], declared[u.Name] = u.Pos, u.Pos, *u
		u.Home = v.jailPath(u.Pos, "user "+u.Name+" home", u.Home)
		u.Shell = v.jailPath(u.Pos, "user "+u.Name+" shell", u.Shell)
	}
	gnames, gids, gidOf := map[string]Pos{}, map[int]Pos{}, map[string]int{}
	for _, g := range m.Groups {
		if !userName().MatchString(g.Name) {
			v.errorf(g.Pos, "group name %q is not valid (lowercase letters, digits, _ . -)", g.Name)
		}
		if g.GID == nil {
			v.errorf(g.Pos, "group %s needs a gid", g.Name)
			continue
		}
		if p, ok := gnames[g.Name]; ok {
			v.errorf(g.Pos, "group %s is declared twice, differently (also at %s): gid %d there, %d here (make them agree, or keep one)", g.Name, p, gidOf[g.Name], *g.GID)
		} else if p, ok := gids[*g.GID]; ok {
			v.errorf(g.Pos, "gid %d is declared twice (also at %s)", *g.GID, p)
		}
		if (g.Name == "root") != (*g.GID == 0) {
			v.errorf(g.Pos, "group root must have gid 0 and gid 0 must be root (root is always present)")
		}
		gnames[g.Name], gids[*g.GID], gidOf[g.Name] = g.Pos, g.Pos, *g.GID
		for _, mem := range g.Members {
			if _, ok := names[mem]; !ok && mem != "root" {
				v.errorf(g.Pos, "group %s member %q is not a declared user", g.Name, mem)
			}
		}
	}
}

// fieldPos is where key was written in a struct's Fields, else fallback.
func fieldPos(fields map[string]Pos, key string, fallback Pos) Pos {
	if p, ok := fields[key]; ok {
		return p
	}
	return fallback
}

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
		e.Workdir = v.jailPath(at("workdir"), "enter.workdir", e.Workdir)
	}
	for k := range e.Env {
		if !envName().MatchString(k) {
			v.errorf(at("env."+k), "enter.env: %q is not a valid variable name", k)
		}
	}
	for i := range e.Mounts {
		mt := &e.Mounts[i]
		if !slices.Contains(MountTypes, mt.Type) {
			v.errorf(mt.Pos, "unknown mount type %q (use: %s)", mt.Type, strings.Join(MountTypes, ", "))
		}
		mt.Target = v.jailPath(mt.Pos, "mount target", mt.Target)
		switch mt.Type {
		case "bind":
			if mt.Source == "" {
				v.errorf(mt.Pos, "bind mount of %s needs a source", mt.Target)
			} else {
				mt.Source = hostPath(mt.Pos, mt.Source)
				if _, err := os.Stat(mt.Source); err != nil {
					v.errorf(mt.Pos, "bind source %s: %v", mt.Source, unwrapPath(err))
				}
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

// ParseTimeout reads a timeout: a bare number is seconds ("30", "1.5"),
// anything else a Go duration ("10s", "5m", "1h30m"). 0 means no timeout,
// as for timeout(1). A negative or unreadable value is an error that
// quotes it and says what to write.
func ParseTimeout(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	negative := fmt.Errorf("%q is negative (use seconds, such as 30, or a duration, such as 5m; 0 means no timeout)", s)
	if seconds().MatchString(t) {
		f, err := strconv.ParseFloat(t, 64)
		switch {
		case err == nil && f < 0:
			return 0, negative
		case err != nil || f*float64(time.Second) >= float64(math.MaxInt64):
			return 0, fmt.Errorf("%q is longer than a timeout can be (at most about 290 years)", s)
		}
		return time.Duration(math.Ceil(f * float64(time.Second))), nil // never 0 (none) for a tiny positive value
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a timeout (use seconds, such as 30 or 1.5, or a duration, such as 10s or 5m)", s)
	}
	if d < 0 {
		return 0, negative
	}
	return d, nil
}

// ParseSize reads a size such as 512M, 64k, 2G or 1048576 (bytes).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	if n := len(t); n > 0 {
		switch strings.ToUpper(t[n-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 64M, 512K or 2G", s)
	}
	return n * mult, nil
}

// maxID is the largest uid or gid a manifest may name, as users: and
// groups: allow; larger ones would wrap when made a uint32 (4294967296 is 0).
const maxID = 1<<31 - 1

// ResolveUser turns an enter.user or owner value (a declared user's name,
// uid, or uid:gid) into numeric ids.
func ResolveUser(m *Manifest, s string) (uid, gid int, err error) {
	name, group, hasGroup := strings.Cut(s, ":")
	uid, gid = -1, -1
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n <= maxID {
		uid, gid = n, n
	} else if name == "root" {
		uid, gid = 0, 0
	} else {
		for _, u := range m.Users {
			if u.Name == name && u.UID != nil && u.GID != nil {
				uid, gid = *u.UID, *u.GID
			}
		}
	}
	if uid < 0 {
		return 0, 0, fmt.Errorf("%q is not a declared user or a uid (declare it under users:)", name)
	}
	if hasGroup {
		gid = -1
		if n, err := strconv.Atoi(group); err == nil && n >= 0 && n <= maxID {
			gid = n
		} else if group == "root" {
			gid = 0
		} else {
			for _, g := range m.Groups {
				if g.Name == group && g.GID != nil {
					gid = *g.GID
				}
			}
			if gid < 0 {
				gid = implicitGroup(m, group)
			}
		}
		if gid < 0 {
			return 0, 0, fmt.Errorf("%q is not a declared group or a gid (declare it under groups:)", group)
		}
	}
	return uid, gid, nil
}

// implicitGroup returns the gid of the group jailer creates for a user
// whose primary group nobody declared, or -1 when there is no such group.
func implicitGroup(m *Manifest, name string) int {
	for _, g := range ImplicitGroups(m) {
		if g.Name == name {
			return *g.GID
		}
	}
	return -1
}

// ImplicitGroups are the groups written to /etc/group besides the declared
// ones: like useradd, a user whose primary group nobody declared gets a
// group of its own name, so that id and ls -l show a name for it.
func ImplicitGroups(m *Manifest) []Group {
	gids, names := map[int]bool{0: true}, map[string]bool{}
	for _, g := range m.Groups {
		if g.GID != nil {
			gids[*g.GID] = true
		}
		names[g.Name] = true
	}
	var out []Group
	for _, u := range m.Users {
		if u.GID == nil || gids[*u.GID] || names[u.Name] {
			continue
		}
		gid := *u.GID
		out = append(out, Group{Name: u.Name, GID: &gid, Pos: u.Pos})
		gids[gid], names[u.Name] = true, true
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
