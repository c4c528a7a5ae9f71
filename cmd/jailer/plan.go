package main

import (
	"fmt"

	"github.com/jailer-dev/jailer/jail/planner"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/manifest"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show what a build would create, where from and why (a dry run)",
		ArgsUsage: "MANIFEST",
		Flags:     []cli.Flag{newJSONFlag()},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "manifest")
			if err != nil {
				return err
			}
			m, err := manifest.Load(path)
			if err != nil {
				return err
			}
			p, err := planner.New(m)
			if err != nil {
				return err
			}
			for _, w := range p.Warnings {
				fmt.Fprintln(c.App.ErrWriter, "jailer: warning: "+w)
			}
			if wantJSON(c) {
				return p.JSON(c.App.Writer)
			}
			return p.Text(c.App.Writer)
		},
	}
}
