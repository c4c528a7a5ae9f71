package manifest

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestNormalize checks what Normalize fills in and what it leaves for
// Validate to report, item by item.
func TestNormalize(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	at := Pos{File: filepath.Join(dir, "m.yaml"), Line: 2, Col: 3}
	tests := []struct {
		name   string
		layout string
		in     Manifest
		want   Manifest
	}{
		{"binary in PATH, flat", "flat",
			Manifest{Binaries: []Binary{{Src: "ls", Pos: at}}},
			Manifest{Binaries: []Binary{{Src: "ls", Dest: "/bin/ls", Host: "/usr/bin/ls", Pos: at}}}},
		{"binary in PATH, preserve", "preserve",
			Manifest{Binaries: []Binary{{Src: "ls", Pos: at}}},
			Manifest{Binaries: []Binary{{Src: "ls", Dest: "/usr/bin/ls", Host: "/usr/bin/ls", Pos: at}}}},
		{"binary relative to the manifest, dest cleaned", "flat",
			Manifest{Binaries: []Binary{{Src: "./tools/x", Dest: "/opt//x/", Pos: at}}},
			Manifest{Binaries: []Binary{{Src: "./tools/x", Dest: "/opt/x", Host: filepath.Join(dir, "tools/x"), Pos: at}}}},
		{"binary not in PATH: left for Validate", "flat",
			Manifest{Binaries: []Binary{{Src: "no-such-program-here", Pos: at}}},
			Manifest{Binaries: []Binary{{Src: "no-such-program-here", Pos: at}}}},
		{"file: absolute src is its own dest, relative needs one", "flat",
			Manifest{Files: []File{{Src: "/etc//hostname", Pos: at}, {Src: "data", Pos: at}, {Src: "data", Dest: "/d/./e", Pos: at}}},
			Manifest{Files: []File{{Src: "/etc//hostname", Dest: "/etc/hostname", Host: "/etc/hostname", Pos: at},
				{Src: "data", Host: filepath.Join(dir, "data"), Pos: at}, {Src: "data", Dest: "/d/e", Host: filepath.Join(dir, "data"), Pos: at}}}},
		{"invalid jail paths are kept as written", "flat",
			Manifest{Dirs: []Dir{{Path: "a/../b"}, {Path: "/x/../y"}, {Path: "/z//"}}, Symlinks: []Symlink{{Path: "rel/", Target: "t/../u"}}},
			Manifest{Dirs: []Dir{{Path: "a/../b"}, {Path: "/x/../y"}, {Path: "/z"}}, Symlinks: []Symlink{{Path: "rel/", Target: "t/../u"}}}},
		{"mounts: a bind source becomes absolute", "flat",
			Manifest{Enter: Enter{Workdir: "/w/", Mounts: []Mount{{Type: "bind", Source: "src", Target: "/s/", Pos: at}, {Type: "tmpfs", Source: "x", Target: "/t", Pos: at}}}},
			Manifest{Enter: Enter{Workdir: "/w", Mounts: []Mount{{Type: "bind", Source: filepath.Join(dir, "src"), Target: "/s", Pos: at}, {Type: "tmpfs", Source: "x", Target: "/t", Pos: at}}}}},
		{"accounts declared twice alike are one", "flat",
			Manifest{Users: []User{{Name: "a", UID: intp(5), Home: "/h//a"}, {Name: "a", UID: intp(5), Home: "/h/a"}, {Name: "a", UID: intp(6)}},
				Groups: []Group{{Name: "g", GID: intp(7), Members: []string{"a"}}, {Name: "g", GID: intp(7), Members: []string{"a", "b"}}}},
			Manifest{Users: []User{{Name: "a", UID: intp(5), Home: "/h/a"}, {Name: "a", UID: intp(6)}},
				Groups: []Group{{Name: "g", GID: intp(7), Members: []string{"a", "b"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.in
			m.Layout, tt.want.Layout = tt.layout, tt.layout
			Normalize(&m)
			if !reflect.DeepEqual(&m, &tt.want) {
				t.Errorf("Normalize(%s) =\n%s\nwant\n%s", dump(reflect.ValueOf(tt.in)), dump(reflect.ValueOf(m)), dump(reflect.ValueOf(tt.want)))
			}
		})
	}
}

// TestValidateChangesNothing: Validate only reports, on a manifest with
// problems and on one without, normalised or not.
func TestValidateChangesNothing(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	validateSetup(t, dir)
	for i, text := range []string{
		lines( // valid, with paths to clean and an account declared twice
			"version: 1",
			"binaries: [{src: ls, dest: //usr/./bin//ls/}, ./tool]",
			"files: [{src: ./data.txt, dest: /etc//d/}, {dest: /m, content: hi}]",
			"dirs: [/a/./b/, {path: //c}]",
			"users: [{name: a, uid: 5, home: /home//a/, shell: /bin/./sh}, {name: a, uid: 5, home: /home/a}]",
			"symlinks: [{path: /l//m/, target: x/../y}]",
			"enter:",
			"  workdir: /w/./x//",
			"  mounts: [{type: tmpfs, target: /t//u/.}, {type: bind, source: ./sub, target: /s}]",
		),
		lines( // a problem on every line
			"version: 1",
			"binaries: [no-such-program-here, ./notexec, {src: ls, dest: bin/ls}]",
			"files: [{src: ./missing, dest: /x}, {src: ./data.txt}, {src: /etc/hostname, dest: /a/../b}]",
			"dirs: [a/../b, {path: /c, owner: nobody}]",
			"users: [{name: a, uid: 5}, {name: a, uid: 6}, {name: B, uid: 7, home: rel}]",
			"groups: [{name: g, gid: 1, members: [zed]}]",
			"symlinks: [{path: /l}]",
			"devices: [sda]",
			"enter:",
			"  workdir: w",
			"  mounts: [{type: bind, target: /s}, {type: bind, source: ./nope, target: /t}]",
		),
	} {
		m, err := Parse(writeManifest(t, dir, text))
		if err != nil {
			t.Fatal(err)
		}
		SetDefaults(m)
		// Before Normalize, Validate misjudges relative paths, but still
		// must not clean or fill anything.
		for _, normalized := range []bool{false, true} {
			if normalized {
				Normalize(m)
			}
			before := dump(reflect.ValueOf(m))
			verr := Validate(m)
			if normalized && (verr == nil) != (i == 0) {
				t.Errorf("Validate(manifest %d) = %v, want an error only for the second", i, verr)
			}
			if after := dump(reflect.ValueOf(m)); after != before {
				t.Errorf("Validate (normalized %v) changed the manifest:\n%s\nto\n%s", normalized, before, after)
			}
		}
	}
}

// TestLoadCleansPaths checks that every jail path Load accepts comes out
// cleaned.
func TestLoadCleansPaths(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	validateSetup(t, dir)
	path := writeManifest(t, dir, lines(
		"version: 1",
		"binaries: [{src: ls, dest: //usr/./bin//ls/}]",
		"files: [{src: ./data.txt, dest: /etc//d/}]",
		"dirs: [/a/./b/, {path: //c}]",
		"users: [{name: a, uid: 5, home: /home//a/, shell: /bin/./sh}]",
		"symlinks: [{path: /l//m/, target: x/../y}]",
		"enter:",
		"  workdir: /w/./x//",
		"  mounts: [{type: tmpfs, target: /t//u/.}]",
	))
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load(uncleaned paths) = %v", err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"Binaries[0].Dest", m.Binaries[0].Dest, "/usr/bin/ls"},
		{"Files[0].Dest", m.Files[0].Dest, "/etc/d"},
		{"Dirs[0].Path", m.Dirs[0].Path, "/a/b"},
		{"Dirs[1].Path", m.Dirs[1].Path, "/c"},
		{"Symlinks[0].Path", m.Symlinks[0].Path, "/l/m"},
		{"Symlinks[0].Target", m.Symlinks[0].Target, "x/../y"}, // a target is the link's text, kept as written
		{"Users[0].Home", m.Users[0].Home, "/home/a"},
		{"Users[0].Shell", m.Users[0].Shell, "/bin/sh"},
		{"Enter.Workdir", m.Enter.Workdir, "/w/x"},
		{"Enter.Mounts[0].Target", m.Enter.Mounts[0].Target, "/t/u"},
	} {
		if c.got != c.want {
			t.Errorf("Load(uncleaned paths).%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}
