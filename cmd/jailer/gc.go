package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/store"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/manifest"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "delete old jail trees that no running jail uses, what interrupted builds left, and the store files no jail links",
		ArgsUsage: "[JAIL|DIR|MANIFEST ...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "the store to sweep (default $JAILER_STORE, else /var/lib/jailer/store for root, ~/.cache/jailer/store for others)"},
			newJSONFlag(), newQuietFlag(),
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				args = []string{"."}
			}
			var outputs []string
			for _, arg := range args {
				outs, err := gcOutputs(arg)
				if err != nil {
					return err
				}
				outputs = append(outputs, outs...)
			}
			got, err := build.GC(outputs)
			if err != nil {
				return err
			}
			dir, err := store.Dir(c.String("store"))
			if err != nil {
				return err
			}
			if err := build.GCStore(c.Context, got, dir); err != nil {
				return err
			}
			switch {
			case wantJSON(c):
				return json.NewEncoder(c.App.Writer).Encode(got)
			case !wantQuiet(c):
				fmt.Fprintln(c.App.Writer, got)
			}
			return nil
		},
	}
}

// gcOutputs are the outputs whose leftovers `jailer gc ARG` looks at: a
// manifest's output; for a directory, the directory itself (a jail) and
// every output in it.
func gcOutputs(arg string) ([]string, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		m, err := manifest.Load(arg)
		if err != nil {
			return nil, err
		}
		out, err := build.OutputDir(m, "")
		return []string{out}, err
	}
	in, err := build.OutputsIn(arg)
	if err != nil {
		return nil, err
	}
	self, err := filepath.Abs(arg)
	return append([]string{self}, in...), err
}
