package doctor

// The probes try for real what no file tells: a process started in new
// namespaces (the jailer binary again, with probeArg, as enter starts its
// init) mounts what enter mounts and reports each failure; another, in a
// user namespace of its own, is given the caller's subordinate ids by
// newuidmap and newgidmap. Nothing they do outlives them: their mounts are
// in a mount namespace that dies with them, on a temporary directory that
// is removed after.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeArg, as argv[1], makes the jailer binary run as a doctor's probe.
const probeArg = "__jailer_doctor_probe__"

// Probe is what the namespace probe found: each field is "" when that
// step worked, else why it failed.
type Probe struct {
	// UserNS: creating a user namespace, the caller mapped to root in it
	// (set when Namespaces failed without root: was it the user namespace?).
	UserNS string `json:"userns,omitempty"`
	// Namespaces: creating the mount, PID, UTS, network and IPC namespaces
	// (in the user namespace, without root). When it failed, the mounts
	// were not tried.
	Namespaces string `json:"namespaces,omitempty"`
	// Tmpfs, Overlay, Proc, Devpts: mounting a tmpfs, a fresh root (an
	// overlay of a directory on the host's disk and that tmpfs), a fresh
	// /proc and a private devpts, in those namespaces.
	Tmpfs   string `json:"tmpfs,omitempty"`
	Overlay string `json:"overlay,omitempty"`
	Proc    string `json:"proc,omitempty"`
	Devpts  string `json:"devpts,omitempty"`
	// Mknod: making /dev/null on the tmpfs (root's /dev); Bind: binding the
	// host's /dev/null onto a file there (the /dev of a run without root).
	Mknod string `json:"mknod,omitempty"`
	Bind  string `json:"bind,omitempty"`
}

// IsProbe reports whether this process was started as a doctor's probe.
func IsProbe() bool { return len(os.Args) > 2 && os.Args[1] == probeArg }

// RunProbe is the probe process; it returns the exit status for os.Exit.
// Its mode is argv[2]: "mounts DIR [userxattr]" tries enter's mounts on
// DIR and prints a Probe as JSON; "wait" prints its uid and gid maps once
// its stdin is closed (after newuidmap and newgidmap wrote them).
func RunProbe() int {
	switch os.Args[2] {
	case "mounts":
		if len(os.Args) < 4 {
			return 2
		}
		p := probeMounts(os.Args[3], len(os.Args) > 4 && os.Args[4] == "userxattr")
		json.NewEncoder(os.Stdout).Encode(p)
		return 0
	case "wait":
		io.Copy(io.Discard, os.Stdin)
		for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
			data, err := os.ReadFile(f)
			if err != nil {
				return 1
			}
			os.Stdout.Write(data)
		}
		return 0
	case "true":
		return 0
	}
	return 2
}

