//go:build linux

package enter

// Running as an ordinary user (rootless). jailer then starts the init in
// a user namespace of its own, besides the namespaces it always makes,
// and maps ids into it in one of two ways:
//
//   - with a subordinate id range for the caller (/etc/subuid and
//     /etc/subgid) and newuidmap and newgidmap (Debian's uidmap), the
//     full range, as podman does: 0 is the caller, 1 to N the range, so
//     that the users a jail declares are users of their own inside. The
//     maps are written from the parent by those setuid helpers once the
//     init is cloned, before it gets its config (it blocks reading it).
//     The init was exec'd before its uid had a mapping, which would cost
//     it every capability in its namespace: it is started with all of
//     them as ambient capabilities, which an exec keeps (see startInit);
//   - without them, the caller alone (0 is the caller; setgroups is
//     denied in the namespace, so the command keeps the caller's groups
//     rather than setting its own). Declared owners then collapse to the
//     caller, and the run says so once.
//
// A build as an ordinary user cannot chown, so the tree on disk is the
// caller's; with the full mapping the init gives the entries the lock
// records with an owner (declared directories, users' homes) their owner
// in the run's fresh root, never in the tree (see chownOwned).
//
// What a run leaves on the host (--output, --keep-changes) may belong to
// the range's ids, which the caller cannot read or chown: it is saved by
// a helper in a user namespace with the same mapping (save.go).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jailer-dev/jailer/jail/lockfile"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/jsonpath"
)

// Where the subordinate ids and the helpers that map them are; variables
// so that tests can point them elsewhere (a host without a range).
var (
	subuidFile = "/etc/subuid"
	subgidFile = "/etc/subgid"
	newuidmap  = "newuidmap"
	newgidmap  = "newgidmap"
)

// IDRange is a range of host ids: Count ids from Start.
type IDRange struct {
	Start int `json:"start"`
	Count int `json:"count"`
}

// Rootless is what this host allows the calling user for running jails
// without root; HostRootless finds it out (jailer doctor prints it).
type Rootless struct {
	// UID and GID are the caller's (real) ids; User is their login name
	// ("" when /etc/passwd has none).
	UID, GID int
	User     string
	// SubUIDs and SubGIDs are the caller's subordinate ranges, by name
	// or uid, in file order.
	SubUIDs, SubGIDs []IDRange
	// NewUIDMap and NewGIDMap are the helpers' paths, "" when missing.
	NewUIDMap, NewGIDMap string
	// Cgroup is the caller's cgroup v2 directory when it is delegated to
	// them (they may make cgroups below it) with the controllers of
	// CgroupControllers; "" when there is none, and NoCgroup says why.
	Cgroup            string
	CgroupControllers []string
	NoCgroup          string
}

// HostRootless finds out what this host allows the calling user: their
// subordinate ids, whether newuidmap and newgidmap are installed, and
// whether they have a delegated cgroup v2 subtree.
func HostRootless() Rootless {
	r := Rootless{UID: os.Getuid(), GID: os.Getgid()}
	if u, err := user.LookupId(strconv.Itoa(r.UID)); err == nil {
		r.User = u.Username
	}
	r.SubUIDs, _ = SubIDs(subuidFile, r.User, r.UID) // no file: no range
	r.SubGIDs, _ = SubIDs(subgidFile, r.User, r.UID)
	r.NewUIDMap, r.NewGIDMap = lookTool(newuidmap), lookTool(newgidmap)
	r.Cgroup, r.CgroupControllers, r.NoCgroup = delegatedCgroup()
	return r
}

// FullMapping says whether the whole subordinate range can be mapped:
// ranges for both uids and gids, and the helpers to write them.
func (r Rootless) FullMapping() bool {
	return len(r.SubUIDs) > 0 && len(r.SubGIDs) > 0 && r.NewUIDMap != "" && r.NewGIDMap != ""
}

