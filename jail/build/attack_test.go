package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/inspect"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
)

func TestRefusesNonJailOutput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "precious")
	os.Mkdir(out, 0o755)
	keep := filepath.Join(out, "thesis.tex")
	os.WriteFile(keep, []byte("years of work"), 0o644)
	m := testutil.LoadManifest(t, testutil.WriteManifest(t, dir, "m.yaml", "version: 1\noutput: ./precious\n"))
	_, err := Build(context.Background(), m, Options{})
	if !errors.Is(err, lockfile.ErrNotAJail) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("Build into a non-jail dir = %v, want ErrNotAJail mentioning --force", err)
	}
	if got, _ := os.ReadFile(keep); string(got) != "years of work" {
		t.Fatal("the refused build touched the directory")
	}
	// A plain file is refused too; an empty directory is fine.
	os.WriteFile(filepath.Join(dir, "afile"), []byte("x"), 0o644)
	if _, err := Build(context.Background(), m, Options{Output: filepath.Join(dir, "afile")}); !errors.Is(err, lockfile.ErrNotAJail) {
		t.Errorf("Build onto a file = %v, want ErrNotAJail", err)
	}
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	if _, err := Build(context.Background(), m, Options{Output: filepath.Join(dir, "empty")}); err != nil {
		t.Errorf("Build into an empty dir = %v, want success", err)
	}
	if _, err := Build(context.Background(), m, Options{Force: true}); err != nil {
		t.Fatalf("Build --force = %v", err)
	}
	if _, err := os.Stat(keep); !os.IsNotExist(err) {
		t.Error("--force did not replace the directory")
	}
}

// TestPlantedSymlinksInOldJail: whatever a jail's previous contents (a
// process inside may have replaced /etc or /lib by symlinks to host
// directories), a rebuild writes only into its own fresh tree.
func TestPlantedSymlinksInOldJail(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "host-etc")
	os.Mkdir(victim, 0o755)
	text := "version: 1\nbinaries: [/bin/cat]\nfiles: [{dest: /etc/motd, content: \"%s\"}]\nusers: [{name: u, uid: 1000}]\n"
	m := testutil.WriteManifest(t, dir, "m.yaml", fmt.Sprintf(text, "one"))
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, Options{})
	for _, d := range []string{"etc", "lib", "bin"} {
		os.RemoveAll(filepath.Join(out, d))
		if err := os.Symlink(victim, filepath.Join(out, d)); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(victim, filepath.Join(out, "home"))
	testutil.WriteManifest(t, dir, "m.yaml", fmt.Sprintf(text, "two"))
	mustBuild(t, m, Options{})
	if ents, _ := os.ReadDir(victim); len(ents) > 0 {
		t.Fatalf("the rebuild wrote into the host directory: %v", ents)
	}
	if fi, err := os.Lstat(filepath.Join(out, "etc")); err != nil || !fi.IsDir() {
		t.Errorf("jail/etc = %v, %v; want a real directory again", fi, err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "etc/motd")); string(got) != "two" {
		t.Errorf("motd = %q, want two", got)
	}
}

// TestManifestSymlinksStayInside: links in a manifest or in a copied tree
// are created as links and never followed out of the jail by the build.
func TestManifestSymlinksStayInside(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.Mkdir(victim, 0o755)
	tree := filepath.Join(dir, "tree")
	os.Mkdir(tree, 0o755)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("host secret"), 0o600)
	os.Symlink(secret, filepath.Join(tree, "abs-link"))
	os.Symlink("../secret", filepath.Join(tree, "rel-link"))
	m := testutil.WriteManifest(t, dir, "m.yaml", fmt.Sprintf(`version: 1
symlinks:
  - { path: /etc, target: %s }
  - { path: /up, target: ../../../../../%s }
files:
  - { dest: /etc/planted, content: "x" }
  - { dest: /up/planted2, content: "y" }
  - { src: ./tree, dest: /tree }
`, victim, strings.TrimPrefix(victim, "/")))
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, Options{})
	if ents, _ := os.ReadDir(victim); len(ents) > 0 {
		t.Fatalf("the build wrote through a manifest symlink into the host: %v", ents)
	}
	if got, err := os.ReadFile(filepath.Join(out, victim, "planted")); err != nil || string(got) != "x" {
		t.Errorf("jail%s/planted = %q, %v; want the file inside the jail", victim, got, err)
	}
	for _, l := range []string{"abs-link", "rel-link"} {
		fi, err := os.Lstat(filepath.Join(out, "tree", l))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("jail/tree/%s = %v, %v; want a symlink, not the host file's content", l, fi, err)
		}
	}
}

// builder starts this test binary as a `jailer build` process.
func builder(manifest, out string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JAILER_TEST_BUILD="+manifest+":"+out)
	return cmd
}

// bigManifest writes a manifest whose build takes a while: many files, all
// holding tag, so that any file shows which build wrote it.
func bigManifest(t *testing.T, dir, name, tag string) string {
	t.Helper()
	src := filepath.Join(dir, name+"-src")
	os.MkdirAll(src, 0o755)
	data := bytes.Repeat([]byte(tag), 16<<10)
	for i := 0; i < 300; i++ {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), data, 0o644)
	}
	return testutil.WriteManifest(t, dir, name+".yaml", fmt.Sprintf("version: 1\nbinaries: [/bin/cat]\nfiles: [{src: ./%s-src, dest: /data}, {dest: /tag, content: %q}]\n", name, tag))
}

