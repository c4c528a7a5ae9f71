package build

import (
	"context"
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
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/jail/store"

	"golang.org/x/sys/unix"
)

// storeManifest writes NAME.yaml in dir: cat and ls, the shared data
// files in dir/shared, a file of its own, and a file written from the
// manifest.
func storeManifest(t *testing.T, dir, name string) string {
	t.Helper()
	shared := filepath.Join(dir, "shared")
	if _, err := os.Stat(shared); err != nil {
		os.Mkdir(shared, 0o755)
		for i := range 20 {
			os.WriteFile(filepath.Join(shared, fmt.Sprintf("f%02d", i)), []byte(strings.Repeat(fmt.Sprint(i), 4096)), 0o644)
		}
	}
	os.WriteFile(filepath.Join(dir, name+".txt"), []byte("only "+name+"\n"), 0o600)
	return testutil.WriteManifest(t, dir, name+".yaml", fmt.Sprintf(`version: 1
binaries: [/bin/cat, /bin/ls]
files:
  - { src: ./shared, dest: /data }
  - { src: ./%s.txt, dest: /own.txt }
  - { dest: /etc/motd, content: "%s\n" }
`, name, name))
}

func statT(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// mustCheck fails the test when jailer check finds a problem in out.
func mustCheck(t *testing.T, out string) {
	t.Helper()
	if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
		t.Fatalf("Check(%s) = %v, %v", out, problems, err)
	}
}

// storeFiles maps each store file of dir to its link count, and fails
// the test when one's content is not the sum its name says or tmp/ has
// files left.
func storeFiles(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	files := map[string]uint64{}
	all, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*"))
	for _, p := range all {
		k, ok := store.ParseName(filepath.Base(p))
		if !ok {
			t.Errorf("%s: not a name the store makes", p)
			continue
		}
		if got := fileSHA256(t, p); got != k.SHA256 {
			t.Errorf("%s: content's sum is %s", p, got)
		}
		files[p] = statT(t, p).Nlink
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) > 0 {
		t.Errorf("the store's tmp/ keeps %d files", len(left))
	}
	return files
}