// WhyNoRange says what keeps the full mapping from this user ("" when
// nothing does), and what to do about it.
func (r Rootless) WhyNoRange() string {
	name := r.User
	if name == "" {
		name = strconv.Itoa(r.UID)
	}
	switch {
	case r.NewUIDMap == "" || r.NewGIDMap == "":
		return "newuidmap and newgidmap are not installed (as root: apt install uidmap)"
	case len(r.SubUIDs) == 0 || len(r.SubGIDs) == 0:
		return fmt.Sprintf("%s has no subordinate id range in %s and %s (add one as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s)", name, subuidFile, subgidFile, name)
	}
	return ""
}

// lookTool finds a setuid helper in PATH, else where Debian puts it (a
// caller's PATH may be bare), or returns "".
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if filepath.IsAbs(name) {
		return ""
	}
	if p, err := exec.LookPath(filepath.Join("/usr/bin", name)); err == nil {
		return p
	}
	return ""
}

// SubIDs reads the ranges of the user name (or uid) from a subuid or
// subgid file: lines of NAME:START:COUNT, where NAME may be a uid. A
// range written twice counts once.
func SubIDs(file, name string, uid int) ([]IDRange, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []IDRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || (fields[0] != name || name == "") && fields[0] != strconv.Itoa(uid) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		r := IDRange{Start: start, Count: count}
		if err1 != nil || err2 != nil || start < 0 || count <= 0 || slices.Contains(out, r) {
			continue
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// idMapping is how the ids of a rootless jail map to the host's: Host is
// the id that 0 is (the caller's), Sub the ranges that 1, 2... are.
type idMapping struct {
	Host int
	Sub  []IDRange
}

// size is how many ids are mapped: 0 to size-1.
func (m idMapping) size() int {
	n := 1
	for _, r := range m.Sub {
		n += r.Count
	}
	return n
}

// args are the mapping as newuidmap and newgidmap take it after the pid:
// triples of inside id, host id, count.
func (m idMapping) args() []string {
	out := []string{"0", strconv.Itoa(m.Host), "1"}
	next := 1
	for _, r := range m.Sub {
		out = append(out, strconv.Itoa(next), strconv.Itoa(r.Start), strconv.Itoa(r.Count))
		next += r.Count
	}
	return out
}

// toHost is the host id that id inside is, or -1 when it is not mapped.
func (m idMapping) toHost(id int) int {
	if id < 0 {
		return -1
	}
	if id == 0 {
		return m.Host
	}
	next := 1
	for _, r := range m.Sub {
		if id < next+r.Count {
			return r.Start + id - next
		}
		next += r.Count
	}
	return -1
}

// fromHost is the id inside that host id is, or -1 when it is not mapped.
func (m idMapping) fromHost(id int) int {
	if id == m.Host {
		return 0
	}
	next := 1
	for _, r := range m.Sub {
		if id >= r.Start && id < r.Start+r.Count {
			return next + id - r.Start
		}
		next += r.Count
	}
	return -1
}

// userns is the user namespace of a rootless run: how it maps ids, and
// whether the full range is mapped (else the caller alone, setgroups
// denied).
type userns struct {
	host     Rootless
	uid, gid idMapping
	full     bool
}

// rootlessNS works out the user namespace of a run as the calling user.
func rootlessNS(h Rootless) *userns {
	ns := &userns{host: h, full: h.FullMapping(), uid: idMapping{Host: h.UID}, gid: idMapping{Host: h.GID}}
	if ns.full {
		ns.uid.Sub, ns.gid.Sub = h.SubUIDs, h.SubGIDs
	}
	return ns
}

// hostRootless is HostRootless, asked once per process.
var hostRootless = sync.OnceValue(HostRootless)

// isRootless says whether a run with opts goes without root: jailer is
// not root, and it makes namespaces.
func isRootless(opts *Options) bool { return os.Geteuid() != 0 && !opts.NoNamespaces }

// checkIDs says, before anything starts, which of the command's ids the
// namespace does not map, and what to do.
func (ns *userns) checkIDs(cfg *jailinit.Config, who string) error {
	if ns.full {
		for _, c := range []struct {
			kind string
			id   int
			m    idMapping
		}{{"uid", cfg.UID, ns.uid}, {"gid", cfg.GID, ns.gid}} {
			if c.m.toHost(c.id) < 0 {
				return fmt.Errorf("%s (%s %d) is not mapped in the jail's user namespace, which maps %ss 0 to %d (your subordinate range): give one in that range (see jailer doctor)", who, c.kind, c.id, c.kind, c.m.size()-1)
			}
		}
		for _, g := range cfg.Groups {
			if ns.gid.toHost(g) < 0 {
				return fmt.Errorf("%s: its group %d is not mapped in the jail's user namespace, which maps gids 0 to %d (your subordinate range) (see jailer doctor)", who, g, ns.gid.size()-1)
			}
		}
		return nil
	}
	if cfg.UID != 0 || cfg.GID != 0 {
		id := fmt.Sprintf("uid %d", cfg.UID)
		if cfg.UID == 0 {
			id = fmt.Sprintf("gid %d", cfg.GID)
		}
		return fmt.Errorf("%s (%s) is not mapped in the jail's user namespace, which maps only 0 (you): %s; or run as root (see jailer doctor)", who, id, ns.host.WhyNoRange())
	}
	cfg.Groups = nil // setgroups is denied: the command keeps the init's
	return nil
}

// writeMaps writes the full mapping of the init pid with newuidmap and
// newgidmap, side by side.
func (ns *userns) writeMaps(pid int) error {
	results := make(chan error, 2)
	for _, t := range []struct {
		tool string
		m    idMapping
	}{{ns.host.NewUIDMap, ns.uid}, {ns.host.NewGIDMap, ns.gid}} {
		go func() { results <- runTool(t.tool, append([]string{strconv.Itoa(pid)}, t.m.args()...)) }()
	}
	var errs []string
	for range 2 {
		if err := <-results; err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("map your subordinate ids into the jail: %s (check /etc/subuid and /etc/subgid; see jailer doctor)", strings.Join(errs, "; "))
	}
	return nil
}

// runTool runs the program at path with args and an empty environment,
// and says what it printed when it fails. syscall.ForkExec rather than
// os/exec, which forks a throw-away child first to probe for pidfds: a
// process start on every run.
func runTool(path string, args []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	pid, err := syscall.ForkExec(path, append([]string{path}, args...), &syscall.ProcAttr{
		Env: []string{}, Files: []uintptr{^uintptr(0), w.Fd(), w.Fd()},
	})
	w.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	out, _ := io.ReadAll(io.LimitReader(r, 4096))
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err == nil && ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	return fmt.Errorf("%s: exit status %d: %s", filepath.Base(path), jailinit.ExitCode(ws), strings.Join(strings.Fields(string(out)), " "))
}

// allCaps are every capability this kernel knows, as the init's ambient
// capabilities (see startInit).
func allCaps() []uintptr {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscanf(string(b), "%d", &last)
	}
	caps := make([]uintptr, 0, last+1)
	for c := 0; c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps
}

// sysProcAttr sets up the user namespace of a rootless init in sys: the
// caller alone, written by ForkExec itself before the init execs; or the
// full range, which writeMaps writes once it runs, with every capability
// ambient so that the exec before the mapping keeps them.
func (ns *userns) sysProcAttr(sys *syscall.SysProcAttr) {
	sys.Cloneflags |= unix.CLONE_NEWUSER
	if ns.full {
		sys.AmbientCaps = allCaps()
		return
	}
	sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: ns.uid.Host, Size: 1}}
	sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: ns.gid.Host, Size: 1}}
	sys.GidMappingsEnableSetgroups = false
}

