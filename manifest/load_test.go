package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoadFull loads a manifest that uses every field of DESIGN.md (except
// packages, which this jailer refuses, see TestLoadRefusals) and checks
// both what it says and how Load normalised it.
func TestLoadFull(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	helper := writeFile(t, dir, "tools/suid-helper", "#!/bin/sh\n", 0o755)
	cert := writeFile(t, dir, "etc/ca.crt", "cert\n", 0o644)
	writeFile(t, dir, "fixtures/a.txt", "a\n", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := writeManifest(t, dir, lines(
		"version: 1",
		"name: py-tests",
		"output: ./out",
		"layout: flat",
		"binaries:",
		"  - ls",
		"  - /bin/sh",
		"  - { src: bash, dest: /usr//bin/./bash2 }",
		"  - { src: ./tools/suid-helper, allow_setuid: true }",
		"profiles: [locale, certs, hosts]",
		"files:",
		"  - "+cert,
		"  - { src: ./fixtures, dest: /work/ }",
		`  - { dest: /etc/motd, content: "hello\n", mode: "0644" }`,
		"dirs:",
		"  - /home/tester",
		`  - { path: /tmp/, mode: "1777" }`,
		`  - { path: /srv//data, mode: "0750", owner: "tester:staff" }`,
		"symlinks:",
		"  - { path: /usr/bin/env, target: /bin/env }",
		"devices: [null, zero, full, random, urandom, tty]",
		"users:",
		"  - { name: tester, uid: 1000, gid: 1000, home: /home/tester, shell: /bin/bash, gecos: Tester }",
		"  - { name: alice, uid: 1001 }",
		"  - { name: root, uid: 0 }",
		"groups:",
		"  - { name: tester, gid: 1000 }",
		"  - { name: staff, gid: 50, members: [alice, tester] }",
		"enter:",
		"  command: [/bin/sh, -l]",
		"  namespaces: [mount, uts, pid, net, ipc, user, cgroup]",
		"  hostname: box",
		"  user: tester",
		"  workdir: /home/tester/",
		"  env: { PATH: /bin, LANG: C.UTF-8 }",
		"  readonly: true",
		"  mounts:",
		"    - { type: tmpfs, target: /tmp, size: 64M }",
		"    - { type: bind, source: ./src, target: /src/, readonly: true }",
		"  limits: { memory: 512M, pids: 128, cpu: 1.5, nofile: 1024, timeout: 10m }",
		"  tmp_size: 256M",
	))
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s) = %v, want no error", path, err)
	}
	want := &Manifest{
		Version: 1,
		Name:    "py-tests",
		Output:  "./out",
		Layout:  "flat",
		Binaries: []Binary{
			{Src: "ls", Dest: "/bin/ls", Host: "/usr/bin/ls"},
			{Src: "/bin/sh", Dest: "/bin/sh", Host: "/bin/sh"},
			{Src: "bash", Dest: "/usr/bin/bash2", Host: "/usr/bin/bash"},
			{Src: "./tools/suid-helper", Dest: "/bin/suid-helper", AllowSetuid: true, Host: helper},
		},
		Profiles: []Profile{{Name: "locale"}, {Name: "certs"}, {Name: "hosts"}},
		Files: []File{
			{Src: cert, Dest: cert, Host: cert},
			{Src: "./fixtures", Dest: "/work", Host: filepath.Join(dir, "fixtures")},
			{Dest: "/etc/motd", Content: strp("hello\n"), Mode: Mode{Perm: 0o644, Set: true}},
		},
		Dirs: []Dir{
			{Path: "/home/tester"},
			{Path: "/tmp", Mode: Mode{Perm: os.ModeSticky | 0o777, Set: true}},
			{Path: "/srv/data", Mode: Mode{Perm: 0o750, Set: true}, Owner: "tester:staff"},
		},
		Symlinks: []Symlink{{Path: "/usr/bin/env", Target: "/bin/env"}},
		Devices:  []Device{{Name: "null"}, {Name: "zero"}, {Name: "full"}, {Name: "random"}, {Name: "urandom"}, {Name: "tty"}},
		Users: []User{
			{Name: "tester", UID: intp(1000), GID: intp(1000), Home: "/home/tester", Shell: "/bin/bash", Gecos: "Tester"},
			{Name: "alice", UID: intp(1001), GID: intp(1001), Home: "/home/alice", Shell: "/bin/sh"},
			{Name: "root", UID: intp(0), GID: intp(0), Home: "/root", Shell: "/bin/sh"},
		},
		Groups: []Group{
			{Name: "tester", GID: intp(1000)},
			{Name: "staff", GID: intp(50), Members: []string{"alice", "tester"}},
		},
		Enter: Enter{
			Command:    []string{"/bin/sh", "-l"},
			Namespaces: []string{"mount", "uts", "pid", "net", "ipc", "user", "cgroup"},
			Network:    "none",
			IPC:        "private",
			Hostname:   "box",
			User:       "tester",
			Workdir:    "/home/tester",
			Env:        map[string]string{"PATH": "/bin", "LANG": "C.UTF-8"},
			Readonly:   boolp(true),
			Mounts: []Mount{
				{Type: "tmpfs", Target: "/tmp", Size: "64M"},
				{Type: "bind", Source: filepath.Join(dir, "src"), Target: "/src", Readonly: true},
			},
			Limits:  Limits{Memory: "512M", Pids: intp(128), CPU: 1.5, Nofile: 1024, Timeout: "10m"},
			TmpSize: "256M",
		},
		Path:    path,
		Sources: []string{path},
	}
	diffManifest(t, "Load(full)", m, want)

	// Positions: every item knows where it was written.
	for _, c := range []struct {
		what string
		got  Pos
		want Pos
	}{
		{"Binaries[0].Pos", m.Binaries[0].Pos, Pos{path, 6, 5}},
		{"Binaries[2].Pos", m.Binaries[2].Pos, Pos{path, 8, 5}},
		{"Files[2].Pos", m.Files[2].Pos, Pos{path, 14, 5}},
		{"Devices[0].Pos", m.Devices[0].Pos, Pos{path, 21, 11}},
		{"Users[1].Pos", m.Users[1].Pos, Pos{path, 24, 5}},
		{"Enter.Mounts[1].Pos", m.Enter.Mounts[1].Pos, Pos{path, 39, 7}},
		{`Fields["layout"]`, m.Fields["layout"], Pos{path, 4, 9}},
		{`Enter.Fields["hostname"]`, m.Enter.Fields["hostname"], Pos{path, 32, 13}},
		{`Enter.Fields["namespaces[1]"]`, m.Enter.Fields["namespaces[1]"], Pos{path, 31, 23}},
		{`Enter.Limits.Fields["cpu"]`, m.Enter.Limits.Fields["cpu"], Pos{path, 40, 43}},
		{"Pos", m.Pos, Pos{path, 1, 1}},
	} {
		if c.got != c.want {
			t.Errorf("Load(full): %s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

// TestLoadDefaults checks what SetDefaults fills in when a manifest leaves
// everything out, and that the name comes from the file name.
func TestLoadDefaults(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	for _, c := range []struct {
		file, body string
		want       Manifest
	}{
		{
			file: "my-jail.yaml",
			body: "version: 1\n",
			want: Manifest{Version: 1, Name: "my-jail", Output: "./jail", Layout: "flat",
				Enter: Enter{Namespaces: []string{"mount", "uts", "pid", "net", "ipc"}, Network: "none", IPC: "private", Hostname: "my-jail", TmpSize: "1G"}},
		},
		{
			// Opting out of a namespace leaves it out of the default list.
			file: "shared.yaml",
			body: lines("version: 1", "enter: {network: host, ipc: host}"),
			want: Manifest{Version: 1, Name: "shared", Output: "./jail", Layout: "flat",
				Enter: Enter{Namespaces: []string{"mount", "uts", "pid"}, Network: "host", IPC: "host", Hostname: "shared", TmpSize: "1G"}},
		},
		{
			file: "two.dots.yml",
			body: lines("version: 1", "users: [{name: bob, uid: 7}]", "enter: {hostname: h, namespaces: [net]}"),
			want: Manifest{Version: 1, Name: "two.dots", Output: "./jail", Layout: "flat",
				Users: []User{{Name: "bob", UID: intp(7), GID: intp(7), Home: "/home/bob", Shell: "/bin/sh"}},
				Enter: Enter{Namespaces: []string{"net"}, Network: "none", IPC: "private", Hostname: "h", TmpSize: "1G"}},
		},
		{
			// An explicit gid of 0 is kept, not replaced by the uid.
			file: "noext",
			body: lines("version: 1", "name: given", "users: [{name: bob, uid: 7, gid: 0}]"),
			want: Manifest{Version: 1, Name: "given", Output: "./jail", Layout: "flat",
				Users: []User{{Name: "bob", UID: intp(7), GID: intp(0), Home: "/home/bob", Shell: "/bin/sh"}},
				Enter: Enter{Namespaces: []string{"mount", "uts", "pid", "net", "ipc"}, Network: "none", IPC: "private", Hostname: "given", TmpSize: "1G"}},
		},
	} {
		path := writeFile(t, dir, c.file, c.body, 0o644)
		m, err := Load(path)
		if err != nil {
			t.Errorf("Load(%s) = %v, want no error", c.file, err)
			continue
		}
		want := c.want
		want.Path, want.Sources = path, []string{path}
		diffManifest(t, "Load("+c.file+")", m, &want)
	}
}

// TestSetDefaultsNamespacesCopy checks that the default namespaces are a
// copy: changing one manifest's list must not change the next one's.
func TestSetDefaultsNamespacesCopy(t *testing.T) {
	a := &Manifest{Path: "/x/a.yaml"}
	SetDefaults(a)
	a.Enter.Namespaces[0] = "changed"
	b := &Manifest{Path: "/x/b.yaml"}
	SetDefaults(b)
	if got, want := b.Enter.Namespaces, []string{"mount", "uts", "pid", "net", "ipc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SetDefaults(b).Enter.Namespaces = %q, want %q", got, want)
	}
}

// TestCreatedNamespaces: network and ipc decide whether net and ipc are
// created, whatever the list says (a lock written before they existed
// lists mount, uts and pid, and is entered isolated too).
func TestCreatedNamespaces(t *testing.T) {
	for _, c := range []struct {
		e    Enter
		want []string
	}{
		{Enter{}, []string{"mount", "uts", "pid", "net", "ipc"}},
		{Enter{Namespaces: []string{"mount", "uts", "pid"}}, []string{"mount", "uts", "pid", "net", "ipc"}},
		{Enter{Namespaces: []string{"mount", "uts", "pid"}, Network: "none", IPC: "private"}, []string{"mount", "uts", "pid", "net", "ipc"}},
		{Enter{Network: "host"}, []string{"mount", "uts", "pid", "ipc"}},
		{Enter{IPC: "host"}, []string{"mount", "uts", "pid", "net"}},
		{Enter{Namespaces: []string{"mount", "pid", "net", "ipc", "user"}, Network: "host", IPC: "host"}, []string{"mount", "pid", "user"}},
		{Enter{Namespaces: []string{"mount", "pid", "pid", "cgroup"}}, []string{"mount", "pid", "cgroup", "net", "ipc"}},
	} {
		if got := c.e.CreatedNamespaces(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Enter{Namespaces: %q, Network: %q, IPC: %q}.CreatedNamespaces() = %q, want %q", c.e.Namespaces, c.e.Network, c.e.IPC, got, c.want)
		}
	}
}

// TestLoadPreserve checks that layout: preserve keeps host paths for binaries.
func TestLoadPreserve(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	path := writeManifest(t, dir, lines(
		"version: 1",
		"layout: preserve",
		"binaries: [ls, /bin/sh, {src: bash, dest: /opt/bash}]",
	))
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load(preserve) = %v, want no error", err)
	}
	want := []Binary{
		{Src: "ls", Dest: "/usr/bin/ls", Host: "/usr/bin/ls"},
		{Src: "/bin/sh", Dest: "/bin/sh", Host: "/bin/sh"},
		{Src: "bash", Dest: "/opt/bash", Host: "/usr/bin/bash"},
	}
	got := stripPos(m).Binaries
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(preserve).Binaries = %s, want %s", dump(reflect.ValueOf(got)), dump(reflect.ValueOf(want)))
	}
}

// TestLoadShorthand checks the YAML shorthands: a list item written as one
// scalar, and `devices: [null]` meaning the null device although YAML reads
// a bare null as "nothing".
func TestLoadShorthand(t *testing.T) {
	hostPATH(t)
	for _, c := range []struct {
		body string
		want []Device
	}{
		{"devices: [null]", []Device{{Name: "null"}}},
		{"devices: [null, zero]", []Device{{Name: "null"}, {Name: "zero"}}},
		{"devices:\n  - null\n  - tty", []Device{{Name: "null"}, {Name: "tty"}}},
		{`devices: ["null"]`, []Device{{Name: "null"}}},
		{"devices: null", nil}, // the key itself may be null: no devices
		{"devices: []", nil},
	} {
		dir := t.TempDir()
		path := writeManifest(t, dir, "version: 1\n"+c.body+"\n")
		m, err := Load(path)
		if err != nil {
			t.Errorf("Load(%q) = %v, want no error", c.body, err)
			continue
		}
		if got := stripPos(m).Devices; !reflect.DeepEqual(got, c.want) {
			t.Errorf("Load(%q).Devices = %#v, want %#v", c.body, got, c.want)
		}
	}
}

// TestLoadSameDestSameSource checks that one path claimed twice by the same
// source is accepted (it is the same file), unlike different sources.
func TestLoadSameDestSameSource(t *testing.T) {
	hostPATH(t)
	dir := t.TempDir()
	data := writeFile(t, dir, "data.txt", "x\n", 0o644)
	path := writeManifest(t, dir, lines(
		"version: 1",
		"binaries: [ls, ls, {src: /usr/bin/ls, dest: /bin/ls}]",
		"files:",
		"  - "+data,
		"  - {src: ./data.txt, dest: "+data+"}",
		"  - {dest: /etc/motd, content: hi}",
		"  - {dest: /etc/motd, content: hi}",
		"symlinks: [{path: /l, target: /x}, {path: /l/, target: /x}]",
	))
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load(same dest, same source) = %v, want no error", err)
	}
	if len(m.Binaries) != 3 || len(m.Files) != 4 {
		t.Errorf("Load(same dest, same source) = %d binaries, %d files, want 3 and 4 (kept as written)", len(m.Binaries), len(m.Files))
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path   string
		phrase string
	}{
		{filepath.Join(dir, "nope.yaml"), "cannot read manifest: no such file or directory"},
		{dir, "cannot read manifest: is a directory"},
	} {
		_, err := Load(c.path)
		if err == nil || !strings.HasPrefix(err.Error(), c.path+": "+c.phrase) {
			t.Errorf("Load(%s) = %v, want %q", c.path, err, c.path+": "+c.phrase)
		}
	}
}

