package manifest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// refusal is a manifest Load must refuse, with every problem it must name.
// Positions in want are "LINE:COL" inside the manifest; the test adds the
// file name.
type refusal struct {
	name string
	body string
	want []wantErr
}

// runRefusals writes each case as m.yaml in a fresh directory (after
// setup, which may add files there) and checks Load's error.
func runRefusals(t *testing.T, cases []refusal, setup func(t *testing.T, dir string)) {
	t.Helper()
	hostPATH(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if setup != nil {
				setup(t, dir)
			}
			path := writeManifest(t, dir, c.body)
			want := make([]wantErr, len(c.want))
			for i, w := range c.want {
				want[i] = wantErr{path + ":" + w.Pos, w.Phrase}
			}
			m, err := Load(path)
			if m != nil {
				t.Errorf("Load(%s) returned a manifest with its error", c.name)
			}
			checkErrs(t, fmt.Sprintf("Load(%s)", c.name), err, want...)
		})
	}
}

// TestDecodeRefusals covers what the strict decoder refuses: the shape of
// the document, unknown fields and wrong types.
func TestDecodeRefusals(t *testing.T) {
	runRefusals(t, []refusal{
		{"empty file", "", []wantErr{{"1:1", "manifest is empty (start it with `version: 1`)"}}},
		{"comment only", lines("# a jail", "", "# nothing yet"), []wantErr{{"1:1", "manifest is empty"}}},
		{"document marker only", "---\n", []wantErr{{"1:1", "manifest is empty"}}},
		{"null document", "~\n", []wantErr{{"1:1", "manifest is empty"}}},
		{"second document", lines("version: 1", "---", "name: x"), []wantErr{{"2:1", "a manifest is one YAML document"}}},
		{"second empty document", lines("version: 1", "---", "# nothing"), []wantErr{{"2:1", "a manifest is one YAML document"}}},
		{"syntax: unclosed flow list", lines("version: 1", "name: [a", "layout: flat"), []wantErr{{"2:1", "YAML syntax: did not find expected ',' or ']'"}}},
		{"syntax: mapping in a plain value", lines("version: 1", "name: a: b"), []wantErr{{"2:1", "YAML syntax: mapping values are not allowed in this context"}}},
		{"syntax: bad indentation", lines("version: 1", "  name: x"), []wantErr{{"2:3", "YAML syntax: mapping values are not allowed"}}},
		{"syntax: tab indentation", lines("version: 1", "\tname: x"), []wantErr{{"2:2", "YAML syntax: found a tab character that violates indentation"}}},
		{"syntax: unclosed flow mapping", lines("version: 1", "layout: flat", "name: {a"), []wantErr{{"3:1", "YAML syntax: did not find expected ',' or '}'"}}},
		{"syntax: text after a quoted value", lines("version: 1", "name: 'x' y"), []wantErr{{"2:1", "YAML syntax: did not find expected key"}}},
		{"syntax: list item dedented", lines("version: 1", "binaries:", "  - ls", " - bash"), []wantErr{{"4:2", "YAML syntax: did not find expected key"}}},
		{"syntax: unclosed quote", lines("version: 1", `name: "abc`), []wantErr{{"2:1", "YAML syntax: found unexpected end of stream"}}},
		{"syntax: unknown anchor", lines("version: 1", "name: *nope"), []wantErr{{"1:1", "YAML syntax: unknown anchor 'nope' referenced"}}},
		{"not a mapping", lines("- version: 1"), []wantErr{{"1:1", "manifest must be a mapping, not a list"}}},
		{"scalar document", lines("jail"), []wantErr{{"1:1", `manifest must be a mapping, not "jail"`}}},

		{"missing version", lines("name: x", "layout: flat"), []wantErr{{"1:1", "missing `version: 1` (add it at the top)"}}},
		{"null version", lines("name: x", "version:"), []wantErr{{"2:9", "missing `version: 1`"}}},
		{"unsupported version", lines("name: x", "version: 2"), []wantErr{{"2:10", "unsupported version 2 (this jailer reads version 1)"}}},
		{"string version", lines(`version: "1"`), []wantErr{{"1:10", `version must be a whole number from 0 to 2147483647, not "1"`}}},

		{"unknown top-level field", lines("version: 1", "nmae: x"), []wantErr{{"2:1", `unknown field "nmae" in manifest (known fields: binaries, devices, dirs, enter, files, groups, include, layout, link, name, output, packages, profiles, symlinks, users, version)`}}},
		{"unknown field in an item", lines("version: 1", "binaries:", "  - {src: ls, dst: /bin/x}"), []wantErr{{"3:15", `unknown field "dst" in binaries item 1 (known fields: allow_setuid, dest, src)`}}},
		{"unknown field in enter", lines("version: 1", "enter:", "  cmd: [sh]"), []wantErr{{"3:3", `unknown field "cmd" in enter`}}},
		{"unknown field in limits", lines("version: 1", "enter:", "  limits: {mem: 1G}"), []wantErr{{"3:12", `unknown field "mem" in limits (known fields: cpu, memory, nofile, pids, timeout)`}}},
		{"unknown field in a mount", lines("version: 1", "enter:", "  mounts:", "    - type: tmpfs", "      target: /tmp", "      options: ro"), []wantErr{{"6:7", `unknown field "options" in mounts item 1`}}},
		{"position field is not a key", lines("version: 1", "binaries: [{src: ls, pos: 1}]"), []wantErr{{"2:22", `unknown field "pos" in binaries item 1`}}},
		{"field twice", lines("version: 1", "name: a", "name: b"), []wantErr{{"3:1", `field "name" given twice in manifest (keep one)`}}},
		{"env key twice", lines("version: 1", "enter:", "  env: {A: 1, A: 2}"), []wantErr{{"3:15", `env has "A" twice (keep one)`}}},

		{"string where list", lines("version: 1", "binaries: ls"), []wantErr{{"2:11", `binaries must be a list, not "ls"`}}},
		{"mapping where list", lines("version: 1", "devices: {null: true}"), []wantErr{{"2:10", "devices must be a list, not a mapping"}}},
		{"list where string", lines("version: 1", "name: [a, b]"), []wantErr{{"2:7", "name must be a string, not a list"}}},
		{"mapping where string", lines("version: 1", "enter:", "  hostname: {a: b}"), []wantErr{{"3:13", "hostname must be a string, not a mapping"}}},
		{"bool where string list", lines("version: 1", "enter:", "  command: true"), []wantErr{{"3:12", "command must be a list, not true"}}},
		{"list item of the wrong kind", lines("version: 1", "enter:", "  command: [sh, [a]]"), []wantErr{{"3:17", "command item 2 must be a string, not a list"}}},
		{"abc for an int", lines("version: 1", "users: [{name: a, uid: abc}]"), []wantErr{{"2:24", `uid must be a whole number from 0 to 2147483647, not "abc"`}}},
		{"negative int", lines("version: 1", "users: [{name: a, uid: -1}]"), []wantErr{{"2:24", "uid must be a whole number from 0 to 2147483647, not -1"}}},
		{"float for an int", lines("version: 1", "groups: [{name: a, gid: 1.5}]"), []wantErr{{"2:25", "gid must be a whole number from 0 to 2147483647, not 1.5"}}},
		{"int too large", lines("version: 1", "enter: {limits: {pids: 2147483648}}"), []wantErr{{"2:24", "pids must be a whole number from 0 to 2147483647, not 2147483648"}}},
		{"quoted number for an int", lines("version: 1", `enter: {limits: {nofile: "1024"}}`), []wantErr{{"2:26", `nofile must be a whole number from 0 to 2147483647, not "1024"`}}},
		{"string for a float", lines("version: 1", "enter: {limits: {cpu: half}}"), []wantErr{{"2:23", `cpu must be a number, not "half"`}}},
		{"nan for a float", lines("version: 1", "enter: {limits: {cpu: .nan}}"), []wantErr{{"2:23", "cpu must be a number, not .nan"}}},
		{"tagged NaN for a float", lines("version: 1", "enter: {limits: {cpu: !!float NaN}}"), []wantErr{{"2:23", "cpu must be a number, not NaN"}}},
		{"string for a bool", lines("version: 1", "enter: {readonly: yes}"), []wantErr{{"2:19", `readonly must be true or false, not "yes"`}}},
		{"number for a bool", lines("version: 1", "binaries: [{src: ls, allow_setuid: 1}]"), []wantErr{{"2:36", "allow_setuid must be true or false, not 1"}}},
		{"list for a struct item", lines("version: 1", "binaries: [[ls]]"), []wantErr{{"2:12", "binaries item 1 must be a string or a mapping, not a list"}}},
		{"scalar for a mapping item", lines("version: 1", "users: [tester]"), []wantErr{{"2:9", `users item 1 must be a mapping, not "tester"`}}},
		{"list for enter", lines("version: 1", "enter: [sh]"), []wantErr{{"2:8", "enter must be a mapping, not a list"}}},
		{"list for env", lines("version: 1", "enter: {env: [A=1]}"), []wantErr{{"2:14", "env must be a mapping, not a list"}}},
		{"mapping for an env value", lines("version: 1", "enter: {env: {A: {b: c}}}"), []wantErr{{"2:18", "env.A must be a string, not a mapping"}}},

		{"bad octal mode 0999", lines("version: 1", `dirs: [{path: /a, mode: "0999"}]`), []wantErr{{"2:25", `mode must be an octal mode such as "0644" or "1777", not "0999"`}}},
		{"bad octal mode abc", lines("version: 1", "dirs: [{path: /a, mode: abc}]"), []wantErr{{"2:25", `mode must be an octal mode such as "0644" or "1777", not "abc"`}}},
		{"mode too long", lines("version: 1", `files: [{dest: /a, content: x, mode: "17777"}]`), []wantErr{{"2:38", `not "17777"`}}},
		{"mode as a list", lines("version: 1", "dirs: [{path: /a, mode: [0644]}]"), []wantErr{{"2:25", "not a list"}}},

		{"several decode errors together", lines(
			"version: 1",
			"nmae: x",
			"binaries: ls",
			"users:",
			"  - {name: a, uid: abc, shell: [sh]}",
		), []wantErr{
			{"2:1", `unknown field "nmae"`},
			{"3:11", "binaries must be a list"},
			{"5:20", "uid must be a whole number"},
			{"5:32", "shell must be a string, not a list"},
		}},
	}, nil)
}

