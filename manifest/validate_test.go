package manifest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// validateSetup adds the host files the validation cases refer to.
func validateSetup(t *testing.T, dir string) {
	writeFile(t, dir, "notexec", "#!/bin/sh\n", 0o644)
	writeFile(t, dir, "tool", "#!/bin/sh\n", 0o755)
	writeFile(t, dir, "data.txt", "data\n", 0o644)
	writeFile(t, dir, "sub/x", "x\n", 0o644)
}

// TestValidateRefusals covers what Validate refuses, each problem at the
// item or value it is about.
func TestValidateRefusals(t *testing.T) {
	runRefusals(t, []refusal{
		{"unknown layout", lines("version: 1", "layout: nested"), []wantErr{{"2:9", `unknown layout "nested" (use one of: flat, preserve)`}}},
		{"unknown link mode", lines("version: 1", "link: symlink"), []wantErr{{"2:7", `unknown link mode "symlink" (use one of: copy, hardlink, store)`}}},
		{"name with a slash", lines("version: 1", "name: a/b"), []wantErr{{"2:7", `name "a/b" must be at most 64 characters with no slash`}}},
		{"name too long", lines("version: 1", "name: "+strings.Repeat("n", 65)), []wantErr{
			{"2:7", "must be at most 64 characters"},
			{"1:1", "enter.hostname"}, // the default hostname is the name
		}},

		{"binary not in PATH", lines("version: 1", "binaries:", "  - no-such-program-for-jailer"), []wantErr{{"3:5", `binary "no-such-program-for-jailer" not found in PATH (install it, or give its absolute path)`}}},
		{"binary path missing", lines("version: 1", "binaries: [./missing]"), []wantErr{{"2:12", "binary ./missing: no such file or directory (check the path)"}}},
		{"binary not executable", lines("version: 1", "binaries: [./notexec]"), []wantErr{{"2:12", "binary ./notexec is not executable (chmod +x it, or list it under files:)"}}},
		{"binary is a directory", lines("version: 1", "binaries: [./sub]"), []wantErr{{"2:12", "binary ./sub is not a regular file"}}},
		{"binary without src", lines("version: 1", "binaries: [{dest: /bin/x}]"), []wantErr{{"2:12", "binary needs a src"}}},
		{"binary dest relative", lines("version: 1", "binaries: [{src: ls, dest: bin/ls}]"), []wantErr{{"2:12", `binary dest: "bin/ls" is relative (jail paths start with /)`}}},
		{"binary dest with ..", lines("version: 1", "binaries: [{src: ls, dest: /bin/../../ls}]"), []wantErr{{"2:12", `binary dest: "/bin/../../ls" contains .. and could leave the jail`}}},

		{"file source missing", lines("version: 1", "files:", "  - {src: ./missing.txt, dest: /m}"), []wantErr{{"3:5", "file ./missing.txt: no such file or directory (check the path; it is relative to the manifest)"}}},
		{"file absolute source missing", lines("version: 1", "files: [/no/such/file/for/jailer]"), []wantErr{{"2:9", "file /no/such/file/for/jailer: no such file or directory"}}},
		{"file relative source without dest", lines("version: 1", "files: [./data.txt]"), []wantErr{{"2:9", "file ./data.txt is relative: give a dest inside the jail"}}},
		{"file with src and content", lines("version: 1", "files: [{src: ./data.txt, dest: /d, content: x}]"), []wantErr{{"2:9", "file has both src and content (keep one)"}}},
		{"file content without dest", lines("version: 1", "files: [{content: x}]"), []wantErr{{"2:9", "file with content needs a dest"}}},
		{"file with nothing", lines("version: 1", "files: [{mode: '0644'}]"), []wantErr{{"2:9", "file needs a src or a content"}}},
		{"file dest relative", lines("version: 1", "files: [{src: ./data.txt, dest: etc/d}]"), []wantErr{{"2:9", `file dest: "etc/d" is relative`}}},
		{"file dest with ..", lines("version: 1", "files: [{dest: /etc/../../x, content: x}]"), []wantErr{{"2:9", `file dest: "/etc/../../x" contains ..`}}},
		{"file dest is the root", lines("version: 1", "files: [{dest: /, content: x}]"), []wantErr{{"2:9", `file dest: "/" is the jail root itself`}}},

		{"dir relative", lines("version: 1", "dirs: [home/tester]"), []wantErr{{"2:8", `dirs path: "home/tester" is relative (jail paths start with /)`}}},
		{"dir with ..", lines("version: 1", "dirs:", "  - /home/../../etc"), []wantErr{{"3:5", `dirs path: "/home/../../etc" contains .. and could leave the jail (write the path without ..)`}}},
		{"dir empty", lines("version: 1", "dirs: [{mode: '0755'}]"), []wantErr{{"2:8", "dirs path: path is empty"}}},
		{"dir owner unknown", lines("version: 1", "dirs: [{path: /srv, owner: nobody}]"), []wantErr{{"2:8", `owner: "nobody" is not a declared user or a uid (declare it under users:)`}}},
		{"dir owner group unknown", lines("version: 1", "dirs: [{path: /srv, owner: '0:wheel'}]"), []wantErr{{"2:8", `owner: "wheel" is not a declared group or a gid`}}},

		{"symlink path relative", lines("version: 1", "symlinks: [{path: usr/bin/env, target: /bin/env}]"), []wantErr{{"2:12", `symlink path: "usr/bin/env" is relative`}}},
		{"symlink without target", lines("version: 1", "symlinks: [{path: /l}]"), []wantErr{{"2:12", "symlink /l needs a target"}}},

		{"duplicate dest, different sources", lines(
			"version: 1",
			"binaries:",
			"  - ls",
			"  - {src: ./tool, dest: /bin/ls}",
			"files:",
			"  - {src: ./data.txt, dest: /bin/ls/}",
			"  - {dest: /etc/motd, content: a}",
			"  - {dest: /etc/motd, content: b}",
			"symlinks: [{path: /bin/ls, target: /bin/sh}]",
		), []wantErr{
			{"4:5", "/bin/ls is already taken by /usr/bin/ls at "},
			{"6:5", "/bin/ls is already taken by /usr/bin/ls at "},
			{"8:5", "/etc/motd is already taken by inline content ca978112ca1bbdca at "},
			{"9:12", "/bin/ls is already taken by /usr/bin/ls at "},
		}},

		{"unknown device", lines("version: 1", "devices: [null, sda]"), []wantErr{{"2:17", `unknown device "sda" (use one of: full, null, random, tty, urandom, zero)`}}},
		{"null item is no device name", lines("version: 1", "devices: [~]"), []wantErr{{"2:11", `unknown device ""`}}},
		{"unknown profile", lines("version: 1", "profiles: [locale, ruby]"), []wantErr{{"2:20", `unknown profile "ruby" (use one of: certs, hosts, locale, perl, python, terminfo)`}}},
		{"package not installed", lines("version: 1", "packages:", "  - coreutils", "  - no-such-package-for-jailer"), []wantErr{{"4:5", "package no-such-package-for-jailer is not installed (apt-get install no-such-package-for-jailer)"}}},
		{"package not installed, with depends", lines("version: 1", "packages: [{name: 'no-such-package-for-jailer:amd64', depends: true}]"), []wantErr{{"2:12", "package no-such-package-for-jailer:amd64 is not installed (apt-get install no-such-package-for-jailer)"}}},
		{"package name invalid", lines("version: 1", "packages: [Bad_Name]"), []wantErr{{"2:12", `package Bad_Name: "Bad_Name" is not a Debian package name`}}},
		{"package without name", lines("version: 1", "packages: [{depends: true}]"), []wantErr{{"2:12", "package needs a name"}}},

		{"duplicate user names", lines("version: 1", "users:", "  - {name: a, uid: 1000}", "  - {name: a, uid: 1001}"), []wantErr{{"4:5", "user a is declared twice, differently (also at "}}},
		{"same user twice, one a different shell", lines("version: 1", "users:", "  - {name: a, uid: 1000}", "  - {name: a, uid: 1000, shell: /bin/bash}"), []wantErr{{"4:5", `: shell "/bin/sh" there, "/bin/bash" here (make them agree, or keep one)`}}},
		{"duplicate uids", lines("version: 1", "users:", "  - {name: a, uid: 1000}", "  - {name: b, uid: 1000}"), []wantErr{{"4:5", "uid 1000 is declared twice (also at "}}},
		{"user without uid", lines("version: 1", "users: [{name: a}]"), []wantErr{{"2:9", "user a needs a uid"}}},
		{"user name invalid", lines("version: 1", "users: [{name: Bad Name, uid: 5}]"), []wantErr{{"2:9", `user name "Bad Name" is not valid`}}},
		{"root with another uid", lines("version: 1", "users: [{name: root, uid: 5}]"), []wantErr{{"2:9", "root must have uid 0 and uid 0 must be root"}}},
		{"uid 0 not root", lines("version: 1", "users: [{name: toor, uid: 0}]"), []wantErr{{"2:9", "root must have uid 0 and uid 0 must be root"}}},
		{"user home relative", lines("version: 1", "users: [{name: a, uid: 5, home: home/a}]"), []wantErr{{"2:9", `user a home: "home/a" is relative`}}},
		{"user shell relative", lines("version: 1", "users: [{name: a, uid: 5, shell: sh}]"), []wantErr{{"2:9", `user a shell: "sh" is relative`}}},
		{"duplicate group names", lines("version: 1", "groups:", "  - {name: g, gid: 100}", "  - {name: g, gid: 101}"), []wantErr{{"4:5", "group g is declared twice, differently (also at "}}},
		{"duplicate gids", lines("version: 1", "groups:", "  - {name: g, gid: 100}", "  - {name: h, gid: 100}"), []wantErr{{"4:5", "gid 100 is declared twice (also at "}}},
		{"group without gid", lines("version: 1", "groups: [{name: g}]"), []wantErr{{"2:10", "group g needs a gid"}}},
		{"group root with another gid", lines("version: 1", "groups: [{name: root, gid: 3}]"), []wantErr{{"2:10", "group root must have gid 0"}}},
		{"group member undeclared", lines("version: 1", "groups: [{name: g, gid: 3, members: [bob]}]"), []wantErr{{"2:10", `group g member "bob" is not a declared user`}}},

		{"empty command", lines("version: 1", "enter:", `  command: ["", -l]`), []wantErr{{"3:13", "enter.command must start with a program"}}},
		{"unknown namespace", lines("version: 1", "enter:", "  namespaces: [mount, time, pid]"), []wantErr{{"3:23", `enter.namespaces: unknown namespace "time" (use: cgroup, ipc, mount, net, pid, user, uts)`}}},
		{"unknown network", lines("version: 1", "enter:", "  network: bridge"), []wantErr{{"3:12", `enter.network: unknown value "bridge" (use: none, host, user)`}}},
		{"publish bad value", lines("version: 1", "enter:", "  network: user", "  publish: [8080:80, 80:http]"), []wantErr{{"4:22", `enter.publish: "80:http": use [IP:]HOSTPORT:JAILPORT[/tcp|/udp]`}}},
		{"publish without network user", lines("version: 1", "enter:", "  publish: [8080:80]"), []wantErr{{"3:12", `enter.publish forwards ports into the user-mode network, and enter.network is "none" (add network: user)`}}},
		{"unknown ipc", lines("version: 1", "enter: {ipc: shared}"), []wantErr{{"2:14", `enter.ipc: unknown value "shared" (use: private, host)`}}},
		{"net listed, network host", lines("version: 1", "enter:", "  network: host", "  namespaces: [mount, pid, net]"), []wantErr{{"4:28", "enter.namespaces lists net, but enter.network is host (drop one of them)"}}},
		{"ipc listed, ipc host", lines("version: 1", "enter: {ipc: host, namespaces: [ipc, mount, pid]}"), []wantErr{{"2:33", "enter.namespaces lists ipc, but enter.ipc is host (drop one of them)"}}},
		{"pids negative", lines("version: 1", "enter: {limits: {pids: -1}}"), []wantErr{{"2:24", "pids must be a whole number from 0 to 2147483647, not -1"}}},
		{"hostname too long", lines("version: 1", "enter:", "  hostname: "+strings.Repeat("h", 65)), []wantErr{{"3:13", "is longer than 64 characters"}}},
		{"enter user unknown", lines("version: 1", "enter: {user: tester}"), []wantErr{{"2:15", `enter.user: "tester" is not a declared user or a uid`}}},
		{"workdir relative", lines("version: 1", "enter: {workdir: home}"), []wantErr{{"2:18", `enter.workdir: "home" is relative`}}},
		{"workdir with ..", lines("version: 1", "enter: {workdir: /home/..}"), []wantErr{{"2:18", `enter.workdir: "/home/.." is the jail root itself`}}},
		{"env name invalid", lines("version: 1", "enter:", "  env: {PATH: /bin, 1X: y}"), []wantErr{{"3:21", `enter.env: "1X" is not a valid variable name`}}},

		{"unknown mount type", lines("version: 1", "enter:", "  mounts:", "    - {type: overlay, target: /o}"), []wantErr{{"4:7", `unknown mount type "overlay" (use: bind, tmpfs)`}}},
		{"mount without type", lines("version: 1", "enter: {mounts: [{target: /o}]}"), []wantErr{{"2:18", `unknown mount type ""`}}},
		{"mount target relative", lines("version: 1", "enter: {mounts: [{type: tmpfs, target: tmp}]}"), []wantErr{{"2:18", `mount target: "tmp" is relative`}}},
		{"mount target with ..", lines("version: 1", "enter: {mounts: [{type: tmpfs, target: /tmp/../..}]}"), []wantErr{{"2:18", `mount target: "/tmp/../.." is the jail root itself`}}},
		{"bind without source", lines("version: 1", "enter: {mounts: [{type: bind, target: /b}]}"), []wantErr{{"2:18", "bind mount of /b needs a source"}}},
		{"bind with size", lines("version: 1", "enter: {mounts: [{type: bind, source: ./sub, target: /b, size: 1M}]}"), []wantErr{{"2:18", "size is only for tmpfs mounts"}}},
		{"tmpfs with source", lines("version: 1", "enter: {mounts: [{type: tmpfs, source: ./sub, target: /t}]}"), []wantErr{{"2:18", "a tmpfs mount has no source"}}},
		{"tmpfs bad size", lines("version: 1", "enter: {mounts: [{type: tmpfs, target: /t, size: 64MB}]}"), []wantErr{{"2:18", `tmpfs size: "64MB" is not a size such as 64M, 512K or 2G`}}},

		{"tmp_size 12Q", lines("version: 1", "enter:", "  tmp_size: 12Q"), []wantErr{{"3:13", `enter.tmp_size: "12Q" is not a size such as 64M, 512K or 2G`}}},
		{"memory 12Q", lines("version: 1", "enter:", "  limits: {memory: 12Q}"), []wantErr{{"3:20", `limits.memory: "12Q" is not a size such as 64M, 512K or 2G`}}},
		{"timeout forever", lines("version: 1", "enter:", "  limits:", "    timeout: forever"), []wantErr{{"4:14", `limits.timeout: "forever" is not a timeout (use seconds, such as 30 or 1.5, or a duration, such as 10s or 5m)`}}},
		{"timeout negative", lines("version: 1", "enter: {limits: {timeout: -5s}}"), []wantErr{{"2:27", `limits.timeout: "-5s" is negative`}}},
		{"timeout negative seconds", lines("version: 1", "enter: {limits: {timeout: -5}}"), []wantErr{{"2:27", `limits.timeout: "-5" is negative`}}},
		{"cpu too many", lines("version: 1", "enter: {limits: {cpu: 2000}}"), []wantErr{{"2:23", "limits.cpu 2000 must be between 0 and 1024 CPUs"}}},
		{"cpu negative", lines("version: 1", "enter: {limits: {cpu: -0.5}}"), []wantErr{{"2:23", "limits.cpu -0.5 must be between 0 and 1024 CPUs"}}},

		{"several problems together", lines(
			"version: 1",
			"binaries: [no-such-program-for-jailer]",
			"devices: [nul]",
			"dirs: [tmp]",
			"enter:",
			"  namespaces: [mnt]",
			"  limits: {memory: lots, cpu: 9999}",
		), []wantErr{
			{"2:12", "not found in PATH"},
			{"3:11", `unknown device "nul"`},
			{"4:8", `dirs path: "tmp" is relative`},
			{"6:16", `unknown namespace "mnt"`},
			{"7:20", `limits.memory: "lots"`},
			{"7:31", "limits.cpu 9999"},
		}},
	}, validateSetup)
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512M", 512 << 20, true},
		{"64k", 64 << 10, true},
		{"64K", 64 << 10, true},
		{"2G", 2 << 30, true},
		{"2g", 2 << 30, true},
		{"1T", 1 << 40, true},
		{"1048576", 1 << 20, true},
		{"1", 1, true},
		{" 8M ", 8 << 20, true},
		{"4194304T", 1 << 62, true},
		{"4611686018427387904", 1 << 62, true},
		{"4194305T", 0, false},
		{"4611686018427387905", 0, false},
		{"9223372036854775807", 0, false},
		{"99999999999999999999", 0, false},
		{"0", 0, false},
		{"0M", 0, false},
		{"-1", 0, false},
		{"-1K", 0, false},
		{"12Q", 0, false},
		{"64MB", 0, false},
		{"1.5G", 0, false},
		{"M", 0, false},
		{"", 0, false},
		{" ", 0, false},
		{"1_000", 0, false},
		{"0x10", 0, false},
		{"ten", 0, false},
	} {
		got, err := ParseSize(c.in)
		switch {
		case c.ok && (err != nil || got != c.want):
			t.Errorf("ParseSize(%q) = %d, %v, want %d", c.in, got, err, c.want)
		case !c.ok && err == nil:
			t.Errorf("ParseSize(%q) = %d, want an error", c.in, got)
		case !c.ok && err.Error() != `"`+c.in+`" is not a size such as 64M, 512K or 2G`:
			t.Errorf("ParseSize(%q) = error %q, want it to quote the input", c.in, err)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	const hint = " (use seconds, such as 30 or 1.5, or a duration, such as 10s or 5m)"
	for _, c := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"5", 5 * time.Second, ""},
		{"1.5", 1500 * time.Millisecond, ""},
		{"0.2", 200 * time.Millisecond, ""},
		{" 30 ", 30 * time.Second, ""},
		{"0", 0, ""}, // no timeout, as for timeout(1)
		{"0.0000000001", time.Nanosecond, ""},
		{"5m", 5 * time.Minute, ""},
		{"10s", 10 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"200ms", 200 * time.Millisecond, ""},
		{"0s", 0, ""},
		{"9223372036", 9223372036 * time.Second, ""},
		{"9223372037", 0, `"9223372037" is longer than a timeout can be`},
		{"99999999999999999999999", 0, `"99999999999999999999999" is longer than a timeout can be`},
		{"-5", 0, `"-5" is negative`},
		{"-1.5", 0, `"-1.5" is negative`},
		{"-5s", 0, `"-5s" is negative`},
		{"-99999999999999999999999", 0, `"-99999999999999999999999" is negative`},
		{"+2", 2 * time.Second, ""},
		{"forever", 0, `"forever" is not a timeout` + hint},
		{"", 0, `"" is not a timeout`},
		{"5 s", 0, `"5 s" is not a timeout`},
		{"1.", 0, `"1." is not a timeout`},
		{".5", 0, `".5" is not a timeout`},
		{"1e3", 0, `"1e3" is not a timeout`},
		{"0x10", 0, `"0x10" is not a timeout`},
		{"NaN", 0, `"NaN" is not a timeout`},
		{"Inf", 0, `"Inf" is not a timeout`},
		{"5x", 0, `"5x" is not a timeout`},
	} {
		got, err := ParseTimeout(c.in)
		switch {
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("ParseTimeout(%q) = %v, %v, want %v", c.in, got, err, c.want)
		case c.wantErr != "" && err == nil:
			t.Errorf("ParseTimeout(%q) = %v, want an error", c.in, got)
		case c.wantErr != "" && !strings.HasPrefix(err.Error(), c.wantErr):
			t.Errorf("ParseTimeout(%q) = error %q, want one starting %q", c.in, err, c.wantErr)
		}
	}
}

