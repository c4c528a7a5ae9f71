package main

import "github.com/urfave/cli/v2"

// Each command gets its own flag values (urfave/cli keeps state in them).
func newJSONFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"}
}

func newQuietFlag() cli.Flag {
	return &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"}
}