// TestBuildStore: two jails of two manifests share the inodes of the
// files they have in common, through the store; store files have no
// write bits, the lock names them, the jails check clean and stay up to
// date when another jail links their files (which changes the files'
// ctime), and a file written from the manifest is copied.
func TestBuildStore(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	a, b := storeManifest(t, dir, "a"), storeManifest(t, dir, "b")
	ja, jb := filepath.Join(dir, "a.jail"), filepath.Join(dir, "b.jail")
	opts := Options{Link: lockfile.LinkStore, Store: sdir}
	sa := mustBuild(t, a, Options{Output: ja, Link: lockfile.LinkStore, Store: sdir})
	opts.Output = jb
	sb := mustBuild(t, b, opts)
	// cat, ls, their libraries, 20 data files and own.txt; motd is written.
	if sa.Stored != sa.Files-1 || sb.Stored != sb.Files-1 {
		t.Errorf("stored %d of %d and %d of %d files; want all but /etc/motd", sa.Stored, sa.Files, sb.Stored, sb.Files)
	}
	for _, p := range []string{"bin/cat", "bin/ls", "data/f07"} {
		fa, fb := statT(t, filepath.Join(ja, p)), statT(t, filepath.Join(jb, p))
		if fa.Ino != fb.Ino || fa.Nlink != 3 {
			t.Errorf("/%s: inodes %d and %d, %d links; want one inode, linked by the store and both jails", p, fa.Ino, fb.Ino, fa.Nlink)
		}
	}
	if fa, fb := statT(t, filepath.Join(ja, "own.txt")), statT(t, filepath.Join(jb, "own.txt")); fa.Ino == fb.Ino {
		t.Error("/own.txt differs between the jails but is one inode")
	}
	if st := statT(t, filepath.Join(ja, "etc/motd")); st.Nlink != 1 || st.Mode&0o777 != 0o644 {
		t.Errorf("/etc/motd: %d links, mode %o; want a copy with the manifest's mode", st.Nlink, st.Mode&0o777)
	}
	if st := statT(t, filepath.Join(ja, "own.txt")); st.Mode&0o7777 != 0o400 || st.Uid != 0 {
		t.Errorf("/own.txt: mode %04o, owner %d; want 0400 (0600 without write bits), root", st.Mode&0o7777, st.Uid)
	}
	e := lockEntry(t, ja, "/bin/cat")
	if e.Store == "" || e.Mode != "0755" || !strings.HasSuffix(e.Store, "-0555-0-0-"+fmt.Sprint(e.SourceStat.Mtime)) {
		t.Errorf("lock entry of /bin/cat = %+v; want the store file named, mode 0755 (the tree's 0555)", e)
	}
	if lock, _ := lockfile.Read(ja); lock.Link != lockfile.LinkStore || lock.Store != sdir {
		t.Errorf("lock: link %q, store %q", lock.Link, lock.Store)
	}
	mustCheck(t, ja)
	mustCheck(t, jb)
	files := storeFiles(t, sdir)
	if len(files) != sa.Stored+1 { // b adds its own.txt
		t.Errorf("the store has %d files, want %d", len(files), sa.Stored+1)
	}
	// b linked a's files since a was built: a is still up to date.
	if s := mustBuild(t, a, Options{Output: ja, Link: lockfile.LinkStore, Store: sdir}); !s.UpToDate {
		t.Errorf("a rebuilt after b linked its files: %s", s.Reason)
	}
	// Another store, or another link mode, rebuilds.
	if s := mustBuild(t, a, Options{Output: ja, Link: lockfile.LinkStore, Store: filepath.Join(dir, "other")}); s.UpToDate || s.Reason.Kind != lockfile.OtherStore {
		t.Errorf("a build with another store: %v, %s", s.UpToDate, s.Reason)
	}
	if s := mustBuild(t, a, Options{Output: ja}); s.UpToDate || s.Reason.Kind != lockfile.OtherLink || s.Stored != 0 {
		t.Errorf("a copying build of a stored jail: %v, %s, %d stored", s.UpToDate, s.Reason, s.Stored)
	}
	if st := statT(t, filepath.Join(ja, "bin/cat")); st.Nlink != 1 || st.Mode&0o777 != 0o755 {
		t.Errorf("copied /bin/cat: %d links, mode %o", st.Nlink, st.Mode&0o777)
	}
}

