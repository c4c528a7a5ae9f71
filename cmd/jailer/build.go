package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/jailer-dev/jailer/jail"
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
			&cli.StringFlag{Name: "link", Value: jail.LinkCopy, Usage: "copy or hardlink files from the host (hardlinked jails are entered read-only)"},
			newJSONFlag(), newQuietFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "manifest")
			if err != nil {
				return err
			}
			m, err := manifest.Load(path)
			if err != nil {
				return err
			}
			opts := jail.BuildOptions{Output: c.String("output"), Force: c.Bool("force"), Link: c.String("link")}
			quiet, asJSON := c.Bool("quiet"), c.Bool("json")
			var bar *progressbar.ProgressBar
			if f, ok := c.App.ErrWriter.(*os.File); ok && !quiet && !asJSON && term.IsTerminal(int(f.Fd())) {
				opts.Progress = func(done, total int64) {
					if bar == nil {
						bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(f),
							progressbar.OptionShowBytes(true), progressbar.OptionSetDescription("building"),
							progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionSetVisibility(false))
						time.AfterFunc(time.Second, func() { bar.ChangeMax64(total) }) // show only builds over a second
					}
					bar.Set64(done)
				}
				opts.Waiting = func() { fmt.Fprintln(f, "jailer: waiting for another build of this jail to finish") }
			}
			sum, err := jail.Build(c.Context, m, opts)
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
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