// probeMounts mounts, under dir (which holds "lower", a directory on the
// host's filesystem with a file in it, and "mnt", empty), what enter
// mounts, and says how each went.
func probeMounts(dir string, userxattr bool) Probe {
	var p Probe
	msg := func(op string, err error) string { return op + ": " + err.Error() }
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		p.Namespaces = msg("make the mounts private", err)
		return p
	}
	mnt := filepath.Join(dir, "mnt")
	if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		p.Tmpfs = msg("mount tmpfs", err)
		p.Overlay, p.Proc, p.Devpts, p.Mknod, p.Bind = "not tried: no tmpfs", "not tried: no tmpfs", "not tried: no tmpfs", "not tried: no tmpfs", "not tried: no tmpfs"
		return p
	}
	for _, d := range []string{"upper", "work", "root", "proc", "pts"} {
		os.Mkdir(filepath.Join(mnt, d), 0o755)
	}
	// The options enter's fresh root uses (jail/enter/overlay.go).
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=nofollow,metacopy=off,index=off",
		filepath.Join(dir, "lower"), filepath.Join(mnt, "upper"), filepath.Join(mnt, "work"))
	if userxattr {
		opts += ",userxattr"
	}
	root := filepath.Join(mnt, "root")
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		p.Overlay = msg("mount overlay", err)
	} else if err := overlayWorks(root, mnt); err != nil {
		p.Overlay = err.Error()
	}
	if err := unix.Mount("proc", filepath.Join(mnt, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		p.Proc = msg("mount proc", err)
	}
	if err := unix.Mount("devpts", filepath.Join(mnt, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		p.Devpts = msg("mount devpts", err)
	}
	if err := unix.Mknod(filepath.Join(mnt, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		p.Mknod = msg("mknod", err)
	}
	target := filepath.Join(mnt, "bound-null")
	if err := os.WriteFile(target, nil, 0o666); err != nil {
		p.Bind = msg("create", err)
	} else if err := unix.Mount("/dev/null", target, "", unix.MS_BIND, ""); err != nil {
		p.Bind = msg("bind", err)
	}
	return p
}

// overlayWorks reads the lower layer's file through the overlay at root
// and writes one, which must land in the upper layer under mnt.
func overlayWorks(root, mnt string) error {
	if data, err := os.ReadFile(filepath.Join(root, "f")); err != nil || string(data) != "lower\n" {
		return fmt.Errorf("the overlay does not show the lower layer: %q, %v", data, err)
	}
	if err := os.WriteFile(filepath.Join(root, "g"), []byte("upper\n"), 0o644); err != nil {
		return fmt.Errorf("write through the overlay: %w", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "upper", "g")); err != nil {
		return fmt.Errorf("a file written through the overlay is not in its upper layer: %w", err)
	}
	return nil
}

// self is the running jailer binary, which the probes run again.
const self = "/proc/self/exe"

// probe is Host.Probe for real: it starts the probe process in the
// namespaces enter makes (a user namespace first when userns, the caller
// mapped to root in it) and returns what it found; when those cannot be
// made, and userns, it tries a user namespace alone, to say which.
func probe(userns bool) Probe {
	dir, err := os.MkdirTemp("", "jailer-doctor-")
	if err != nil {
		return Probe{Namespaces: "make a directory to mount on: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	os.Mkdir(filepath.Join(dir, "lower"), 0o755)
	os.Mkdir(filepath.Join(dir, "mnt"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "lower", "f"), []byte("lower\n"), 0o644); err != nil {
		return Probe{Namespaces: "make a directory to mount on: " + err.Error()}
	}
	args := []string{probeArg, "mounts", dir}
	if userns {
		args = append(args, "userxattr")
	}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC)
	out, err := probeCmd(args, flags, userns).Output()
	if err != nil {
		p := Probe{Namespaces: cmdError(err)}
		if userns {
			if _, err := probeCmd([]string{probeArg, "true"}, 0, true).Output(); err != nil {
				p.UserNS = cmdError(err)
			}
		}
		return p
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		return Probe{Namespaces: fmt.Sprintf("the probe's answer %q: %v", out, err)}
	}
	return p
}

// probeCmd is the command of a probe process with the clone flags, in a
// user namespace of its own when userns, the caller mapped to root.
func probeCmd(args []string, flags uintptr, userns bool) *exec.Cmd {
	cmd := exec.Command(self, args...)
	cmd.Args[0] = "jailer-doctor-probe"
	sys := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if userns {
		sys.Cloneflags |= unix.CLONE_NEWUSER
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		sys.GidMappingsEnableSetgroups = false
	}
	cmd.SysProcAttr = sys
	return cmd
}

// cmdError says why a probe process failed: its start, or what it said.
func cmdError(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg := strings.TrimSpace(string(ee.Stderr)); msg != "" {
			return msg
		}
	}
	// "fork/exec /proc/self/exe: operation not permitted": the clone.
	if _, after, ok := strings.Cut(err.Error(), self+": "); ok {
		return after
	}
	return err.Error()
}

// mapIDs is Host.MapIDs for real: it starts a process in a user namespace
// of its own with no ids mapped, has newuidmap and newgidmap map the
// caller to root and the ranges from 1 up, as a run with subordinate ids
// does, and checks the maps the process then reads.
func mapIDs(newuidmap, newgidmap string, uids, gids []Range) error {
	cmd := exec.Command(self, probeArg, "wait")
	cmd.Args[0] = "jailer-doctor-probe"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("create a user namespace: %s", cmdError(err))
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, m := range []struct {
		helper string
		id     int
		ranges []Range
	}{{newuidmap, os.Geteuid(), uids}, {newgidmap, os.Getegid(), gids}} {
		args := []string{pid, "0", strconv.Itoa(m.id), "1"}
		next := 1
		for _, r := range m.ranges {
			args = append(args, strconv.Itoa(next), strconv.Itoa(r.Start), strconv.Itoa(r.Count))
			next += r.Count
		}
		if msg, err := exec.Command(m.helper, args...).CombinedOutput(); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("%s %s: %v: %s", filepath.Base(m.helper), strings.Join(args, " "), err, strings.TrimSpace(string(msg)))
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the process in the user namespace: %w", err)
	}
	// Each map has the caller's line and one per range.
	if lines := strings.Count(out.String(), "\n"); lines != 2+len(uids)+len(gids) {
		return fmt.Errorf("the maps read %q after newuidmap and newgidmap, want %d lines", out.String(), 2+len(uids)+len(gids))
	}
	return nil
}
