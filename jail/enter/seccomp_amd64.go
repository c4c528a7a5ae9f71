//go:build linux

package enter

import "golang.org/x/sys/unix"

// archDeniedSyscalls are denied syscalls that only this architecture has.
var archDeniedSyscalls = []uintptr{unix.SYS_IOPL, unix.SYS_IOPERM}
