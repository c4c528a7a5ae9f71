//go:build linux

package companion

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestGoBuildID: the build ID read from a Go program's ELF note is what
// `go tool buildid` says (the Makefile links the latter into jailer).
func TestGoBuildID(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := BuildID(f)
	goTool, lerr := exec.LookPath("go")
	if lerr != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, terr := exec.Command(goTool, "tool", "buildid", self).Output()
	if err != nil || terr != nil || got != strings.TrimSpace(string(out)) || got == "" {
		t.Errorf("BuildID(%s) = %q, %v; go tool buildid: %q, %v", self, got, err, out, terr)
	}
	if id, err := BuildID(strings.NewReader("#!/bin/sh\n")); err == nil {
		t.Errorf("BuildID(a script) = %q, want an error", id)
	}
}
