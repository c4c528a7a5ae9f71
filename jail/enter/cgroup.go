//go:build linux

package enter

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
)

// cgroupRoot is where cgroup filesystems are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// cgroup is the set of cgroup directories one jail runs in. On a unified
// (v2) hierarchy with the controllers enabled it is one directory; on a
// hybrid or v1 host (memory, pids and cpu as separate v1 hierarchies) one
// per controller. Each is made below the caller's own cgroup, so limits
// set above jailer still apply.
//
// The pids limit counts the command's processes and threads, not the
// init's: a Go program has threads of its own, a handful that varies, and
// an init that cannot start one more is a dead jail. So the limit is set
// on a child cgroup, cmd, and the init puts only the command there: its
// thread that forks the command steps into cmd for the fork and back out
// (see jailinit.PidsHop). A v1 hierarchy moves one thread by writing to tasks; v2
// does it in a threaded subtree (cmd is threaded, the jail's directory
// its domain) through cgroup.threads.
type cgroup struct {
	dirs   []string // the jail's directories, where the init goes
	cmd    string   // the command's pids cgroup, below pidsOf; "" when the pids are not limited
	pidsOf string   // the directory of dirs with the pids controller
	pids   int      // the command's pids limit
	memory string   // the directory with the memory controller
	v2     bool
	// started says that the init started in the cgroups (startInside).
	started bool
}

// cgroupPrefix names jailer's cgroups: jailer-PID-RANDOM, so that a later
// run can remove those of a jailer that was killed.
const cgroupPrefix = "jailer-"

// cmdCgroup names the command's cgroup below the jail's (see cgroup).
const cmdCgroup = "cmd"

// newCgroup creates the cgroups for l; none when l sets no cgroup limit.
// jailer's own default pids limit (l.PidsDefault) is applied where it can
// be: without a pids controller, or cgroups jailer may make (not root),
// the run goes on without it. A limit asked for is applied or an error.
// measure also asks for a memory cgroup without a limit, for the peak
// that --stats reports, where the host has the controller: without it,
// the peak comes from rusage instead (see memoryPeak).
func newCgroup(l Limits, measure bool) (*cgroup, error) {
	if os.Geteuid() != 0 {
		return rootlessCgroup(l, measure, hostRootless())
	}
	cg, err := makeCgroup(l, measure)
	if err != nil && l.PidsDefault && l.Pids > 0 {
		l.Pids = 0
		return makeCgroup(l, measure)
	}
	return cg, err
}

func makeCgroup(l Limits, measure bool) (*cgroup, error) {
	cg := &cgroup{}
	if l.Memory == 0 && l.Pids == 0 && l.CPU == 0 && !measure {
		return cg, nil
	}
	name := fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), rand.Text())
	want := map[string]bool{"memory": l.Memory > 0 || measure, "pids": l.Pids > 0, "cpu": l.CPU > 0}
	measureOnly := measure && l.Memory == 0
	base, ok := unifiedBase(want)
	if !ok && measureOnly && (want["pids"] || want["cpu"]) {
		// Measuring is not worth losing the v2 limits over.
		without := map[string]bool{"pids": want["pids"], "cpu": want["cpu"]}
		if base, ok = unifiedBase(without); ok {
			want = without
		}
	}
	if ok {
		cg.v2 = true
		removeStale(base)
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		cg.dirs, cg.pidsOf = []string{dir}, dir
		if want["memory"] {
			cg.memory = dir
		}
	} else {
		for _, ctrl := range []string{"memory", "pids", "cpu"} {
			if !want[ctrl] {
				continue
			}
			base, err := v1Base(ctrl)
			if err != nil && ctrl == "memory" && measureOnly {
				continue // --stats falls back on rusage
			}
			if err != nil {
				cg.remove()
				return nil, err
			}
			removeStale(base)
			dir := filepath.Join(base, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				cg.remove()
				return nil, fmt.Errorf("create %s cgroup: %w (limits need root)", ctrl, err)
			}
			cg.dirs = append(cg.dirs, dir)
			switch ctrl {
			case "memory":
				cg.memory = dir
			case "pids":
				cg.pidsOf = dir
			}
		}
	}
	if l.Pids > 0 {
		if err := cg.makeCmd(l.Pids); err != nil {
			cg.remove()
			return nil, err
		}
	}
	if err := cg.set(l); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// rootlessCgroup is newCgroup without root: only a cgroup v2 subtree
