// Package doctor is `jailer doctor`: a preflight that says, for the user
// running it on this host, what jailer can and cannot do, each with the
// fix.
//
// It reads what the kernel and the system say (the sysctls that allow or
// forbid unprivileged user namespaces, /etc/subuid and /etc/subgid, the
// setuid helpers newuidmap and newgidmap, the caller's cgroups, seccomp in
// /proc/self/status), and it tries what those cannot tell: it starts a
// process of its own in the namespaces `jailer enter` makes (a user
// namespace first when the caller is not root), which mounts a tmpfs, the
// overlay of a fresh root, /proc, a devpts instance and the devices as
// enter does (probe.go), and, where the caller has subordinate ids, maps
// them into a user namespace with newuidmap and newgidmap as a run would.
//
// Every input is a field of Host, so that the checks can be tested against
// fake files (ThisHost is the real host). A check that fails means
// `jailer enter` with its defaults does not work for this user; a warning
// means it works with less (no subordinate ids, no cgroup limits).
package doctor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/jailer-dev/jailer/jail/enter"
	"golang.org/x/sys/unix"
)

// Status is how a check went.
type Status string

// The statuses of a check.
const (
	// OK: it works.
	OK Status = "ok"
	// Warn: jailer works without it, with less (said in the detail).
	Warn Status = "warn"
	// Fail: `jailer enter` does not work for this user until it is fixed.
	Fail Status = "fail"
)

// Check is one thing doctor looked at.
type Check struct {
	// Name names it: a sysctl, "userns", "overlay", "subuid"...
	Name string `json:"name"`
	// Status is ok, warn or fail.
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do, for a warning or a failure.
	Fix string `json:"fix,omitempty"`
}

// Report is everything doctor found.
type Report struct {
	// User and UID are who ran it; Root says whether that is root.
	User string `json:"user"`
	UID  int    `json:"uid"`
	Root bool   `json:"root"`
	// OK says that every check jailer enter needs passed (none failed).
	OK bool `json:"ok"`
	// Checks are in the order they were made.
	Checks []Check `json:"checks"`
}

// Text writes one line per check, `STATUS  NAME  DETAIL (FIX)`, aligned.
func (r *Report) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range r.Checks {
		line := c.Detail
		if c.Fix != "" && c.Status != OK {
			line += " (" + c.Fix + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, line)
	}
	return tw.Flush()
}

// Range is a range of subordinate ids: Count ids from Start.
type Range = enter.IDRange

// Host is where doctor looks: the caller, and the files and probes that
// answer for the kernel and the system. ThisHost fills it for real; a
// test points the files at fakes and gives the probes' answers.
type Host struct {
	// UID, GID and User are the caller (effective ids).
	UID, GID int
	User     string
	// ProcSys is /proc/sys.
	ProcSys string
	// SubUID and SubGID are /etc/subuid and /etc/subgid.
	SubUID, SubGID string
	// Status, Cgroup and Mountinfo are /proc/self/status, /proc/self/cgroup
	// and /proc/self/mountinfo.
	Status, Cgroup, Mountinfo string
	// Path is the list of directories newuidmap, newgidmap and
	// slirp4netns are looked for in, as $PATH.
	Path string
	// Tun is /dev/net/tun, which slirp4netns (--net user) opens.
	Tun string
	// Probe starts a process in the namespaces enter makes (with a user
	// namespace first when userns) that mounts what enter mounts, and
	// says how it went (probe.go).
	Probe func(userns bool) Probe
	// MapIDs starts a process in a user namespace of its own, maps the
	// caller and the ranges into it with newuidmap and newgidmap, and
	// says why that failed, or nil.
	MapIDs func(newuidmap, newgidmap string, uids, gids []Range) error
}

