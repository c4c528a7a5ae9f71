package manifest_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/manifest"
	"github.com/jailer-dev/jailer/manifest/internal/schemagen"
)

// TestSchemaIsCurrent fails while the committed schema.json differs from
// what the manifest types and their doc comments say now; go generate
// ./manifest rewrites it.
func TestSchemaIsCurrent(t *testing.T) {
	got, err := schemagen.Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatalf("%v (run go generate ./manifest)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(ls []string) string {
			if i < len(ls) {
				return ls[i]
			}
			return "(end of file)"
		}
		t.Fatalf("schema.json is not what the manifest types say (run go generate ./manifest);\nline %d: schema.json has\n\t%s\nthe types give\n\t%s", i+1, line(wl), line(gl))
	}
	if !bytes.Equal(manifest.Schema(), want) {
		t.Error("manifest.Schema() differs from schema.json (rebuild)")
	}
}
