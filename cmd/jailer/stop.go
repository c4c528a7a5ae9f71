package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/jail/runs"
	"github.com/jailer-dev/jailer/manifest"
)

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "end a running jail: SIGTERM to its command, SIGKILL to the whole jail after --grace; waits until it is gone",
		ArgsUsage: "JAIL|ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "grace", Value: "10s", Usage: "how long the command has to exit after SIGTERM, in seconds (5, 1.5) or as a duration (1m)"},
			newQuietFlag(),
		},
		Action: func(c *cli.Context) error {
			name, err := oneArg(c, "running jail (its directory or id)")
			if err != nil {
				return err
			}
			// A grace is a timeout whose 0 means "none at all": SIGKILL at
			// once, not "wait for ever" as for --timeout.
			g := strings.TrimSpace(c.String("grace"))
			if strings.HasPrefix(g, "-") {
				return usagef("--grace %q is negative (use seconds, such as 5, or a duration, such as 1m; 0 kills at once)", c.String("grace"))
			}
			grace, err := manifest.ParseTimeout(g)
			if err != nil {
				return usagef("--grace: %v", err)
			}
			r, err := findRun(name)
			if err != nil {
				return fmt.Errorf("stop: %w", err)
			}
			killed, err := runs.Stop(r, grace)
			if err != nil {
				return err
			}
			if !wantQuiet(c) {
				if killed {
					fmt.Fprintf(c.App.Writer, "killed jail %s: still running %s after SIGTERM\n", r.ID, grace)
				} else {
					fmt.Fprintf(c.App.Writer, "stopped jail %s\n", r.ID)
				}
			}
			return nil
		},
	}
}