// delegated to the caller can hold limits (cgroup v1 is root's alone).
// Where there is none, or it lacks a controller, a limit asked for is
// refused (never silently dropped); jailer's default pids limit and the
// memory peak of --stats go without (the peak comes from rusage).
func rootlessCgroup(l Limits, measure bool, h Rootless) (*cgroup, error) {
	var asked, missing []string
	for _, c := range []struct {
		ctrl string
		on   bool
	}{{"memory", l.Memory > 0}, {"pids", l.Pids > 0 && !l.PidsDefault}, {"cpu", l.CPU > 0}} {
		if !c.on {
			continue
		}
		asked = append(asked, c.ctrl)
		if h.Cgroup != "" && !slices.Contains(h.CgroupControllers, c.ctrl) {
			missing = append(missing, c.ctrl)
		}
	}
	why := h.NoCgroup
	if why == "" && len(missing) > 0 {
		why = fmt.Sprintf("your cgroup %s has no %s controller delegated to it", h.Cgroup, strings.Join(missing, " or "))
	}
	if why != "" && len(asked) > 0 {
		return nil, fmt.Errorf("cannot apply the %s limit without root: it needs a cgroup v2 subtree delegated to you, and %s (drop the limit, run as root, or see jailer doctor)", strings.Join(asked, " and "), why)
	}
	if why != "" {
		return &cgroup{}, nil
	}
	if l.PidsDefault && !slices.Contains(h.CgroupControllers, "pids") {
		l.Pids = 0
	}
	measure = measure && slices.Contains(h.CgroupControllers, "memory")
	if l.Memory == 0 && l.Pids == 0 && l.CPU == 0 && !measure {
		return &cgroup{}, nil
	}
	want := map[string]bool{"memory": l.Memory > 0 || measure, "pids": l.Pids > 0, "cpu": l.CPU > 0}
	if err := enableControllers(h.Cgroup, want); err != nil {
		if len(asked) == 0 {
			return &cgroup{}, nil
		}
		return nil, fmt.Errorf("cannot apply the %s limit without root: %w (see jailer doctor)", strings.Join(asked, " and "), err)
	}
	cg := &cgroup{v2: true}
	dir := filepath.Join(h.Cgroup, fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), rand.Text()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup in your delegated %s: %w (see jailer doctor)", h.Cgroup, err)
	}
	cg.dirs, cg.pidsOf = []string{dir}, dir
	if want["memory"] {
		cg.memory = dir
	}
	if l.Pids > 0 {
		if err := cg.makeCmd(l.Pids); err != nil {
			cg.remove()
			return nil, err
		}
	}
	if err := cg.set(l); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// enableControllers makes the wanted controllers available to the
