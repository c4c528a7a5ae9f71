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
)

// cgroupRoot is where cgroup filesystems are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// cgroup is the set of cgroup directories one jail runs in. On a unified
// (v2) hierarchy with the controllers enabled it is one directory; on a
// hybrid or v1 host (memory, pids and cpu as separate v1 hierarchies) one
// per controller. Each is made below the caller's own cgroup, so limits
// set above jailer still apply.
type cgroup struct {
	dirs   []string
	memory string // the directory with the memory controller
	v2     bool
}

// cgroupPrefix names jailer's cgroups: jailer-PID-RANDOM, so that a later
// run can remove those of a jailer that was killed.
const cgroupPrefix = "jailer-"

// newCgroup creates the cgroups for l; none when l sets no cgroup limit.
// measure also asks for a memory cgroup without a limit, for the peak
// that --stats reports, where the host has the controller: without it,
// the peak comes from rusage instead (see memoryPeak).
func newCgroup(l Limits, measure bool) (*cgroup, error) {
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
		cg.dirs = []string{dir}
		if want["memory"] {
			cg.memory = dir
		}
		return cg, cg.set(l)
	}
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
		if ctrl == "memory" {
			cg.memory = dir
		}
	}
	if err := cg.set(l); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
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
	for c, w := range want {
		if w && !slices.Contains(have, c) {
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

// set writes the limits into the cgroup files.
func (cg *cgroup) set(l Limits) error {
	type kv struct{ file, value string }
	var writes []kv
	period := 100000
	if cg.v2 {
		d := cg.dirs[0]
		if l.Memory > 0 {
			writes = append(writes, kv{filepath.Join(d, "memory.max"), strconv.FormatInt(l.Memory, 10)}, kv{filepath.Join(d, "memory.swap.max"), "0"})
		}
		if l.Pids > 0 {
			writes = append(writes, kv{filepath.Join(d, "pids.max"), strconv.Itoa(l.Pids)})
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
			case "pids":
				writes = append(writes, kv{filepath.Join(d, "pids.max"), strconv.Itoa(l.Pids)})
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

// add puts process pid (the init, before it runs anything) in the cgroups.
func (cg *cgroup) add(pid int) error {
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
// processes may be) and deletes them.
func (cg *cgroup) remove() {
	for _, d := range cg.dirs {
		if data, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	for _, d := range cg.dirs {
		for i := 0; i < 100; i++ {
			err := syscall.Rmdir(d)
			if err == nil || errors.Is(err, syscall.ENOENT) || !errors.Is(err, syscall.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
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
			syscall.Rmdir(d)
		}
	}
}
