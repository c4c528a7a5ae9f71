package planner

import (
	"debug/elf"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// nsswitch is written whenever a jail has accounts: lookups of users and
// groups go to the files jailer writes, never to a daemon. Host names go
// to /etc/hosts, then DNS: a jail on --net user resolves through the
// resolv.conf its run gets; one without a network is answered at once
// (nothing listens on its loopback's port 53).
const nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"

// accounts writes /etc/passwd and /etc/group (root always present, then
// the manifest's users and groups in the order written) and the users' home
// directories, so that id, whoami, getent and ls -l show names.
func (p *planner) accounts() {
	m := p.m
	if len(m.Users) == 0 && len(m.Groups) == 0 {
		return
	}
	var passwd, group strings.Builder
	hasRoot := false
	for _, u := range m.Users {
		hasRoot = hasRoot || u.Name == "root"
	}
	if !hasRoot {
		passwd.WriteString("root:x:0:0:root:/root:/bin/sh\n")
		p.es.add(plan.Entry{Dest: "/root", Kind: plan.KindDir, Mode: 0o700, Why: "home of root"})
	}
	for _, u := range m.Users {
		p.es.at = u.Pos
		fmt.Fprintf(&passwd, "%s:x:%d:%d:%s:%s:%s\n", u.Name, *u.UID, *u.GID, u.Gecos, u.Home, u.Shell)
		mode := 0o755
		if *u.UID == 0 {
			mode = 0o700
		}
		p.es.add(plan.Entry{Dest: u.Home, Kind: plan.KindDir, Mode: modeOf(mode), UID: *u.UID, GID: *u.GID, Why: "home of user " + u.Name, Fixed: plan.FixedOwner})
	}
	p.es.at = manifest.Pos{}
	hasRootGroup := false
	for _, g := range m.Groups {
		hasRootGroup = hasRootGroup || *g.GID == 0
	}
	if !hasRootGroup {
		group.WriteString("root:x:0:\n")
	}
	for _, g := range append(slices.Clone(m.Groups), manifest.ImplicitGroups(m)...) {
		fmt.Fprintf(&group, "%s:x:%d:%s\n", g.Name, *g.GID, strings.Join(g.Members, ","))
	}
	why := "users and groups"
	p.es.add(plan.Entry{Dest: "/etc/passwd", Kind: plan.KindFile, Content: []byte(passwd.String()), Mode: 0o644, Why: why})
	p.es.add(plan.Entry{Dest: "/etc/group", Kind: plan.KindFile, Content: []byte(group.String()), Mode: 0o644, Why: why})
	p.es.add(plan.Entry{Dest: "/etc/nsswitch.conf", Kind: plan.KindFile, Content: []byte(nsswitch), Mode: 0o644, Why: why})
}

var nssCache sync.Map // libc path -> bool

// nssFilesInLibc reports whether the glibc at path has the `files` NSS
// backend built in, as glibc 2.34 and later do; older ones dlopen
// libnss_files.so.2, which no dependency scan can see. The test is whether
// libc defines the GLIBC_2.34 symbol version.
func nssFilesInLibc(path string) bool {
	if v, ok := nssCache.Load(path); ok {
		return v.(bool)
	}
	f, err := elf.Open(path)
	if err != nil {
		return true // not glibc as we know it: nothing to add
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return true
	}
	in := hasVersionAtLeast(syms, 2, 34)
	nssCache.Store(path, in)
	return in
}

// hasVersionAtLeast reports whether any symbol carries a GLIBC_major.minor
// version at or above the one given.
func hasVersionAtLeast(syms []elf.Symbol, major, minor int) bool {
	for _, s := range syms {
		var ma, mi int
		if n, _ := fmt.Sscanf(s.Version, "GLIBC_%d.%d", &ma, &mi); n == 2 && (ma > major || ma == major && mi >= minor) {
			return true
		}
	}
	return false
}

// modeOf converts Unix permission bits to an os.FileMode.
func modeOf(u int) (m os.FileMode) { return os.FileMode(u & 0o777) }
