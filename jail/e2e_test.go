package jail

// Manifests written the way a newcomer writes them, without looking at
// our examples: the same directory twice, /usr/bin paths in the flat
// layout, `sh` found in PATH on a merged-/usr host, a PATH that finds a
// version manager's shim.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/inspect"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/jail/planner"
)

// TestSameItemsInIncludeAndTop: a base manifest and the top one both
// declare the same user, directory and file; the build has each once.
func TestSameItemsInIncludeAndTop(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	common := "users:\n  - { name: tester, uid: 1000 }\ngroups:\n  - { name: dev, gid: 50, members: [tester] }\ndirs: [/home/tester, /work]\nfiles:\n  - { dest: /etc/motd, content: \"hello\\n\" }\n"
	testutil.WriteManifest(t, dir, "base.yaml", "version: 1\n"+common)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\ninclude: [base.yaml]\n"+common)
	jailtest.MustBuild(t, m, build.Options{})
	group, err := os.ReadFile(filepath.Join(dir, "jail/etc/group"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(group), "dev:x:50:"); got != 1 {
		t.Errorf("/etc/group has dev %d times, want once:\n%s", got, group)
	}
	passwd, _ := os.ReadFile(filepath.Join(dir, "jail/etc/passwd"))
	if got := strings.Count("\n"+string(passwd), "\ntester:"); got != 1 {
		t.Errorf("/etc/passwd has tester %d times, want once:\n%s", got, passwd)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "jail/home/tester"), &st); err != nil || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("/home/tester owned by %d:%d (%v), want 1000:1000", st.Uid, st.Gid, err)
	}
}

// TestFlatAnswersUsrPaths: a flat jail runs what hard-codes /usr/bin,
// /usr/sbin, /sbin or /usr/lib, as a preserve jail would.
func TestFlatAnswersUsrPaths(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	testutil.WriteScript(t, dir, "envy", "#!/usr/bin/env sh\necho envy ran\n")
	m := testutil.WriteManifest(t, dir, "m.yaml", `version: 1
binaries: [sh, cat, ls, ./envy]
files:
  - { dest: /usr/lib/tool/conf, content: "conf\n" }
symlinks:
  - { path: /usr/bin/env2, target: /bin/env }
enter:
  command: [/usr/bin/cat, /usr/lib/tool/conf]
`)
	p, err := planner.New(testutil.LoadManifest(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none: /usr/bin/cat is /bin/cat", p.Warnings)
	}
	var usrBin plan.Entry
	for _, e := range p.Entries {
		if e.Dest == "/usr/bin" {
			usrBin = e
		}
	}
	if e := usrBin; e.Kind != plan.KindSymlink || e.Target != "../bin" || !strings.Contains(e.Why, "flat layout") {
		t.Errorf("/usr/bin = %+v, want a link to ../bin saying why", e)
	}
	jailtest.MustBuild(t, m, build.Options{})
	jailDir := filepath.Join(dir, "jail")
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/cat", "/usr/lib/tool/conf"}, "conf\n"},
		{[]string{"/lib/tool/../tool/conf"}, ""}, // not a program: just that the file is there
		{[]string{"/sbin/cat", "/lib/tool/conf"}, "conf\n"},
		{[]string{"/usr/sbin/cat", "/lib/tool/conf"}, "conf\n"},
		{[]string{"/bin/envy"}, "envy ran\n"},
		{[]string{"/usr/bin/env2", "sh", "-c", "echo via env"}, "via env\n"},
	} {
		if c.want == "" {
			if _, err := os.Stat(filepath.Join(jailDir, "lib/tool/conf")); err != nil {
				t.Errorf("/usr/lib/tool/conf did not land in /lib: %v", err)
			}
			continue
		}
		out, err := testutil.ChrootRun(t, jailDir, c.argv...)
		if err != nil || out != c.want {
			t.Errorf("chroot %v = %q, %v; want %q", c.argv, out, err, c.want)
		}
	}
	if probs, err := inspect.Check(jailDir); err != nil || len(probs) != 0 {
		t.Errorf("Check = %+v, %v; want clean", probs, err)
	}
}

// TestProfilesRunInJail builds a flat jail with the terminfo profile and
// runs tput in it, which finds xterm-256color in /usr/share/terminfo. (The
// examples use the other profiles, with python and perl.)
func TestProfilesRunInJail(t *testing.T) {
	testutil.RequireRoot(t)
	tput := testutil.RequireTool(t, "tput")
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: ["+tput+", /bin/sh]\nprofiles: [terminfo]\n")
	out := filepath.Join(dir, "jail")
	jailtest.MustBuild(t, m, build.Options{Output: out})
	code, got, err := jailtest.RunIn(t, out, nil, "/bin/tput", "-T", "xterm-256color", "colors")
	if err != nil || code != 0 || strings.TrimSpace(got) != "256" {
		t.Errorf("tput -T xterm-256color colors = %d, %q, %v; want 256", code, got, err)
	}
	if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
		t.Errorf("Check = %v, %v; want a clean jail", problems, err)
	}
}

// TestPreserveRunsBinSh: on a merged-/usr host, `sh` in PATH is
// /usr/bin/sh, and programs still run /bin/sh (system(3), #!/bin/sh).
func TestPreserveRunsBinSh(t *testing.T) {
	testutil.RequireRoot(t)
	if target, err := os.Readlink("/bin"); err != nil || target != "usr/bin" {
		t.Skip("the host is not merged-/usr")
	}
	dir := t.TempDir()
	testutil.WriteScript(t, dir, "hello", "#!/bin/sh\necho hello from /bin/sh\n")
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nlayout: preserve\nbinaries: [sh, cat, env]\nfiles:\n  - { src: ./hello, dest: /usr/local/bin/hello }\n")
	jailtest.MustBuild(t, m, build.Options{})
	for _, argv := range [][]string{{"/bin/sh", "-c", "echo hello from /bin/sh"}, {"/usr/local/bin/hello"}} {
		out, err := testutil.ChrootRun(t, filepath.Join(dir, "jail"), argv...)
		if err != nil || out != "hello from /bin/sh\n" {
			t.Errorf("chroot %v = %q, %v; want hello from /bin/sh", argv, out, err)
		}
	}
}