// TestLoadTooLarge checks the size bound on manifest files, both a regular
// file and a device that never ends.
func TestLoadTooLarge(t *testing.T) {
	dir := t.TempDir()
	big := writeFile(t, dir, "big.yaml", "version: 1\n#"+strings.Repeat("x", maxManifestSize)+"\n", 0o644)
	_, err := Load(big)
	checkErrs(t, "Load(big.yaml)", err, wantErr{big, "larger than 4194304 bytes"})

	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err = Load("/dev/zero")
	checkErrs(t, "Load(/dev/zero)", err, wantErr{"/dev/zero", "larger than 4194304 bytes"})
	inc := writeManifest(t, dir, lines("version: 1", "include: [/dev/zero]"))
	_, err = Load(inc)
	checkErrs(t, "Load(include /dev/zero)", err, wantErr{inc + ":2:11", "include /dev/zero: larger than 4194304 bytes"})
}

// TestErrorType checks that each problem of a joined error is an *Error a
// caller can take apart.
func TestErrorType(t *testing.T) {
	dir := t.TempDir()
	path := writeManifest(t, dir, lines("version: 1", "nme: x", "layout: [a]"))
	_, err := Load(path)
	if err == nil {
		t.Fatalf("Load(two problems) = nil error, want two")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Load(two problems) = %T, want a joined error", err)
	}
	var got []Pos
	for _, e := range joined.Unwrap() {
		var me *Error
		if !errors.As(e, &me) {
			t.Fatalf("Load(two problems) has %T %v, want *Error", e, e)
		}
		got = append(got, me.Pos)
	}
	want := []Pos{{path, 2, 1}, {path, 3, 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(two problems) positions = %v, want %v", got, want)
	}
}
