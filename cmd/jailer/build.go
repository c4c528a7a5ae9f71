package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/urfave/cli/v2"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
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
			&cli.StringFlag{Name: "link", Value: lockfile.LinkCopy, Usage: "copy or hardlink files from the host (hardlinked jails are entered read-only)"},
			newJSONFlag(), newQuietFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "manifest")
			if err != nil {
				return err
			}
			if l := c.String("link"); l != lockfile.LinkCopy && l != lockfile.LinkHardlink {
				return usagef("--link %q: use copy or hardlink", l)
			}
			m, err := manifest.Load(path)
			if err != nil {
				return err
			}
			opts := build.Options{Output: c.String("output"), Force: c.Bool("force"), Link: c.String("link")}
			quiet, asJSON := wantQuiet(c), wantJSON(c)
			var progress *mpb.Progress
			var bar *mpb.Bar
			if f, ok := c.App.ErrWriter.(*os.File); ok && !quiet && !asJSON && term.IsTerminal(int(f.Fd())) {
				// The bar appears only for builds that take over a second.
				delay := make(chan any)
				timer := time.AfterFunc(time.Second, func() { close(delay) })
				defer timer.Stop()
				progress = mpb.New(mpb.WithOutput(f), mpb.WithRenderDelay(delay), mpb.WithWidth(40))
				opts.Progress = func(done, total int64) {
					if bar == nil {
						bar = progress.AddBar(total, mpb.BarRemoveOnComplete(),
							mpb.PrependDecorators(decor.Name("building "), decor.CountersKibiByte("% .1f / % .1f")),
							mpb.AppendDecorators(decor.Percentage()))
					}
					bar.SetCurrent(done)
				}
				opts.Waiting = func() { fmt.Fprintln(f, "jailer: waiting for another build of this jail to finish") }
			}
			sum, err := build.Build(c.Context, m, opts)
			if progress != nil {
				if bar != nil {
					bar.Abort(true)
				}
				progress.Shutdown()
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
