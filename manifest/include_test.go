package manifest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestIncludeMerge loads testdata/include/top.yaml, which includes
// sub/base.yaml and other.yaml, which both include common.yaml (a diamond).
func TestIncludeMerge(t *testing.T) {
	hostPATH(t)
	const top = "testdata/include/top.yaml"
	m, err := Load(top)
	if err != nil {
		t.Fatalf("Load(%s) = %v, want no error", top, err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		// Later scalar values win: top over other over base over common.
		{"Name", m.Name, "top"},
		{"Layout", m.Layout, "flat"},
		{"Output", m.Output, "./other-out"},
		{"Enter.Hostname", m.Enter.Hostname, "from-top"},
		{"Enter.Readonly", *m.Enter.Readonly, true},
		// Maps merge key by key; later values win.
		{"Enter.Env", m.Enter.Env, map[string]string{"A": "base", "B": "top", "C": "top"}},
		{"Enter.Limits", stripPos(&Manifest{Enter: Enter{Limits: m.Enter.Limits}}).Enter.Limits,
			Limits{Memory: "64M", Pids: intp(10), Timeout: "1m"}},
		// Lists append, included files first; common.yaml is merged once.
		{"Devices", stripPos(m).Devices, []Device{{Name: "null"}, {Name: "zero"}, {Name: "tty"}}},
		{"Enter.Namespaces", m.Enter.Namespaces, []string{"mount"}},
		{"Binaries", stripPos(m).Binaries, []Binary{{Src: "ls", Dest: "/bin/ls", Host: "/usr/bin/ls"}}},
		// A source path is relative to the file that names it.
		{"Files", stripPos(m).Files, []File{{Src: "./data.txt", Dest: "/data.txt", Host: abs(t, "testdata/include/sub/data.txt")}}},
		// Every file read, once, in the order read.
		{"Sources", m.Sources, []string{
			abs(t, "testdata/include/top.yaml"),
			abs(t, "testdata/include/sub/base.yaml"),
			abs(t, "testdata/include/common.yaml"),
			abs(t, "testdata/include/other.yaml"),
		}},
		{"Path", m.Path, abs(t, top)},
		// Each item keeps the file it was written in.
		{"Devices[0].Pos", m.Devices[0].Pos, Pos{"testdata/include/common.yaml", 4, 11}},
		{"Devices[1].Pos", m.Devices[1].Pos, Pos{"testdata/include/sub/base.yaml", 6, 11}},
		{"Devices[2].Pos", m.Devices[2].Pos, Pos{"testdata/include/other.yaml", 5, 11}},
		{"Files[0].Pos", m.Files[0].Pos, Pos{"testdata/include/sub/base.yaml", 5, 5}},
		{"Pos", m.Pos, Pos{top, 1, 1}},
		{`Enter.Limits.Fields["memory"]`, m.Enter.Limits.Fields["memory"], Pos{"testdata/include/sub/base.yaml", 10, 20}},
		{`Enter.Limits.Fields["pids"]`, m.Enter.Limits.Fields["pids"], Pos{top, 9, 18}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("Load(%s).%s = %#v, want %#v", top, c.what, c.got, c.want)
		}
	}
}

// TestIncludeErrors checks that problems inside included files carry the
// included file's name, and that all of them are reported together.
func TestIncludeErrors(t *testing.T) {
	hostPATH(t)
	for _, c := range []struct {
		path string
		want []wantErr
	}{
		{"testdata/include-errors/top.yaml", []wantErr{
			{"testdata/include-errors/bad.yaml:3:1", `unknown field "binares" in manifest`},
			{"testdata/include-errors/top.yaml:4:5", "include testdata/include-errors/missing.yaml: no such file or directory (the path is relative to top.yaml)"},
			{"testdata/include-errors/noversion.yaml:1:1", "missing `version: 1`"},
		}},
		// Validation problems point into the file that wrote the value,
		// also for list items merged after the including file's own.
		{"testdata/include-validate/top.yaml", []wantErr{
			{"testdata/include-validate/base.yaml:2:11", `unknown device "sda"`},
			{"testdata/include-validate/base.yaml:4:16", `unknown namespace "bogus"`},
			{"testdata/include-validate/base.yaml:5:20", `limits.memory: "12Q"`},
			{"testdata/include-validate/top.yaml:7:24", `enter.publish: "80:bogus"`},
		}},
		{"testdata/cycle/a.yaml", []wantErr{
			{"testdata/cycle/b.yaml:4:5", "include cycle: a.yaml includes b.yaml includes a.yaml (remove one of these includes)"},
		}},
		{"testdata/cycle/b.yaml", []wantErr{
			{"testdata/cycle/a.yaml:2:11", "include cycle: b.yaml includes a.yaml includes b.yaml"},
		}},
		{"testdata/cycle/self.yaml", []wantErr{
			{"testdata/cycle/self.yaml:2:11", "include cycle: self.yaml includes self.yaml"},
		}},
	} {
		m, err := Load(c.path)
		if m != nil {
			t.Errorf("Load(%s) returned a manifest with its error", c.path)
		}
		checkErrs(t, "Load("+c.path+")", err, c.want...)
	}
}

// TestIncludeTempDir covers include cases built on the fly: absolute
// include paths, includes that are not manifests, empty include items.
func TestIncludeTempDir(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	base := writeFile(t, dir, "lib/base.yaml", lines("version: 1", "devices: [null]"), 0o644)
	writeFile(t, dir, "lib/empty.yaml", "", 0o644)
	writeFile(t, dir, "lib/v2.yaml", "version: 2\n", 0o644)

	// An absolute include path is used as it is.
	path := writeFile(t, dir, "abs.yaml", lines("version: 1", "include: ["+base+"]"), 0o644)
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load(absolute include) = %v", err)
	}
	if len(m.Devices) != 1 || m.Devices[0].Pos.File != base {
		t.Errorf("Load(absolute include).Devices = %v, want [null] from %s", m.Devices, base)
	}

	// The same file included twice by one manifest is merged once.
	path = writeFile(t, dir, "twice.yaml", lines("version: 1", "include: [lib/base.yaml, ./lib/../lib/base.yaml, "+base+"]"), 0o644)
	if m, err = Load(path); err != nil {
		t.Fatalf("Load(include twice) = %v", err)
	}
	if len(m.Devices) != 1 || len(m.Sources) != 2 {
		t.Errorf("Load(include twice) = %d devices from %d files, want 1 from 2", len(m.Devices), len(m.Sources))
	}

	for _, c := range []struct {
		name, body string
		want       []wantErr
	}{
		{"include a directory", lines("version: 1", "include: [lib]"), []wantErr{{"2:11", "include " + filepath.Join(dir, "lib") + ": is a directory, not a manifest file"}}},
		{"include an empty file", lines("version: 1", "include: [lib/empty.yaml]"), []wantErr{{"", filepath.Join(dir, "lib/empty.yaml") + ":1:1: manifest is empty"}}},
		{"include version 2", lines("version: 1", "include: [lib/v2.yaml]"), []wantErr{{"", filepath.Join(dir, "lib/v2.yaml") + ":1:10: unsupported version 2"}}},
		{"include without path", lines("version: 1", "include: [{}]"), []wantErr{{"2:11", "include needs a path"}}},
		{"include as a string", lines("version: 1", "include: lib/base.yaml"), []wantErr{{"2:10", `include must be a list, not "lib/base.yaml"`}}},
		{"include unknown field", lines("version: 1", "include: [{file: x}]"), []wantErr{{"2:12", `unknown field "file" in include item 1 (known fields: path)`}}},
		{"include missing", lines("version: 1", "name: x", "include:", "  - ./nope.yaml"), []wantErr{{"4:5", "include " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"}}},
	} {
		path := writeFile(t, dir, "m.yaml", c.body, 0o644)
		var want []wantErr
		for _, w := range c.want {
			if w.Pos == "" { // the problem is in another file: Phrase is the whole line
				pos, phrase, _ := strings.Cut(w.Phrase, ": ")
				want = append(want, wantErr{pos, phrase})
				continue
			}
			want = append(want, wantErr{path + ":" + w.Pos, w.Phrase})
		}
		_, err := Load(path)
		checkErrs(t, "Load("+c.name+")", err, want...)
	}
}

// TestIncludeReplacesCommandAndNamespaces: a command or a set of
// namespaces is one value, so a later manifest's replaces an earlier one's.
func TestIncludeReplacesCommandAndNamespaces(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "base.yaml"), []byte("version: 1\nenter:\n  command: [/bin/sh, -l]\n  namespaces: [mount, pid]\n  env: {A: a}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "top.yaml"), []byte("version: 1\ninclude: [base.yaml]\nenter:\n  command: [/bin/bash]\n  namespaces: [mount, uts, bogus]\n  env: {B: b}\n"), 0o644)
	m, err := Parse(filepath.Join(dir, "top.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Enter.Command, " "); got != "/bin/bash" {
		t.Errorf("command = %q, want the including manifest's /bin/bash", got)
	}
	if got := strings.Join(m.Enter.Namespaces, " "); got != "mount uts bogus" {
		t.Errorf("namespaces = %q, want mount uts bogus", got)
	}
	if len(m.Enter.Env) != 2 {
		t.Errorf("env = %v, want both maps merged", m.Enter.Env)
	}
	SetDefaults(m)
	Normalize(m)
	err = Validate(m)
	if err == nil || !strings.Contains(err.Error(), "top.yaml:5:28: enter.namespaces: unknown namespace \"bogus\"") {
		t.Errorf("Validate = %v, want the bad namespace at top.yaml:5:28", err)
	}
}
