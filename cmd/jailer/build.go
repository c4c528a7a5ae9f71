package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/jailer-dev/jailer/manifest"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build (or bring up to date) the jail a manifest describes",
		ArgsUsage: "MANIFEST",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "jail directory (default: the manifest's output)"},
			&cli.BoolFlag{Name: "force", Usage: "rebuild even when up to date; replace an output that is not a jail"},
			&cli.StringFlag{Name: "link", Usage: "copy, hardlink (to the host's files) or store (link from a content store); default $JAILER_LINK, else the manifest's link:, else copy (linked jails are only entered with a fresh root)"},
			&cli.StringFlag{Name: "store", Usage: "the store of --link store (default $JAILER_STORE, else /var/lib/jailer/store for root, ~/.cache/jailer/store for others)"},
			newJSONFlag(), newQuietFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "manifest")
			if err != nil {
				return err
			}
			if l := c.String("link"); l != "" && !slices.Contains(lockfile.LinkModes, l) {
				return usagef("--link %q: use %s", l, strings.Join(lockfile.LinkModes, ", "))
			}
			m, err := manifest.Load(path)
			if err != nil {
				return err
			}
			opts := build.Options{Output: c.String("output"), Force: c.Bool("force"), Link: c.String("link"), Store: c.String("store")}
			quiet, asJSON := wantQuiet(c), wantJSON(c)
			var progress *progressLine
			if f, ok := c.App.ErrWriter.(*os.File); ok && !quiet && !asJSON && term.IsTerminal(int(f.Fd())) {
				progress = newProgressLine(f) // drawn only for builds that take over a second
				opts.Progress = progress.update
				opts.Waiting = func() { fmt.Fprintln(f, "jailer: waiting for another build of this jail to finish") }
			}
			sum, err := build.Build(c.Context, m, opts)
			if progress != nil {
				progress.clear()
			}
			if err != nil {
				return err
			}
			if c.Bool("verbose") && !sum.UpToDate {
				fmt.Fprintln(c.App.ErrWriter, "jailer: built because: "+sum.Reason.String())
			}
			for _, w := range sum.Warnings {
				fmt.Fprintln(c.App.ErrWriter, "jailer: warning: "+w)
			}
			switch {
			case asJSON:
				return json.NewEncoder(c.App.Writer).Encode(sum)
			case !quiet:
				fmt.Fprintln(c.App.Writer, sum)
			}
			return nil
		},
	}
}