func TestResolveUser(t *testing.T) {
	m := &Manifest{
		Users: []User{
			{Name: "tester", UID: intp(1000), GID: intp(1000)},
			{Name: "alice", UID: intp(1001), GID: intp(100)},
			{Name: "nouid"},
		},
		Groups: []Group{
			{Name: "staff", GID: intp(50)},
			{Name: "users", GID: intp(100)},
		},
	}
	for _, c := range []struct {
		in       string
		uid, gid int
		err      string
	}{
		{in: "tester", uid: 1000, gid: 1000},
		{in: "alice", uid: 1001, gid: 100},
		{in: "root", uid: 0, gid: 0},
		{in: "0", uid: 0, gid: 0},
		{in: "1234", uid: 1234, gid: 1234},
		{in: "1234:5", uid: 1234, gid: 5},
		{in: "tester:staff", uid: 1000, gid: 50},
		{in: "alice:root", uid: 1001, gid: 0},
		{in: "root:users", uid: 0, gid: 100},
		{in: "65534:65534", uid: 65534, gid: 65534},
		{in: "2147483647", uid: 2147483647, gid: 2147483647},
		{in: "nobody", err: `"nobody" is not a declared user or a uid (declare it under users:)`},
		{in: "nouid", err: `"nouid" is not a declared user or a uid`},
		{in: "staff", err: `"staff" is not a declared user or a uid`},
		{in: "", err: `"" is not a declared user or a uid`},
		{in: "-1", err: `"-1" is not a declared user or a uid`},
		{in: ":50", err: `"" is not a declared user or a uid`},
		{in: "tester:", err: `"" is not a declared group or a gid`},
		{in: "tester:wheel", err: `"wheel" is not a declared group or a gid`},
		{in: "tester:-1", err: `"-1" is not a declared group or a gid`},
		// jailer writes a group "tester" for tester, whose gid 1000 no
		// group declares; alice's primary group is users, so there is no
		// group "alice".
		{in: "tester:tester", uid: 1000, gid: 1000},
		{in: "root:tester", uid: 0, gid: 1000},
		{in: "alice:alice", err: `"alice" is not a declared group or a gid`},
		// Ids beyond 2^31-1 are refused, as they are for users: (a uid of
		// 4294967296 would become 0, root, once made a uint32).
		{in: "4294967296", err: `"4294967296" is not a declared user or a uid`},
		{in: "2147483648", err: `"2147483648" is not a declared user or a uid`},
		{in: "1000:4294967296", err: `"4294967296" is not a declared group or a gid`},
	} {
		uid, gid, err := ResolveUser(m, c.in)
		switch {
		case c.err == "" && (err != nil || uid != c.uid || gid != c.gid):
			t.Errorf("ResolveUser(%q) = %d, %d, %v, want %d, %d", c.in, uid, gid, err, c.uid, c.gid)
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("ResolveUser(%q) = %d, %d, %v, want error %q", c.in, uid, gid, err, c.err)
		}
	}
}

