//go:build linux

// Package trace runs a command in its jail under ptrace (from outside the
// jail, attached to its init before the command starts), records the paths
// the command looked for and did not find that the host has, and turns them
// into manifest lines (binaries:, files:, dirs:, profiles:, packages:),
// leaving out what must never be copied (a person's home, caches, the
// host's account files); with --write it appends them and goes again.
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
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lookup is one path a traced program looked for and did not find.
type Lookup struct {
	// Path is the absolute path inside the jail.
	Path string `json:"path"`
	// Syscall is the first call that failed on it (openat, execve, ...).
	Syscall string `json:"syscall"`
	// Errno is what that call returned.
	Errno syscall.Errno `json:"errno"`
	// Program is the jail path of the program that made the call.
	Program string `json:"program,omitempty"`
	// Exec says whether the program tried to execute the path.
	Exec bool `json:"exec,omitempty"`
	// Loader says the dynamic loader looked (searching for a library).
	Loader bool `json:"loader,omitempty"`
	// FoundElsewhere says the search went on and found a file of the same
	// name: a library the loader opened, or a program that was executed.
	FoundElsewhere bool `json:"found_elsewhere,omitempty"`
}

// PathTracer records the failed path lookups of every process in a jail
// (a Tracer for EnterOptions). Use one per Enter.
type PathTracer struct {
	root    string // the jail's host path, symlinks resolved
	initPid int
	self    int
	arch    uint32
	calls   map[uint64]pathCall
	tasks   map[int]*tracee
	lookups []Lookup
	seen    map[string]int    // path -> index in lookups
	libs    map[string]bool   // names of the libraries the loader opened
	execs   map[string]bool   // names of the programs executed
	unknown map[int]time.Time // exited children that are no tracee, first seen
}

// tracee is one traced thread.
type tracee struct {
	tid     int
	program bool         // a descendant of the init: stop it at syscalls
	pending *syscallArgs // the path call it is in, from its entry stop
	exe     string       // cached /proc/TID/exe, reset at exec
	loader  [][2]uint64  // address ranges of the dynamic loader's code
	mapped  bool         // loader is read (reset at exec)
}

type syscallArgs struct {
	call pathCall
	args [6]uint64
	exec string // the path an exec call runs, read at its entry
}

// pathCall says where a path lookup syscall keeps its arguments.
type pathCall struct {
	name  string
	dirfd int // argument index of the directory fd, -1 for the cwd
	path  int // argument index of the path
	exec  bool
}

const atFdcwd = -100

// si_code values of SIGCHLD (not in x/sys/unix).
const (
	cldTrapped = 4
	cldStopped = 5
)