// TestModes checks the octal modes a manifest may write, quoted or not.
func TestModes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want os.FileMode
	}{
		{`"0644"`, 0o644},
		{"0644", 0o644}, // a YAML int, read from its text, not its value
		{"644", 0o644},
		{`"0755"`, 0o755},
		{`"1777"`, os.ModeSticky | 0o777},
		{`"4755"`, os.ModeSetuid | 0o755},
		{`"2755"`, os.ModeSetgid | 0o755},
		{`"6755"`, os.ModeSetuid | os.ModeSetgid | 0o755},
		{`"07777"`, os.ModeSetuid | os.ModeSetgid | os.ModeSticky | 0o777},
		{"0o600", 0o600},
		{`"000"`, 0},
	} {
		var m Manifest
		err := parseDocument("f.yaml", []byte("version: 1\ndirs: [{path: /a, mode: "+c.in+"}]\n"), &m)
		if err != nil {
			t.Errorf("parseDocument(mode: %s) = %v, want no error", c.in, err)
			continue
		}
		if got := m.Dirs[0].Mode; got != (Mode{Perm: c.want, Set: true}) {
			t.Errorf("parseDocument(mode: %s) = %v, want %v", c.in, got.Perm, c.want)
		}
	}
	for _, in := range []string{`"0999"`, "abc", `"8"`, `"64"`, `"17777"`, `"0o8"`, `"-644"`, `""`, "0x1ff", "true"} {
		var m Manifest
		err := parseDocument("f.yaml", []byte("version: 1\ndirs: [{path: /a, mode: "+in+"}]\n"), &m)
		if err == nil || !strings.HasPrefix(err.Error(), "f.yaml:2:25: mode must be an octal mode") {
			t.Errorf("parseDocument(mode: %s) = %v, want f.yaml:2:25: mode must be an octal mode", in, err)
		}
	}
	// No mode at all is not mode 0.
	var m Manifest
	if err := parseDocument("f.yaml", []byte("version: 1\ndirs: [/a, {path: /b, mode: ~}]\n"), &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Dirs {
		if d.Mode.Set {
			t.Errorf("parseDocument(no mode).Dirs[%s].Mode = %v, want unset", d.Path, d.Mode)
		}
	}
}

