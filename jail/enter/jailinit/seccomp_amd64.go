//go:build linux

package jailinit

import "golang.org/x/sys/unix"

// iopl and ioperm exist only on x86, where they open the machine's I/O
// ports to a process.
func init() {
	deniedSyscalls = append(deniedSyscalls, unix.SYS_IOPL, unix.SYS_IOPERM)
}
