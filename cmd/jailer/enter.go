package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/timeline"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/jailer-dev/jailer/manifest"
)

// enterFlags are the flags of enter and run: each overrides a manifest
// enter: setting.
func enterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "hostname", Usage: "hostname inside the jail"},
		&cli.StringFlag{Name: "net", Usage: "none: a network namespace of the jail's own, loopback only (the default; --net alone); host: share the host's network; user: a namespace of its own with outbound NAT through slirp4netns (the host's loopback is 10.0.2.2)"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "with --net user, forward a host port into the jail: [IP:]HOSTPORT:JAILPORT[/tcp|/udp], IP 127.0.0.1 unless given (repeatable)"},
		&cli.StringFlag{Name: "ipc", Usage: "private: System V IPC and POSIX message queues of the jail's own (the default; --ipc alone); host: share the host's"},
		&cli.BoolFlag{Name: "userns", Usage: "own user namespace (as root; without root jailer always makes one)"},
		&cli.BoolFlag{Name: "no-namespaces", Usage: "plain chroot(2), no namespaces (for comparison and old kernels)"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as USER[:GROUP] (a name in the jail or a uid)"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the jail"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set K=V in the command's environment (repeatable)"},
		&cli.StringSliceFlag{Name: "bind", Usage: "bind-mount a host directory, file or socket SRC:DST[:ro] (repeatable)"},
		&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs DST[:SIZE] (repeatable)"},
		&cli.BoolFlag{Name: "ro", Usage: "mount the jail's root read-only"},
		&cli.BoolFlag{Name: "persist", Usage: "write into the built tree itself instead of a fresh root per run"},
		&cli.StringFlag{Name: "tmp-size", Usage: "most the run may write into its fresh root, such as 512M (default: the manifest's enter.tmp_size, else 1G)"},
		&cli.StringSliceFlag{Name: "output", Usage: "bind HOSTDIR:DST writable; its files are yours on the host after the run (repeatable)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit, such as 512M"},
		&cli.IntFlag{Name: "pids", Usage: "most processes and threads the command may have at once (default 4096 where the host has a pids controller; 0: no limit)"},
		&cli.Float64Flag{Name: "cpus", Usage: "CPU time limit in CPUs, such as 1.5"},
		&cli.IntFlag{Name: "nofile", Usage: "most open files per process"},
		&cli.IntFlag{Name: "nproc", Usage: "most processes per user (RLIMIT_NPROC)"},
		&cli.StringFlag{Name: "timeout", Usage: "kill the jail after this long, in seconds (30, 1.5) or as a duration (10m); exit 124"},
		&cli.BoolFlag{Name: "no-tty", Usage: "do not give the command a terminal even when run on one"},
	}
}

// resultFlags are the flags of enter and run that save a run's results.
func resultFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "keep-changes", Usage: "after the run, save what it changed into `DIR` (files/ and deleted.txt)"},
		&cli.StringFlag{Name: "stats", Usage: "after the run, write its exit status, times and peak memory as JSON to `FILE`"},
	}
}

// optionalValues are the flags whose value may be left out, by name: the
// first value is what the flag alone means (`--net` is `--net=none`, as
// when it was a switch that asked for a network namespace), and the word
// after the flag is its value only when it is one of these (see
// interspersed). Each names the namespace that host leaves out.
var optionalValues = map[string]struct {
	values    []string
	namespace string
}{
	"net": {[]string{"none", "host", "user"}, "net"},
	"ipc": {[]string{"private", "host"}, "ipc"},
}

