package main

import (
	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/manifest"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print the JSON Schema of manifests, for editors and validators",
		Description: "Prints the JSON Schema (draft 2020-12) of the manifest format, generated from\n" +
			"jailer's manifest types. For completion and checking in editors that use\n" +
			"yaml-language-server, save it and start a manifest with the line\n" +
			"   # yaml-language-server: $schema=./jailer.schema.json",
		Flags: []cli.Flag{newJSONFlag()}, // the schema is JSON already
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usagef("schema takes no arguments (see jailer schema --help)")
			}
			_, err := c.App.Writer.Write(manifest.Schema())
			return err
		},
	}
}
