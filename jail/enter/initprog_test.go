//go:build linux

package enter

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jailer-dev/jailer/jail/companion"
)

// TestChooseInit: jailer-init beside jailer is started only when it is
// the program built with this jailer (its build ID), a regular executable
// file no one but its owner may write, owned by root or jailer's owner.
func TestChooseInit(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile(self) // a Go program, with a build ID
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(self)
	id, err := companion.BuildID(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		want    string // the build ID jailer was linked with
		setup   func(t *testing.T, init string)
		useInit bool
	}{
		{"the one built with jailer", id, nil, true},
		{"jailer built without one", "", nil, false},
		{"another build", "another", nil, false},
		{"missing", id, func(t *testing.T, init string) { os.Remove(init) }, false},
		{"writable by its group", id, func(t *testing.T, init string) { os.Chmod(init, 0o775) }, false},
		{"writable by all", id, func(t *testing.T, init string) { os.Chmod(init, 0o757) }, false},
		{"not executable", id, func(t *testing.T, init string) { os.Chmod(init, 0o644) }, false},
		{"a directory", id, func(t *testing.T, init string) { os.Remove(init); os.Mkdir(init, 0o755) }, false},
		{"not a program", id, func(t *testing.T, init string) { os.WriteFile(init, []byte("#!/bin/sh\n"), 0o755) }, false},
		{"another user's", id, func(t *testing.T, init string) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			os.Chown(init, 65534, 65534)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			jailer := filepath.Join(dir, "jailer")
			init := filepath.Join(dir, InitProgram)
			for _, p := range []string{jailer, init} {
				if err := os.WriteFile(p, prog, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(t, init)
			}
			want := jailer
			if tt.useInit {
				want = init
			}
			if got := chooseInit(jailer, tt.want); got != want {
				t.Errorf("chooseInit = %s, want %s", got, want)
			}
		})
	}
}
