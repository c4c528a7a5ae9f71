package manifest

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/jailer-dev/jailer/manifest/internal/rules"
)

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

// eqID reports whether two optional ids are both unset or equal.
func eqID(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// idString is an optional id for messages.
func idString(id *int) string {
	if id == nil {
		return "unset"
	}
	return strconv.Itoa(*id)
}

// accounts checks users: and groups: (names, ids, members) and that no
// account is declared twice differently.
func (v *validator) accounts(m *Manifest) {
	names, uids := map[string]Pos{}, map[int]Pos{}
	declared := map[string]User{}
	for _, u := range m.Users {
		if !rules.AccountName().MatchString(u.Name) {
			v.errorf(u.Pos, "user name %q is not valid (lowercase letters, digits, _ . -)", u.Name)
		}
		if u.UID == nil {
			v.errorf(u.Pos, "user %s needs a uid", u.Name)
			continue
		}
		if p, ok := names[u.Name]; ok {
			v.errorf(u.Pos, "user %s is declared twice, differently (also at %s): %s (make them agree, or keep one)", u.Name, p, userDiff(declared[u.Name], u))
		} else if p, ok := uids[*u.UID]; ok {
			v.errorf(u.Pos, "uid %d is declared twice (also at %s)", *u.UID, p)
		}
		if (u.Name == "root") != (*u.UID == 0) {
			v.errorf(u.Pos, "root must have uid 0 and uid 0 must be root (root is always present)")
		}
		names[u.Name], uids[*u.UID], declared[u.Name] = u.Pos, u.Pos, u
		v.jailPath(u.Pos, "user "+u.Name+" home", u.Home)
		v.jailPath(u.Pos, "user "+u.Name+" shell", u.Shell)
	}
	gnames, gids, gidOf := map[string]Pos{}, map[int]Pos{}, map[string]int{}
	for _, g := range m.Groups {
		if !rules.AccountName().MatchString(g.Name) {
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
