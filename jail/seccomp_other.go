//go:build linux && !amd64

package jail

// archDeniedSyscalls are denied syscalls that only this architecture has.
var archDeniedSyscalls []uintptr
