package main

import (
	"encoding/json"

	"github.com/jailer-dev/jailer/jail/doctor"

	"github.com/urfave/cli/v2"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "say what jailer can do for you on this host: user namespaces, overlay, subordinate ids, cgroups, seccomp, each with the fix",
		Flags: []cli.Flag{newJSONFlag(), newQuietFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("doctor takes no arguments (see jailer doctor --help)")
			}
			r := doctor.Run(doctor.ThisHost())
			var err error
			switch {
			case wantJSON(c):
				err = json.NewEncoder(c.App.Writer).Encode(r)
			case !wantQuiet(c):
				err = r.Text(c.App.Writer)
			}
			if err == nil && !r.OK {
				// The failed lines say what is wrong; nothing to add.
				err = exitError{code: exitFailure}
			}
			return err
		},
	}
}
