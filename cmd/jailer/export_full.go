//go:build !jailer_lean

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

// exportAction is `jailer export`, done here (exportCommand).
func exportAction(c *cli.Context) error {
	dir, err := oneArg(c, "jail directory")
	if err != nil {
		return err
	}
	if c.String("push") != "" {
		return pushAction(c, dir)
	}
	if c.Bool("insecure") {
		return usagef("--insecure is for --push")
	}
	out := c.String("output")
	if out == "" {
		return usagef("export needs -o FILE (or -o - for stdout), or --push REGISTRY/NAME:TAG")
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
	if opts.Format != export.Tar {
		warnImage(c, dir)
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
}

// pushAction is `jailer export JAIL --push REF`: the image goes to a
// registry, and the line printed ends with its digest.
func pushAction(c *cli.Context, dir string) error {
	ref := c.String("push")
	opts := export.Options{Format: export.OCI, Insecure: c.Bool("insecure")}
	switch {
	case c.IsSet("output"):
		return usagef("--push writes to a registry: drop -o")
	case c.IsSet("tag"):
		return usagef("--push names the image: drop --tag")
	case c.IsSet("format") && c.String("format") == export.Tar:
		return usagef("--push writes an image: use --format oci (the default) or docker")
	case c.IsSet("format"):
		opts.Format = c.String("format")
	}
	if !slices.Contains(export.Formats, opts.Format) {
		return usagef("--format %q: use %s", opts.Format, strings.Join(export.Formats, ", "))
	}
	if _, err := export.PushRef(ref, opts.Insecure); err != nil {
		return usagef("--push: %v", err)
	}
	var err error
	if opts.Epoch, err = export.SourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		return usageError{err.Error()}
	}
	warnImage(c, dir)
	sum, err := export.Push(c.Context, dir, ref, opts)
	switch {
	case err != nil:
		return err
	case wantQuiet(c):
		return nil
	case wantJSON(c):
		return json.NewEncoder(c.App.Writer).Encode(sum)
	}
	_, err = fmt.Fprintln(c.App.Writer, sum)
	return err
}

// warnImage prints, on stderr, what an image of the jail at dir leaves out
// that its runs had (export.ImageWarnings).
func warnImage(c *cli.Context, dir string) {
	warns, _ := export.ImageWarnings(dir) // a jail without a lock fails the export itself
	for _, w := range warns {
		fmt.Fprintln(c.App.ErrWriter, "jailer: warning: "+w)
	}
}
