//go:build linux

package trace

// jailer trace: run a command in its jail under ptrace and find what it
// looked for and did not find.
//
// PathTracer is an EnterOptions.Tracer. Enter calls Attach on its locked OS
// thread right after starting the jail's init, before the init has done
// anything, and then Wait on the same thread. The tracer:
//
//  1. PTRACE_SEIZEs every thread of the init (it is a Go program and has
//     several already), listing /proc/PID/task again until no thread is
//     new, with options that make the kernel attach every child and thread
//     they create (TRACEFORK, TRACEVFORK, TRACECLONE), report execs, mark
//     syscall stops (TRACESYSGOOD) and kill everything if jailer dies
//     (EXITKILL);
//  2. lets the init's own threads run with PTRACE_CONT: their syscalls are
//     jailer's, not the program's. Every other tracee (a task whose thread
//     group is not the init's: the command, its children and their threads)
//     is resumed with PTRACE_SYSCALL, which stops it at each syscall entry
//     and exit;
//  3. at a syscall entry, reads the call and its arguments with
//     PTRACE_GET_SYSCALL_INFO (Linux 5.3; the same on amd64 and arm64) and
//     keeps them when it is a path lookup: open, openat, openat2, stat,
//     lstat, newfstatat, statx, access, faccessat, faccessat2, execve,
//     execveat, readlink, readlinkat, chdir;
//  4. at its exit, when it failed with ENOENT or ENOTDIR, reads the path
//     from the tracee's memory (process_vm_readv) and makes it absolute
//     against the directory fd or working directory, read from
//     /proc/TID/fd/N or /proc/TID/cwd (the kernel prints those relative to
//     the jail's root, which is the root of the tracee's mount namespace;
//     with --no-namespaces they carry the jail's host path, which is cut);
//  5. re-injects signals, keeps group-stops stopped (PTRACE_LISTEN), and
//     returns the init's wait status once the init is gone. Waits use
//     waitid(WNOWAIT) first so that an unrelated child of this thread is
//     never reaped by mistake.
//
// Meanwhile the command's stderr passes through a watcher that keeps the
// imports a Python or Perl interpreter says failed (trace_modules_linux.go).
//
// Suggest then turns the lookups into manifest items: a path that the jail
// lacks and the host has, a profile, or the package that ships a missing
// module; and into notes on what it leaves out (a host user's files, the
// host's account files, directories too big to copy). AppendSuggestions
// adds the items to a manifest as text, so comments and formatting stay.
// Trace runs the rounds: build, trace, suggest, write, again.

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscallInfo is struct ptrace_syscall_info.
type syscallInfo struct {
	Op   uint8
	_    [3]uint8
	Arch uint32
	IP   uint64
	SP   uint64
	// entry: nr, args[6]; exit: rval, is_error.
	Data [8]uint64
}

// syscallStop records the arguments of a path call at its entry, and the
// path when it fails at its exit.
func (t *PathTracer) syscallStop(tt *tracee) {
	var info syscallInfo
	if err := ptrace(unix.PTRACE_GET_SYSCALL_INFO, tt.tid, unsafe.Sizeof(info), uintptr(unsafe.Pointer(&info))); err != nil {
		tt.pending = nil
		return
	}
	switch info.Op {
	case unix.PTRACE_SYSCALL_INFO_ENTRY:
		tt.pending = nil
		if call, ok := t.calls[info.Data[0]]; ok && info.Arch == t.arch {
			p := &syscallArgs{call: call}
			copy(p.args[:], info.Data[1:7])
			if call.exec {
				// After an exec its memory is gone: read the path now.
				p.exec, _ = readString(tt.tid, uintptr(p.args[call.path]))
			}
			tt.pending = p
		}
	case unix.PTRACE_SYSCALL_INFO_EXIT:
		p := tt.pending
		tt.pending = nil
		if p == nil {
			return
		}
		if info.Data[1]&0xff == 0 {
			// The loader found a library: its failed probes elsewhere are no loss.
			if p.call.isOpen() && t.inLoader(tt, info.IP) {
				if name, err := readString(tt.tid, uintptr(p.args[p.call.path])); err == nil && isLibName(path.Base(name)) {
					t.libs[path.Base(name)] = true
				}
			}
			return
		}
		if errno := syscall.Errno(-int64(info.Data[0])); errno == unix.ENOENT || errno == unix.ENOTDIR {
			t.record(tt, p, errno, t.inLoader(tt, info.IP))
		}
	}
}

