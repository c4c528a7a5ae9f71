package manifest

import (
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// Normalize rewrites m into the form the planner reads; Load runs it after
// SetDefaults and before Validate. Jail paths are cleaned, host paths
// written relative to a manifest become absolute, binaries get their host
// path (names are looked up in PATH) and their jail path, files their host
// path and, for an absolute src, the same jail path, packages their dpkg
// file list, and a user or group declared twice alike is kept once.
//
// Normalize reports nothing: what it cannot work out (a path that is not a
// valid jail path, a program not in PATH, a package not installed) it
// leaves as written or empty, and Validate says what is wrong with it.
func Normalize(m *Manifest) {
	for i := range m.Binaries {
		normalizeBinary(m.Layout, &m.Binaries[i])
	}
	for i := range m.Files {
		f := &m.Files[i]
		if f.Src != "" && f.Content == nil {
			f.Host = hostPath(f.Pos, f.Src)
			if f.Dest == "" && filepath.IsAbs(f.Src) {
				f.Dest = f.Host
			}
		}
		f.Dest = cleanJailPath(f.Dest)
	}
	for i := range m.Dirs {
		m.Dirs[i].Path = cleanJailPath(m.Dirs[i].Path)
	}
	for i := range m.Symlinks {
		m.Symlinks[i].Path = cleanJailPath(m.Symlinks[i].Path)
	}
	for i := range m.Packages {
		p := &m.Packages[i]
		if p.Name == "" {
			continue
		}
		if list, err := dpkg.PackageList(dpkg.Dir, p.Name); err == nil {
			p.List = list
		}
	}
	dedupAccounts(m)
	for i := range m.Users {
		u := &m.Users[i]
		u.Home, u.Shell = cleanJailPath(u.Home), cleanJailPath(u.Shell)
	}
	e := &m.Enter
	e.Workdir = cleanJailPath(e.Workdir)
	for i := range e.Mounts {
		mt := &e.Mounts[i]
		mt.Target = cleanJailPath(mt.Target)
		if mt.Type == "bind" && mt.Source != "" {
			mt.Source = hostPath(mt.Pos, mt.Source)
		}
	}
}

// normalizeBinary finds b's program on the host and gives it its jail
// path: /bin/NAME in the flat layout, the host path in preserve.
func normalizeBinary(layout string, b *Binary) {
	switch {
	case b.Src == "":
		return
	case strings.Contains(b.Src, "/"):
		b.Host = hostPath(b.Pos, b.Src)
	default:
		p, err := exec.LookPath(b.Src)
		if err != nil {
			return // Validate: not found in PATH
		}
		if b.Host, err = filepath.Abs(p); err != nil {
			b.Host = ""
			return
		}
	}
	if b.Dest == "" {
		b.Dest = "/bin/" + filepath.Base(b.Src)
		if layout == "preserve" {
			b.Dest = b.Host
		}
	}
	b.Dest = cleanJailPath(b.Dest)
}

// cleanJailPath returns a valid jail path cleaned, and anything else as
// written, so that Validate quotes it as the user wrote it ("a/../b" is
// not valid, though path.Clean would make it "b").
func cleanJailPath(s string) string {
	if CheckJailPath(s) != nil {
		return s
	}
	return path.Clean(s)
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

// dedupAccounts drops a user or group declared again exactly as before (in
// an include and in the top file, say): one account, wherever it is
// written; a group declared again adds its members. Declarations that
// differ stay, and Validate reports them with what differs.
func dedupAccounts(m *Manifest) {
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
