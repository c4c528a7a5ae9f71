//go:build ignore

// gen_schema writes schema.json, the JSON Schema of manifests, from the
// manifest types and their doc comments; `go generate ./manifest` runs it
// (see schema.go), and TestSchemaIsCurrent fails until it has.
package main

import (
	"fmt"
	"os"

	"github.com/jailer-dev/jailer/manifest/internal/schemagen"
)

func main() {
	schema, err := schemagen.Generate(".")
	if err == nil {
		err = os.WriteFile("schema.json", schema, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen_schema: %v\n", err)
		os.Exit(1)
	}
}
