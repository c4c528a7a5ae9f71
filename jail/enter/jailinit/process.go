//go:build linux

package jailinit

// What the command inherits from the init once it is in the jail: the
// hostname, loopback, rlimits, and the privilege limits (no dumping, the
// capability bounding set, no_new_privs, and the seccomp filter of
// seccomp.go).

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/timeline"
)

// setupProcess sets what the command inherits: hostname, loopback,
// rlimits, and the privilege limits.
func setupProcess(cfg *Config) error {
	if cfg.UTS && cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	if cfg.netns != nil {
		if err := joinNetns(cfg.netns); err != nil {
			return err
		}
	}
	timeline.Mark("hostname, network namespace joined")
	for _, l := range []struct {
		res int
		n   int
	}{{unix.RLIMIT_NOFILE, cfg.Nofile}, {unix.RLIMIT_NPROC, cfg.Nproc}} {
		if l.n > 0 {
			if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: uint64(l.n), Max: uint64(l.n)}); err != nil {
				var old unix.Rlimit
				if errors.Is(err, unix.EPERM) && unix.Getrlimit(l.res, &old) == nil && uint64(l.n) > old.Max {
					return fmt.Errorf("limit %s to %d: above the hard limit of %d, which only root may raise (ask for at most %d)", rlimitNames[l.res], l.n, old.Max, old.Max)
				}
				return fmt.Errorf("setrlimit %s: %w", rlimitNames[l.res], err)
			}
		}
	}
	// Core dumps of jailed programs would land in the jail; keep them off.
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	timeline.Mark("rlimits, not dumpable")
	if cfg.NoNamespaces {
		return nil // plain chroot: the comparison baseline, unhardened
	}
	if err := clearInheritedCaps(); err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	timeline.Mark("capabilities, no_new_privs")
	err := installSeccomp(cfg.PID)
	timeline.Mark("seccomp")
	return err
}

// rlimitNames name the rlimits jailer sets, for its errors.
var rlimitNames = map[int]string{unix.RLIMIT_NOFILE: "open files (--nofile)", unix.RLIMIT_NPROC: "processes (--nproc)"}

// keptCaps are what root inside the jail may still hold: enough to own
// files, change users and bind low ports; nothing that reaches the kernel
// or other processes (no SYS_ADMIN, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH,
// SYS_RAWIO, MKNOD, SYS_BOOT, SYS_TIME...), and nothing that leaves on the
// host a file more powerful than its owner:
//   - no SETFCAP: a file given file capabilities (security.capability) in
//     the jail would grant them to whoever runs it on the host;
//   - no FSETID: without it the kernel clears the setuid and setgid bits
//     of a file that is written to or chowned, so a setuid program the
//     build made cannot be rewritten into another (the seccomp filter
//     refuses making new ones).
//
// Nor NET_ADMIN, even in the jail's own network namespace (the default):
// the init brings loopback up before dropping it, and it is the key to
// netfilter and traffic control, the kernel code most container escapes
// of late went through.
var keptCaps = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_KILL,
	unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP,
	unix.CAP_NET_BIND_SERVICE, unix.CAP_SYS_CHROOT, unix.CAP_AUDIT_WRITE,
}

// KeptCaps are the capabilities root in the jail keeps (keptCaps), for
// tests that check a jail's bounding set.
func KeptCaps() []int { return slices.Clone(keptCaps) }

// clearInheritedCaps empties the ambient and inheritable sets. A
// rootless init starts with every capability in both (rootless.go), and
// neither is limited by the bounding set: an exec as root gets the
// inheritable set on top of it, and an exec of a file with inheritable
// file capabilities gets those of them that are in it.
func clearInheritedCaps() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if data[0].Inheritable == 0 && data[1].Inheritable == 0 {
		return nil
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear the inheritable capabilities: %w", err)
	}
	return nil
}

// dropCapabilities removes every other capability from the bounding set.
func dropCapabilities() error {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscanf(string(b), "%d", &last)
	}
	keep := map[int]bool{}
	for _, c := range keptCaps {
		keep[c] = true
	}
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}

// netns is a network namespace made for the jail (startNetns): an fd of
// it, or why there is none.
type netns struct {
	fd  int
	err error
}

// startNetns makes the jail's network namespace, with loopback up, on a
// thread of its own while the init builds the mount tree: every network
// subsystem sets itself up in a new namespace, half a millisecond that a
// clone with CLONE_NEWNET spends before the init even starts. The thread
// opens the namespace through proc, the host's /proc opened before any
// mount was made, and ends with its goroutine (locked, never unlocked: a
// thread in another namespace is not given back to the runtime).
func startNetns(proc int) <-chan netns {
	ch := make(chan netns, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- netns{fd: -1, err: fmt.Errorf("create a network namespace: %w", err)}
			return
		}
		if err := loopbackUp(); err != nil {
			ch <- netns{fd: -1, err: err}
			return
		}
		fd, err := unix.Openat(proc, "thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			err = fmt.Errorf("open the network namespace: %w", err)
		}
		ch <- netns{fd: fd, err: err}
	}()
	return ch
}

// dropNetns closes the network namespace startNetns made, once made.
func dropNetns(ch <-chan netns) {
	if ns := <-ch; ns.err == nil {
		unix.Close(ns.fd)
	}
}

// joinNetns moves the calling thread, from which the command is forked,
// into the network namespace startNetns made.
func joinNetns(ch <-chan netns) error {
	ns := <-ch
	if ns.err != nil {
		return ns.err
	}
	defer unix.Close(ns.fd)
	if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join the network namespace: %w", err)
	}
	return nil
}

// loopbackUp brings up lo in the jail's own network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	return nil
}