// TestBuildStoreFromEnvironment: JAILER_LINK and JAILER_STORE, then the
// manifest's link:, choose the link mode of builds that do not.
func TestBuildStoreFromEnvironment(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	m := storeManifest(t, dir, "a")
	out := filepath.Join(dir, "jail")
	t.Setenv(LinkEnv, lockfile.LinkStore)
	t.Setenv(store.Env, filepath.Join(dir, "env-store"))
	if s := mustBuild(t, m, Options{Output: out}); s.Stored == 0 {
		t.Errorf("JAILER_LINK=store built %s without the store", s)
	}
	if lock, _ := lockfile.Read(out); lock.Store != filepath.Join(dir, "env-store") {
		t.Errorf("store = %q, want JAILER_STORE's", lock.Store)
	}
	if s := mustBuild(t, m, Options{Output: out, Link: lockfile.LinkCopy}); s.Stored != 0 || s.Reason.Kind != lockfile.OtherLink {
		t.Errorf("--link copy over JAILER_LINK=store: %s (%s)", s, s.Reason)
	}
	t.Setenv(LinkEnv, "")
	os.WriteFile(m, append([]byte("link: store\n"), must(os.ReadFile(m))...), 0o644)
	if s := mustBuild(t, m, Options{Output: out}); s.Stored == 0 {
		t.Errorf("a manifest with link: store built %s without the store", s)
	}
	t.Setenv(LinkEnv, "copy")
	if s := mustBuild(t, m, Options{Output: out}); s.Stored != 0 {
		t.Errorf("JAILER_LINK=copy over the manifest's link: store built %s", s)
	}
	t.Setenv(LinkEnv, "symlink")
	if _, err := Build(context.Background(), testutil.LoadManifest(t, m), Options{Output: out}); err == nil || !strings.Contains(err.Error(), `JAILER_LINK="symlink": unknown link mode (use copy, hardlink, store)`) {
		t.Errorf("Build with JAILER_LINK=symlink = %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestStoreOwner: a build by root stores root's files only: another owner
// could make a store file writable.
func TestStoreOwner(t *testing.T) {
	for _, tt := range []struct {
		e        plan.Entry
		uid, gid int
		ok       bool
	}{
		{plan.Entry{}, 0, 0, true},
		{plan.Entry{GID: 42}, 0, 42, true},
		{plan.Entry{UID: 1000, GID: 1000}, 1000, 1000, false},
	} {
		uid, gid, ok := storeOwner(tt.e)
		if lockfile.BuildsRootless() {
			tt.uid, tt.gid, tt.ok = os.Geteuid(), os.Getegid(), true
		}
		if uid != tt.uid || gid != tt.gid || ok != tt.ok {
			t.Errorf("storeOwner(%d:%d) = %d, %d, %v; want %d, %d, %v", tt.e.UID, tt.e.GID, uid, gid, ok, tt.uid, tt.gid, tt.ok)
		}
	}
}

// storeBuilder is builder with --link store into the store sdir and a
// host cache of its own (cold: the build copies every file into the
// store, hashing it).
func storeBuilder(t *testing.T, m, out, sdir string) *exec.Cmd {
	cmd := builder(m, out)
	cmd.Env = append(cmd.Env, LinkEnv+"=store", store.Env+"="+sdir, "JAILER_CACHE_DIR="+t.TempDir())
	return cmd
}

// TestBuildStoreConcurrent: builds of several jails into one store at
// once, each adding the files it lacks: all succeed, each file is in the
// store once, and every jail links it.
func TestBuildStoreConcurrent(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipShort(t, "builds many times")
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		m := storeManifest(t, dir, fmt.Sprintf("j%d", i))
		wg.Go(func() {
			if out, err := storeBuilder(t, m, filepath.Join(dir, fmt.Sprintf("j%d.jail", i)), sdir).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("a concurrent build failed: %v", err)
		}
	}
	var cat uint64
	for i := range n {
		out := filepath.Join(dir, fmt.Sprintf("j%d.jail", i))
		mustCheck(t, out)
		st := statT(t, filepath.Join(out, "bin/cat"))
		if cat == 0 {
			cat = st.Ino
		}
		if st.Ino != cat {
			t.Errorf("j%d's /bin/cat is inode %d, j0's %d: want one inode", i, st.Ino, cat)
		}
	}
	for p, links := range storeFiles(t, sdir) {
		if links != n+1 && links != 2 { // shared by all, or one jail's own.txt
			t.Errorf("%s: %d links, want %d (or 2 for a jail's own file)", p, links, n+1)
		}
	}
}

// TestBuildStoreKilled kills builds into a store with SIGKILL at many
// moments: each jail stays whole, no store file is ever partial, and what
// the killed builds left (files being written, store files no tree
// links) goes at the next gc.
func TestBuildStoreKilled(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipShort(t, "builds many times")
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	out := filepath.Join(dir, "jail")
	a, b := bigManifest(t, dir, "a", "A"), bigManifest(t, dir, "b", "B")
	start := time.Now()
	if o, err := storeBuilder(t, a, out, sdir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, o)
	}
	full := time.Since(start)
	kills := 0
	for i := range 12 {
		cmd := storeBuilder(t, []string{b, a}[i%2], out, sdir)
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
	// Every store file is whole, whatever the kills left in tmp/.
	all, _ := filepath.Glob(filepath.Join(sdir, "objects", "*", "*"))
	for _, p := range all {
		if k, _ := store.ParseName(filepath.Base(p)); fileSHA256(t, p) != k.SHA256 {
			t.Errorf("%s: partial or damaged", p)
		}
	}
	got, err := GC([]string{out})
	if err != nil {
		t.Fatal(err)
	}
	if err := GCStore(context.Background(), got, sdir); err != nil {
		t.Fatal(err)
	}
	for p, links := range storeFiles(t, sdir) {
		if links < 2 {
			t.Errorf("%s: no tree links it, but gc kept it", p)
		}
	}
	mustCheck(t, out)
	mustBuild(t, b, Options{Output: out, Link: lockfile.LinkStore, Store: sdir})
	if got := wholeJail(t, out); got != "B" {
		t.Errorf("after a complete build the jail is %q, want B", got)
	}
	mustCheck(t, out)
}

// TestGCDuringBuilds sweeps the store again and again while builds with a
// cold host cache add files to it: no build fails (none loses a file it
// is writing or has added but not yet linked), every jail checks clean
// and every store file its lock names is the file in its tree.
func TestGCDuringBuilds(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipShort(t, "builds many times")
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	const n = 4
	done := make(chan struct{})
	var sweeps int
	var swept sync.WaitGroup
	swept.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := store.Sweep(context.Background(), sdir); err != nil {
				t.Errorf("Sweep during the builds = %v", err)
				return
			}
			sweeps++
			time.Sleep(200 * time.Microsecond) // let the builds have the machine
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		m := bigManifest(t, dir, fmt.Sprintf("m%d", i), fmt.Sprint(i))
		wg.Go(func() {
			for round := range 2 {
				cmd := storeBuilder(t, m, filepath.Join(dir, fmt.Sprintf("j%d.jail", i)), sdir)
				if round > 0 {
					cmd.Env = append(cmd.Env, "JAILER_TEST_FORCE=1")
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("%v: %s", err, out)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	swept.Wait()
	t.Logf("%d sweeps ran during the builds", sweeps)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("a build failed while gc swept the store: %v", err)
		}
	}
	for i := range n {
		out := filepath.Join(dir, fmt.Sprintf("j%d.jail", i))
		mustCheck(t, out)
		lock, _ := lockfile.Read(out)
		for _, e := range lock.Entries {
			if e.Store == "" {
				continue
			}
			if st, tst := statT(t, filepath.Join(sdir, e.Store)), statT(t, filepath.Join(out, e.Dest)); st.Ino != tst.Ino {
				t.Errorf("%s%s is not its store file %s", out, e.Dest, e.Store)
			}
		}
	}
}

// TestStoreFileModified: a store file changed behind jailer's back is
// found by check in every jail that links it, and a build replaces it:
// by its stat when that changed, and with --force (which hashes the store
// files it reuses) when the stat was put back.
func TestStoreFileModified(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	ja, jb := filepath.Join(dir, "a.jail"), filepath.Join(dir, "b.jail")
	a, b := storeManifest(t, dir, "a"), storeManifest(t, dir, "b")
	mustBuild(t, a, Options{Output: ja, Link: lockfile.LinkStore, Store: sdir})
	mustBuild(t, b, Options{Output: jb, Link: lockfile.LinkStore, Store: sdir})
	e := lockEntry(t, ja, "/data/f03")
	obj := filepath.Join(sdir, e.Store)
	want := must(os.ReadFile(obj))

	for _, tt := range []struct {
		name   string
		tamper func()
		force  bool   // the stat is put back: only --force sees it
		msg    string // check's problem
	}{
		{"appended", func() {
			os.Chmod(obj, 0o644)
			f := must(os.OpenFile(obj, os.O_APPEND|os.O_WRONLY, 0))
			f.WriteString("evil")
			f.Close()
			os.Chmod(obj, 0o444)
		}, false, "its store file %s changed: is 4100 bytes, the lock says 4096"},
		{"made writable", func() { os.Chmod(obj, 0o644) }, false, "its store file %s changed: mode is 0644, want 0444 (a store file: the lock's 0644 without write bits)"},
		{"rewritten, stat put back", func() {
			st := statT(t, obj)
			os.Chmod(obj, 0o644)
			os.WriteFile(obj, []byte(strings.Repeat("E", len(want))), 0o644)
			os.Chmod(obj, 0o444)
			unix.UtimesNano(obj, []unix.Timespec{st.Mtim, st.Mtim})
		}, true, "its store file %s changed: its sha256 is not the one in its name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj = filepath.Join(sdir, lockEntry(t, ja, "/data/f03").Store)
			tt.tamper()
			for _, j := range []string{ja, jb} {
				problems, err := inspect.Check(j)
				if err != nil || len(problems) != 1 || problems[0].Path != "/data/f03" {
					t.Fatalf("Check(%s) after the store file was %s = %v, %v; want one problem, /data/f03", j, tt.name, problems, err)
				}
				if want := strings.ReplaceAll(tt.msg, "%s", obj); !strings.Contains(problems[0].Msg, want) {
					t.Errorf("Check(%s): %s; want %q", j, problems[0].Msg, want)
				}
			}
			s := mustBuild(t, a, Options{Output: ja, Link: lockfile.LinkStore, Store: sdir})
			if tt.force {
				if !s.UpToDate {
					t.Fatalf("a build saw a change whose stat was put back: %s", s.Reason)
				}
				s = mustBuild(t, a, Options{Output: ja, Link: lockfile.LinkStore, Store: sdir, Force: true})
			}
			if s.UpToDate || s.Stored != s.Files-1 {
				t.Fatalf("the build after the store file was %s: %s", tt.name, s)
			}
			mustCheck(t, ja)
			if got := must(os.ReadFile(filepath.Join(ja, "data/f03"))); string(got) != string(want) {
				t.Errorf("rebuilt /data/f03 = %.20q..., want the host's", got)
			}
			if got := must(os.ReadFile(obj)); string(got) != string(want) {
				t.Errorf("the store file was not replaced: %.20q...", got)
			}
			// b still links the damaged file until it is rebuilt, and then
			// shares a's again.
			if _, err := inspect.Check(jb); err != nil {
				t.Fatal(err)
			}
			mustBuild(t, b, Options{Output: jb, Link: lockfile.LinkStore, Store: sdir, Force: tt.force})
			mustCheck(t, jb)
			if statT(t, filepath.Join(ja, "data/f03")).Ino != statT(t, filepath.Join(jb, "data/f03")).Ino {
				t.Error("after both rebuilds the jails do not share /data/f03")
			}
		})
	}
}

// TestBuildStoreCrossDevice: a store on another filesystem than the jail
// cannot be linked from: the build copies, says so once, and the jail is
// up to date and clean.
func TestBuildStoreCrossDevice(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	os.Mkdir(sdir, 0o700)
	if err := unix.Mount("tmpfs", sdir, "tmpfs", 0, "size=16m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(sdir, unix.MNT_DETACH)
	m := storeManifest(t, dir, "a")
	opts := Options{Link: lockfile.LinkStore, Store: sdir}
	s := mustBuild(t, m, opts)
	if s.Stored != 0 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "is on another filesystem than the jail: its files were copied") {
		t.Errorf("build with a store on another filesystem: %s, warnings %q", s, s.Warnings)
	}
	out := filepath.Join(dir, "jail")
	mustCheck(t, out)
	if st := statT(t, filepath.Join(out, "bin/cat")); st.Nlink != 1 || st.Mode&0o777 != 0o755 {
		t.Errorf("/bin/cat: %d links, mode %o; want a copy", st.Nlink, st.Mode&0o777)
	}
	if s := mustBuild(t, m, opts); !s.UpToDate {
		t.Errorf("rebuild: %s", s.Reason)
	}
	if ents, _ := os.ReadDir(filepath.Join(sdir, "objects")); len(ents) != 0 {
		t.Errorf("the store got %d directories of files it cannot link", len(ents))
	}
}
