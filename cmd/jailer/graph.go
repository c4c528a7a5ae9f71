package main

import (
	"encoding/json"
	"errors"

	"github.com/jailer-dev/jailer/jail/inspect"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/manifest"
)

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "print what the manifest's programs load, as a Graphviz graph (binary -> library -> library)",
		ArgsUsage: "MANIFEST",
		Description: "Prints the dependency graph in Graphviz's DOT language (sorted, so the same\n" +
			"manifest and host give the same text): programs, the libraries each names in\n" +
			"DT_NEEDED as the host's loader finds them, the libraries those name, and the ELF\n" +
			"interpreter (dashed). --format svg renders it with Graphviz's dot.\n\n" +
			"   jailer graph m.yaml | dot -Tpng > deps.png\n" +
			"   jailer graph --format svg m.yaml > deps.svg",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "dot", Usage: "dot, or svg (needs Graphviz's dot)"},
			newJSONFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "manifest")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "dot" && format != "svg" {
				return usagef("--format %q: use dot or svg (or --json)", format)
			}
			m, err := manifest.Load(path)
			if err != nil {
				return err
			}
			g, err := inspect.NewGraph(m)
			if err != nil {
				return err
			}
			switch {
			case wantJSON(c):
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(g)
			case format == "svg":
				err := g.SVG(c.Context, c.App.Writer)
				if errors.Is(err, inspect.ErrNoDot) {
					return errors.New(err.Error() + "; or print DOT with --format dot and render it elsewhere")
				}
				return err
			}
			return g.DOT(c.App.Writer)
		},
	}
}
