package manifest

import _ "embed" // for schema.json

//go:generate go run gen_schema.go

// schemaJSON is generated from the types in this package and their doc
// comments by `go generate ./manifest` (gen_schema.go, which calls
// manifest/internal/schemagen); TestSchemaIsCurrent fails while it differs
// from what the types say.
//
//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of a manifest file, for
// editors and other tools: every field with its description, the values
// Validate accepts where they come from a fixed list, and no others.
func Schema() []byte { return append([]byte(nil), schemaJSON...) }
