//go:build linux

package jailinit

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSeccompDeniesX86Ports: iopl and ioperm, which exist only on x86,
// are among the denied syscalls there.
func TestSeccompDeniesX86Ports(t *testing.T) {
	for _, nr := range []uintptr{unix.SYS_IOPL, unix.SYS_IOPERM} {
		if !slices.Contains(deniedSyscalls, nr) {
			t.Errorf("deniedSyscalls lacks %d (iopl or ioperm) on amd64", nr)
		}
	}
}
