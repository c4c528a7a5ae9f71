package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/runs"
	"github.com/jailer-dev/jailer/manifest"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command inside a running jail, as a child of its init (as its user, in its directory, unless told)",
		ArgsUsage: "JAIL|ID [--] CMD [ARGS...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as USER[:GROUP] (a name in the jail or a uid; default: the jail's user)"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the jail (default: the jail's)"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set K=V in the command's environment, over the jail's (repeatable)"},
			&cli.BoolFlag{Name: "no-tty", Usage: "do not give the command a terminal even when run on one"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef("exec takes a running jail (its directory or id) and a command (see jailer exec --help)")
			}
			o := enter.ExecOptions{Command: c.Args().Tail(), User: c.String("user"), Workdir: c.String("workdir")}
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
			o.Interactive = !c.Bool("no-tty") && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
			r, err := findRun(c.Args().First())
			if ue := (usageError{}); errors.As(err, &ue) {
				return usagef("exec: %v", ue)
			}
			if err != nil {
				return exitError{code: enter.ExitSetupFailed, err: fmt.Errorf("exec: %w", err)}
			}
			// Signals are passed on to the command, not taken as a reason
			// to stop waiting for it.
			code, err := enter.Exec(context.WithoutCancel(c.Context), r, o, stdioOf(c))
			var ee *enter.Error
			switch {
			case err == nil && code == 0:
				return nil
			case err == nil:
				return exitError{code: code}
			case errors.As(err, &ee):
				return exitError{code: ee.Code, err: fmt.Errorf("exec in jail %s: %w", r.ID, err)}
			}
			return exitError{code: code, err: fmt.Errorf("exec: %w", err)}
		},
	}
}

// findRun finds the running jail that name means (runs.Find): an id, a
// jail directory, or a manifest, which stands for its jail directory too
// (a jail entered with `jailer enter DIR` as well as one of `jailer run`).
func findRun(name string) (*runs.Record, error) {
	if name == "" {
		return nil, usagef("name a running jail: its id, its directory or its manifest (jailer ps lists them)")
	}
	var trees []string
	if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
		if m, err := manifest.Load(name); err == nil {
			if out, err := build.OutputDir(m, ""); err == nil {
				trees = append(trees, out)
			}
		}
	}
	return runs.Find(name, trees...)
}
