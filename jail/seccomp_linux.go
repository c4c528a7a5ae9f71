package jail

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM inside a jail: they reach the kernel or
// other processes in ways a test environment never needs, and several are
// the first step of known container escapes (open_by_handle_at walks from
// a file handle to the host's root; ptrace and process_vm_* reach other
// processes; a new user namespace would hand back the dropped capabilities).
var deniedSyscalls = []string{
	"open_by_handle_at", "name_to_handle_at",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"keyctl", "add_key", "request_key",
	"ptrace", "process_vm_readv", "process_vm_writev",
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie",
	"mount", "umount2", "pivot_root", "swapon", "swapoff", "reboot", "acct",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog",
	"iopl", "ioperm", "quotactl", "unshare", "setns",
	"fsopen", "fsmount", "fsconfig", "move_mount", "open_tree", "fspick",
}

// seccompPolicy is the jail's filter: allow everything but the list above,
// TIOCSTI (pushing keystrokes into a terminal), and clone with
// CLONE_NEWUSER.
func seccompPolicy() seccomp.Policy {
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: deniedSyscalls},
			{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "ioctl", Conditions: seccomp.ArgumentConditions{{Argument: 1, Operation: seccomp.Equal, Value: unix.TIOCSTI}}},
				{Name: "clone", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_NEWUSER}}},
			}},
		},
	}
}

// installSeccomp loads the filter on the calling (locked) thread, from
// which the command is forked; it also sets no_new_privs.
func installSeccomp() error {
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Policy: seccompPolicy()}); err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	return nil
}
