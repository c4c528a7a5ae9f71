package planner

// Manifests written the way a newcomer writes them, without looking at
// our examples: the same directory twice, /usr/bin paths in the flat
// layout, `sh` found in PATH on a merged-/usr host, a PATH that finds a
// version manager's shim.

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// TestSamePathTwice: identical requests for one path are one entry; an
// explicit mode or owner wins over a default; only explicit values that
// differ are an error, which names both places.
func TestSamePathTwice(t *testing.T) {
	for _, c := range []struct {
		name, text string
		path       string
		mode       os.FileMode
		uid, gid   int
		err        string // a regexp; the manifest is m.yaml
	}{
		{
			name: "home and dirs",
			text: "version: 1\nusers:\n  - { name: tester, uid: 1000, home: /home/tester }\ndirs:\n  - /home/tester\n",
			path: "/home/tester", mode: 0o755, uid: 1000, gid: 1000,
		},
		{
			name: "home and dirs with a mode",
			text: "version: 1\nusers:\n  - { name: tester, uid: 1000 }\ndirs:\n  - { path: /home/tester, mode: \"0700\" }\n",
			path: "/home/tester", mode: 0o700, uid: 1000, gid: 1000,
		},
		{
			name: "dirs twice, one with an owner",
			text: "version: 1\nusers: [{ name: tester, uid: 1000 }]\ndirs:\n  - /data\n  - { path: /data, owner: \"tester:tester\" }\n",
			path: "/data", mode: 0o755, uid: 1000, gid: 1000,
		},
		{
			name: "a user's own group, written as owner",
			text: "version: 1\nusers: [{ name: alice, uid: 1001 }]\ndirs:\n  - { path: /srv/alice, owner: \"alice:alice\" }\n",
			path: "/srv/alice", mode: 0o755, uid: 1001, gid: 1001,
		},
		{
			name: "the same inline file twice",
			text: "version: 1\nfiles:\n  - { dest: /etc/motd, content: \"hi\\n\" }\n  - { dest: /etc/motd, content: \"hi\\n\", mode: \"0600\" }\n",
			path: "/etc/motd", mode: 0o600,
		},
		{
			name: "profile and files",
			text: "version: 1\nprofiles: [hosts]\nfiles:\n  - { dest: /etc/hosts, content: " + strconv.Quote(hostsFile) + " }\n",
			path: "/etc/hosts", mode: 0o644,
		},
		{
			name: "two different modes",
			text: "version: 1\ndirs:\n  - { path: /data, mode: \"0700\" }\n  - { path: /data, mode: \"0750\" }\n",
			err:  `^m\.yaml:4:5: /data: wanted with mode 0750 here \(dirs \(m\.yaml:4\)\), and with mode 0700 by dirs \(m\.yaml:3\) at m\.yaml:3:5 \(make them agree, or keep one\)$`,
		},
		{
			name: "home owned by another user",
			text: "version: 1\nusers: [{ name: tester, uid: 1000 }]\ndirs:\n  - { path: /home/tester, owner: \"0:0\" }\n",
			err:  `^m\.yaml:2:9: /home/tester: wanted with owner 1000:1000 here \(home of user tester\), and with owner 0:0 by dirs \(m\.yaml:4\) at m\.yaml:4:5`,
		},
		{
			name: "profile and a different file",
			text: "version: 1\nprofiles: [hosts]\nfiles:\n  - { dest: /etc/hosts, content: \"10.0.0.1 db\\n\" }\n",
			err:  `^m\.yaml:2:12: /etc/hosts: wanted as generated content "127\.0\.0\.1\\tlocalhost\\n::1\\t\.\.\." here \(profile hosts \(m\.yaml:2\)\), and as generated content "10\.0\.0\.1 db\\n" by files \(m\.yaml:4\) at m\.yaml:4:5`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir) // positions are shown as the manifest was named
			testutil.WriteManifest(t, dir, "m.yaml", c.text)
			p, err := New(testutil.LoadManifest(t, "m.yaml"))
			if c.err != "" {
				var me *manifest.Error
				if err == nil || !errors.As(err, &me) || !regexp.MustCompile(c.err).MatchString(err.Error()) {
					t.Fatalf("NewPlan = %v, want a manifest error matching %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPlan = %v, want one entry for %s", err, c.path)
			}
			e := EntryMap(p)[c.path]
			if e.Mode != c.mode || e.UID != c.uid || e.GID != c.gid {
				t.Errorf("%s = mode %s, owner %d:%d; want %s, %d:%d", c.path, plan.ModeString(e.Mode), e.UID, e.GID, plan.ModeString(c.mode), c.uid, c.gid)
			}
		})
	}
}

