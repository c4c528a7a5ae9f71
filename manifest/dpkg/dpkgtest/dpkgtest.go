// Package dpkgtest makes dpkg databases for tests, as net/http/httptest
// makes servers: the tests of manifest/dpkg and of the planner use it.
package dpkgtest

import (
	"os"
	"path/filepath"
	"testing"
)

// FakeDB writes a dpkg database (status, diversions, info/*) into a
// temporary directory and returns it.
func FakeDB(t testing.TB, status, diversions string, info map[string]string) string {
	t.Helper()
	admin := t.TempDir()
	if err := os.MkdirAll(filepath.Join(admin, "info"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"status": status}
	if diversions != "" {
		files["diversions"] = diversions
	}
	for name, text := range info {
		files[filepath.Join("info", name)] = text
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(admin, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return admin
}
