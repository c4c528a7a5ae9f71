package lockfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/manifest"
)

// checkLock writes a lock of a few entries of every kind beside a jail
// directory, and its check file, and returns the jail's path.
func checkLock(t *testing.T) (string, *Lock) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "jail")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &Lock{Format: Format, Name: "jail", Digest: "d1", Inputs: []Input{{Path: "/m.yaml", Stat: Stat{Dev: 1, Ino: 2}}}, Entries: []Entry{
		{Dest: "/bin", Kind: plan.KindDir, Mode: "0755", Why: "skeleton"},
		{Dest: "/bin/sh", Kind: plan.KindFile, Source: "/usr/bin/dash", Mode: "0755", Size: 9, SHA256: "ab", UID: 3,
			SourceStat: Stat{Dev: 1, Ino: 1 << 40, Size: 9, Mtime: -5}, TreeStat: Stat{Dev: 2, Ino: 7, Size: 9, Mtime: 1e18, Ctime: 1e18 + 1}},
		{Dest: "/bin/bash", Kind: plan.KindSymlink, Target: "sh", Mode: "0777"},
		{Dest: "/dev/null", Kind: plan.KindDevice, Mode: "0666", Major: 1, Minor: 3},
		{Dest: "/lib/x.so", Kind: plan.KindFile, Store: "ab/cdef", Mode: "0444", TreeStat: Stat{Ino: 9}},
	}}
	data, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Path(dir), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheck(dir, data); err != nil {
		t.Fatal(err)
	}
	return dir, l
}

// forCheck is e with only what the check file keeps.
func forCheck(e Entry) Entry {
	return Entry{Dest: e.Dest, Kind: e.Kind, Source: e.Source, Target: e.Target, Mode: e.Mode, Store: e.Store, SourceStat: e.SourceStat, TreeStat: e.TreeStat}
}

