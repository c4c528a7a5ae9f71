//go:build linux

package jailinit

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM inside a jail: they reach the kernel or
// other processes in ways a test environment never needs, and several are
// the first step of known container escapes (open_by_handle_at walks from
// a file handle to the host's root; unshare and setns lead to namespaces
// where the dropped capabilities are back).
var deniedSyscalls = []uintptr{
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD, unix.SYS_LOOKUP_DCOOKIE,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_ACCT,
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX, unix.SYS_SYSLOG,
	unix.SYS_QUOTACTL, unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_FSOPEN, unix.SYS_FSMOUNT, unix.SYS_FSCONFIG, unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_FSPICK,
} // and, on x86, iopl and ioperm (seccomp_amd64.go)

// modeCall is a system call that sets a file's mode from an argument.
type modeCall struct {
	nr    uintptr
	mode  int // the argument that holds the mode
	flags int // the argument with open's flags, when the mode counts only with O_CREAT or O_TMPFILE; else -1
}

// modeCalls create a file or set its mode: they fail with EPERM when the
// mode has the setuid or setgid bit. A setuid-root program made in the
// jail is one on the host too, for whoever can run it there (in a
// persistent tree, a writable bind mount, or files taken out of the jail).
// The others (chmod, open, creat, mkdir, mknod) are added where the
// architecture has them (seccomp_legacy.go).
var modeCalls = []modeCall{
	{nr: unix.SYS_FCHMOD, mode: 1, flags: -1},
	{nr: unix.SYS_FCHMODAT, mode: 2, flags: -1},
	{nr: unix.SYS_FCHMODAT2, mode: 2, flags: -1},
	{nr: unix.SYS_OPENAT, mode: 3, flags: 2},
	{nr: unix.SYS_MKDIRAT, mode: 2, flags: -1}, // the VFS drops the bits of mkdir's mode today; this does not rely on it
	{nr: unix.SYS_MKNODAT, mode: 2, flags: -1},
}

// enosysSyscalls fail with ENOSYS, as on a kernel without them, so that
// callers fall back to calls the filter can judge: their arguments are in
// memory, which seccomp cannot read. clone3 carries its flags there (libc
// falls back to clone), openat2 its mode (callers fall back to openat, as
// they must on kernels before 5.6), and io_uring its operations, among
// them openat, openat2 and mkdirat with any mode (liburing's users fall
// back to plain system calls, as where it is disabled by sysctl).
var enosysSyscalls = []uintptr{
	unix.SYS_CLONE3, unix.SYS_OPENAT2,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
}

// setidBits are the mode bits a jail may not give a file.
const setidBits = unix.S_ISUID | unix.S_ISGID

// ptraceSyscalls reach other processes' memory and registers. Inside a
// PID namespace the jail sees only its own processes, and the init is
// beyond them (non-dumpable, and CAP_SYS_PTRACE is not in the bounding
// set), so jailed programs may trace each other, as gdb, strace and
// LeakSanitizer need (Linux 4.8 and later check seccomp again after a
// tracer changes a system call, so tracing cannot get around the filter:
// Docker allows ptrace for that reason). Without a PID namespace the
// jail could reach the host's processes, and these are denied.
var ptraceSyscalls = []uintptr{unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV}

// auditArches are the architectures the filter is written for, by
// GOARCH: little-endian ones, where an argument's low 32 bits come first
// (at offArg0 and offArg1), and whose clone takes its flags first. s390x
// fails both (big-endian, and its clone takes the stack first), so it is
// not here: jailer refuses to enter a jail there rather than install a
// filter that reads the wrong words.
var auditArches = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64,
	"riscv64": unix.AUDIT_ARCH_RISCV64, "ppc64le": unix.AUDIT_ARCH_PPC64LE,
}

// auditArchLE marks a little-endian AUDIT_ARCH value (__AUDIT_ARCH_LE in
// linux/audit.h; x/sys/unix does not name it).
const auditArchLE = 0x40000000

