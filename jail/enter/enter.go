//go:build linux

package enter

import (
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/jailer-dev/jailer/manifest"
)

// Exit statuses of Enter, as env(1) and timeout(1) use them.
const (
	ExitTimeout     = 124                      // the jail ran past its timeout and was killed
	ExitSetupFailed = jailinit.ExitSetupFailed // jailer failed before the command started
	ExitCannotExec  = jailinit.ExitCannotExec  // the command was found but could not be run
	ExitNotFound    = jailinit.ExitNotFound    // the command was not found in the jail
)

// Options say how to run a command in a jail. Start from Defaults (the
// jail's recorded enter: settings), override what the caller says, Run.
type Options struct {
	// Command and its arguments; a name without a slash is looked up in
	// the jail's PATH. Empty: the manifest's command, else /bin/sh.
	Command []string
	// Namespaces to create: any of mount, uts, pid, net, ipc, user, cgroup
	// (FromLock gives mount, uts, pid, net and ipc unless the manifest
	// says otherwise; SetNamespace adds or removes one). Empty (with
	// NoNamespaces) runs in a plain chroot.
	Namespaces []string
	// NoNamespaces runs a plain chroot(2), for comparison and old kernels.
	NoNamespaces bool
	// Net is NetUser for the user-mode network in the jail's network
	// namespace (see usernet.go); "" leaves the network to Namespaces
	// (net: loopback only; without: the host's).
	Net string
	// Publish are ports forwarded from the host into the jail; they need
	// Net NetUser.
	Publish []manifest.Publish
	// Hostname inside a UTS namespace.
	Hostname string
	// User is a name from the jail's /etc/passwd or uid[:gid]; "" is root.
	User string
	// Workdir is the command's working directory inside the jail.
	Workdir string
	// Env is the command's whole environment (TERM is added from the caller).
	Env map[string]string
	// Mounts are tmpfs and bind mounts made inside the jail.
	Mounts []manifest.Mount
	// Readonly mounts the jail's root read-only.
	Readonly bool
	// Persist writes into the built tree itself, as runs did before
	// overlays: no fresh root per run. Refused for a jail built with
	// --link hardlink, whose files are the host's.
	Persist bool
	// TmpSize bounds, in bytes, what a run may write into its fresh
	// root (the tmpfs that holds the overlay's upper layer); 0 means
	// manifest.DefaultTmpSize.
	TmpSize int64
	// KeepChanges, when set, is a host directory (missing or empty) that
	// gets what the run changed in its fresh root once it has ended:
	// files/ with what it added or modified, deleted.txt with what it
	// removed (see changes.go).
	KeepChanges string
	// Outputs are writable bind mounts whose files belong, after the
	// run, to the user who ran jailer (see Invoker).
	Outputs []Output
	// StatsFile, when set, gets the run's statistics as JSON (see Stats).
	StatsFile string
	// Limits on memory, processes, CPU, open files and time.
	Limits Limits
	// Interactive gives the command a terminal of its own (a pty) and
	// proxies the caller's terminal to it.
	Interactive bool
	// link is the jail's link mode: nothing may write into a tree that
	// shares its files' inodes (lockfile.SharesFiles: the host's, or a
	// store's).
	link string

	// Warn, when set, is told what the caller should know of the run
	// that is not an error, once per run (without root: the declared
	// owners that are the caller inside, for want of a subordinate range).
	Warn func(msg string)

	// Manifest is the manifest the jail was built from, for the record
	// jailer ps shows (run and trace set it).
	Manifest string

	// Tracer, when set, is attached to the jail's init before it starts
	// the command, and waits for it instead of Enter (see Tracer).
	Tracer Tracer
}

// Output is a host directory bound writable into the jail, whose files
// are handed to the user who ran jailer when the run ends.
type Output struct {
	Host   string // host directory; made when missing
	Target string // jail path
}

// Tracer watches a jail from outside with ptrace (jailer trace). Enter
// calls Attach with the init's host pid before the init has done anything
// (it is blocked reading its config), then Wait, which must return the
// init's wait status once it exits. Both run on the same locked OS thread,
// as ptrace requires.
type Tracer interface {
	Attach(initPid int) error
	Wait(initPid int) (syscall.WaitStatus, error)
}

// Limits are resource limits in numbers.
type Limits struct {
	Memory int64 // bytes; 0 means none
	// Pids is the most processes and threads the command and what it
	// starts may have at once (jailer's own init is not counted); 0
	// means none.
	Pids int
	// PidsDefault says that Pids is jailer's default, not asked for: it
	// is applied where the host has a pids controller jailer may use,
	// and left out elsewhere. A limit asked for is applied or the run
	// fails.
	PidsDefault bool
	CPU         float64       // CPUs' worth of time
	Nofile      int           // open files per process
	Nproc       int           // processes per user (RLIMIT_NPROC)
	Timeout     time.Duration // kill the jail after this long
}

// ParseLimits converts a manifest's limits to numbers; pids left out is
// manifest.DefaultPids, as a default (PidsDefault).
func ParseLimits(l manifest.Limits) (Limits, error) {
	out := Limits{Pids: manifest.DefaultPids, PidsDefault: true, CPU: l.CPU, Nofile: l.Nofile}
	if l.Pids != nil {
		out.Pids, out.PidsDefault = *l.Pids, false
	}
	var err error
	if l.Memory != "" {
		if out.Memory, err = manifest.ParseSize(l.Memory); err != nil {
			return out, fmt.Errorf("memory: %w", err)
		}
	}
	if l.Timeout != "" {
		if out.Timeout, err = manifest.ParseTimeout(l.Timeout); err != nil {
			return out, fmt.Errorf("timeout: %w", err)
		}
	}
	return out, nil
}