func TestCheckJailPath(t *testing.T) {
	for _, c := range []struct {
		in  string
		err string // "" when valid
	}{
		{"/a", ""},
		{"/a/b/", ""},
		{"//a", ""},
		{"/a/./b", ""},
		{"/a//b", ""},
		{"/...", ""},
		{"/a/..b", ""},
		{"/a/b..", ""},
		{"/.hidden", ""},
		{"", "path is empty (give an absolute path inside the jail)"},
		{"a", `"a" is relative (jail paths start with /)`},
		{"./a", `"./a" is relative`},
		{"../a", `"../a" is relative`},
		{"~/a", `"~/a" is relative`},
		{"/", `"/" is the jail root itself (name a path below it)`},
		{"//", `"//" is the jail root itself`},
		{"/.", `"/." is the jail root itself`},
		{"/./", `"/./" is the jail root itself`},
		{"/..", `"/.." is the jail root itself`},
		{"/a/..", `"/a/.." is the jail root itself`}, // cleaned first
		{"/a/b/../../..", `"/a/b/../../.." is the jail root itself`},
		{"/../etc", `"/../etc" contains .. and could leave the jail (write the path without ..)`},
		{"/a/../b", `"/a/../b" contains ..`},
		{"/a/../b/", `"/a/../b/" contains ..`},
		{"/a/b/../../../c", `"/a/b/../../../c" contains ..`},
		{"/a\x00b", `"/a\x00b" contains a NUL byte`},
	} {
		err := CheckJailPath(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("CheckJailPath(%q) = %v, want nil", c.in, err)
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("CheckJailPath(%q) = %v, want %q", c.in, err, c.err)
		}
	}
}

// TestLoadPackages: an installed package gets its file list; one item may
// be a name or a mapping.
func TestLoadPackages(t *testing.T) {
	if _, err := dpkg.PackageList(dpkg.Dir, "coreutils"); err != nil {
		t.Skipf("no dpkg database with coreutils here: %v", err)
	}
	dir := t.TempDir()
	m, err := Load(writeManifest(t, dir, lines(
		"version: 1",
		"packages:",
		"  - coreutils",
		"  - { name: coreutils, depends: true, docs: true }",
	)))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dpkg.Dir, "info", "coreutils.list")
	for i, p := range m.Packages {
		if p.List != want {
			t.Errorf("packages[%d].List = %q, want %q", i, p.List, want)
		}
	}
	if p := m.Packages[1]; !p.Depends || !p.Docs || p.Pos.Line != 4 {
		t.Errorf("packages[1] = %+v, want depends and docs set, at line 4", p)
	}
}
