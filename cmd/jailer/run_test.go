package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodes: 0 ok, 1 failure, 2 usage or manifest error.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	ok := write("ok.yaml", "version: 1\nfiles: [{dest: /x, content: y}]\n")
	bad := write("bad.yaml", "version: 1\nbogus: 1\n")
	notJail := filepath.Join(dir, "notjail")
	os.MkdirAll(filepath.Join(notJail, "x"), 0o755)
	tests := []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"plan", ok}, 0, ""},
		{[]string{"plan", bad}, 2, "bad.yaml:2:1: unknown field \"bogus\""},
		{[]string{"plan"}, 2, "plan takes one manifest"},
		{[]string{"plan", "--no-such-flag", ok}, 2, "flag provided but not defined"},
		{[]string{"build", "-o", notJail, ok}, 1, "not a jailer jail"},
		{[]string{"build", "--link", "rsync", "-o", filepath.Join(dir, "j"), ok}, 2, `jailer: --link "rsync": use copy, hardlink, store`},
		{[]string{"build", "--no-such-flag", ok}, 2, "jailer: flag provided but not defined: -no-such-flag (see jailer build --help)\n"},
		{[]string{"enter", "--pids", "many", notJail}, 2, "(see jailer enter --help)\n"},
		{[]string{"-v", "build", "-q", "-o", filepath.Join(dir, "v1"), ok}, 0, ""},
		{[]string{"build", "-v", "-q", "-o", filepath.Join(dir, "v2"), ok}, 0, ""},
		{[]string{"build", "-o", filepath.Join(dir, "v3"), ok, "-v", "--json"}, 0, ""},
		{[]string{"check", notJail}, 1, "not a jailer jail"},
		{[]string{"build", "-q", "-o", filepath.Join(dir, "j"), ok}, 0, ""},
		{[]string{"check", filepath.Join(dir, "j")}, 0, ""},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"jailer"}, tt.args...), &stdout, &stderr)
		if code != tt.code {
			t.Errorf("jailer %v = exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr.String())
		}
		if tt.code == exitUsage && strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("jailer %v stderr = %q, want one line", tt.args, stderr.String())
		}
		if !strings.Contains(stderr.String(), tt.wantStderr) {
			t.Errorf("jailer %v stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
		}
	}
}

func TestInterspersed(t *testing.T) {
	app := newApp(nil, nil, nil)
	tests := []struct{ in, want string }{
		{"jailer run m.yaml --bind .:/src:ro -- /bin/sh -c x", "jailer run --bind .:/src:ro -- m.yaml /bin/sh -c x"},
		{"jailer run --ro m.yaml", "jailer run --ro -- m.yaml"},
		{"jailer enter ./jail --user root ls -l /", "jailer enter --user root -- ./jail ls -l /"},
		// --net and --ipc take a value only when the next word is one.
		{"jailer enter --net ./jail", "jailer enter --net=none -- ./jail"},
		{"jailer enter --net host ./jail", "jailer enter --net=host -- ./jail"},
		{"jailer enter --net=host ./jail", "jailer enter --net=host -- ./jail"},
		{"jailer enter ./jail --ipc --net none ls", "jailer enter --ipc=private --net=none -- ./jail ls"},
		{"jailer run m.yaml --ipc host -- ls", "jailer run --ipc=host -- m.yaml ls"},
		{"jailer enter ./jail ls --net", "jailer enter -- ./jail ls --net"},
		{"jailer enter ./jail -- ls -l", "jailer enter -- ./jail ls -l"},
		{"jailer build -o x m.yaml", "jailer build -o x -- m.yaml"},
		{"jailer build m.yaml -o x", "jailer build -o x -- m.yaml"},
		{"jailer export ./jail -o x.tar --format tar", "jailer export -o x.tar --format tar -- ./jail"},
		{"jailer --json plan m.yaml", "jailer --json plan -- m.yaml"},
		{"jailer version", "jailer version"},
		// Global flags after the command move before it, unless the
		// command has a flag of that name itself.
		{"jailer build -v m.yaml", "jailer -v build -- m.yaml"},
		{"jailer build m.yaml -v -o x", "jailer -v build -o x -- m.yaml"},
		{"jailer enter ./jail -v ls -v", "jailer -v enter -- ./jail ls -v"},
		{"jailer plan --json m.yaml", "jailer plan --json -- m.yaml"},
		{"jailer graph --f --generate-bash-completion", "jailer graph --f --generate-bash-completion"},
		// gc takes only paths: flags may follow any of them.
		{"jailer gc a b --json c -q", "jailer gc --json -q -- a b c"},
		{"jailer gc -- a -b", "jailer gc -- a -b"},
	}
	for _, tt := range tests {
		got := strings.Join(interspersed(strings.Fields(tt.in), app), " ")
		if got != tt.want {
			t.Errorf("interspersed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
