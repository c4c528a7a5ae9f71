//go:build linux && (amd64 || ppc64le)

package jailinit

import "golang.org/x/sys/unix"

// The system calls older than their *at forms, which amd64 and ppc64le
// still have (arm64 and riscv64 never had them): they create files or set
// modes as fchmodat, openat, mkdirat and mknodat do.
func init() {
	modeCalls = append(modeCalls,
		modeCall{nr: unix.SYS_CHMOD, mode: 1, flags: -1},
		modeCall{nr: unix.SYS_OPEN, mode: 2, flags: 1},
		modeCall{nr: unix.SYS_CREAT, mode: 1, flags: -1},
		modeCall{nr: unix.SYS_MKDIR, mode: 1, flags: -1},
		modeCall{nr: unix.SYS_MKNOD, mode: 1, flags: -1},
	)
}
