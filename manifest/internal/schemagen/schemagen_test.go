package schemagen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copySource copies the manifest package's non-test sources into a
// temporary directory, with edit applied to types.go, and returns it.
func copySource(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("../../*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("manifest sources: %v, %d files", err, len(files))
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if filepath.Base(f) == "types.go" {
			text = edit(text)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestGenerateDescriptions: every description comes from a doc comment,
// with Go field names written as the keys users write.
func TestGenerateDescriptions(t *testing.T) {
	out, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		ID   string `json:"$id"`
		Defs map[string]struct {
			Description string
			OneOf       []map[string]any
		} `json:"$defs"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("Generate output is not JSON: %v", err)
	}
	if s.ID != ID {
		t.Errorf("$id = %q, want %q", s.ID, ID)
	}
	bin := s.Defs["Binary"]
	if bin.Description != "Binary is a program to install. Written as a name, a path, or a mapping." {
		t.Errorf("Binary description = %q, want its doc comment", bin.Description)
	}
	if len(bin.OneOf) != 2 || bin.OneOf[0]["description"] != "Shorthand for {src: ...}." {
		t.Fatalf("Binary oneOf = %v, want the shorthand for src, then the mapping", bin.OneOf)
	}
	src := bin.OneOf[1]["properties"].(map[string]any)["src"].(map[string]any)["description"]
	if src != "src is a program name looked up in PATH, or a path (relative to the manifest)." {
		t.Errorf("binary src description = %q, want the doc comment with Src written src", src)
	}
}

// TestGenerateRefuses: a field without a doc comment is an error that
// names it, rather than a schema with an empty description.
func TestGenerateRefuses(t *testing.T) {
	const doc = "\t// Dest is the jail path; default /bin/NAME (flat) or the host path (preserve).\n"
	dir := copySource(t, func(s string) string {
		if !strings.Contains(s, doc) {
			t.Fatalf("types.go has no line %q to remove", doc)
		}
		return strings.Replace(s, doc, "", 1)
	})
	_, err := Generate(dir)
	if err == nil || !strings.Contains(err.Error(), `Binary.Dest (yaml "dest") has no doc comment`) {
		t.Errorf("Generate without Binary.Dest's doc comment = %v, want an error naming it", err)
	}
	if _, err := Generate(t.TempDir()); err == nil {
		t.Error("Generate of a directory without the sources = nil error, want the missing doc comments")
	}
}