// children of the delegated cgroup base. cgroup v2 enables them only in a
// cgroup without processes of its own: when jailer is the only one there
// (as under systemd-run --user --scope -p Delegate=yes), it moves itself
// into a leaf of its own first (jailer-PID-self, removed as stale once
// it has exited).
func enableControllers(base string, want map[string]bool) error {
	enable := func() error {
		have, _ := os.ReadFile(filepath.Join(base, "cgroup.subtree_control"))
		for c, w := range want {
			if w && !slices.Contains(strings.Fields(string(have)), c) {
				if err := os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("+"+c), 0); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := enable()
	if !errors.Is(err, syscall.EBUSY) {
		return err
	}
	procs, _ := os.ReadFile(filepath.Join(base, "cgroup.procs"))
	if strings.TrimSpace(string(procs)) != strconv.Itoa(os.Getpid()) {
		return fmt.Errorf("your cgroup %s holds other processes, and cgroup v2 gives controllers only to the children of a cgroup without processes (start jailer in a cgroup of its own: systemd-run --user --scope -p Delegate=yes jailer ...)", base)
	}
	leaf := filepath.Join(base, fmt.Sprintf("%s%d-self", cgroupPrefix, os.Getpid()))
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create cgroup %s: %w", leaf, err)
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		syscall.Rmdir(leaf)
		return fmt.Errorf("move jailer into %s: %w", leaf, err)
	}
	if err := enable(); err != nil {
		return fmt.Errorf("enable controllers in %s: %w", base, err)
	}
	return nil
}

// delegatedCgroup finds the caller's cgroup v2 directory and says whether
// it is delegated to them: theirs to write, with controllers to give.
func delegatedCgroup() (dir string, controllers []string, why string) {
	mount := cgroupRoot
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
		mount = filepath.Join(cgroupRoot, "unified")
		if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
			return "", nil, "this host has no cgroup v2 hierarchy"
		}
	}
	rel := selfCgroup("")
	if rel == "" {
		return "", nil, "jailer is in no cgroup v2 cgroup"
	}
	dir = filepath.Join(mount, rel)
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.subtree_control")} {
		if unix.Access(p, unix.W_OK) != nil {
			return "", nil, fmt.Sprintf("your cgroup %s is not delegated to you (systemd does that for a user session's user@.service, or for systemd-run --user --scope -p Delegate=yes)", dir)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	controllers = strings.Fields(string(data))
	if len(controllers) == 0 {
		why = fmt.Sprintf("your cgroup %s has no controllers", dir)
		if mount != cgroupRoot {
			why += " (this host keeps memory, pids and cpu on cgroup v1, which is root's alone)"
		}
		return "", nil, why
	}
	return dir, controllers, ""
}

// makeCmd makes the command's pids cgroup below the jail's, limited to
// pids+1 for now: the init's forking thread is in it while it forks the
// command, and lowers the limit to pids before it steps out (jailinit.PidsHop), so
// that the command never has more than pids.
func (cg *cgroup) makeCmd(pids int) error {
	cmd := filepath.Join(cg.pidsOf, cmdCgroup)
	if err := os.Mkdir(cmd, 0o755); err != nil {
		return fmt.Errorf("create pids cgroup: %w", err)
	}
	cg.cmd, cg.pids = cmd, pids
	var writes [][2]string
	if cg.v2 {
		// cmd threaded, so that one thread of the init can move into it;
		// the jail's directory becomes its domain, and keeps the init.
		writes = append(writes, [2]string{filepath.Join(cmd, "cgroup.type"), "threaded"},
			[2]string{filepath.Join(cg.pidsOf, "cgroup.subtree_control"), "+pids"})
	}
	writes = append(writes, [2]string{filepath.Join(cmd, "pids.max"), strconv.Itoa(pids + 1)})
	for _, w := range writes {
		if err := os.WriteFile(w[0], []byte(w[1]), 0); err != nil {
			return fmt.Errorf("set up the pids cgroup: %s: %w", filepath.Base(w[0]), err)
		}
	}
	return nil
}

// unifiedBase returns the caller's v2 cgroup directory when it can
// delegate every wanted controller to a child.
func unifiedBase(want map[string]bool) (string, bool) {
	mount := cgroupRoot
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
		mount = filepath.Join(cgroupRoot, "unified")
	}
	rel := selfCgroup("")
	if rel == "" {
		return "", false
	}
	base := filepath.Join(mount, rel)
	ctrls, err := os.ReadFile(filepath.Join(base, "cgroup.subtree_control"))
	if err != nil {
		return "", false
	}
	have := strings.Fields(string(ctrls))
	avail, _ := os.ReadFile(filepath.Join(base, "cgroup.controllers"))
	for c, w := range want {
		if w && !slices.Contains(have, c) {
			if !slices.Contains(strings.Fields(string(avail)), c) {
				return "", false // not on this hierarchy (a hybrid host's v1 has it)
			}
			// Try to enable it for children (fails where the cgroup holds processes).
			if os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("+"+c), 0) != nil {
				return "", false
			}
		}
	}
	return base, true
}