// ThisHost is the real host, as the current process sees it.
func ThisHost() Host {
	h := Host{
		UID: os.Geteuid(), GID: os.Getegid(),
		ProcSys: "/proc/sys", SubUID: "/etc/subuid", SubGID: "/etc/subgid",
		Status: "/proc/self/status", Cgroup: "/proc/self/cgroup", Mountinfo: "/proc/self/mountinfo",
		Path: os.Getenv("PATH") + ":/usr/bin:/usr/sbin:/bin:/sbin", Tun: "/dev/net/tun",
		Probe: probe, MapIDs: mapIDs,
	}
	h.User = strconv.Itoa(h.UID)
	if u, err := user.LookupId(h.User); err == nil {
		h.User = u.Username
	}
	return h
}

// Run makes every check for h's caller and returns the report.
func Run(h Host) *Report {
	root := h.UID == 0
	r := &Report{User: h.User, UID: h.UID, Root: root}
	add := func(c Check) { r.Checks = append(r.Checks, c) }
	for _, c := range usernsSysctls(h, root) {
		add(c)
	}
	p := h.Probe(!root)
	for _, c := range probeChecks(p, root) {
		add(c)
	}
	if !root {
		for _, c := range subIDChecks(h, p.UserNS == "") {
			add(c)
		}
		add(delegation(h))
	} else {
		add(rootCgroups(h))
	}
	add(seccomp(h))
	add(netModes(h))
	r.OK = !slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Fail })
	return r
}

// usernsSysctls reads the sysctls that allow or forbid user namespaces to
// unprivileged users: user.max_user_namespaces everywhere, and where
// they exist Debian's kernel.unprivileged_userns_clone and Ubuntu's
// kernel.apparmor_restrict_unprivileged_userns. Root does not need user
// namespaces (only --userns does): for root a problem is a warning.
func usernsSysctls(h Host, root bool) []Check {
	bad := Fail
	if root {
		bad = Warn
	}
	var out []Check
	read := func(name string) (string, bool, error) {
		data, err := os.ReadFile(filepath.Join(h.ProcSys, strings.ReplaceAll(name, ".", "/")))
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return strings.TrimSpace(string(data)), true, err
	}
	const maxNS = "user.max_user_namespaces"
	switch v, ok, err := read(maxNS); {
	case err != nil:
		out = append(out, Check{maxNS, Warn, fmt.Sprintf("cannot read it: %v", err), ""})
	case !ok:
		out = append(out, Check{maxNS, bad, "absent: this kernel has no user namespaces", "a kernel built with CONFIG_USER_NS"})
	case v == "0":
		out = append(out, Check{maxNS, bad, "0: no user namespace may be created", "sysctl -w user.max_user_namespaces=15000, and in /etc/sysctl.d to keep it"})
	default:
		out = append(out, Check{maxNS, OK, v + ": user namespaces allowed", ""})
	}
	const clone = "kernel.unprivileged_userns_clone"
	switch v, ok, err := read(clone); {
	case !ok:
	case err != nil:
		out = append(out, Check{clone, Warn, fmt.Sprintf("cannot read it: %v", err), ""})
	case v == "0":
		out = append(out, Check{clone, bad, "0: only root may create user namespaces", "sysctl -w kernel.unprivileged_userns_clone=1, and in /etc/sysctl.d to keep it"})
	default:
		out = append(out, Check{clone, OK, v + ": unprivileged user namespaces allowed", ""})
	}
	const aa = "kernel.apparmor_restrict_unprivileged_userns"
	switch v, ok, err := read(aa); {
	case !ok:
	case err != nil:
		out = append(out, Check{aa, Warn, fmt.Sprintf("cannot read it: %v", err), ""})
	case v != "0":
		out = append(out, Check{aa, bad, v + ": AppArmor takes every capability from a user namespace an unconfined program makes",
			"an AppArmor profile for jailer with the userns rule (as /etc/apparmor.d/bwrap-userns-restrict gives bwrap), or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"})
	default:
		out = append(out, Check{aa, OK, "0: AppArmor leaves user namespaces alone", ""})
	}
	return out
}

