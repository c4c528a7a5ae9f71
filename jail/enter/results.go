//go:build linux

package enter

// What a run leaves on the host for the caller: the files of --output
// directories, and the --stats file (--keep-changes is changes.go). All of
// it belongs to the user who ran jailer, never to root when that was sudo.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Invoker is the user who ran jailer: under sudo (running as root with
// SUDO_UID and SUDO_GID set) the one who ran sudo, else the caller. What a
// run leaves on the host (--output, --keep-changes, --stats) is theirs.
func Invoker() (uid, gid int) {
	uid, gid = os.Getuid(), os.Getgid()
	if os.Geteuid() != 0 {
		return uid, gid
	}
	u, errU := strconv.Atoi(os.Getenv("SUDO_UID"))
	g, errG := strconv.Atoi(os.Getenv("SUDO_GID"))
	if errU != nil || errG != nil || u < 0 || g < 0 {
		return uid, gid
	}
	return u, g
}

// prepareOutputs makes the host directory of each output for the
// invoker, or checks that it is theirs: jailer hands over everything in
// it when the run ends, and must not do so with a directory of someone
// else's (sudo jailer --output /etc:/x), nor hand a user's files to root.
func prepareOutputs(outs []Output, uid, gid int) error {
	for _, o := range outs {
		err := os.Mkdir(o.Host, 0o755)
		if err == nil {
			err = os.Lchown(o.Host, uid, gid)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("--output %s: %w", o.Host, err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(o.Host, &st); err != nil {
			return fmt.Errorf("--output %s: %w", o.Host, err)
		}
		switch {
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return fmt.Errorf("--output %s: not a directory (name a directory, or a path to make one at)", o.Host)
		case int(st.Uid) != uid:
			return fmt.Errorf("--output %s: owned by uid %d, not by you (uid %d): jailer hands its files to you after the run (pick a directory of yours, or a new path)", o.Host, st.Uid, uid)
		}
	}
	return nil
}

// handOver gives everything in the outputs to the invoker uid:gid once the
// run has ended (see handover.walk).
func handOver(outs []Output, uid, gid int) error {
	for _, o := range outs {
		fd, err := unix.Open(o.Host, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("--output %s: %w", o.Host, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err == nil {
			protected, _ := os.ReadFile("/proc/sys/fs/protected_hardlinks")
			h := &handover{uid: uid, gid: gid, dev: st.Dev, protected: string(protected) == "1\n"}
			err = h.walk(fd, o.Host)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("--output %s: %w", o.Host, err)
		}
	}
	return nil
}

// handover chowns a tree to uid:gid, walking it by descriptors.
type handover struct {
	uid, gid  int
	dev       uint64 // the output's filesystem: mounts below it are left alone
	protected bool   // fs.protected_hardlinks: nobody links files not theirs
}

// walk hands over what the directory fd (host path p) holds. Each entry
// is opened without following a symlink (O_PATH|O_NOFOLLOW) and changed
// through that descriptor, so a name swapped for a symlink meanwhile
// changes nothing else. chown clears setuid and setgid bits and file
// capabilities; a setgid bit that stays (no group execute) is cleared
// too. A file with other links is changed only where fs.protected_hardlinks
// keeps anyone from linking a file of someone else's into the output.
func (h *handover) walk(fd int, p string) error {
	dup, err := unix.Dup(fd)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), p)
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		fp := filepath.Join(p, name)
		ofd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: fp, Err: err}
		}
		err = h.entry(ofd, fd, name, fp)
		unix.Close(ofd)
		if err != nil {
			return err
		}
	}
	return nil
}

// entry hands over the file open as ofd (an O_PATH descriptor of name in
// the directory fd).
func (h *handover) entry(ofd, fd int, name, fp string) error {
	var st unix.Stat_t
	if err := unix.Fstat(ofd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: fp, Err: err}
	}
	if st.Dev != h.dev {
		return nil // a mount point: not the output's
	}
	kind := st.Mode & unix.S_IFMT
	if kind == unix.S_IFREG && st.Nlink > 1 && int(st.Uid) != h.uid && !h.protected {
		return nil
	}
	if int(st.Uid) != h.uid || int(st.Gid) != h.gid {
		if err := unix.Fchownat(ofd, "", h.uid, h.gid, unix.AT_EMPTY_PATH); err != nil {
			return &os.PathError{Op: "chown", Path: fp, Err: err}
		}
	}
	if kind == unix.S_IFREG && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(ofd), st.Mode&0o1777); err != nil {
			return &os.PathError{Op: "chmod", Path: fp, Err: err}
		}
	}
	if kind != unix.S_IFDIR {
		return nil
	}
	sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: fp, Err: err}
	}
	defer unix.Close(sub)
	var sst unix.Stat_t
	if err := unix.Fstat(sub, &sst); err != nil || sst.Dev != st.Dev || sst.Ino != st.Ino {
		return fmt.Errorf("%s changed while jailer handed it over", fp)
	}
	return h.walk(sub, fp)
}

// Stats are what Run measured of a run (--stats).
type Stats struct {
	// ExitStatus is Run's: the command's status, 128+N for signal N,
	// 124 on timeout, 125-127 when the command did not start.
	ExitStatus int `json:"exit_status"`
	// WallSeconds is from the start of the jail's init to its end.
	WallSeconds float64 `json:"wall_seconds"`
	// UserCPUSeconds and SystemCPUSeconds are the CPU time of every
	// process of the jail (the init's and those it reaped).
	UserCPUSeconds   float64 `json:"user_cpu_seconds"`
	SystemCPUSeconds float64 `json:"system_cpu_seconds"`
	// PeakMemoryBytes is the most memory in use at once: the jail's
	// memory cgroup's peak (all its processes, and what they wrote to
	// tmpfs), or where there is no memory controller the largest
	// resident size of one process.
	PeakMemoryBytes int64 `json:"peak_memory_bytes"`
	// PeakMemoryFrom says which: "cgroup" or "rusage" ("" when the jail
	// did not start).
	PeakMemoryFrom string `json:"peak_memory_from"`
	// TimedOut: the jail ran past its timeout and was killed.
	TimedOut bool `json:"timed_out"`
	// OOMKilled: the kernel killed a process of the jail for memory.
	OOMKilled bool `json:"oom_killed"`
	// Error is why the command did not run or jailer failed, if it did.
	Error string `json:"error,omitempty"`
}

// measure fills s from the init's resource usage and the cgroup.
func (s *Stats) measure(ru *syscall.Rusage, cg *cgroup) {
	s.UserCPUSeconds = float64(ru.Utime.Nano()) / 1e9
	s.SystemCPUSeconds = float64(ru.Stime.Nano()) / 1e9
	if peak, ok := cg.memoryPeak(); ok {
		s.PeakMemoryBytes, s.PeakMemoryFrom = peak, "cgroup"
	} else {
		s.PeakMemoryBytes, s.PeakMemoryFrom = ru.Maxrss*1024, "rusage"
	}
}

// writeStats writes s as JSON to file, for the invoker uid:gid.
func writeStats(file string, s *Stats, uid, gid int) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("--stats: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--stats %s: %w", file, err)
	}
	return nil
}
