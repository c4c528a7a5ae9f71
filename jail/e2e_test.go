package jail

// Manifests written the way a newcomer writes them, without looking at
// our examples: the same directory twice, /usr/bin paths in the flat
// layout, `sh` found in PATH on a merged-/usr host, a PATH that finds a
// version manager's shim.

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
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

// vandal, run as root in a jail, writes, chmods, chowns and touches every
// path it can, adds files, a hardlink and a symlink, then deletes every
// top-level entry but /proc and /dev, and lists what is left.
const vandal = `shopt -s globstar dotglob nullglob
for f in /**; do
  case $f in /proc|/proc/*|/dev|/dev/*) continue ;; esac
  [ -f "$f" ] && [ ! -L "$f" ] && echo junk >> "$f"
  chown -h 4321:4321 "$f"
  if [ ! -L "$f" ]; then chmod 777 "$f"; chmod 4777 "$f" 2>/dev/null; fi
  touch -h -d @0 "$f"
done
mkdir -p /new/dir && echo x > /new/dir/file && ln /bin/bash /hardlink && ln -s /etc/passwd /new/link
victims=(); for f in /*; do case $f in /proc|/dev) ;; *) victims+=("$f") ;; esac; done
rm -rf "${victims[@]}"
for f in /*; do echo "left: $f"; done
echo done`

// TestRunLeavesTreeAsBuilt: a run that, as root, writes, deletes, chmods
// and chowns everything it can leaves the tree on disk byte- and
// metadata-identical (content, mode, owner, times, inode, links, xattrs)
// and check clean. The same run with --persist, the positive control,
// changes the tree and check sees it.
func TestRunLeavesTreeAsBuilt(t *testing.T) {
	testutil.RequireRoot(t)
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprintf("persist=%v", persist), func(t *testing.T) {
			dir := t.TempDir()
			m := testutil.WriteManifest(t, dir, "m.yaml", `version: 1
binaries: [/bin/bash, /bin/chmod, /bin/chown, /bin/touch, /bin/rm, /bin/mkdir, /bin/ln]
users: [{name: tester, uid: 1000}]
dirs: [{path: /tmp, mode: "1777"}, {path: /srv/data, mode: "0750", owner: tester}]
files: [{dest: /etc/motd, content: "hello\n", mode: "0600"}]
symlinks: [{path: /usr/bin/sh, target: /bin/bash}]
devices: [null]
`)
			jail := filepath.Join(dir, "jail")
			jailtest.MustBuild(t, m, build.Options{Output: jail})
			before := treeSnapshot(t, jail)
			code, out, err := jailtest.RunIn(t, jail, func(o *enter.Options) { o.Persist = persist }, "/bin/bash", "-c", vandal)
			if code != 0 || err != nil || !strings.HasSuffix(out, "left: /dev\nleft: /proc\ndone\n") {
				t.Fatalf("exit %d, %v; want the jail emptied but for /dev and /proc, output:\n%s", code, err, out)
			}
			after := treeSnapshot(t, jail)
			problems, err := inspect.Check(jail)
			if err != nil {
				t.Fatal(err)
			}
			if persist {
				if maps.Equal(before, after) || len(problems) == 0 {
					t.Errorf("with --persist the run left the tree as built (check: %v): the comparison cannot fail", problems)
				}
				return
			}
			for p, b := range before {
				if a := after[p]; a != b {
					t.Errorf("%s changed:\n  before %s\n  after  %s", p, b, a)
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok {
					t.Errorf("%s appeared in the tree: %s", p, after[p])
				}
			}
			if len(problems) > 0 {
				t.Errorf("Check = %v; want a clean jail", problems)
			}
		})
	}
}

// treeSnapshot describes every path of the tree at dir (the tree
// directory itself included) by its type, mode, owner, size, inode, link
// count, modification and change times, xattrs, and its content's sha256
// or its symlink target.
func treeSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode %o owner %d:%d size %d ino %d nlink %d mtime %d.%d ctime %d.%d",
			st.Mode, st.Uid, st.Gid, st.Size, st.Ino, st.Nlink, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256 %x", sha256.Sum256(data))
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		buf := make([]byte, 64<<10)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
			slices.Sort(names)
			for _, name := range names {
				v := make([]byte, 64<<10)
				vn, _ := unix.Lgetxattr(p, name, v)
				desc += fmt.Sprintf(" xattr %s=%q", name, v[:max(vn, 0)])
			}
		}
		snap[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