// probeChecks turns what the probe found into checks: the user namespace
// (not root), the other namespaces, and each mount enter makes.
func probeChecks(p Probe, root bool) []Check {
	var out []Check
	if !root {
		switch {
		case p.UserNS != "":
			return []Check{{"userns", Fail, "cannot create a user namespace: " + p.UserNS, "allow unprivileged user namespaces (the sysctls above), or run jailer as root"}}
		default:
			out = append(out, Check{"userns", OK, "created one: root inside is you outside", ""})
		}
	}
	ns := "mount, PID, UTS, network and IPC namespaces"
	if !root {
		ns += " in it"
	}
	if p.Namespaces != "" {
		return append(out, Check{"namespaces", Fail, "cannot create the " + ns + ": " + p.Namespaces, "a kernel with CONFIG_{USER,PID,UTS,NET,IPC}_NS; in a container, one that allows them (seccomp, --privileged)"})
	}
	out = append(out, Check{"namespaces", OK, "created the " + ns, ""})
	overlayFix := "a kernel with overlayfs (modprobe overlay); without root, Linux 5.11 or newer; else run with --persist"
	for _, m := range []struct {
		name, err, ok, fix string
	}{
		{"tmpfs", p.Tmpfs, "mounted one", "a kernel that allows tmpfs mounts here"},
		{"overlay", p.Overlay, "mounted a fresh root (overlay of a tree and a tmpfs) and wrote through it", overlayFix},
		{"proc", p.Proc, "mounted a fresh /proc", "/proc is partly covered (a container's masks): run where a fresh proc may be mounted"},
		{"devpts", p.Devpts, "mounted a private /dev/pts", "a kernel with devpts (CONFIG_UNIX98_PTYS)"},
	} {
		if m.err != "" {
			out = append(out, Check{m.name, Fail, "cannot: " + m.err, m.fix})
		} else {
			out = append(out, Check{m.name, OK, m.ok, ""})
		}
	}
	if root {
		if p.Mknod != "" {
			out = append(out, Check{"mknod", Fail, "cannot make /dev/null on a tmpfs: " + p.Mknod, "CAP_MKNOD (in a container: --cap-add MKNOD); builds with devices: need it too"})
		} else {
			out = append(out, Check{"mknod", OK, "made /dev/null on a tmpfs, as enter makes /dev and builds make devices:", ""})
		}
	} else {
		if p.Bind != "" {
			out = append(out, Check{"devices", Fail, "cannot bind the host's /dev/null: " + p.Bind, "a kernel that allows bind mounts in a user namespace"})
		} else {
			out = append(out, Check{"devices", OK, "bound the host's /dev/null, as enter makes /dev without root", ""})
		}
	}
	return out
}

// subIDChecks looks at the caller's subordinate ids: ranges in /etc/subuid
// and /etc/subgid, the setuid helpers that map them, and (when userns
// says a user namespace works) whether they map for real. Without them a
// run maps the caller alone: warnings, not failures.
func subIDChecks(h Host, userns bool) []Check {
	var out []Check
	ranges := map[string][]Range{}
	for _, f := range []struct{ name, file string }{{"subuid", h.SubUID}, {"subgid", h.SubGID}} {
		rs, err := enter.SubIDs(f.file, h.User, h.UID)
		fix := fmt.Sprintf("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s, as root", h.User)
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			out = append(out, Check{f.name, Warn, fmt.Sprintf("cannot read %s: %v", f.file, err), fix})
		case len(rs) == 0:
			out = append(out, Check{f.name, Warn, fmt.Sprintf("no range for %s in %s: a run maps you alone, and declared users' files are yours inside", h.User, f.file), fix})
		default:
			ranges[f.name] = rs
			out = append(out, Check{f.name, OK, fmt.Sprintf("%s: %s", h.User, rangesString(rs)), ""})
		}
	}
	helpers := map[string]string{}
	for _, name := range []string{"newuidmap", "newgidmap"} {
		p, detail, ok := findHelper(h.Path, name)
		if !ok {
			out = append(out, Check{name, Warn, detail, "apt-get install uidmap (shadow-utils on Fedora), as root"})
			continue
		}
		helpers[name] = p
		out = append(out, Check{name, OK, detail, ""})
	}
	const mapName = "subid-map"
	switch {
	case len(ranges) < 2 || len(helpers) < 2:
		out = append(out, Check{mapName, Warn, "not tried: it needs ranges in both files and both helpers", "see the lines above"})
	case !userns:
		out = append(out, Check{mapName, Warn, "not tried: no user namespace", "see userns"})
	default:
		if err := h.MapIDs(helpers["newuidmap"], helpers["newgidmap"], ranges["subuid"], ranges["subgid"]); err != nil {
			out = append(out, Check{mapName, Warn, "mapping your ranges into a user namespace failed: " + err.Error(), "check the ranges with the lines above, and that newuidmap and newgidmap are setuid root"})
		} else {
			out = append(out, Check{mapName, OK, "mapped you and your ranges into a user namespace: declared users own their files", ""})
		}
	}
	return out
}