// TestScalars checks how YAML scalars land in Go values.
func TestScalars(t *testing.T) {
	var m Manifest
	err := parseDocument("f.yaml", []byte(lines(
		"version: 0x1",
		"name: 123",
		"users: [{name: a, uid: 1_000, gid: 0o17}]",
		"enter:",
		"  hostname: true",
		"  readonly: False",
		"  command: [sh, -c, 'echo ~']",
		"  limits: {cpu: 2, pids: 0, memory: ~}",
		`files: [{dest: /a, content: ""}]`,
	)), &m)
	if err != nil {
		t.Fatalf("parseDocument(scalars) = %v", err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"Version", m.Version, 1},
		{"Name", m.Name, "123"},
		{"Users[0].UID", *m.Users[0].UID, 1000},
		{"Users[0].GID", *m.Users[0].GID, 15},
		{"Enter.Hostname", m.Enter.Hostname, "true"},
		{"Enter.Readonly", *m.Enter.Readonly, false},
		{"Enter.Command", strings.Join(m.Enter.Command, " "), "sh -c echo ~"},
		{"Enter.Limits.CPU", m.Enter.Limits.CPU, 2.0},
		{"Enter.Limits.Memory", m.Enter.Limits.Memory, ""},
		{"Files[0].Content", *m.Files[0].Content, ""},
	} {
		if c.got != c.want {
			t.Errorf("parseDocument(scalars).%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

// billionLaughs is the classic alias bomb, its innermost list aliased nine
// times at each of nine levels, under a field that is decoded.
const billionLaughs = `version: 1
enter:
  env:
    A: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    B: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    C: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    D: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    E: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    F: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    G: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    H: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    I: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
  command: *i
`

// wideBomb makes an alias bomb that fits the schema: n groups, each with
// the same list of n members, so n*n strings from a file of a few n bytes.
func wideBomb(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\ngroups:\n  - &g {name: g, gid: 1, members: &m [")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("x")
	}
	b.WriteString("]}\n")
	for i := 1; i < n; i++ {
		b.WriteString("  - *g\n")
	}
	return b.String()
}

// keyBomb makes a mapping with n unknown keys and aliases it n times, so
// that each alias would add n "unknown field" errors.
func keyBomb(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nbinaries:\n  - &a {")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "k%d: 1, ", i)
	}
	b.WriteString("}\n")
	for i := 1; i < n; i++ {
		b.WriteString("  - *a\n")
	}
	return b.String()
}

// longValueBomb aliases one long scalar many times where each use is an error
// quoting it, so that the errors would be many times the file's size.
func longValueBomb(size, n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nusers:\n  - &s " + strings.Repeat("x", size) + "\n")
	for i := 1; i < n; i++ {
		b.WriteString("  - *s\n")
	}
	return b.String()
}

// TestAliasBombs checks that alias bombs fail fast with a bounded error
// instead of expanding: by node count, or by the size of what they expand to.
func TestAliasBombs(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		phrase string
	}{
		{"billion laughs", billionLaughs, "must be a string, not a list"},
		{"wide", wideBomb(2000), "manifest expands to more than"},
		{"unknown keys", keyBomb(3000), "manifest expands to more than"},
		{"long value", longValueBomb(1<<20, 2000), "manifest expands to more than"},
	} {
		start := time.Now()
		var m Manifest
		err := parseDocument("bomb.yaml", []byte(c.in), &m)
		elapsed := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), c.phrase) {
			t.Errorf("parseDocument(%s) = %.200v, want an error with %q", c.name, err, c.phrase)
			continue
		}
		if elapsed > 3*time.Second {
			t.Errorf("parseDocument(%s) took %v, want well under a second", c.name, elapsed)
		}
		if n := len(err.Error()); n > 4*len(c.in)+(16<<20) {
			t.Errorf("parseDocument(%s) = error of %d bytes from %d bytes of YAML, want it bounded", c.name, n, len(c.in))
		}
	}
}

// TestAliasesAllowed checks that ordinary use of anchors and aliases works.
func TestAliasesAllowed(t *testing.T) {
	var m Manifest
	err := parseDocument("f.yaml", []byte(lines(
		"version: 1",
		"dirs: [{path: /a, mode: &m '0700'}, {path: /b, mode: *m}]",
		"enter:",
		"  command: &cmd [/bin/sh, -l]",
		"  env: {SHELL: &sh /bin/sh}",
		"  hostname: *sh",
	)), &m)
	if err != nil {
		t.Fatalf("parseDocument(aliases) = %v", err)
	}
	if m.Dirs[1].Mode.Perm != 0o700 || m.Enter.Hostname != "/bin/sh" {
		t.Errorf("parseDocument(aliases) = mode %v, hostname %q, want 0700 and /bin/sh", m.Dirs[1].Mode.Perm, m.Enter.Hostname)
	}
}