// ownedEntry is an entry of the tree the lock records with an owner
// (the init gives it in the fresh root).
type ownedEntry = jailinit.Owned

// ownedEntries reads the entries of the jail at dir that the lock
// records with an owner other than root. Most jails have none, and their
// lock has no "uid" or "gid" key (root's are left out), so the lock is
// decoded only when it has one.
func ownedEntries(dir string) ([]ownedEntry, error) {
	data, err := os.ReadFile(lockfile.Path(dir))
	if err != nil {
		return nil, fmt.Errorf("read the jail's lock: %w", err)
	}
	if !strings.Contains(string(data), `"uid":`) && !strings.Contains(string(data), `"gid":`) {
		return nil, nil
	}
	var lock struct {
		Entries []struct {
			Dest string `json:"dest"`
			UID  int    `json:"uid"`
			GID  int    `json:"gid"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("read the jail's lock: %w", err)
	}
	var out []ownedEntry
	for _, e := range lock.Entries {
		if e.UID != 0 || e.GID != 0 {
			out = append(out, ownedEntry{Path: jsonpath.Decode(e.Dest), UID: e.UID, GID: e.GID})
		}
	}
	return out, nil
}

// collapsedOwners words the declared owners of owned for a notice: the
// user's name from the jail where it has one, and up to three paths each.
func collapsedOwners(root string, owned []ownedEntry) string {
	names := map[int]string{}
	if passwd, err := readInJail(root, "/etc/passwd"); err == nil {
		for _, line := range strings.Split(string(passwd), "\n") {
			if f := strings.Split(line, ":"); len(f) >= 7 {
				if uid, err := strconv.Atoi(f[2]); err == nil {
					names[uid] = f[0]
				}
			}
		}
	}
	type owner struct{ uid, gid int }
	paths := map[owner][]string{}
	var order []owner
	for _, e := range owned {
		o := owner{e.UID, e.GID}
		if _, ok := paths[o]; !ok {
			order = append(order, o)
		}
		paths[o] = append(paths[o], e.Path)
	}
	var parts []string
	for _, o := range order {
		ps := paths[o]
		more := ""
		if len(ps) > 3 {
			more = fmt.Sprintf(" and %d more", len(ps)-3)
			ps = ps[:3]
		}
		who := fmt.Sprintf("%d:%d", o.uid, o.gid)
		if n, ok := names[o.uid]; ok {
			who = n + " " + who
		}
		parts = append(parts, fmt.Sprintf("%s (%s%s)", who, strings.Join(ps, ", "), more))
	}
	return strings.Join(parts, ", ")
}

// configure fits the init's config to the namespace: the command's ids
// must be mapped, setgroups is denied without the full mapping, and the
// entries the lock records with an owner get it in the fresh root (with
// the full mapping) or are said to be the caller's (without).
func (ns *userns) configure(root string, opts *Options, cfg *jailinit.Config) error {
	who := "root"
	if opts.User != "" {
		who = "user " + opts.User
	}
	if err := ns.checkIDs(cfg, who); err != nil {
		return err
	}
	cfg.NoSetgroups = !ns.full
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return &os.PathError{Op: "stat", Path: root, Err: err}
	}
	cfg.RootOwner = []int{ns.uid.fromHost(int(st.Uid)), ns.gid.fromHost(int(st.Gid))}
	if int(st.Uid) != ns.uid.Host {
		// Not built by the caller (root built it): its owners are on
		// disk already, whether the namespace maps them or not.
		return nil
	}
	owned, err := ownedEntries(root)
	if err != nil || len(owned) == 0 {
		return err
	}
	switch {
	case !ns.full:
		opts.warn(fmt.Sprintf("declared owners are you (root) inside, for want of a subordinate id range: %s; %s (see jailer doctor)", collapsedOwners(root, owned), ns.host.WhyNoRange()))
	case !opts.overlay():
		opts.warn(fmt.Sprintf("--persist without root: the tree stays yours on the host, so its declared owners do not own their files inside (root does): %s; a run without --persist gives them theirs", collapsedOwners(root, owned)))
	default:
		var beyond []ownedEntry
		for _, e := range owned {
			if ns.uid.toHost(e.UID) >= 0 && ns.gid.toHost(e.GID) >= 0 {
				cfg.Chown = append(cfg.Chown, e)
			} else {
				beyond = append(beyond, e)
			}
		}
		if len(beyond) > 0 {
			opts.warn(fmt.Sprintf("declared owners beyond your subordinate range (uids 0 to %d, gids 0 to %d) do not own their files inside (root does): %s (see jailer doctor)", ns.uid.size()-1, ns.gid.size()-1, collapsedOwners(root, beyond)))
		}
	}
	return nil
}
