package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func sum(data string) string {
	s := sha256.Sum256([]byte(data))
	return hex.EncodeToString(s[:])
}

// add writes data into s under k.
func add(t *testing.T, s *Store, k Key, data string, replace bool) {
	t.Helper()
	tmp, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Commit(k, replace); err != nil {
		t.Fatalf("Commit(%s) = %v", k.Name(), err)
	}
}

// openDir opens dir for Link.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func stat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func mustOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(s.Close)
	return s
}

func me() (int, int) { return os.Geteuid(), os.Getegid() }

func TestKeyNames(t *testing.T) {
	uid, gid := me()
	for _, tt := range []struct {
		key  Key
		base string // the name without the sum
	}{
		{Key{SHA256: sum("a"), Mode: 0o644, UID: uid, GID: gid, Mtime: 1}, "-0444-%d-%d-1"},
		{Key{SHA256: sum("b"), Mode: 0o755, UID: 0, GID: 0, Mtime: 1700000000123456789}, "-0555-0-0-1700000000123456789"},
		{Key{SHA256: sum("c"), Mode: 0o755 | fs.ModeSetuid, UID: 0, GID: 5}, "-4555-0-5-0"},
		{Key{SHA256: sum("d"), Mode: 0o777 | fs.ModeSetgid | fs.ModeSticky}, "-3555-0-0-0"},
	} {
		name := tt.key.Name()
		want := "objects/" + tt.key.SHA256[:2] + "/" + tt.key.SHA256 + tt.base
		if strings.Contains(tt.base, "%d") {
			want = fmt.Sprintf(want, uid, gid)
		}
		if name != want {
			t.Errorf("Key%+v.Name() = %s, want %s", tt.key, name, want)
		}
		back, ok := ParseName(filepath.Base(name))
		// The name keeps the stored mode: write bits are gone for good.
		stored := tt.key
		stored.Mode &^= 0o222
		if !ok || back != stored {
			t.Errorf("ParseName(%s) = %+v, %v; want %+v", filepath.Base(name), back, ok, stored)
		}
	}
	for _, bad := range []string{
		"", "x", sum("a"), sum("a") + "-0444-0-0", sum("a") + "-0444-0-0-1-2", sum("a") + "-444-0-0-1",
		sum("a") + "-0444-x-0-1", strings.ToUpper(sum("a")) + "-0444-0-0-1", "ab-0444-0-0-1",
		sum("a") + "-0644-0-0-1", // write bits: never a name the store makes
		sum("a") + "-0444-00-0-1",
	} {
		if k, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%q) = %+v, true; want it refused", bad, k)
		}
	}
}