// applyEnterFlags lays the command line over the lock's defaults.
func applyEnterFlags(c *cli.Context, o *enter.Options) error {
	given := flagsGiven(c)
	if given["hostname"] {
		o.Hostname = c.String("hostname")
	}
	for _, flag := range slices.Sorted(maps.Keys(optionalValues)) {
		v := optionalValues[flag]
		if !given[flag] {
			continue
		}
		switch val := c.String(flag); {
		case !slices.Contains(v.values, val):
			last := len(v.values) - 1
			return usagef("--%s %q: use %s or %s", flag, val, strings.Join(v.values[:last], ", "), v.values[last])
		case val == "host":
			o.SetNamespace(v.namespace, false)
		default:
			o.SetNamespace(v.namespace, true)
		}
		if flag == "net" {
			// --net none or host also drops the manifest's publish:
			// there is no user-mode network to publish into.
			o.Net, o.Publish = "", nil
			if c.String(flag) == "user" {
				o.Net = enter.NetUser
			}
		}
	}
	for _, p := range c.StringSlice("publish") {
		pub, err := manifest.ParsePublish(p)
		if err != nil {
			return usagef("--publish %v", err)
		}
		if o.Net != enter.NetUser {
			return usagef("--publish %s forwards a port into the user-mode network: add --net user", p)
		}
		o.Publish = append(o.Publish, pub)
	}
	if c.Bool("userns") && !slices.Contains(o.Namespaces, "user") {
		o.Namespaces = append(o.Namespaces, "user")
	}
	o.NoNamespaces = c.Bool("no-namespaces")
	if given["user"] {
		o.User = c.String("user")
	}
	if given["workdir"] {
		o.Workdir = c.String("workdir")
	}
	for _, kv := range c.StringSlice("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--env %q: use K=V", kv)
		}
		if o.Env == nil {
			o.Env = map[string]string{}
		}
		o.Env[k] = v
	}
	for _, b := range c.StringSlice("bind") {
		parts := strings.Split(b, ":")
		if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw") {
			return usagef("--bind %q: use SRC:DST or SRC:DST:ro", b)
		}
		o.Mounts = append(o.Mounts, manifest.Mount{Type: "bind", Source: parts[0], Target: parts[1], Readonly: len(parts) == 3 && parts[2] == "ro"})
	}
	for _, t := range c.StringSlice("tmpfs") {
		dst, size, _ := strings.Cut(t, ":")
		if size != "" {
			if _, err := manifest.ParseSize(size); err != nil {
				return usagef("--tmpfs %q: %v", t, err)
			}
		}
		o.Mounts = append(o.Mounts, manifest.Mount{Type: "tmpfs", Target: dst, Size: size})
	}
	if c.Bool("ro") {
		o.Readonly = true
	}
	o.Persist = c.Bool("persist")
	if given["tmp-size"] {
		n, err := manifest.ParseSize(c.String("tmp-size"))
		if err != nil {
			return usagef("--tmp-size: %v", err)
		}
		o.TmpSize = n
	}
	for _, out := range c.StringSlice("output") {
		host, dst, ok := strings.Cut(out, ":")
		if !ok || host == "" || !strings.HasPrefix(dst, "/") || strings.Contains(dst, ":") {
			return usagef("--output %q: use HOSTDIR:DST, DST a path in the jail (run's jail directory is -o/--jail-dir)", out)
		}
		o.Outputs = append(o.Outputs, enter.Output{Host: host, Target: dst})
	}
	o.KeepChanges = c.String("keep-changes")
	o.StatsFile = c.String("stats")
	if given["memory"] {
		n, err := manifest.ParseSize(c.String("memory"))
		if err != nil {
			return usagef("--memory: %v", err)
		}
		o.Limits.Memory = n
	}
	if given["pids"] {
		if c.Int("pids") < 0 {
			return usagef("--pids %d: use a number of processes, or 0 for no limit", c.Int("pids"))
		}
		o.Limits.Pids, o.Limits.PidsDefault = c.Int("pids"), false
	}
	if given["cpus"] {
		o.Limits.CPU = c.Float64("cpus")
	}
	if given["nofile"] {
		o.Limits.Nofile = c.Int("nofile")
	}
	if given["nproc"] {
		o.Limits.Nproc = c.Int("nproc")
	}
	if given["timeout"] {
		d, err := manifest.ParseTimeout(c.String("timeout"))
		if err != nil {
			return usagef("--timeout: %v", err)
		}
		o.Limits.Timeout = d
	}
	o.Interactive = !c.Bool("no-tty") && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	o.Warn = func(msg string) { fmt.Fprintln(c.App.ErrWriter, "jailer: warning: "+msg) }
	return nil
}

