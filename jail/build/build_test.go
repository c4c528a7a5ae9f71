package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jailer-dev/jailer/jail/inspect"
	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
)

// TestBuildRunsInChroot builds real jails and runs their programs with
// plain chroot(2): bash, ls, id and getent with a declared user, a #! script,
// a C program with its own library under $ORIGIN/../lib, and a static binary.
func TestBuildRunsInChroot(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	testutil.WriteScript(t, dir, "hello.sh", "#!/bin/sh\necho \"hello from $0\"\n")
	testutil.CLib(t, filepath.Join(dir, "c"), "foo")
	static := filepath.Join(dir, "static")
	testutil.Gcc(t, "-static", "-o", static, testutil.WriteScript(t, dir, "s.c", "#include <stdio.h>\nint main(void){puts(\"static ok\");return 0;}\n"))
	for _, layout := range []string{"flat", "preserve"} {
		t.Run(layout, func(t *testing.T) {
			out := filepath.Join(dir, layout+".jail")
			// In the preserve layout the program keeps its host path, so
			// that $ORIGIN/../lib still leads to its library.
			progItem, prog := "{ src: ./c/bin/prog, dest: /opt/c/bin/prog }", "/opt/c/bin/prog"
			if layout == "preserve" {
				progItem, prog = "./c/bin/prog", filepath.Join(dir, "c/bin/prog")
			}
			m := testutil.WriteManifest(t, dir, layout+".yaml", `version: 1
layout: `+layout+`
binaries:
  - /bin/bash
  - /bin/ls
  - /bin/id
  - /usr/bin/getent
  - /bin/whoami
  - { src: ./hello.sh, dest: /bin/hello.sh }
  - `+progItem+`
  - { src: ./static, dest: /bin/static }
users:
  - { name: tester, uid: 1000, home: /home/tester }
`)
			mustBuild(t, m, Options{Output: out})
			tests := []struct {
				argv []string
				want string
			}{
				{[]string{"/bin/bash", "-c", "echo $((6*7))"}, "42"},
				{[]string{"/bin/id", "tester"}, "uid=1000(tester) gid=1000(tester)"},
				{[]string{"/bin/getent", "passwd", "tester"}, "tester:x:1000:1000::/home/tester:/bin/sh"},
				{[]string{"/bin/ls", "-ld", "/home/tester"}, "tester tester"},
				{[]string{"/bin/whoami"}, "root"},
				{[]string{"/bin/hello.sh"}, "hello from /bin/hello.sh"},
				{[]string{prog}, "42"},
				{[]string{"/bin/static"}, "static ok"},
			}
			if layout == "preserve" {
				for i := range tests {
					if tests[i].argv[0] == "/bin/id" || tests[i].argv[0] == "/bin/ls" || tests[i].argv[0] == "/bin/whoami" || tests[i].argv[0] == "/bin/bash" || tests[i].argv[0] == "/bin/getent" {
						tests[i].argv[0] = "/usr" + tests[i].argv[0]
					}
				}
			}
			for _, tt := range tests {
				got, err := testutil.ChrootRun(t, out, tt.argv...)
				if layout == "preserve" && tt.argv[0] == prog {
					// glibc finds $ORIGIN of the main program through
					// /proc/self/exe: give the chroot a /proc.
					got, err = testutil.ChrootRunProc(t, out, tt.argv...)
				}
				if err != nil || !strings.Contains(got, tt.want) {
					t.Errorf("chroot %s %v = %q, %v; want output containing %q", out, tt.argv, got, err, tt.want)
				}
			}
			if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
				t.Errorf("Check(%s) = %v, %v; want a clean jail", out, problems, err)
			}
		})
	}
}