// v1Base returns the caller's cgroup directory in the v1 hierarchy of ctrl.
func v1Base(ctrl string) (string, error) {
	mount := filepath.Join(cgroupRoot, ctrl)
	if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
		return "", fmt.Errorf("no %s cgroup controller on this host (%s): cannot apply the limit", ctrl, mount)
	}
	return filepath.Join(mount, selfCgroup(ctrl)), nil
}

// selfCgroup returns this process's cgroup path for a v1 controller, or
// for the v2 hierarchy when ctrl is "".
func selfCgroup(ctrl string) string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if (ctrl == "" && parts[0] == "0" && parts[1] == "") || slices.Contains(strings.Split(parts[1], ","), ctrl) && ctrl != "" {
			return parts[2]
		}
	}
	return ""
}

// set writes the memory and CPU limits into the cgroup files (the pids
// limit is the command's cgroup's, see makeCmd).
func (cg *cgroup) set(l Limits) error {
	type kv struct{ file, value string }
	var writes []kv
	period := 100000
	if cg.v2 {
		d := cg.dirs[0]
		if l.Memory > 0 {
			writes = append(writes, kv{filepath.Join(d, "memory.max"), strconv.FormatInt(l.Memory, 10)}, kv{filepath.Join(d, "memory.swap.max"), "0"})
		}
		if l.CPU > 0 {
			writes = append(writes, kv{filepath.Join(d, "cpu.max"), fmt.Sprintf("%d %d", int(l.CPU*float64(period)), period)})
		}
	} else {
		for _, d := range cg.dirs {
			ctrl := strings.SplitN(strings.TrimPrefix(d, cgroupRoot+"/"), "/", 2)[0]
			switch ctrl {
			case "memory":
				if l.Memory == 0 {
					continue // only measuring
				}
				writes = append(writes, kv{filepath.Join(d, "memory.limit_in_bytes"), strconv.FormatInt(l.Memory, 10)})
				if _, err := os.Stat(filepath.Join(d, "memory.memsw.limit_in_bytes")); err == nil {
					writes = append(writes, kv{filepath.Join(d, "memory.memsw.limit_in_bytes"), strconv.FormatInt(l.Memory, 10)})
				}
			case "cpu":
				writes = append(writes, kv{filepath.Join(d, "cpu.cfs_period_us"), strconv.Itoa(period)},
					kv{filepath.Join(d, "cpu.cfs_quota_us"), strconv.Itoa(int(l.CPU * float64(period)))})
			}
		}
	}
	for _, w := range writes {
		if err := os.WriteFile(w.file, []byte(w.value), 0); err != nil {
			if strings.Contains(w.file, "swap") || strings.Contains(w.file, "memsw") {
				continue // no swap accounting: the memory limit still holds
			}
			return fmt.Errorf("set limit %s: %w", filepath.Base(w.file), err)
		}
	}
	return nil
}

// startInside runs start, which forks the init, from the calling thread
// (locked to its OS thread) while that thread is in the jail's cgroups, so
// that the init starts in them. On a v1 hierarchy moving the calling
// thread (writing 0 to tasks) is cheap, where moving another process (its
// pid to cgroup.procs, as add does) waits for an RCU grace period:
// milliseconds on every run. On v2 a thread moves only within a threaded
// subtree, and add moves the init.
func (cg *cgroup) startInside(start func() (int, error)) (int, error) {
	if cg.v2 || len(cg.dirs) == 0 {
		return start()
	}
	var in, out []*os.File
	defer func() {
		for _, f := range append(in, out...) {
			f.Close()
		}
	}()
	for _, d := range cg.dirs {
		// The jail's cgroup, and the one jailer is in: its parent.
		for _, p := range []struct {
			files *[]*os.File
			dir   string
		}{{&in, d}, {&out, filepath.Dir(d)}} {
			f, err := os.OpenFile(filepath.Join(p.dir, "tasks"), os.O_WRONLY, 0)
			if err != nil {
				return 0, fmt.Errorf("join cgroup %s: %w", d, err)
			}
			*p.files = append(*p.files, f)
		}
	}
	step := func(files []*os.File) error {
		for _, f := range files {
			if _, err := f.Write([]byte("0")); err != nil {
				return fmt.Errorf("move to cgroup %s: %w", filepath.Dir(f.Name()), err)
			}
		}
		return nil
	}
	pid, err := 0, step(in)
	if err == nil {
		pid, err = start()
	}
	if errBack := step(out); errBack != nil {
		// Left inside, jailer would count against the jail's limits.
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			jailinit.WaitStatus(pid)
		}
		return 0, errBack
	}
	if err == nil {
		cg.started = true
	}
	return pid, err
}

