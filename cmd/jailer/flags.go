package main

import (
	"slices"

	"github.com/urfave/cli/v2"
)

// Each command gets its own flag values (urfave/cli keeps state in them).
func newJSONFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"}
}

func newQuietFlag() cli.Flag {
	return &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"}
}

// wantJSON says whether --json was given, to the command or before it
// (`jailer --json plan m.yaml` and `jailer plan --json m.yaml` alike).
func wantJSON(c *cli.Context) bool { return setAnywhere(c, "json") }

// wantQuiet says whether -q was given, to the command or before it.
func wantQuiet(c *cli.Context) bool { return setAnywhere(c, "quiet") }

func setAnywhere(c *cli.Context, name string) bool {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) && ctx.Bool(name) {
			return true
		}
	}
	return false
}

// flagsGiven returns the names, aliases included, of the flags given to
// c's command. urfave/cli's IsSet walks every flag of the command (and
// their names through a regexp) for each flag not given: asked for each of
// enter's thirty flags, that was a third of a millisecond of every run.
func flagsGiven(c *cli.Context) map[string]bool {
	given := map[string]bool{}
	for _, n := range c.LocalFlagNames() {
		given[n] = true
	}
	if c.Command == nil {
		return given
	}
	for _, f := range c.Command.Flags {
		names := f.Names()
		if slices.ContainsFunc(names, func(n string) bool { return given[n] }) {
			for _, n := range names {
				given[n] = true
			}
		}
	}
	return given
}