// rangesString formats ranges as "200000-265535 (65536 ids)".
func rangesString(rs []Range) string {
	var parts []string
	n := 0
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%d-%d", r.Start, r.Start+r.Count-1))
		n += r.Count
	}
	return fmt.Sprintf("%s (%d ids)", strings.Join(parts, ", "), n)
}

// findHelper looks for newuidmap or newgidmap in the directories of path
// and says whether it can map ids for others: setuid root, or with file
// capabilities.
func findHelper(path, name string) (string, string, bool) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		switch {
		case st.Mode&unix.S_ISUID != 0 && st.Uid == 0:
			return p, p + ": setuid root", true
		case hasFileCaps(p):
			return p, p + ": with file capabilities", true
		}
		return "", p + ": neither setuid root nor with file capabilities, so it cannot map ids", false
	}
	return "", "not installed", false
}

// hasFileCaps reports whether the file at p has file capabilities.
func hasFileCaps(p string) bool {
	n, err := unix.Getxattr(p, "security.capability", nil)
	return err == nil && n > 0
}

// delegation looks for a cgroup v2 subtree delegated to the caller: its
// cgroup (from /proc/self/cgroup, under the cgroup2 mount) owned by it,
// with cgroup.procs and cgroup.subtree_control its own, and the memory,
// pids and cpu controllers available. Without it, limits are refused
// without root: a warning.
func delegation(h Host) Check {
	const name = "cgroup-v2"
	fix := "log in through systemd (a user session delegates user@UID.service), or run under systemd-run --user --scope -p Delegate=yes; else run jailer as root for limits"
	mount := cgroup2Mount(h.Mountinfo)
	if mount == "" {
		return Check{name, Warn, "no cgroup2 filesystem is mounted: --memory, --pids and --cpus are refused without root", fix}
	}
	rel := ""
	if data, err := os.ReadFile(h.Cgroup); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				rel = p
			}
		}
	}
	dir := filepath.Join(mount, rel)
	var owned []string
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control"} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(dir, f), &st); err == nil && int(st.Uid) == h.UID {
			owned = append(owned, f)
		}
	}
	if len(owned) < 3 {
		return Check{name, Warn, fmt.Sprintf("your cgroup %s is not delegated to you: --memory, --pids and --cpus are refused without root, and runs get no default pids limit", dir), fix}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	have := strings.Fields(string(data))
	var missing []string
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return Check{name, Warn, fmt.Sprintf("%s is yours, without the %s controllers: those limits are refused", dir, strings.Join(missing, ", ")),
			"delegate them (systemd: Delegate=memory pids cpu)"}
	}
	return Check{name, OK, fmt.Sprintf("%s is yours, with memory, pids and cpu: limits work", dir), ""}
}

// rootCgroups says which of the memory, pids and cpu controllers root's
// runs can use: v2 where the cgroup2 root enables them, else v1.
func rootCgroups(h Host) Check {
	const name = "cgroups"
	found := map[string]string{}
	if mount := cgroup2Mount(h.Mountinfo); mount != "" {
		data, _ := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
		for _, c := range strings.Fields(string(data)) {
			found[c] = "v2"
		}
	}
	for _, c := range cgroup1Controllers(h.Mountinfo) {
		if found[c] == "" {
			found[c] = "v1"
		}
	}
	var have, missing []string
	for _, c := range []string{"memory", "pids", "cpu"} {
		if v := found[c]; v != "" {
			have = append(have, c+" ("+v+")")
		} else {
			missing = append(missing, c)
		}
	}
	switch {
	case len(missing) == 0:
		return Check{name, OK, strings.Join(have, ", ") + ": limits work", ""}
	case len(have) == 0:
		return Check{name, Warn, "no memory, pids or cpu controller: --memory, --pids and --cpus fail, and runs get no default pids limit", "mount cgroup2 with those controllers enabled, or their v1 hierarchies"}
	}
	return Check{name, Warn, fmt.Sprintf("%s; no %s controller: that limit fails", strings.Join(have, ", "), strings.Join(missing, ", ")), "mount cgroup2 with it enabled, or its v1 hierarchy"}
}

