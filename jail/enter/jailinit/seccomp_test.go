//go:build linux

package jailinit

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// runFilter runs a classic BPF seccomp program on one system call as the
// kernel would on a little-endian machine: struct seccomp_data laid out in
// little-endian order (nr, arch, ip, six 64-bit args), each load reading a
// 32-bit word at its offset. It knows the instructions seccompFilter uses.
func runFilter(t *testing.T, prog []unix.SockFilter, arch uint32, nr int, args ...uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], uint32(nr))
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if ins.K%4 != 0 || ins.K+4 > uint32(len(data)) {
				t.Fatalf("instruction %d loads at offset %d, outside seccomp_data", pc, ins.K)
			}
			acc = binary.LittleEndian.Uint32(data[ins.K:])
		case unix.BPF_RET | unix.BPF_K:
			return ins.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var taken bool
			switch ins.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				taken = acc == ins.K
			case unix.BPF_JGE:
				taken = acc >= ins.K
			case unix.BPF_JSET:
				taken = acc&ins.K != 0
			}
			if taken {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		default:
			t.Fatalf("instruction %d: opcode %#x not known to this test", pc, ins.Code)
		}
	}
	t.Fatalf("the program ran off its end")
	return 0
}

// TestSeccompFilter runs the filter on the system calls it decides on,
// with arguments whose high 32 bits differ from their low ones: the kernel
// reads ioctl's request and clone's flags as 32 bits, so the filter must
// look at the low word, which a little-endian machine keeps first.
func TestSeccompFilter(t *testing.T) {
	arch, ok := auditArches[runtime.GOARCH]
	if !ok {
		t.Fatalf("no seccomp filter for %s, where jailer runs these tests", runtime.GOARCH)
	}
	const high = 1 << 32
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.EPERM)
	enosys := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.ENOSYS)
	type call struct {
		name        string
		allowPtrace bool // the jail has a PID namespace
		arch        uint32
		nr          int
		args        []uint64
		want        uint32
	}
	tests := []call{
		{"getpid", false, arch, unix.SYS_GETPID, nil, allow},
		{"another ABI", false, unix.AUDIT_ARCH_I386, unix.SYS_GETPID, nil, eperm},
		{"x32 numbers", false, arch, 0x40000000 | unix.SYS_GETPID, nil, eperm},
		{"clone3", false, arch, unix.SYS_CLONE3, nil, enosys},
		{"ioctl TCGETS", false, arch, unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, allow},
		{"ioctl TIOCSTI", false, arch, unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI}, eperm},
		{"ioctl TIOCSTI, high bits set", false, arch, unix.SYS_IOCTL, []uint64{0, high | unix.TIOCSTI}, eperm},
		{"ioctl TCGETS, TIOCSTI in the high word", false, arch, unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI<<32 | unix.TCGETS}, allow},
		{"ioctl TIOCLINUX", false, arch, unix.SYS_IOCTL, []uint64{0, unix.TIOCLINUX}, eperm},
		{"clone of a thread", false, arch, unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_THREAD}, allow},
		{"clone CLONE_NEWUSER", false, arch, unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
		{"clone CLONE_NEWUSER, high bits set", false, arch, unix.SYS_CLONE, []uint64{high | unix.CLONE_NEWUSER}, eperm},
		{"clone, CLONE_NEWUSER in the high word", false, arch, unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER << 32}, allow},
		{"open_by_handle_at", true, arch, unix.SYS_OPEN_BY_HANDLE_AT, nil, eperm},
		{"unshare", true, arch, unix.SYS_UNSHARE, nil, eperm},
		{"mount", true, arch, unix.SYS_MOUNT, nil, eperm},
		{"ptrace with a PID namespace", true, arch, unix.SYS_PTRACE, nil, allow},
		{"ptrace without", false, arch, unix.SYS_PTRACE, nil, eperm},
		{"process_vm_writev without", false, arch, unix.SYS_PROCESS_VM_WRITEV, nil, eperm},
	}
	// Making a file setuid or setgid, each way there is.
	const suid, sgid, tmpfile = unix.S_ISUID, unix.S_ISGID, unix.O_TMPFILE &^ unix.O_DIRECTORY
	tests = append(tests,
		call{"fchmod 0755", false, arch, unix.SYS_FCHMOD, []uint64{3, 0o755}, allow},
		call{"fchmod 04755", false, arch, unix.SYS_FCHMOD, []uint64{3, suid | 0o755}, eperm},
		call{"fchmod 02755", false, arch, unix.SYS_FCHMOD, []uint64{3, sgid | 0o755}, eperm},
		call{"fchmod 04755, high bits set", false, arch, unix.SYS_FCHMOD, []uint64{3, high | suid | 0o755}, eperm},
		call{"fchmod, setuid in the high word", false, arch, unix.SYS_FCHMOD, []uint64{3, suid << 32}, allow},
		call{"fchmodat 01777 (sticky)", false, arch, unix.SYS_FCHMODAT, []uint64{0, 0, 0o1777}, allow},
		call{"fchmodat 04755", false, arch, unix.SYS_FCHMODAT, []uint64{0, 0, suid | 0o755}, eperm},
		call{"fchmodat2 06755", false, arch, unix.SYS_FCHMODAT2, []uint64{0, 0, suid | sgid | 0o755, 0}, eperm},
		call{"fchmodat2 0644", false, arch, unix.SYS_FCHMODAT2, []uint64{0, 0, 0o644, 0}, allow},
		call{"openat O_CREAT 0644", false, arch, unix.SYS_OPENAT, []uint64{0, 0, unix.O_CREAT | unix.O_WRONLY, 0o644}, allow},
		call{"openat O_CREAT 04755", false, arch, unix.SYS_OPENAT, []uint64{0, 0, unix.O_CREAT | unix.O_WRONLY, suid | 0o755}, eperm},
		call{"openat O_TMPFILE 02755", false, arch, unix.SYS_OPENAT, []uint64{0, 0, unix.O_TMPFILE | unix.O_RDWR, sgid | 0o755}, eperm},
		call{"openat __O_TMPFILE alone 04755", false, arch, unix.SYS_OPENAT, []uint64{0, 0, tmpfile | unix.O_RDWR, suid | 0o755}, eperm},
		call{"openat without O_CREAT, mode ignored", false, arch, unix.SYS_OPENAT, []uint64{0, 0, unix.O_RDONLY, suid | 0o755}, allow},
		call{"openat O_CREAT in the high word", false, arch, unix.SYS_OPENAT, []uint64{0, 0, unix.O_CREAT << 32, suid | 0o755}, allow},
		call{"mkdirat 0755", false, arch, unix.SYS_MKDIRAT, []uint64{0, 0, 0o755}, allow},
		call{"mkdirat 02775", false, arch, unix.SYS_MKDIRAT, []uint64{0, 0, sgid | 0o775}, eperm},
		call{"mknodat a fifo", false, arch, unix.SYS_MKNODAT, []uint64{0, 0, unix.S_IFIFO | 0o644, 0}, allow},
		call{"mknodat a setuid file", false, arch, unix.SYS_MKNODAT, []uint64{0, 0, unix.S_IFREG | suid | 0o755, 0}, eperm},
		call{"openat2", false, arch, unix.SYS_OPENAT2, nil, enosys},
		call{"io_uring_setup", false, arch, unix.SYS_IO_URING_SETUP, nil, enosys},
		call{"io_uring_enter", false, arch, unix.SYS_IO_URING_ENTER, nil, enosys},
		call{"io_uring_register", false, arch, unix.SYS_IO_URING_REGISTER, nil, enosys},
	)
	for _, c := range modeCalls { // chmod, open, creat, mkdir and mknod among them on amd64
		args := make([]uint64, 4)
		args[c.mode] = suid | 0o755
		if c.flags >= 0 {
			args[c.flags] = unix.O_CREAT | unix.O_WRONLY
		}
		tests = append(tests, call{fmt.Sprintf("setuid by syscall %d", c.nr), false, arch, int(c.nr), slices.Clone(args), eperm})
		args[c.mode] = 0o755
		tests = append(tests, call{fmt.Sprintf("mode 0755 by syscall %d", c.nr), false, arch, int(c.nr), args, allow})
	}
	for _, nr := range deniedSyscalls { // iopl and ioperm among them on x86
		tests = append(tests, call{fmt.Sprintf("denied syscall %d", nr), true, arch, int(nr), nil, eperm})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := seccompFilter(arch, tt.allowPtrace)
			if err != nil {
				t.Fatalf("seccompFilter(%#x, %v) = %v", arch, tt.allowPtrace, err)
			}
			if len(prog) > unix.BPF_MAXINSNS {
				t.Fatalf("the filter has %d instructions, more than the kernel takes", len(prog))
			}
			if got := runFilter(t, prog, tt.arch, tt.nr, tt.args...); got != tt.want {
				t.Errorf("filter(nr %d, args %#x) = %#x, want %#x", tt.nr, tt.args, got, tt.want)
			}
		})
	}
}