// enterJail runs the command in dir and turns the outcome into jailer's
// exit status: the command's own, or 124/125/126/127.
func enterJail(c *cli.Context, dir string, opts enter.Options) error {
	stdio := stdioOf(c)
	// Signals jailer receives are forwarded to the command (a trap in it
	// must run), so the context that main cancels on SIGINT/SIGTERM must
	// not kill the jail.
	code, err := enter.Run(context.WithoutCancel(c.Context), dir, opts, stdio)
	var ee *enter.Error
	switch {
	case err == nil:
		if code == 0 {
			return nil
		}
		return exitError{code: code}
	case errors.As(err, &ee):
		return exitError{code: ee.Code, err: fmt.Errorf("enter %s: %w", dir, err)}
	default:
		return exitError{code: code, err: fmt.Errorf("enter %s: %w", dir, err)}
	}
}

// enterOptions are the jail's recorded enter settings with the command
// line laid over them; command, when not empty, replaces the default one.
func enterOptions(c *cli.Context, dir string, command []string) (enter.Options, error) {
	opts, err := enter.Defaults(dir)
	if err != nil {
		return opts, exitError{code: enter.ExitSetupFailed, err: err}
	}
	if err := applyEnterFlags(c, &opts); err != nil {
		return opts, err
	}
	if len(command) > 0 {
		opts.Command = command
	}
	return opts, nil
}

func enterCommand() *cli.Command {
	return &cli.Command{
		Name:      "enter",
		Usage:     "run a command inside a built jail (default: the manifest's enter.command, else /bin/sh)",
		ArgsUsage: "JAIL [CMD [ARGS...]]",
		Flags:     append(enterFlags(), resultFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("enter takes a jail directory (see jailer enter --help)")
			}
			dir := c.Args().First()
			if err := checkJailArg(dir); err != nil {
				return exitError{code: enter.ExitSetupFailed, err: err}
			}
			opts, err := enterOptions(c, dir, c.Args().Slice()[1:])
			if err != nil {
				return err
			}
			timeline.Mark("options (flags, the lock's head)")
			return enterJail(c, dir, opts)
		},
	}
}

// checkJailArg explains a JAIL argument that cannot be a jail: a path that
// does not exist, or a file (a manifest, most likely, which run takes).
// A directory is left to the lock to judge.
func checkJailArg(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("jail %s does not exist (build one with jailer build MANIFEST, or build and enter with jailer run MANIFEST)", dir)
	case err != nil:
		return fmt.Errorf("jail %s: %w", dir, err)
	case fi.IsDir():
		return nil
	case looksLikeManifest(dir):
		return fmt.Errorf("%s is a manifest, not a jail (to build it and enter the jail: jailer run %s)", dir, dir)
	}
	return fmt.Errorf("%s is a file, not a jail (enter takes the directory jailer build made)", dir)
}

// looksLikeManifest says whether the file p is named as YAML or starts
// like a manifest (a version: line in its first 4 KiB).
func looksLikeManifest(p string) bool {
	if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	for _, line := range strings.Split(string(head[:n]), "\n") {
		if strings.HasPrefix(line, "version:") {
			return true
		}
	}
	return false
}

// stdioOf is the command's standard streams: jailer's own, or the files
// the app writes to when they are files (tests pass others).
func stdioOf(c *cli.Context) enter.Stdio {
	stdio := enter.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	if f, ok := c.App.Writer.(*os.File); ok {
		stdio.Out = f
	}
	if f, ok := c.App.ErrWriter.(*os.File); ok {
		stdio.Err = f
	}
	return stdio
}
