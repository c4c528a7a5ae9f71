package jail

import (
	"fmt"
	"runtime"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM inside a jail: they reach the kernel or
// other processes in ways a test environment never needs, and several are
// the first step of known container escapes (open_by_handle_at walks from
// a file handle to the host's root; ptrace and process_vm_* reach other
// processes; a new user namespace would hand back the dropped capabilities).
var deniedSyscalls = []string{
	"open_by_handle_at", "name_to_handle_at",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"keyctl", "add_key", "request_key",
	"ptrace", "process_vm_readv", "process_vm_writev",
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie",
	"mount", "umount2", "pivot_root", "swapon", "swapoff", "reboot", "acct",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog",
	"iopl", "ioperm", "quotactl", "unshare", "setns",
	"fsopen", "fsmount", "fsconfig", "move_mount", "open_tree", "fspick",
}

// seccompPolicy is the jail's filter by syscall name: allow everything but
// the list above.
func seccompPolicy() seccomp.Policy {
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls:      []seccomp.SyscallGroup{{Action: seccomp.ActionErrno, Names: deniedSyscalls}},
	}
}

// auditArch is the AUDIT_ARCH value of the architecture jailer runs on.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64, "386": unix.AUDIT_ARCH_I386,
	"riscv64": unix.AUDIT_ARCH_RISCV64, "ppc64le": unix.AUDIT_ARCH_PPC64LE, "s390x": unix.AUDIT_ARCH_S390X,
}[runtime.GOARCH]

// argFilter is a second, hand-written filter for the rules that look at
// arguments, where go-seccomp-bpf compares all 64 bits of an argument while
// the kernel reads ioctl's request and clone's flags as 32-bit ints (so
// TIOCSTI|1<<32 would pass a 64-bit compare and still be TIOCSTI: the
// CVE-2019-7303 class). It
//   - refuses syscalls of any other ABI (i386, x32), whose numbers differ;
//   - makes clone3 fail with ENOSYS: its flags are in memory seccomp cannot
//     read, and libc falls back to clone, which is checked;
//   - refuses clone with CLONE_NEWUSER (a user namespace hands back every
//     capability inside it);
//   - refuses the ioctls TIOCSTI and TIOCLINUX, which push input into a
//     terminal.
func argFilter() []unix.SockFilter {
	const (
		offNr   = 0
		offArch = 4
		offArg0 = 16 // low 32 bits on little-endian machines
		offArg1 = 24
	)
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	return []unix.SockFilter{
		/* 0 */ ld(offArch),
		/* 1 */ jeq(auditArch, 1, 0),
		/* 2 */ ret(errno(unix.EPERM)), // another ABI
		/* 3 */ ld(offNr),
		/* 4 */ {Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 0x40000000, Jt: 0, Jf: 1}, // x32 numbers
		/* 5 */ ret(errno(unix.EPERM)),
		/* 6 */ jeq(unix.SYS_CLONE3, 0, 1),
		/* 7 */ ret(errno(unix.ENOSYS)),
		/* 8 */ jeq(unix.SYS_IOCTL, 3, 0),
		/* 9 */ jeq(unix.SYS_CLONE, 7, 0),
		/* 10 */ ret(unix.SECCOMP_RET_ALLOW),
		/* 11 */ ret(unix.SECCOMP_RET_ALLOW), // (padding: keeps jump offsets readable)
		/* 12 */ ld(offArg1), // ioctl request, as the kernel reads it: 32 bits
		/* 13 */ jeq(unix.TIOCSTI, 2, 0),
		/* 14 */ jeq(unix.TIOCLINUX, 1, 0),
		/* 15 */ ret(unix.SECCOMP_RET_ALLOW),
		/* 16 */ ret(errno(unix.EPERM)),
		/* 17 */ ld(offArg0), // clone flags
		/* 18 */ {Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: unix.CLONE_NEWUSER, Jt: 0, Jf: 1},
		/* 19 */ ret(errno(unix.EPERM)),
		/* 20 */ ret(unix.SECCOMP_RET_ALLOW),
	}
}

// installSeccomp loads both filters on the calling (locked) thread, from
// which the command is forked; it also sets no_new_privs.
func installSeccomp() error {
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Policy: seccompPolicy()}); err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	if auditArch == 0 {
		return fmt.Errorf("install seccomp filter: unsupported architecture %s", runtime.GOARCH)
	}
	f := argFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("install seccomp argument filter: %w", errno)
	}
	return nil
}