// wholeJail asserts that out is entirely the jail of one build: every data
// file carries the same tag as /tag, and cat runs.
func wholeJail(t *testing.T, out string) string {
	t.Helper()
	tag, err := os.ReadFile(filepath.Join(out, "tag"))
	if err != nil {
		t.Fatalf("jail has no /tag: %v", err)
	}
	want := bytes.Repeat(tag, 16<<10)
	files, _ := filepath.Glob(filepath.Join(out, "data", "f*"))
	if len(files) != 300 {
		t.Fatalf("jail has %d data files, want 300 (a half-built tree)", len(files))
	}
	for _, f := range files {
		if got, _ := os.ReadFile(f); !bytes.Equal(got, want) {
			t.Fatalf("%s does not match /tag %q: a mixed tree", f, tag)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bin", "cat")); err != nil {
		t.Fatalf("jail lost /bin/cat: %v", err)
	}
	return string(tag)
}

// TestKilledBuildLeavesPreviousJail kills builds with SIGKILL at many
// moments and checks that the jail is always one whole build, and that the
// next build cleans up what the killed ones left.
func TestKilledBuildLeavesPreviousJail(t *testing.T) {
	testutil.SkipShort(t, "builds many times")
	dir := t.TempDir()
	out := filepath.Join(dir, "jail")
	a, b := bigManifest(t, dir, "a", "A"), bigManifest(t, dir, "b", "B")
	mustBuild(t, a, Options{Output: out})
	start := time.Now()
	if err := builder(b, out).Run(); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	mustBuild(t, a, Options{Output: out})
	kills := 0
	for i := 0; i < 12; i++ {
		cmd := builder([]string{a, b}[i%2], out)
		cmd.Env = append(cmd.Env, "JAILER_TEST_FORCE=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(full * time.Duration(i) / 12)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			kills++
		}
		wholeJail(t, out)
	}
	t.Logf("%d of 12 builds killed before they finished (a full build takes %v)", kills, full)
	mustBuild(t, b, Options{Output: out})
	if got := wholeJail(t, out); got != "B" {
		t.Errorf("after a complete build the jail is %q, want B", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".jail.jailer-staging-*")); len(left) > 0 {
		t.Errorf("killed builds' leftovers survive the next build: %v", left)
	}
	if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
		t.Errorf("Check after the final build = %v, %v", problems, err)
	}
}

// TestRacingBuilds runs two builds of one output at once: they are
// serialised, and the result is always one of them, whole, with its lock.
func TestRacingBuilds(t *testing.T) {
	testutil.SkipShort(t, "builds many times")
	dir := t.TempDir()
	out := filepath.Join(dir, "jail")
	a, b := bigManifest(t, dir, "a", "A"), bigManifest(t, dir, "b", "B")
	for round := 0; round < 4; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, m := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out, err := builder(m, out).CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("%v: %s", err, out)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("racing build failed: %v", err)
			}
		}
		wholeJail(t, out)
		if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
			t.Fatalf("round %d: Check = %v, %v; want the lock to match the tree", round, problems, err)
		}
	}
}

// TestStaleLockDoesNotVouchForAnotherDir: a directory put where a jail was
// (its lock still beside it) is not a jail, and is not replaced.
func TestStaleLockDoesNotVouchForAnotherDir(t *testing.T) {
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{dest: /x, content: x}]\n")
	mustBuild(t, m, Options{})
	out := filepath.Join(dir, "jail")
	os.RemoveAll(out)
	os.Mkdir(out, 0o755)
	os.WriteFile(filepath.Join(out, "precious.txt"), []byte("keep me"), 0o644)
	if _, err := Build(context.Background(), testutil.LoadManifest(t, m), Options{}); !errors.Is(err, lockfile.ErrNotAJail) {
		t.Fatalf("Build over a directory its lock does not describe = %v, want ErrNotAJail", err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "precious.txt")); string(got) != "keep me" {
		t.Fatal("the directory was replaced")
	}
}

// TestLeftoversMatchedExactly: an output whose name has glob characters
// does not take another output's staging files for its own.
func TestLeftoversMatchedExactly(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, ".jfoo.jailer-staging-0123456789ab")
	os.Mkdir(other, 0o755)
	mine := filepath.Join(dir, ".j*.jailer-staging-abcdefabcdef")
	os.Mkdir(mine, 0o755)
	notOurs := filepath.Join(dir, ".j*.jailer-staging-not-hex-at-all")
	os.Mkdir(notOurs, 0o755)
	got := leftovers(filepath.Join(dir, "j*"))
	if len(got) != 1 || got[0] != mine {
		t.Errorf("leftovers(j*) = %v, want only %s", got, mine)
	}
}

// TestRebuildLeavesMountsAlone: something mounted inside an old jail on
// the host is not deleted when the rebuild removes the old tree.
func TestRebuildLeavesMountsAlone(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\ndirs: [/home]\n")
	mustBuild(t, m, Options{})
	home := filepath.Join(dir, "jail", "home")
	if err := syscall.Mount("tmpfs", home, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "precious"), []byte("keep"), 0o644)
	mustBuild(t, m, Options{Force: true})
	// The old tree, mount and all, was swapped aside and left there.
	left := leftovers(filepath.Join(dir, "jail"))
	if len(left) != 1 {
		syscall.Unmount(home, syscall.MNT_DETACH)
		t.Fatalf("leftovers = %v, want the old tree kept for its mount", left)
	}
	old := filepath.Join(left[0], "home")
	defer syscall.Unmount(old, syscall.MNT_DETACH)
	if got, err := os.ReadFile(filepath.Join(old, "precious")); err != nil || string(got) != "keep" {
		t.Errorf("a file on a mount inside the old jail = %q, %v; want it kept", got, err)
	}
}
