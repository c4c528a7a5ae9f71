package main

import (
	"encoding/json"
	"fmt"

	"github.com/jailer-dev/jailer/jail/inspect"

	"github.com/urfave/cli/v2"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check a jail without running anything from it: every library resolves inside, nothing drifted",
		ArgsUsage: "JAIL",
		Flags:     []cli.Flag{newJSONFlag(), newQuietFlag()},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "jail directory")
			if err != nil {
				return err
			}
			problems, err := inspect.Check(dir)
			if err != nil {
				return err
			}
			if wantJSON(c) {
				if problems == nil {
					problems = []inspect.Problem{}
				}
				if err := json.NewEncoder(c.App.Writer).Encode(problems); err != nil {
					return err
				}
			} else {
				for _, p := range problems {
					fmt.Fprintln(c.App.Writer, p)
				}
			}
			if len(problems) > 0 {
				return exitError{code: exitFailure, err: fmt.Errorf("%s: %d problem(s)", dir, len(problems))}
			}
			if !wantQuiet(c) && !wantJSON(c) {
				fmt.Fprintf(c.App.Writer, "%s: ok\n", dir)
			}
			return nil
		},
	}
}
