//go:build linux

package enter

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/jailfs"
	"github.com/jailer-dev/jailer/jail/runs"
	"github.com/jailer-dev/jailer/jail/timeline"
	"github.com/jailer-dev/jailer/manifest"

	"golang.org/x/sys/unix"
)

// readStatus waits for the init's report: "0 started", or a status and a
// message when it failed before the command ran.
func readStatus(r *bufio.Reader, cmdPid *atomic.Int64) *Error {
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return &Error{Code: ExitSetupFailed, Msg: "the jail's init died before starting the command"}
	}
	codeStr, msg, _ := strings.Cut(strings.TrimSpace(line), " ")
	code, _ := strconv.Atoi(codeStr)
	if code == 0 {
		// "0 started PID": the command's host pid (and process group).
		if pid, err := strconv.Atoi(strings.TrimPrefix(msg, "started ")); err == nil {
			cmdPid.Store(int64(pid))
		}
		return nil
	}
	return &Error{Code: code, Msg: msg}
}

// cloneFlags maps namespace names to clone(2) flags.
var cloneFlags = map[string]uintptr{
	"mount": unix.CLONE_NEWNS, "uts": unix.CLONE_NEWUTS, "pid": unix.CLONE_NEWPID,
	"net": unix.CLONE_NEWNET, "ipc": unix.CLONE_NEWIPC, "user": unix.CLONE_NEWUSER,
	"cgroup": unix.CLONE_NEWCGROUP,
}

// startInit starts the jail's init (initPath: jailer-init, or this
// binary) in its namespaces.
// syscall.ForkExec is used rather than os/exec, which also forks a
// throw-away child to probe for pidfd support: that costs a process start
// per jail entry.
//
// changes, when not nil, is passed as changesFd: the init sends the upper
// layer of the jail's fresh root on it (see changes.go). The extra files
// follow it, as fds changesFd+1, +2... (the pids hop, see cgroup.go).
//
// ns, when not nil, is the user namespace of a run without root (see
// rootless.go): with the full mapping, the maps are written here, once
// the init runs and before it is sent its config.
func startInit(root string, opts *Options, ns *userns, stdio Stdio, changes *os.File, extra []*os.File) (pid int, cfgW, statusR *os.File, err error) {
	self, err := initPath()
	if err != nil {
		return 0, nil, nil, err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return 0, nil, nil, err
	}
	defer cfgR.Close()
	defer statusW.Close()
	// A session of its own (and so a process group of its own: a Ctrl-C on
	// the caller's terminal reaches jailer, which forwards it once, not the
	// init a second time). Left in the caller's session, the init would
	// share its autogroup, whose nice value root in the jail could set
	// through /proc/1/autogroup, and its controlling terminal.
	sys := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true}
	if !opts.NoNamespaces {
		for _, ns := range opts.Namespaces {
			// The init makes it, alongside its mounts (startNetns), but
			// for --net user, whose slirp4netns finds it by the init's pid.
			if ns != "net" || opts.Net == NetUser {
				sys.Cloneflags |= cloneFlags[ns]
			}
		}
	}
	switch {
	case ns != nil:
		ns.sysProcAttr(sys)
	case opts.has("user"):
		// As root, every id maps to itself (the namespace still confines
		// capabilities to the jail).
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 31}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 31}}
		sys.GidMappingsEnableSetgroups = true
	}
	files := []uintptr{stdio.In.Fd(), stdio.Out.Fd(), stdio.Err.Fd(), cfgR.Fd(), statusW.Fd()}
	switch {
	case changes != nil:
		files = append(files, changes.Fd())
	case len(extra) > 0:
		files = append(files, ^uintptr(0)) // no changesFd: closed in the init
	}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	env := []string{}
	if timeline.On() {
		env = append(env, timeline.Env+"=1") // the init's own; the command's environment is cfg.Env
	}
	argv := []string{InitProgram, jailinit.Arg}
	if !opts.NoNamespaces && opts.has("net") && opts.Net != NetUser && !opts.has("user") {
		// The config will say Net (initConfigFor). Not in a user
		// namespace, where root is under RLIMIT_NPROC (--nproc): the
		// thread that makes the namespace would end early, and the Go
		// runtime could need a new one past the limit.
		argv = append(argv, jailinit.NetArg)
	}
	pid, err = syscall.ForkExec(self, argv, &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		cfgW.Close()
		statusR.Close()
		if ns != nil && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC)) {
			return 0, nil, nil, fmt.Errorf("create a user namespace and namespaces %v: %w: this host does not let ordinary users make user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or Ubuntu's kernel.apparmor_restrict_unprivileged_userns); run as root, or see jailer doctor", opts.Namespaces, err)
		}
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
			return 0, nil, nil, fmt.Errorf("create namespaces %v: %w (this kernel refuses them; see jailer doctor, or use --no-namespaces)", opts.Namespaces, err)
		}
		return 0, nil, nil, fmt.Errorf("start the jail's init: %w", err)
	}
	if ns != nil && ns.full {
		if err := ns.writeMaps(pid); err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			cfgW.Close()
			jailinit.WaitStatus(pid)
			statusR.Close()
			return 0, nil, nil, err
		}
	}
	return pid, cfgW, statusR, nil
}