// TestPlanTimeErrorsHavePositions: problems found only when the plan is
// made still point at the manifest line, as manifest errors (exit 2).
func TestPlanTimeErrorsHavePositions(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	testutil.WriteScript(t, dir, "tool", "#!/no/such/interpreter\n")
	for _, c := range []struct{ text, want string }{
		{"version: 1\nfiles:\n  - /dev/null\n", `^m\.yaml:3:5: files \(m\.yaml:3\): copy /dev/null: /dev/null is a device, socket or pipe`},
		{"version: 1\nbinaries:\n  - ./tool\n", `^m\.yaml:3:5: binary \S+/tool: its #! interpreter /no/such/interpreter is not on the host: no such file or directory \(install it, or fix the #! line\)$`},
	} {
		testutil.WriteManifest(t, dir, "m.yaml", c.text)
		_, err := New(testutil.LoadManifest(t, "m.yaml"))
		var me *manifest.Error
		if err == nil || !errors.As(err, &me) || !regexp.MustCompile(c.want).MatchString(err.Error()) {
			t.Errorf("NewPlan(%q) = %v, want a manifest error matching %s", c.text, err, c.want)
		}
	}
}

// TestPreserveKeepsTopLevelLinks: on a merged-/usr host, `sh` in PATH is
// /usr/bin/sh, and programs still run /bin/sh (system(3), #!/bin/sh).
func TestPreserveKeepsTopLevelLinks(t *testing.T) {
	top := t.TempDir()
	os.Symlink("usr/bin", filepath.Join(top, "bin"))
	os.Symlink("usr/lib", filepath.Join(top, "lib"))
	os.Symlink("usr/libx32", filepath.Join(top, "libx32"))
	os.Symlink("/boot/vmlinuz", filepath.Join(top, "vmlinuz"))
	os.Mkdir(filepath.Join(top, "etc"), 0o755)
	p := newPlanner(&manifest.Manifest{Layout: "preserve"}, nil)
	p.es.add(plan.Entry{Dest: "/usr/bin/sh", Kind: plan.KindSymlink, Target: "dash"})
	p.es.add(plan.Entry{Dest: "/usr/lib/x86_64-linux-gnu/libc.so.6", Kind: plan.KindFile, Source: "/x"})
	p.hostTopLinks(top)
	for _, c := range []struct{ path, target string }{
		{"/bin", "usr/bin"}, {"/lib", "usr/lib"}, {"/libx32", ""}, {"/vmlinuz", ""}, {"/etc", ""},
	} {
		e, ok := p.es.m[c.path]
		switch {
		case c.target == "" && ok:
			t.Errorf("%s = %+v, want nothing: the jail has nothing it leads to", c.path, e)
		case c.target != "" && (e.Kind != plan.KindSymlink || e.Target != c.target):
			t.Errorf("%s = %+v, want a symlink to %s", c.path, e, c.target)
		}
	}

}

// TestWarnings: a PATH that finds a version manager's shim, and an
// enter.command the jail does not have.
func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	shims := filepath.Join(dir, ".pyenv", "shims")
	os.MkdirAll(shims, 0o755)
	testutil.WriteScript(t, shims, "python3", "#!/usr/bin/env bash\nexec \"$(pyenv root)/libexec/pyenv\" exec \"$program\" \"$@\"\n")
	testutil.WriteScript(t, shims, "ls", "#!/bin/sh\nexec /bin/ls \"$@\"\n")
	t.Setenv("PATH", shims+":"+os.Getenv("PATH"))
	testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries:\n  - ls\n  - cat\nenter:\n  command: [/usr/bin/perl, -e, 1]\n")
	p, err := New(testutil.LoadManifest(t, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`m.yaml:3:5: binary ls: PATH finds ` + shims + `/ls, a pyenv shim; the jail gets the script, which will fail there (use /usr/bin/ls)`,
		`m.yaml:6:12: enter.command /usr/bin/perl is not in the jail (add it under binaries:)`,
	}
	if strings.Join(p.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("Warnings =\n%s\nwant\n%s", strings.Join(p.Warnings, "\n"), strings.Join(want, "\n"))
	}
	p = mustPlan(t, dir, "version: 1\nbinaries: [cat]\nenter:\n  command: [cat, /etc/motd]\n  env: { PATH: /usr/bin }\n")
	if len(p.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none: cat is in the PATH /usr/bin (flat: /bin)", p.Warnings)
	}
	// A command a bind mount brings is no warning; a bind source missing
	// now builds, with one.
	os.Mkdir(filepath.Join(dir, "ci"), 0o755)
	p = mustPlan(t, dir, "version: 1\nbinaries: [sh]\nenter:\n  command: [/ci/go.sh]\n  mounts:\n    - { type: bind, source: ./ci, target: /ci }\n    - { type: bind, source: ./later.sock, target: /run/app.sock }\n")
	want = []string{filepath.Join(dir, "m.yaml") + `:7:7: enter.mounts: bind source ` + filepath.Join(dir, "later.sock") + ` does not exist now; jailer enter needs it when the jail runs`}
	if strings.Join(p.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("Warnings =\n%s\nwant\n%s", strings.Join(p.Warnings, "\n"), strings.Join(want, "\n"))
	}
}