// TestAddAndLink: a file added to the store has the key's mode (without
// write bits), owner and mtime, and is linked, not copied; what the store
// lacks, or has changed behind its back, is reported so that a build adds
// it again; a second add of the same key keeps the first file.
func TestAddAndLink(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "store"))
	jail := filepath.Join(dir, "jail")
	os.Mkdir(jail, 0o755)
	jfd := openDir(t, jail)
	uid, gid := me()
	k := Key{SHA256: sum("hello"), Mode: 0o755, UID: uid, GID: gid, Mtime: 1234567890123456789}

	if _, err := s.Link(k, 5, jfd, "a", false); !errors.Is(err, ErrMissing) {
		t.Fatalf("Link of a key the store lacks = %v, want ErrMissing", err)
	}
	add(t, s, k, "hello", false)
	before, err := s.Link(k, 5, jfd, "a", true)
	if err != nil {
		t.Fatalf("Link = %v", err)
	}
	obj := filepath.Join(s.Dir, k.Name())
	st, jst := stat(t, obj), stat(t, filepath.Join(jail, "a"))
	if before.Ino != st.Ino || before.Nlink != 1 || before.Size != 5 {
		t.Errorf("Link returned the stat of inode %d, %d links, %d bytes; want the store file's before the link", before.Ino, before.Nlink, before.Size)
	}
	if st.Ino != jst.Ino || st.Nlink != 2 {
		t.Fatalf("jail/a is inode %d, the store file %d with %d links: want one inode, two links", jst.Ino, st.Ino, st.Nlink)
	}
	if st.Mode&0o7777 != 0o555 || int(st.Uid) != uid || int(st.Gid) != gid || st.Mtim.Nano() != k.Mtime {
		t.Errorf("store file: mode %04o, owner %d:%d, mtime %d; want 0555, %d:%d, %d", st.Mode&0o7777, st.Uid, st.Gid, st.Mtim.Nano(), uid, gid, k.Mtime)
	}
	if _, err := s.Link(k, 4, jfd, "b", false); !errors.Is(err, ErrDamaged) {
		t.Errorf("Link with another size = %v, want ErrDamaged", err)
	}

	// Added again (a racing build): the first file stays.
	add(t, s, k, "HELLO", false)
	if data, _ := os.ReadFile(obj); string(data) != "hello" {
		t.Errorf("a second add replaced the store file: %q", data)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, tmpDir)); len(ents) != 0 {
		t.Errorf("tmp/ keeps %d files after the adds", len(ents))
	}

	// Changed behind the store's back, stat and all, then put back:
	// only verify (hashing) sees it.
	os.Chmod(obj, 0o755)
	os.WriteFile(obj, []byte("jello"), 0o755)
	os.Chmod(obj, 0o555)
	ts := []unix.Timespec{unix.NsecToTimespec(k.Mtime), unix.NsecToTimespec(k.Mtime)}
	unix.UtimesNano(obj, ts)
	if _, err := s.Link(k, 5, jfd, "c", false); err != nil {
		t.Errorf("Link without verify of a file whose stat is as made = %v, want it linked", err)
	}
	if _, err := s.Link(k, 5, jfd, "d", true); !errors.Is(err, ErrDamaged) {
		t.Errorf("Link with verify of a changed file = %v, want ErrDamaged", err)
	}
	// Made writable: its stat shows it.
	os.Chmod(obj, 0o755)
	if _, err := s.Link(k, 5, jfd, "e", false); !errors.Is(err, ErrDamaged) {
		t.Errorf("Link of a store file made writable = %v, want ErrDamaged", err)
	}
	// The repair takes the name; the jail files keep the inode they link.
	add(t, s, k, "hello", true)
	if _, err := s.Link(k, 5, jfd, "f", true); err != nil {
		t.Fatalf("Link after the repair = %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(jail, "f")); string(data) != "hello" {
		t.Errorf("repaired file = %q", data)
	}
	if stat(t, filepath.Join(jail, "f")).Ino == jst.Ino {
		t.Error("the repair kept the damaged inode")
	}
}

// TestSweep deletes the store files no tree links and what killed builds
// left in tmp/, and nothing else.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	s := mustOpen(t, sdir)
	jail := filepath.Join(dir, "jail")
	os.Mkdir(jail, 0o755)
	jfd := openDir(t, jail)
	uid, gid := me()
	used := Key{SHA256: sum("used"), Mode: 0o644, UID: uid, GID: gid}
	unused := Key{SHA256: sum("unused"), Mode: 0o644, UID: uid, GID: gid}
	add(t, s, used, "used", false)
	add(t, s, unused, "unused", false)
	if _, err := s.Link(used, 4, jfd, "used", false); err != nil {
		t.Fatal(err)
	}
	left, err := s.Create() // a build killed while writing
	if err != nil {
		t.Fatal(err)
	}
	left.WriteString("partial")
	left.Close()
	// Names the store does not make are never taken.
	foreign := filepath.Join(sdir, "objects", unused.SHA256[:2], "notes.txt")
	os.WriteFile(foreign, []byte("mine"), 0o600)
	os.WriteFile(filepath.Join(sdir, tmpDir, "other"), []byte("mine"), 0o600)
	s.Close()

	w, err := Sweep(context.Background(), sdir)
	if err != nil {
		t.Fatal(err)
	}
	if w.Removed != 2 || w.InUse != 1 || w.Bytes <= 0 || w.InUseBytes <= 0 {
		t.Errorf("Sweep = %+v; want 2 removed (the unused file and the partial one), 1 in use", w)
	}
	for p, want := range map[string]bool{
		filepath.Join(sdir, used.Name()):     true,
		filepath.Join(sdir, unused.Name()):   false,
		left.Name():                          false,
		foreign:                              true,
		filepath.Join(sdir, tmpDir, "other"): true,
		filepath.Join(jail, "used"):          true,
	} {
		if _, err := os.Lstat(p); (err == nil) != want {
			t.Errorf("after Sweep, %s exists: %v, want %v", p, err == nil, want)
		}
	}
	if w, err := Sweep(context.Background(), filepath.Join(dir, "none")); w != nil || err != nil {
		t.Errorf("Sweep of a store that does not exist = %v, %v; want nil, nil", w, err)
	}
}