// TestReadForCheck: the check file gives back every field Staleness looks
// at, the settings come from the lock; a lock edited or replaced after
// the check file was written, or a check file missing, cut short, with
// bytes after its end or of another encoding, is passed over for the
// lock itself, with everything in it.
func TestReadForCheck(t *testing.T) {
	dir, l := checkLock(t)
	got, err := ReadForCheck(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for _, e := range l.Entries {
		want = append(want, forCheck(e))
	}
	if !reflect.DeepEqual(got.Entries, want) || got.Digest != "d1" || len(got.Inputs) != 1 || got.Name != "jail" {
		t.Fatalf("ReadForCheck = %+v\nwant entries %+v and the lock's settings", got, want)
	}
	if fi, err := os.Stat(CheckPath(dir)); err != nil || fi.Mode().Perm() != 0o644 || !strings.HasPrefix(filepath.Base(CheckPath(dir)), ".jail.") {
		t.Errorf("check file %s: %v, %v; want a hidden file of mode 0644 beside the jail", CheckPath(dir), fi, err)
	}

	data, _ := os.ReadFile(CheckPath(dir))
	lockData, _ := os.ReadFile(Path(dir))
	for _, c := range []struct {
		name  string
		spoil func()
	}{
		{"the lock edited", func() { os.WriteFile(Path(dir), append(lockData, '\n'), 0o644) }},
		{"the lock replaced by the same bytes", func() {
			os.Remove(Path(dir))
			os.WriteFile(Path(dir), lockData, 0o644)
		}},
		{"the lock touched", func() { unix.UtimesNano(Path(dir), []unix.Timespec{{Sec: 1}, {Sec: 1}}) }},
		{"no check file", func() { os.Remove(CheckPath(dir)) }},
		{"cut short", func() { os.WriteFile(CheckPath(dir), data[:len(data)-3], 0o644) }},
		{"bytes after its end", func() { os.WriteFile(CheckPath(dir), append(append([]byte{}, data...), 0), 0o644) }},
		{"another encoding", func() {
			os.WriteFile(CheckPath(dir), append([]byte(checkMagic[:len(checkMagic)-1]+"\x7f"), data[len(checkMagic):]...), 0o644)
		}},
		{"not one", func() { os.WriteFile(CheckPath(dir), []byte("{}"), 0o644) }},
		{"a symlink to it", func() {
			os.Rename(CheckPath(dir), CheckPath(dir)+".real")
			os.Symlink(filepath.Base(CheckPath(dir))+".real", CheckPath(dir))
		}},
		// A FIFO would block the build, holding its output's mutex.
		{"a FIFO", func() { os.Remove(CheckPath(dir)); unix.Mkfifo(CheckPath(dir), 0o644) }},
		{"larger than the lock", func() {
			os.WriteFile(CheckPath(dir), append(append([]byte{}, data...), make([]byte, len(lockData))...), 0o644)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(Path(dir), lockData, 0o644)
			WriteCheck(dir, lockData)
			c.spoil()
			got, err := ReadForCheck(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Entries) != len(l.Entries) || got.Entries[1].SHA256 != "ab" || got.Entries[1].UID != 3 || got.Entries[0].Why != "skeleton" {
				t.Errorf("entries %+v, want the lock's own, whole", got.Entries)
			}
		})
	}
}

// TestCheckFileOfAnotherUser: in a directory others may write (/tmp),
// another user may put a check file beside a jail before its first build,
// matching the lock's identity and saying there are no entries: it is
// not believed, and the build's own cannot replace it.
func TestCheckFileOfAnotherUser(t *testing.T) {
	testutil.RequireRoot(t)
	dir, l := checkLock(t)
	data, _ := os.ReadFile(CheckPath(dir))
	var st unix.Stat_t
	unix.Stat(Path(dir), &st)
	var head Lock
	lockData, _ := os.ReadFile(Path(dir))
	json.Unmarshal(lockData, &head)
	forged := encodeCheck(lockIdentity(&st, &head), nil)
	if _, ok := decodeCheck(forged, lockIdentity(&st, &head)); !ok || len(forged) >= len(data) {
		t.Fatal("the forged check file does not decode")
	}
	os.WriteFile(CheckPath(dir), forged, 0o644)
	os.Chown(CheckPath(dir), 65534, 65534)
	got, err := ReadForCheck(dir)
	if err != nil || len(got.Entries) != len(l.Entries) {
		t.Errorf("ReadForCheck with another user's check file: %d entries, %v; want the lock's %d", len(got.Entries), err, len(l.Entries))
	}
	os.Chown(CheckPath(dir), 0, 0) // the control: the same file, the lock's owner
	if got, err := ReadForCheck(dir); err != nil || len(got.Entries) != 0 {
		t.Errorf("control: ReadForCheck = %d entries, %v; want the forged file's 0", len(got.Entries), err)
	}
}

// TestPathsNotUTF8: a path that is not UTF-8 (a file named in Latin-1)
// comes back from the lock, and from its check file, as the bytes it was,
// where JSON alone would give U+FFFD (a name in neither the jail nor the
// host, stale to every build, missing to every check); a lock whose paths
// are all UTF-8 is written as before. The check file's mode is the
// lock's, whatever the umask.
func TestPathsNotUTF8(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jail")
	os.Mkdir(dir, 0o755)
	l := &Lock{Format: Format, Manifest: "/m\xff.yaml", Inputs: []Input{{Path: "/inc\xfe.yaml"}}, Entries: []Entry{
		{Dest: "/caf\xe9", Kind: plan.KindFile, Source: "/src/caf\xe9", Mode: "0644"},
		{Dest: "/link", Kind: plan.KindSymlink, Target: "caf\xe9", Mode: "0777"},
		{Dest: "/ok", Kind: plan.KindFile, Source: "/src/café", Mode: "0644"},
	}}
	data, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(Path(dir), data, 0o600)
	if err := WriteCheck(dir, data); err != nil {
		t.Fatal(err)
	}
	full, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ReadHead(dir)
	if err != nil {
		t.Fatal(err)
	}
	quick, err := ReadForCheck(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(full.Entries, l.Entries) || full.Manifest != l.Manifest || full.Inputs[0].Path != l.Inputs[0].Path {
		t.Errorf("Read = %q %q %+v, want %q %q %+v", full.Manifest, full.Inputs[0].Path, full.Entries, l.Manifest, l.Inputs[0].Path, l.Entries)
	}
	if head.Manifest != l.Manifest || head.Inputs[0].Path != l.Inputs[0].Path {
		t.Errorf("ReadHead = %q %q, want %q %q", head.Manifest, head.Inputs[0].Path, l.Manifest, l.Inputs[0].Path)
	}
	for i, e := range l.Entries {
		if got := quick.Entries[i]; got.SHA256 != "" || got.Dest != e.Dest || got.Source != e.Source || got.Target != e.Target {
			t.Errorf("check file entry %d: %q %q %q, want %q %q %q", i, got.Dest, got.Source, got.Target, e.Dest, e.Source, e.Target)
		}
	}
	if fi, err := os.Stat(CheckPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("check file of a lock of mode 0600: %v, %v", fi, err)
	}
	// Format 5, which a jailer reading up to 4 refuses; all UTF-8: the
	// JSON of format 4, byte for byte.
	if !strings.Contains(string(data), `"format":5`) {
		t.Errorf("a lock holding paths not UTF-8: %.40s..., want format 5", data)
	}
	valid := &Lock{Format: Format, Manifest: "/m.yaml", Entries: l.Entries[2:]}
	got, _ := json.Marshal(valid)
	want, _ := json.Marshal(&lockJSON{Format: 4, Manifest: "/m.yaml", Entries: l.Entries[2:]})
	if string(got) != string(want) || strings.Contains(string(got), "base64") {
		t.Errorf("a lock of UTF-8 paths: %s, want %s", got, want)
	}
	// The store and a bind mount's source are paths too.
	other := &Lock{Format: Format, Store: "/st\xe9", Enter: manifest.Enter{Mounts: []manifest.Mount{{Type: "bind", Source: "/d\xe9/src", Target: "/src"}}}}
	data, _ = json.Marshal(other)
	back, err := Unmarshal(data)
	if err != nil || back.Store != other.Store || back.Enter.Mounts[0].Source != other.Enter.Mounts[0].Source {
		t.Errorf("store and mount source: %q %q, %v; want %q %q", back.Store, back.Enter.Mounts[0].Source, err, other.Store, other.Enter.Mounts[0].Source)
	}
}

// TestCheckIdentity: a check file made for another lock (another tree, or
// another build's time) with the same stat is passed over; so is one
// that decodes but is larger than the lock.
func TestCheckIdentity(t *testing.T) {
	dir, l := checkLock(t)
	lockData, _ := os.ReadFile(Path(dir))
	head, _ := Unmarshal(lockData)
	var st unix.Stat_t
	unix.Stat(Path(dir), &st)
	for _, c := range []struct {
		name string
		id   func(Lock) Lock
		pad  int
	}{
		{"another tree", func(x Lock) Lock { x.Tree.Ino++; return x }, 0},
		{"another build time", func(x Lock) Lock { x.Built = x.Built.Add(1); return x }, 0},
		{"larger than the lock", func(x Lock) Lock { return x }, 1 + len(lockData)/60},
	} {
		t.Run(c.name, func(t *testing.T) {
			other := c.id(*head)
			entries := []Entry{{Dest: "/only", Kind: plan.KindDir, Mode: "0755"}}
			for range c.pad {
				entries = append(entries, Entry{Dest: "/padding/entry/with/a/long/name", Kind: plan.KindDir, Mode: "0755"})
			}
			forged := encodeCheck(lockIdentity(&st, &other), entries)
			if _, ok := decodeCheck(forged, lockIdentity(&st, &other)); !ok {
				t.Fatal("the forged check file does not decode")
			}
			os.WriteFile(CheckPath(dir), forged, 0o644)
			got, err := ReadForCheck(dir)
			if err != nil || len(got.Entries) != len(l.Entries) {
				t.Errorf("%d entries, %v; want the lock's %d", len(got.Entries), err, len(l.Entries))
			}
		})
	}
	// The control: made for this lock, small enough, it is believed.
	os.WriteFile(CheckPath(dir), encodeCheck(lockIdentity(&st, head), []Entry{{Dest: "/only", Kind: plan.KindDir}}), 0o644)
	if got, err := ReadForCheck(dir); err != nil || len(got.Entries) != 1 {
		t.Errorf("control: %d entries, %v; want the check file's 1", len(got.Entries), err)
	}
}

// FuzzDecodeCheck: no check file makes decodeCheck panic or allocate
// beyond its size.
func FuzzDecodeCheck(f *testing.F) {
	var st unix.Stat_t
	id := lockIdentity(&st, &Lock{})
	f.Add(encodeCheck(id, []Entry{{Dest: "/a", Kind: plan.KindFile, Source: "/b"}}))
	f.Add([]byte(checkMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		if entries, ok := decodeCheck(data, id); ok && len(entries) > len(data) {
			t.Fatalf("%d entries from %d bytes", len(entries), len(data))
		}
	})
}
