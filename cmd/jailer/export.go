package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/export"

	"github.com/urfave/cli/v2"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a jail as a reproducible tar archive or a container image (OCI or docker archive)",
		ArgsUsage: "JAIL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to write (- for stdout); a tar named .tar.gz or .tgz is gzip-compressed"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: export.Tar, Usage: "tar, oci (OCI image archive) or docker (docker-archive)"},
			&cli.StringFlag{Name: "tag", Aliases: []string{"t"}, Usage: "image name for oci and docker (default jailer/NAME:latest)"},
			newJSONFlag(), newQuietFlag(),
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "jail directory")
			if err != nil {
				return err
			}
			out := c.String("output")
			if out == "" {
				return usagef("export needs -o FILE (or -o - for stdout)")
			}
			opts := export.Options{Format: c.String("format"), Tag: c.String("tag")}
			if !slices.Contains(export.Formats, opts.Format) {
				return usagef("--format %q: use %s", opts.Format, strings.Join(export.Formats, ", "))
			}
			if opts.Tag != "" && opts.Format == export.Tar {
				return usagef("--tag names an image: use it with --format oci or docker")
			}
			if opts.Tag != "" {
				if err := export.CheckTag(opts.Tag); err != nil {
					return usagef("--tag: %v", err)
				}
			}
			if opts.Epoch, err = export.SourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
				return usageError{err.Error()}
			}
			var sum *export.Summary
			if out == "-" {
				sum, err = export.Write(c.Context, dir, c.App.Writer, opts)
			} else {
				sum, err = export.ToFile(c.Context, dir, out, opts)
			}
			switch {
			case err != nil:
				return err
			case out == "-" || wantQuiet(c):
				return nil // stdout is the archive
			case wantJSON(c):
				return json.NewEncoder(c.App.Writer).Encode(sum)
			}
			_, err = fmt.Fprintln(c.App.Writer, sum)
			return err
		},
	}
}