func TestBuildIncremental(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.txt")
	os.WriteFile(data, []byte("v1\n"), 0o644)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/cat]\nfiles: [{src: ./data.txt, dest: /data.txt}]\n")
	out := filepath.Join(dir, "jail")
	if s := mustBuild(t, m, Options{}); s.UpToDate || s.Files == 0 {
		t.Fatalf("first build: %+v, want files written", s)
	}
	ino := inode(t, out)
	if s := mustBuild(t, m, Options{}); !s.UpToDate {
		t.Fatalf("second build: %+v, want up to date", s)
	}
	if inode(t, out) != ino {
		t.Error("an up-to-date rebuild replaced the tree")
	}
	// A changed host file is refreshed.
	os.WriteFile(data, []byte("v2 longer\n"), 0o644)
	if s := mustBuild(t, m, Options{}); s.UpToDate {
		t.Fatal("build after a host change says up to date")
	}
	if got, _ := os.ReadFile(filepath.Join(out, "data.txt")); string(got) != "v2 longer\n" {
		t.Errorf("jail data.txt = %q after rebuild, want v2", got)
	}
	// A file changed inside the jail makes it stale too.
	os.WriteFile(filepath.Join(out, "data.txt"), []byte("tampered\n"), 0o644)
	if s := mustBuild(t, m, Options{}); s.UpToDate {
		t.Fatal("build after a change inside the jail says up to date")
	}
	if got, _ := os.ReadFile(filepath.Join(out, "data.txt")); string(got) != "v2 longer\n" {
		t.Errorf("jail data.txt = %q after rebuild, want the host's", got)
	}
	// --force rebuilds even when up to date.
	if s := mustBuild(t, m, Options{Force: true}); s.UpToDate {
		t.Error("--force build says up to date")
	}
	lock, err := lockfile.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if lock.Name != "m" || len(lock.Entries) == 0 || lock.Entries[0].Mode == "" {
		t.Errorf("lock = %+v, want name m and entries with modes", lock)
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestBuildHardlink(t *testing.T) {
	// Only a host file owned as in the jail (by root) can be linked.
	testutil.RequireRoot(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data.txt")
	os.WriteFile(data, []byte("shared\n"), 0o644)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{src: ./data.txt, dest: /data.txt}, {dest: /gen, content: x}]\n")
	s := mustBuild(t, m, Options{Link: lockfile.LinkHardlink})
	if s.Linked != 1 {
		t.Errorf("Linked = %d, want 1 (the generated file cannot be linked)", s.Linked)
	}
	if inode(t, filepath.Join(dir, "jail", "data.txt")) != inode(t, data) {
		t.Error("data.txt was not hardlinked to the host file")
	}
	lock, _ := lockfile.Read(filepath.Join(dir, "jail"))
	if lock.Link != lockfile.LinkHardlink {
		t.Errorf("lock.Link = %q, want hardlink (enter must make the jail read-only)", lock.Link)
	}
}

func TestBuildDevicesAndOwners(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\ndevices: [null, tty]\ndirs: [{path: /data, owner: \"1000:1000\", mode: \"0750\"}]\n")
	mustBuild(t, m, Options{})
	fi, err := os.Lstat(filepath.Join(dir, "jail", "dev", "null"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 || fi.Mode().Perm() != 0o666 {
		t.Fatalf("/dev/null = %v, %v; want a 0666 character device", fi, err)
	}
	if rdev := fi.Sys().(*syscall.Stat_t).Rdev; rdev != 259 { // 1:3
		t.Errorf("/dev/null rdev = %d, want 1:3", rdev)
	}
	fi, _ = os.Stat(filepath.Join(dir, "jail", "data"))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 || fi.Mode().Perm() != 0o750 {
		t.Errorf("/data = %v %d:%d, want 0750 1000:1000", fi.Mode(), st.Uid, st.Gid)
	}
}

func TestBuildBadOptions(t *testing.T) {
	dir := t.TempDir()
	m := testutil.LoadManifest(t, testutil.WriteManifest(t, dir, "m.yaml", "version: 1\n"))
	if _, err := Build(context.Background(), m, Options{Link: "symlink"}); err == nil || !strings.Contains(err.Error(), "unknown link mode") {
		t.Errorf("Build with --link symlink = %v, want an error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, testutil.LoadManifest(t, testutil.WriteManifest(t, dir, "m2.yaml", "version: 1\nbinaries: [/bin/bash]\n")), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jail")); err == nil {
		t.Error("a cancelled build left a jail")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".jail.jailer-staging-*")); len(left) > 0 {
		t.Errorf("a cancelled build left %v", left)
	}
}

// TestBuildUsesHostCache: a second fresh build of the same programs finds
// libraries and digests in the cache; a changed file is hashed again.
func TestBuildUsesHostCache(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("JAILER_CACHE_DIR", filepath.Join(dir, "cache"))
	data := filepath.Join(dir, "data.txt")
	os.WriteFile(data, []byte("one"), 0o644)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/ls]\nfiles: [{src: ./data.txt, dest: /data}]\n")
	mustBuild(t, m, Options{Output: filepath.Join(dir, "a")})
	cache := elfdeps.OpenHostCache()
	ls, _ := filepath.EvalSymlinks("/bin/ls")
	st, _ := lockfile.Lstat(ls)
	if d, ok := cache.Deps(ls, st); !ok || len(d.Libs) == 0 {
		t.Fatalf("cache has no libraries for %s after a build: %+v", ls, d)
	}
	if _, ok := cache.SHA(data, mustStat(t, data)); !ok {
		t.Fatal("cache has no digest of data.txt after a build")
	}
	mustBuild(t, m, Options{Output: filepath.Join(dir, "b")})
	la, _ := lockfile.Read(filepath.Join(dir, "a"))
	lb, _ := lockfile.Read(filepath.Join(dir, "b"))
	for i := range la.Entries {
		if la.Entries[i].SHA256 != lb.Entries[i].SHA256 {
			t.Errorf("%s: digest %s from the cache, %s when hashed", la.Entries[i].Dest, lb.Entries[i].SHA256, la.Entries[i].SHA256)
		}
	}
	os.WriteFile(data, []byte("two!"), 0o644)
	mustBuild(t, m, Options{Output: filepath.Join(dir, "b")})
	if problems, err := inspect.Check(filepath.Join(dir, "b")); err != nil || len(problems) > 0 {
		t.Errorf("after a source changed, Check = %v, %v (a stale digest from the cache?)", problems, err)
	}
}

func mustStat(t *testing.T, p string) lockfile.Stat {
	t.Helper()
	st, err := lockfile.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBuildSeesNewFilesInCopiedDirs: a file added to a host directory that
// the manifest copies makes the jail stale, and the rebuild brings it in.
func TestBuildSeesNewFilesInCopiedDirs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "fixtures", "deep")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{src: ./fixtures, dest: /fx}]\n")
	mustBuild(t, m, Options{})
	if s := mustBuild(t, m, Options{}); !s.UpToDate {
		t.Fatalf("second build: %+v, want up to date", s)
	}
	os.WriteFile(filepath.Join(src, "b"), []byte("b"), 0o644)
	if s := mustBuild(t, m, Options{}); s.UpToDate {
		t.Fatal("a file added to a copied directory left the jail up to date")
	}
	if got, err := os.ReadFile(filepath.Join(dir, "jail", "fx", "deep", "b")); err != nil || string(got) != "b" {
		t.Errorf("jail/fx/deep/b = %q, %v; want the new file", got, err)
	}
}

// TestBuildSeesChangesThatHideTheirMtime: a file changed inside the jail
// with its mtime put back is still a change (its ctime moved).
func TestBuildSeesChangesThatHideTheirMtime(t *testing.T) {
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/true]\n")
	mustBuild(t, m, Options{})
	f := filepath.Join(dir, "jail", "bin", "true")
	fi, _ := os.Stat(f)
	data, _ := os.ReadFile(f)
	data[len(data)-1] ^= 0xff
	os.WriteFile(f, data, 0o755)
	os.Chtimes(f, fi.ModTime(), fi.ModTime())
	if s := mustBuild(t, m, Options{}); s.UpToDate {
		t.Fatal("a file changed in the jail with its mtime reset left the jail up to date")
	}
	if problems, err := inspect.Check(filepath.Join(dir, "jail")); err != nil || len(problems) > 0 {
		t.Errorf("after the rebuild, Check = %v, %v", problems, err)
	}
}
