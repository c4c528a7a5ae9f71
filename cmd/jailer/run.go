package main

import (
	"errors"
	"fmt"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/timeline"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/manifest"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "build the jail if it is stale, then run a command in it (build output goes to stderr)",
		ArgsUsage: "MANIFEST [-- CMD [ARGS...]]",
		Flags: append(append(enterFlags(), resultFlags()...),
			&cli.StringFlag{Name: "jail-dir", Aliases: []string{"o"}, Usage: "jail directory (default: the manifest's output; -o as in build)"},
			newQuietFlag()),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("run takes a manifest (see jailer run --help)")
			}
			// A bad flag value is found before anything is built.
			if err := applyEnterFlags(c, &enter.Options{}); err != nil {
				return err
			}
			m, err := manifest.Load(c.Args().First())
			if err != nil {
				return err
			}
			timeline.Mark("manifest load")
			sum, err := build.Build(c.Context, m, build.Options{Output: c.String("jail-dir")})
			var me *manifest.Error
			switch {
			case errors.As(err, &me):
				return err // found when planning: a manifest error like any other (exit 2)
			case err != nil:
				return exitError{code: enter.ExitSetupFailed, err: err}
			}
			for _, w := range sum.Warnings {
				fmt.Fprintln(c.App.ErrWriter, "jailer: warning: "+w)
			}
			if !wantQuiet(c) && !sum.UpToDate {
				fmt.Fprintln(c.App.ErrWriter, "jailer: "+sum.String())
			}
			if setAnywhere(c, "verbose") && !sum.UpToDate {
				fmt.Fprintln(c.App.ErrWriter, "jailer: built because: "+sum.Reason.String())
			}
			timeline.Mark("build (or up to date)")
			opts, err := enterOptions(c, sum.Output, c.Args().Slice()[1:])
			if err != nil {
				return err
			}
			opts.Manifest = m.Path
			timeline.Mark("options (flags, the lock's head)")
			return enterJail(c, sum.Output, opts)
		},
	}
}
