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
	"context"
	"errors"
	"path"
	"slices"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/internal/privdirs"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/manifest"
)

// Options says what Trace runs and what it does with what it finds.
type Options struct {
	// Output overrides the manifest's output directory.
	Output string
	// Command to run; empty: the manifest's enter.command.
	Command []string
	// Edit, when set, changes the enter options of each round (flags).
	Edit func(*enter.Options) error
	// Stdio of the command.
	Stdio enter.Stdio
	// Write adds the suggestions of a failing round to the manifest and
	// runs another round, up to MaxRounds (default 5).
	Write     bool
	MaxRounds int
	// Built and Round, when set, are told of each build and each round.
	Built func(*build.Summary)
	Round func(Round)
}

// Round is what one round found.
type Round struct {
	// N counts rounds from 1.
	N int `json:"round"`
	// Status is the command's exit status.
	Status int `json:"exit_status"`
	// Err is why the command did not run or was killed, if it was.
	Err string `json:"error,omitempty"`
	// Missing are the paths it looked for that the jail lacks.
	Missing []Suggestion `json:"missing"`
	// Notes say what was left out and why, and what the manifest should
	// say instead.
	Notes []Note `json:"notes,omitempty"`
	// Written says they were added to the manifest.
	Written bool `json:"written,omitempty"`
}

// Trace builds the jail of the manifest at file, runs the command in it
// under a PathTracer, and reports what the jail lacks. With Write it adds
// that to the manifest and goes again, until the command succeeds, a
// round finds nothing new, or MaxRounds. It returns the rounds; the last
// one's Status is the command's. An error means a round could not run
// (a manifest, build or setup failure): the rounds before it are returned.
func Trace(ctx context.Context, file string, o Options) ([]Round, error) {
	if o.MaxRounds <= 0 {
		o.MaxRounds = 5
	}
	var rounds []Round
	added := map[string]bool{}
	private := privdirs.Host()
	for n := 1; ; n++ {
		m, err := manifest.Load(file)
		if err != nil {
			return rounds, err
		}
		r, err := traceOnce(ctx, m, n, o, private)
		if err != nil {
			return rounds, err
		}
		r.Missing = slices.DeleteFunc(r.Missing, func(s Suggestion) bool { return added[s.key()] })
		if o.Write && r.Status != 0 && len(r.Missing) > 0 {
			if err := AppendSuggestions(file, r.Missing); err != nil {
				return append(rounds, r), err
			}
			r.Written = true
			for _, s := range r.Missing {
				added[s.key()] = true
			}
		}
		rounds = append(rounds, r)
		if o.Round != nil {
			o.Round(r)
		}
		if !r.Written || n >= o.MaxRounds {
			return rounds, nil
		}
	}
}

// traceOnce builds the jail of m, runs the command in it under the tracer
// and turns what it missed into suggestions: round n.
func traceOnce(ctx context.Context, m *manifest.Manifest, n int, o Options, private []privdirs.Dir) (Round, error) {
	r := Round{N: n, Missing: []Suggestion{}}
	sum, err := build.Build(ctx, m, build.Options{Output: o.Output})
	if err != nil {
		return r, err
	}
	if o.Built != nil {
		o.Built(sum)
	}
	opts, err := enter.Defaults(sum.Output)
	if err != nil {
		return r, err
	}
	if len(o.Command) > 0 {
		opts.Command = o.Command
	}
	if o.Edit != nil {
		if err := o.Edit(&opts); err != nil {
			return r, err
		}
	}
	tr := NewPathTracer(sum.Output)
	opts.Tracer = tr
	var skip []string
	for _, mnt := range opts.Mounts {
		skip = append(skip, path.Clean(mnt.Target))
	}
	// The command's stderr (all its output, on a terminal) goes through a
	// watcher that keeps the imports it says failed.
	stdio := o.Stdio
	watched := &stdio.Err
	if opts.Interactive {
		watched = &stdio.Out
	}
	watcher, err := watchOutput(*watched)
	if err != nil {
		return r, err
	}
	*watched = watcher.w
	r.Status, err = enter.Run(ctx, sum.Output, opts, stdio)
	modules := watcher.finish(time.Second)
	if ctx.Err() != nil {
		return r, ctx.Err() // interrupted: write nothing
	}
	lookups := tr.Lookups()
	var ee *enter.Error
	switch {
	case errors.As(err, &ee) && ee.Code == enter.ExitNotFound && len(opts.Command) > 0 && path.IsAbs(opts.Command[0]):
		// The init looked for the command itself, untraced.
		lookups = append([]Lookup{{Path: path.Clean(opts.Command[0]), Syscall: "execve", Errno: unix.ENOENT, Exec: true}}, lookups...)
		r.Err = err.Error()
	case err != nil && r.Status == enter.ExitSetupFailed:
		return r, err
	case err != nil:
		r.Err = err.Error()
	}
	r.Missing, r.Notes = Suggest(sum.Output, lookups, SuggestOptions{Manifest: m, Skip: skip, Private: private, Modules: modules})
	if r.Missing == nil {
		r.Missing = []Suggestion{}
	}
	return r, nil
}