// mountinfoLines returns, for each mount in a mountinfo file, its mount
// point, filesystem type and super options.
func mountinfoLines(file string) [][3]string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out [][3]string
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, [3]string{unescapeMount(f[4]), g[0], g[2]})
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroup2Mount is where the cgroup2 filesystem is mounted, "" if nowhere.
func cgroup2Mount(mountinfo string) string {
	for _, m := range mountinfoLines(mountinfo) {
		if m[1] == "cgroup2" {
			return m[0]
		}
	}
	return ""
}

// cgroup1Controllers lists the controllers of the mounted v1 hierarchies.
func cgroup1Controllers(mountinfo string) []string {
	var out []string
	for _, m := range mountinfoLines(mountinfo) {
		if m[1] == "cgroup" {
			out = append(out, strings.Split(m[2], ",")...)
		}
	}
	return out
}

// seccomp says whether this kernel has seccomp filters, from the Seccomp
// lines of /proc/self/status (what prctl(PR_GET_SECCOMP) tells, and the
// number of filters on this process, which only kernels with
// CONFIG_SECCOMP_FILTER show).
func seccomp(h Host) Check {
	const name = "seccomp"
	fix := "a kernel built with CONFIG_SECCOMP_FILTER"
	data, err := os.ReadFile(h.Status)
	if err != nil {
		return Check{name, Fail, fmt.Sprintf("cannot read %s: %v", h.Status, err), fix}
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	mode, ok := fields["Seccomp"]
	switch {
	case !ok:
		return Check{name, Fail, "this kernel has no seccomp", fix}
	case mode == "1":
		return Check{name, Fail, "this process is in seccomp's strict mode", "run jailer outside it"}
	}
	filters, ok := fields["Seccomp_filters"]
	switch {
	case mode == "2" && ok:
		return Check{name, OK, fmt.Sprintf("filters available (this process runs under %s already; enter adds its own)", filters), ""}
	case mode == "2":
		return Check{name, OK, "filters available (this process runs under some already; enter adds its own)", ""}
	}
	return Check{name, OK, "filters available", ""}
}

// netModes says which networks enter can give a jail: none and host
// always, user where slirp4netns is installed and the caller may open
// /dev/net/tun (it makes the jail's tap device there). Without them
// jailer works, without --net user: a warning.
func netModes(h Host) Check {
	slirp := ""
	for _, dir := range filepath.SplitList(h.Path) {
		p := filepath.Join(dir, "slirp4netns")
		if dir != "" && unix.Access(p, unix.X_OK) == nil {
			slirp = p
			break
		}
	}
	const unavailable = "none and host; not user: "
	if slirp == "" {
		return Check{"net", Warn, unavailable + "slirp4netns is not installed", "apt install slirp4netns, as root"}
	}
	f, err := os.OpenFile(h.Tun, os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Check{"net", Warn, unavailable + h.Tun + " is missing", "modprobe tun, as root"}
	case errors.Is(err, fs.ErrPermission):
		return Check{"net", Warn, unavailable + "you may not open " + h.Tun, "chmod 0666 " + h.Tun + " as root, as udev does on Debian (the device only makes taps in namespaces of the opener's)"}
	case err != nil:
		return Check{"net", Warn, unavailable + err.Error(), "a kernel with CONFIG_TUN"}
	}
	f.Close()
	return Check{"net", OK, "none, host and user (" + slirp + ", " + h.Tun + ")", ""}
}