// Defaults reads the enter: settings recorded for the jail at dir (only
// the head of its lock, which is all that entering needs).
func Defaults(dir string) (Options, error) {
	lock, err := lockfile.ReadHead(dir)
	if err != nil {
		return Options{}, err
	}
	return FromLock(lock)
}

// FromLock returns the enter: settings recorded in the jail's
// lock, with jailer's defaults for what they leave out. A jail built with
// --link hardlink or store shares inodes, so its tree is never written.
func FromLock(lock *lockfile.Lock) (Options, error) {
	e := lock.Enter
	o := Options{
		Command:    slices.Clone(e.Command),
		Namespaces: e.CreatedNamespaces(),
		Hostname:   e.Hostname,
		User:       e.User,
		Workdir:    e.Workdir,
		Env:        maps.Clone(e.Env),
		Mounts:     slices.Clone(e.Mounts),
		Readonly:   e.Readonly != nil && *e.Readonly,
		link:       lock.Link,
	}
	if e.Network == manifest.NetworkUser {
		o.Net = NetUser
	}
	for _, p := range e.Publish {
		pub, err := manifest.ParsePublish(p)
		if err != nil {
			return o, fmt.Errorf("publish: %w", err)
		}
		o.Publish = append(o.Publish, pub)
	}
	if o.Hostname == "" {
		o.Hostname = lock.Name
	}
	var err error
	if o.Limits, err = ParseLimits(e.Limits); err != nil {
		return o, err
	}
	size := e.TmpSize
	if size == "" {
		size = manifest.DefaultTmpSize // a lock written before tmp_size existed
	}
	if o.TmpSize, err = manifest.ParseSize(size); err != nil {
		return o, fmt.Errorf("tmp_size: %w", err)
	}
	return o, nil
}

// SetNamespace adds namespace ns to the options, or removes it: `--net
// host` is SetNamespace("net", false).
func (o *Options) SetNamespace(ns string, on bool) {
	o.Namespaces = slices.DeleteFunc(o.Namespaces, func(n string) bool { return n == ns })
	if on {
		o.Namespaces = append(o.Namespaces, ns)
	}
}

// has says whether the options ask for namespace ns.
func (o *Options) has(ns string) bool {
	return !o.NoNamespaces && slices.Contains(o.Namespaces, ns)
}

// overlay says whether the run gets a fresh root: the tree as the read-only
// lower layer of an overlay, its writes on a tmpfs of the run's own.
func (o *Options) overlay() bool { return !o.Persist && !o.NoNamespaces }

// validate refuses option combinations that cannot work or are unsafe.
func (o *Options) validate() error {
	for _, ns := range o.Namespaces {
		if !slices.Contains(manifest.Namespaces, ns) {
			return fmt.Errorf("unknown namespace %q (use: %s)", ns, strings.Join(manifest.Namespaces, ", "))
		}
	}
	if !o.NoNamespaces && !o.has("mount") {
		return fmt.Errorf("namespaces without mount: jailer needs a mount namespace for pivot_root (or use --no-namespaces)")
	}
	if !o.NoNamespaces && !o.has("pid") {
		return fmt.Errorf("namespaces without pid: jailer mounts /proc in the jail, which without a PID namespace of its own would show (and reach) the host's processes; add pid, or use --no-namespaces")
	}
	if o.NoNamespaces && os.Geteuid() != 0 {
		return fmt.Errorf("--no-namespaces runs a plain chroot(2), which needs root: drop it, and jailer runs the jail in a user namespace of its own (see jailer doctor)")
	}
	if o.NoNamespaces && (len(o.Mounts) > 0 || o.Readonly || len(o.Outputs) > 0) {
		return fmt.Errorf("mounts, --output and --ro need a mount namespace; drop --no-namespaces")
	}
	if lockfile.SharesFiles(o.link) && (o.Persist || o.NoNamespaces) {
		return fmt.Errorf("the jail was built with --link %s: its files are shared (with the host, or through the store with other jails), and --persist or --no-namespaces would write into them (drop the flag; runs get a fresh root of their own)", o.link)
	}
	if o.KeepChanges != "" && !o.overlay() {
		return fmt.Errorf("--keep-changes saves what a run changed in its fresh root, and --persist or --no-namespaces write into the tree instead (drop one)")
	}
	if err := o.validateNet(); err != nil {
		return err
	}
	if o.TmpSize < 0 {
		return fmt.Errorf("tmp size %d is negative", o.TmpSize)
	}
	for _, out := range o.Outputs {
		if out.Host == "" {
			return fmt.Errorf("output %s: no host directory", out.Target)
		}
		if err := manifest.CheckJailPath(out.Target); err != nil {
			return fmt.Errorf("output target: %w", err)
		}
	}
	for _, m := range o.Mounts {
		if err := manifest.CheckJailPath(m.Target); err != nil {
			return fmt.Errorf("mount target: %w", err)
		}
		if m.Type != "bind" && m.Type != "tmpfs" {
			return fmt.Errorf("mount %s: unknown type %q (use bind or tmpfs)", m.Target, m.Type)
		}
	}
	if o.Workdir != "" && !path.IsAbs(o.Workdir) {
		return fmt.Errorf("workdir %q must be absolute", o.Workdir)
	}
	return nil
}

// warn passes msg to o.Warn, if there is one.
func (o *Options) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
	}
}