// TestSweepWaitsForBuilds: a build that has the store open keeps Sweep
// out, and a Sweep waiting for it keeps new builds out, so that builds
// that overlap cannot keep it waiting for ever.
func TestSweepWaitsForBuilds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	uid, gid := me()
	k := Key{SHA256: sum("new"), Mode: 0o644, UID: uid, GID: gid}
	build := mustOpen(t, dir)
	add(t, build, k, "new", false) // added, not yet linked: one link

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sweep(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sweep while a build has the store open = %v, want it to wait (and give up)", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, k.Name())); err != nil {
		t.Fatalf("Sweep took the file a build just added: %v", err)
	}

	swept := make(chan error, 1)
	go func() {
		_, err := Sweep(context.Background(), dir)
		swept <- err
	}()
	// Once the Sweep holds the gate, a new build waits.
	gate, err := unix.Open(filepath.Join(dir, gateName), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(gate)
	for unix.Flock(gate, unix.LOCK_SH|unix.LOCK_NB) == nil {
		unix.Flock(gate, unix.LOCK_UN)
		select {
		case err := <-swept:
			t.Fatalf("Sweep returned (%v) while a build had the store open", err)
		case <-time.After(time.Millisecond): // let the Sweep take it
		}
	}
	if _, err := Open(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open while a Sweep waits = %v, want it to wait behind the Sweep", err)
	}
	build.Close()
	if err := <-swept; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, k.Name())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the unlinked file survived the Sweep after the build ended: %v", err)
	}
	mustOpen(t, dir) // and builds go on
}

// TestStoreMustBeMine: a store another user owns, or may write in, is
// refused: a user who can rename files in root's store could make its
// builds link the wrong file.
func TestStoreMustBeMine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	mustOpen(t, dir).Close()
	os.Chmod(dir, 0o775)
	if _, err := Open(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "store "+dir+": it is writable by others (mode 0775): chmod go-w it, or use another store") {
		t.Errorf("Open of a group-writable store = %v", err)
	}
	os.Chmod(dir, 0o700)
	os.Chmod(filepath.Join(dir, objectsDir), 0o777)
	if _, err := Sweep(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "its objects/ is writable by others") {
		t.Errorf("Sweep of a store whose objects/ is world-writable = %v", err)
	}
	os.Chmod(filepath.Join(dir, objectsDir), 0o700)
	if os.Geteuid() != 0 {
		return
	}
	os.Chown(dir, 1000, 1000)
	if _, err := Open(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "it belongs to uid 1000, not to you (uid 0): use a store of your own (--store DIR, or JAILER_STORE)") {
		t.Errorf("Open of a store uid 1000 owns, as root = %v", err)
	}
}

func TestDir(t *testing.T) {
	t.Setenv(Env, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	want := "/cache/jailer/store"
	if os.Geteuid() == 0 {
		want = RootDir
	}
	for _, tt := range []struct{ flag, env, want string }{
		{"", "", want},
		{"", "/srv/store", "/srv/store"},
		{"/given", "/srv/store", "/given"},
	} {
		t.Setenv(Env, tt.env)
		if got, err := Dir(tt.flag); err != nil || got != tt.want {
			t.Errorf("Dir(%q) with %s=%q = %q, %v; want %q", tt.flag, Env, tt.env, got, err, tt.want)
		}
	}
}