// add puts process pid (the init, before it runs anything) in the cgroups,
// unless it started in them (startInside).
func (cg *cgroup) add(pid int) error {
	if cg.started {
		return nil
	}
	for _, d := range cg.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	return nil
}

// oomKilled reports whether the kernel's OOM killer acted in the cgroup.
func (cg *cgroup) oomKilled() bool {
	if cg.memory == "" {
		return false
	}
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(cg.memory, file))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			return true
		}
	}
	return false
}

// memoryPeak is the most memory the jail used at once, as its memory
// cgroup counts it (every process, and the page cache and tmpfs pages it
// wrote); ok is false without a memory cgroup.
func (cg *cgroup) memoryPeak() (peak int64, ok bool) {
	if cg.memory == "" {
		return 0, false
	}
	file := "memory.max_usage_in_bytes"
	if cg.v2 {
		file = "memory.peak" // Linux 5.19 and later
	}
	data, err := os.ReadFile(filepath.Join(cg.memory, file))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

// remove kills what is still in the cgroups (with namespaces nothing is:
// the PID namespace died with its init; a plain chroot's background
// processes may be) and deletes them, the command's first.
func (cg *cgroup) remove() {
	dirs := cg.dirs
	if cg.cmd != "" {
		dirs = append([]string{cg.cmd}, dirs...)
	}
	for _, d := range dirs {
		if data, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(data)) {
				// Never jailer itself, even were it left inside (startInside).
				if pid, err := strconv.Atoi(f); err == nil && pid > 0 && pid != os.Getpid() {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	for _, d := range dirs {
		rmdirCgroup(d)
	}
}

// rmdirCgroup removes the cgroup d, waiting a second at most for its last
// processes to go.
func rmdirCgroup(d string) {
	for i := 0; i < 100; i++ {
		err := syscall.Rmdir(d)
		if err == nil || errors.Is(err, syscall.ENOENT) || !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeStale deletes cgroups left by a jailer that was killed: its pid
// is gone, and so (through Pdeathsig) is its jail.
func removeStale(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, cgroupPrefix+"*"))
	for _, d := range dirs {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), cgroupPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			syscall.Rmdir(filepath.Join(d, cmdCgroup))
			syscall.Rmdir(d)
		}
	}
}

// hopFiles opens the files of a jailinit.PidsHop, which the init gets as fds
// firstFd, firstFd+1 and firstFd+2; none when the pids are not limited.
// The caller closes them once the init has started.
func (cg *cgroup) hopFiles(firstFd int) (*jailinit.PidsHop, []*os.File, error) {
	if cg.cmd == "" {
		return nil, nil, nil
	}
	threads := "tasks"
	if cg.v2 {
		threads = "cgroup.threads"
	}
	var files []*os.File
	for _, p := range []string{filepath.Join(cg.cmd, threads), filepath.Join(cg.cmd, "pids.max"), filepath.Join(cg.pidsOf, threads)} {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, nil, fmt.Errorf("pids cgroup: %w", err)
		}
		files = append(files, f)
	}
	return &jailinit.PidsHop{Into: firstFd, Limit: firstFd + 1, Back: firstFd + 2, Pids: cg.pids}, files, nil
}