// seccompFilter is the jail's BPF program. It is written by hand rather
// than with a filter library: the rules on arguments must compare 32 bits
// (the kernel reads ioctl's request and clone's flags as ints, so
// TIOCSTI|1<<32 passes a 64-bit compare and is still TIOCSTI: the
// CVE-2019-7303 class; go-seccomp-bpf compares 64), and a library's
// syscall tables cost every jailer start a millisecond. The filter
//   - refuses syscalls of any ABI but arch (i386, x32), whose numbers differ;
//   - makes enosysSyscalls (clone3, openat2, io_uring) fail with ENOSYS:
//     what they do is in memory seccomp cannot read, and their callers
//     fall back to calls that are checked;
//   - refuses the ioctls TIOCSTI and TIOCLINUX, which push input into a
//     terminal, and clone with CLONE_NEWUSER;
//   - refuses modeCalls whose mode has the setuid or setgid bit (for open
//     and openat only with O_CREAT or O_TMPFILE, when the mode counts);
//   - refuses deniedSyscalls with EPERM, and ptraceSyscalls unless
//     allowPtrace (the jail has a PID namespace), and allows the rest.
//
// It is only for a little-endian arch (see auditArches), and says so.
func seccompFilter(arch uint32, allowPtrace bool) ([]unix.SockFilter, error) {
	if arch&auditArchLE == 0 {
		return nil, fmt.Errorf("no seccomp filter for audit arch %#x: the filter reads arguments as little-endian", arch)
	}
	// Offsets in struct seccomp_data.
	const (
		offNr   = 0
		offArch = 4
		offArg0 = 16 // low 32 bits, on a little-endian machine; each argument takes 8 bytes
	)
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	allow, deny := ret(unix.SECCOMP_RET_ALLOW), ret(errno(unix.EPERM))
	jset := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	arg := func(n int) uint32 { return offArg0 + 8*uint32(n) }
	prog := []unix.SockFilter{
		ld(offArch), jeq(arch, 1, 0), deny,
		ld(offNr),
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 0x40000000, Jt: 0, Jf: 1}, deny, // x32 numbers
	}
	for _, nr := range enosysSyscalls {
		prog = append(prog, jeq(uint32(nr), 0, 1), ret(errno(unix.ENOSYS)))
	}
	prog = append(prog,
		// ioctl: the request, as the kernel reads it.
		jeq(unix.SYS_IOCTL, 0, 5), ld(arg(1)), jeq(unix.TIOCSTI, 2, 0), jeq(unix.TIOCLINUX, 1, 0), allow, deny,
		// clone: the flags.
		jeq(unix.SYS_CLONE, 0, 4), ld(arg(0)), jset(unix.CLONE_NEWUSER, 0, 1), deny, allow,
	)
	// The mode is a umode_t and open's flags an int: the low words hold them.
	creating := uint32(unix.O_CREAT | unix.O_TMPFILE&^unix.O_DIRECTORY)
	for _, c := range modeCalls {
		if c.flags < 0 {
			prog = append(prog, jeq(uint32(c.nr), 0, 4), ld(arg(c.mode)), jset(setidBits, 0, 1), deny, allow)
			continue
		}
		prog = append(prog, jeq(uint32(c.nr), 0, 6), ld(arg(c.flags)), jset(creating, 0, 3),
			ld(arg(c.mode)), jset(setidBits, 0, 1), deny, allow)
	}
	denied := deniedSyscalls
	if !allowPtrace {
		denied = append(slices.Clone(denied), ptraceSyscalls...)
	}
	for _, nr := range denied {
		prog = append(prog, jeq(uint32(nr), 0, 1), deny)
	}
	return append(prog, allow), nil
}

// installSeccomp loads the filter on the calling (locked) thread, from
// which the command is forked. no_new_privs must already be set.
func installSeccomp(allowPtrace bool) error {
	arch, ok := auditArches[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("install seccomp filter: jailer has no filter for %s (only for %s)", runtime.GOARCH, strings.Join(slices.Sorted(maps.Keys(auditArches)), ", "))
	}
	f, err := seccompFilter(arch, allowPtrace)
	if err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	return nil
}
