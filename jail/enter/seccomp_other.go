//go:build linux && !amd64

package enter

// archDeniedSyscalls are denied syscalls that only this architecture has.
var archDeniedSyscalls []uintptr
