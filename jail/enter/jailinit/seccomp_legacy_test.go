//go:build linux && (amd64 || ppc64le)

package jailinit

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSeccompLegacyModeCalls: where chmod, open, creat, mkdir and mknod
// exist beside their *at forms, the filter judges their modes too.
func TestSeccompLegacyModeCalls(t *testing.T) {
	for _, want := range []modeCall{
		{nr: unix.SYS_CHMOD, mode: 1, flags: -1}, {nr: unix.SYS_OPEN, mode: 2, flags: 1},
		{nr: unix.SYS_CREAT, mode: 1, flags: -1}, {nr: unix.SYS_MKDIR, mode: 1, flags: -1},
		{nr: unix.SYS_MKNOD, mode: 1, flags: -1},
	} {
		if !slices.Contains(modeCalls, want) {
			t.Errorf("modeCalls lacks %+v", want)
		}
	}
}
