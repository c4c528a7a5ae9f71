package main

import (
	"encoding/json"

	"github.com/jailer-dev/jailer/jail/inspect"

	"github.com/urfave/cli/v2"
)

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "tell what a jail is: its manifest, when it was built, what is in it, whether it is stale",
		ArgsUsage: "JAIL",
		Flags:     []cli.Flag{newJSONFlag()},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "jail directory")
			if err != nil {
				return err
			}
			in, err := inspect.Inspect(dir)
			if err != nil {
				return err
			}
			if wantJSON(c) {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			return in.Text(c.App.Writer)
		},
	}
}