// TestSeccompFilterLittleEndianOnly: the filter reads the low word of an
// argument where a little-endian machine keeps it, so it is written for
// little-endian arches only and refuses to be built for any other.
func TestSeccompFilterLittleEndianOnly(t *testing.T) {
	for goarch, arch := range auditArches {
		if arch&auditArchLE == 0 {
			t.Errorf("auditArches[%s] = %#x, a big-endian arch", goarch, arch)
		}
		if _, err := seccompFilter(arch, false); err != nil {
			t.Errorf("seccompFilter(%s) = %v", goarch, err)
		}
	}
	for _, arch := range []uint32{unix.AUDIT_ARCH_S390X, unix.AUDIT_ARCH_PPC64, unix.AUDIT_ARCH_MIPS64} {
		if prog, err := seccompFilter(arch, false); err == nil {
			t.Errorf("seccompFilter(big-endian %#x) = a program of %d instructions, want an error", arch, len(prog))
		}
	}
	for _, goarch := range []string{"s390x", "ppc64", "mips64"} {
		if _, ok := auditArches[goarch]; ok {
			t.Errorf("auditArches has %s, which is big-endian", goarch)
		}
	}
}

// TestSeccompPtrace: every hardened jail has a PID namespace (a mount
// namespace without one is refused), where jailed programs may trace each
// other; the filter would deny ptrace to one without (TestPtraceInJail in
// package enter runs tracers for real).
func TestSeccompPtrace(t *testing.T) {
	for _, allow := range []bool{true, false} {
		denies := false
		prog, err := seccompFilter(auditArches[runtime.GOARCH], allow)
		if err != nil {
			t.Fatal(err)
		}
		for _, ins := range prog {
			denies = denies || ins.K == uint32(unix.SYS_PTRACE)
		}
		if denies == allow {
			t.Errorf("seccompFilter(allowPtrace %v) denies ptrace: %v", allow, denies)
		}
	}
}
