package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at link time by the Makefile (-X main.version=...).
var version = "dev"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print jailer's version",
		Flags: []cli.Flag{newJSONFlag()},
		Action: func(c *cli.Context) error {
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
				v = info.Main.Version
			}
			if wantJSON(c) {
				return json.NewEncoder(c.App.Writer).Encode(map[string]string{"version": v, "go": runtime.Version()})
			}
			_, err := fmt.Fprintf(c.App.Writer, "jailer %s (%s)\n", v, runtime.Version())
			return err
		},
	}
}