func (c pathCall) isOpen() bool { return c.name == "open" || c.name == "openat" || c.name == "openat2" }

// inLoader says whether address ip is in the dynamic loader's code
// (ld-linux*.so, ld-musl*.so): the call is part of a library search.
func (t *PathTracer) inLoader(tt *tracee, ip uint64) bool {
	if !tt.mapped {
		tt.mapped = true
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", tt.tid))
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || !strings.Contains(f[1], "x") {
				continue
			}
			if base := path.Base(f[5]); !strings.HasPrefix(base, "ld-linux") && !strings.HasPrefix(base, "ld-musl") {
				continue
			}
			lo, hi, _ := strings.Cut(f[0], "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				tt.loader = append(tt.loader, [2]uint64{a, b})
			}
		}
	}
	for _, r := range tt.loader {
		if ip >= r[0] && ip < r[1] {
			return true
		}
	}
	return false
}

// record adds the path of a failed call to the lookups.
func (t *PathTracer) record(tt *tracee, p *syscallArgs, errno syscall.Errno, loader bool) {
	name, err := readString(tt.tid, uintptr(p.args[p.call.path]))
	if err != nil || name == "" {
		return
	}
	if !strings.HasPrefix(name, "/") {
		link := fmt.Sprintf("/proc/%d/cwd", tt.tid)
		if p.call.dirfd >= 0 {
			if fd := int32(p.args[p.call.dirfd]); fd != atFdcwd {
				link = fmt.Sprintf("/proc/%d/fd/%d", tt.tid, fd)
			}
		}
		dir, ok := t.jailPath(link)
		if !ok {
			return
		}
		name = path.Join(dir, name)
	}
	name = path.Clean(name)
	if i, ok := t.seen[name]; ok {
		t.lookups[i].Exec = t.lookups[i].Exec || p.call.exec
		return
	}
	if tt.exe == "" {
		tt.exe, _ = t.jailPath(fmt.Sprintf("/proc/%d/exe", tt.tid))
	}
	t.seen[name] = len(t.lookups)
	t.lookups = append(t.lookups, Lookup{Path: name, Syscall: p.call.name, Errno: errno, Program: tt.exe, Exec: p.call.exec, Loader: loader})
}

// jailPath reads a /proc magic link of a tracee as a path in the jail.
func (t *PathTracer) jailPath(link string) (string, bool) {
	s, err := os.Readlink(link)
	if err != nil || !strings.HasPrefix(s, "/") || strings.HasSuffix(s, " (deleted)") {
		return "", false
	}
	if s == t.root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(s, t.root+"/"); ok {
		return "/" + rest, true // a plain chroot: the kernel shows the host path
	}
	return s, true
}

// readString reads a NUL-terminated string of at most PATH_MAX bytes from
// the memory of process pid.
func readString(pid int, addr uintptr) (string, error) {
	page := uintptr(os.Getpagesize())
	buf := make([]byte, page)
	var out []byte
	for len(out) < unix.PathMax {
		n := int(page - addr%page)
		local := []unix.Iovec{{Base: &buf[0]}}
		local[0].SetLen(n)
		got, err := unix.ProcessVMReadv(pid, local, []unix.RemoteIovec{{Base: addr, Len: n}}, 0)
		if err != nil {
			got, err = unix.PtracePeekData(pid, addr, buf[:n])
		}
		if err != nil || got == 0 {
			return "", fmt.Errorf("read the memory of %d: %w", pid, err)
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:got]...)
		addr += uintptr(got)
	}
	return "", fmt.Errorf("path at %#x in %d is longer than PATH_MAX", addr, pid)
}