// initConfigFor works out the init's config: the command, user and
// environment, resolved against the jail's own /etc/passwd and /etc/group,
// and the mounts, with their sources absolute and their sizes in bytes.
func initConfigFor(root string, o *Options) (*jailinit.Config, error) {
	argv := o.Command
	if len(argv) == 0 {
		argv = []string{"/bin/sh"}
	}
	env := map[string]string{}
	for k, v := range o.Env {
		env[k] = v
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = manifest.DefaultPATH
	}
	if t := os.Getenv("TERM"); t != "" {
		if _, ok := env["TERM"]; !ok {
			env["TERM"] = t
		}
	}
	uid, gid, groups, home, err := lookupUser(root, o.User)
	if err != nil {
		return nil, err
	}
	if _, ok := env["HOME"]; !ok && home != "" {
		env["HOME"] = home
	}
	cfg := &jailinit.Config{
		Root: root, Argv: argv, Workdir: o.Workdir, UID: uid, GID: gid, Groups: groups,
		NoNamespaces: o.NoNamespaces, PID: o.has("pid"), UTS: o.has("uts"), Net: o.has("net") && o.Net != NetUser, UserNS: o.has("user"),
		Hostname: o.Hostname, Readonly: o.Readonly,
		Overlay: o.overlay(), TmpSize: o.TmpSize, KeepChanges: o.KeepChanges != "",
		Nofile: o.Limits.Nofile, Nproc: o.Limits.Nproc, Interactive: o.Interactive,
	}
	if o.Net == NetUser {
		cfg.ResolvConf = userNetResolvConf
	}
	if cfg.TmpSize == 0 {
		cfg.TmpSize, _ = manifest.ParseSize(manifest.DefaultTmpSize)
	}
	for _, out := range o.Outputs {
		abs, err := filepath.Abs(out.Host)
		if err != nil {
			return nil, err
		}
		cfg.Outputs = append(cfg.Outputs, jailinit.Mount{Type: "bind", Source: abs, Target: out.Target})
	}
	if cfg.Workdir == "" {
		cfg.Workdir = "/"
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cfg.Env = append(cfg.Env, k+"="+env[k])
	}
	for _, m := range o.Mounts {
		jm := jailinit.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Readonly: m.Readonly}
		if m.Type == "bind" {
			abs, err := filepath.Abs(m.Source)
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, fmt.Errorf("bind onto %s: the source: %w", m.Target, err)
			}
			jm.Source = abs
		}
		if m.Size != "" {
			n, err := manifest.ParseSize(m.Size)
			if err != nil {
				return nil, fmt.Errorf("mount %s: %w", m.Target, err)
			}
			jm.Size = n
		}
		cfg.Mounts = append(cfg.Mounts, jm)
	}
	cfg.Masks = runtimeMasks(runs.OwnDirs(), cfg.MountOrder())
	return cfg, nil
}

// runtimeMasks are the jail paths where the bind mounts (and outputs) of
// ms bring in one of the caller's runtime directories, dirs (`--bind
// /run:/run` as root, `--bind /tmp:/tmp` for a user): there a process of
// the jail would find the exec sockets of the caller's other jails, and
// run commands in them. The init covers each.
func runtimeMasks(dirs []string, ms []jailinit.OrderedMount) []string {
	var masks []string
	for _, dir := range dirs {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		for _, m := range ms {
			if m.Type != "bind" {
				continue
			}
			src := m.Source
			if real, err := filepath.EvalSymlinks(src); err == nil {
				src = real
			}
			rel, err := filepath.Rel(src, dir)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				continue
			}
			masks = append(masks, path.Join("/", m.Target, rel))
		}
	}
	return masks
}

// lookupUser resolves "", a name, uid or uid:gid against the jail's own
// account files, read without leaving the jail.
func lookupUser(root, spec string) (uid, gid int, groups []int, home string, err error) {
	if spec == "" || spec == "root" || spec == "0" {
		spec = "0"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	passwd, _ := readInJail(root, "/etc/passwd")
	uid, gid = -1, -1
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		uid, gid = n, n
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		if f[0] == name || (uid >= 0 && f[2] == strconv.Itoa(uid)) {
			uid, _ = strconv.Atoi(f[2])
			gid, _ = strconv.Atoi(f[3])
			home, name = f[5], f[0]
			break
		}
	}
	if uid < 0 {
		return 0, 0, nil, "", fmt.Errorf("user %q is not in the jail's /etc/passwd (declare it under users:, or give a uid)", name)
	}
	grp, _ := readInJail(root, "/etc/group")
	groupFound := false
	for _, line := range strings.Split(string(grp), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 {
			continue
		}
		g, _ := strconv.Atoi(f[2])
		if hasGroup && (f[0] == group || f[2] == group) {
			gid, groupFound = g, true
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name && m != "" {
				groups = append(groups, g)
			}
		}
	}
	if hasGroup && !groupFound {
		n, err := strconv.Atoi(group)
		if err != nil || n < 0 {
			return 0, 0, nil, "", fmt.Errorf("group %q is not in the jail's /etc/group (declare it under groups:, or give a gid)", group)
		}
		gid = n
	}
	sort.Ints(groups)
	return uid, gid, groups, home, nil
}

// readInJail reads a small file at jail path p, resolving symlinks as the
// jail would see them, never outside it.
func readInJail(root, p string) ([]byte, error) {
	r, err := jailfs.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFile(p, 4<<20)
}