// NewPathTracer returns a tracer for the jail at root.
func NewPathTracer(root string) *PathTracer {
	if r, err := filepath.Abs(root); err == nil {
		root = r
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	return &PathTracer{root: root, tasks: map[int]*tracee{}, seen: map[string]int{}, libs: map[string]bool{}, execs: map[string]bool{}, self: os.Getpid()}
}

// Lookups returns the paths looked for and not found, in the order they
// were first looked for.
func (t *PathTracer) Lookups() []Lookup {
	out := slices.Clone(t.lookups)
	for i, l := range out {
		// A library the loader found, or a program found on the PATH.
		name := path.Base(l.Path)
		out[i].FoundElsewhere = l.Loader && t.libs[name] || l.Exec && t.execs[name]
	}
	return out
}

// isLibName says whether a file name is a shared library's (libz.so.1, x.so).
func isLibName(name string) bool {
	return strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.")
}

// pathCalls returns the path lookups of this architecture by syscall number.
func pathCalls() (map[uint64]pathCall, uint32, error) {
	calls := map[uint64]pathCall{
		unix.SYS_OPENAT:     {"openat", 0, 1, false},
		unix.SYS_OPENAT2:    {"openat2", 0, 1, false},
		unix.SYS_NEWFSTATAT: {"newfstatat", 0, 1, false},
		unix.SYS_STATX:      {"statx", 0, 1, false},
		unix.SYS_FACCESSAT:  {"faccessat", 0, 1, false},
		unix.SYS_FACCESSAT2: {"faccessat2", 0, 1, false},
		unix.SYS_EXECVE:     {"execve", -1, 0, true},
		unix.SYS_EXECVEAT:   {"execveat", 0, 1, true},
		unix.SYS_READLINKAT: {"readlinkat", 0, 1, false},
		unix.SYS_CHDIR:      {"chdir", -1, 0, false},
	}
	switch runtime.GOARCH {
	case "amd64":
		// The old calls without a directory fd exist only on amd64; their
		// numbers are written out so that this file builds everywhere.
		calls[2] = pathCall{"open", -1, 0, false}
		calls[4] = pathCall{"stat", -1, 0, false}
		calls[6] = pathCall{"lstat", -1, 0, false}
		calls[21] = pathCall{"access", -1, 0, false}
		calls[89] = pathCall{"readlink", -1, 0, false}
		return calls, unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return calls, unix.AUDIT_ARCH_AARCH64, nil
	}
	return nil, 0, fmt.Errorf("tracing is supported on amd64 and arm64, not %s", runtime.GOARCH)
}

const traceOptions = unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE |
	unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL

func ptrace(req, pid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Attach seizes every thread of the jail's init.
func (t *PathTracer) Attach(initPid int) error {
	calls, arch, err := pathCalls()
	if err != nil {
		return err
	}
	t.calls, t.arch, t.initPid = calls, arch, initPid
	for {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", initPid))
		if err != nil {
			return fmt.Errorf("list the threads of the jail's init: %w", err)
		}
		added := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || t.tasks[tid] != nil {
				continue
			}
			err = ptrace(unix.PTRACE_SEIZE, tid, 0, traceOptions)
			switch {
			case err == nil, errors.Is(err, unix.EPERM) && tid != initPid:
				// EPERM: a thread that a seized thread made, attached already.
			case errors.Is(err, unix.ESRCH) && tid != initPid:
				continue // the thread is gone
			default:
				return fmt.Errorf("ptrace(PTRACE_SEIZE) the jail's init (thread %d): %w", tid, err)
			}
			t.tasks[tid] = &tracee{tid: tid}
			added = true
		}
		if !added {
			return nil
		}
	}
}

// Wait runs the traced jail until its init exits and returns the init's
// wait status.
func (t *PathTracer) Wait(initPid int) (syscall.WaitStatus, error) {
	for {
		pid, err := t.next()
		if err != nil {
			return 0, err
		}
		var ws unix.WaitStatus
		for {
			_, err = unix.Wait4(pid, &ws, unix.WALL, nil)
			if err != unix.EINTR {
				break
			}
		}
		if err != nil {
			return 0, fmt.Errorf("wait for %d: %w", pid, err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(t.tasks, pid)
			if pid == initPid {
				return syscall.WaitStatus(ws), nil
			}
		case ws.Stopped():
			t.stopped(t.task(pid), ws)
		}
	}
}

// sigchldInfo is siginfo_t as waitid fills it in.
type sigchldInfo struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	UID                   uint32
	Status                int32
	_                     [100]byte
}

// next returns the next task with something to report (a stop or an
// exit), without consuming it. A child of this thread that is not a
// tracee (started by other code) is left for its owner to reap.
func (t *PathTracer) next() (int, error) {
	for {
		var info sigchldInfo
		err := unix.Waitid(unix.P_ALL, 0, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOWAIT|unix.WALL|unix.WNOTHREAD, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for the jail: %w", err)
		}
		pid := int(info.Pid)
		if pid == t.initPid || t.tasks[pid] != nil || info.Code == cldTrapped || info.Code == cldStopped {
			return pid, nil
		}
		// An exit of a task we never saw stop: a tracee killed at once,
		// or a child of ours that is no tracee, which its owner reaps. One
		// left unreaped for long (its owner gave up on it) would hide every
		// later event from waitid: reap it.
		if st := procStatus(pid); st["PPid"] != strconv.Itoa(t.self) || st["TracerPid"] != "0" {
			return pid, nil
		}
		if t.unknown == nil {
			t.unknown = map[int]time.Time{}
		}
		if first, ok := t.unknown[pid]; !ok {
			t.unknown[pid] = time.Now()
		} else if time.Since(first) > 2*time.Second {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL, nil)
			delete(t.unknown, pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(pid int) map[string]string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// task returns the tracee tid, classifying a new one: a thread of the init
// runs freely, anything else is the program and stops at syscalls.
func (t *PathTracer) task(tid int) *tracee {
	if tt := t.tasks[tid]; tt != nil {
		return tt
	}
	tt := &tracee{tid: tid, program: procStatus(tid)["Tgid"] != strconv.Itoa(t.initPid)}
	t.tasks[tid] = tt
	return tt
}

// resume restarts a stopped tracee, delivering sig.
func (t *PathTracer) resume(tt *tracee, sig int) {
	req := unix.PTRACE_CONT
	if tt.program {
		req = unix.PTRACE_SYSCALL
	}
	ptrace(req, tt.tid, 0, uintptr(sig)) // ESRCH: killed meanwhile
}

// stopped handles one ptrace stop.
func (t *PathTracer) stopped(tt *tracee, ws unix.WaitStatus) {
	sig := ws.StopSignal()
	event := int(ws>>16) & 0xff
	switch {
	case sig == unix.SIGTRAP|0x80:
		t.syscallStop(tt)
		t.resume(tt, 0)
	case sig == unix.SIGTRAP && event != 0:
		switch event {
		case unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_CLONE:
			if msg, err := unix.PtraceGetEventMsg(tt.tid); err == nil {
				t.task(int(msg))
			}
		case unix.PTRACE_EVENT_EXEC:
			// A thread that execs takes over the thread group leader's id.
			from := tt
			if msg, err := unix.PtraceGetEventMsg(tt.tid); err == nil && int(msg) != tt.tid {
				if old := t.tasks[int(msg)]; old != nil {
					from = old
				}
				delete(t.tasks, int(msg))
			}
			if from.pending != nil && from.pending.exec != "" {
				t.execs[path.Base(from.pending.exec)] = true
			}
			tt.pending, tt.exe, tt.loader, tt.mapped = nil, "", nil, false
		}
		t.resume(tt, 0) // PTRACE_EVENT_STOP with SIGTRAP: a new tracee's first stop
	case event == unix.PTRACE_EVENT_STOP:
		// A group-stop (SIGSTOP, SIGTSTP...): stay stopped until SIGCONT.
		ptrace(unix.PTRACE_LISTEN, tt.tid, 0, 0)
	default:
		t.resume(tt, int(sig)) // a signal for the tracee: deliver it
	}
}
