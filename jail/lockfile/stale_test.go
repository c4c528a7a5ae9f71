package lockfile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/inspect"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// staleManifest is the jail every case builds first: a program found in
// PATH, a host file, inline content, a symlink, and an included manifest.
const staleManifest = `version: 1
include: [./base.yaml]
binaries: [true]
files:
  - { src: ./data.txt, dest: /data.txt }
  - { dest: /etc/motd, content: "hi\n" }
symlinks: [{ path: /d, target: /data.txt }]
devices: [null]
`

// staleCase is one cause of staleness, provoked for real on a built jail.
// In messages, DIR stands for the case's directory.
type staleCase struct {
	name   string
	change func(t *testing.T, dir string)
	opts   build.Options // the build after the change (its Output is set)
	other  string        // the manifest that build reads, when not m.yaml
	kind   lockfile.Kind
	msg    string
	prefix bool // msg is only the start of the message
	// info gives the reason; when false, info says up to date, because
	// the cause is in how the build is asked (info reads the jail's own
	// manifest with the jail's own link mode).
	info bool
	// build can run after the change (the manifest still loads).
	build bool
	// check is what `jailer check` prints ("PATH: MESSAGE"): nothing,
	// unless the cause is in what the jail holds or copies. noCheck: the
	// cause is not a tree check can look at.
	check   []string
	noCheck bool
}

var staleCases = []staleCase{
	{name: "up to date", kind: lockfile.UpToDate, msg: "up to date", info: true, build: true},
	{name: "forced", opts: build.Options{Force: true}, kind: lockfile.Forced, msg: "--force", build: true},
	{
		name: "another link mode", opts: build.Options{Link: lockfile.LinkHardlink},
		kind: lockfile.OtherLink, msg: "it was built with --link copy", build: true,
	},
	{
		name: "another manifest", other: "other.yaml",
		kind: lockfile.OtherManifest, msg: "it was built from another manifest, DIR/m.yaml", build: true,
	},
	{
		name: "lock of format 1", change: downgradeLock,
		kind: lockfile.OldFormat, msg: "its lock was written by an older jailer (format 1, this one writes 4)", info: true, build: true,
	},
	{
		// A jail built without root, to be built by root now: root makes
		// what such a build only records. Nothing in it is drift.
		name: "built without root", change: markRootless,
		kind: lockfile.BuiltRootless, msg: "it was built without root: its owners and devices are recorded, not made", info: true, build: true,
	},
	{
		name: "manifest edited", change: func(t *testing.T, dir string) { appendFile(t, filepath.Join(dir, "m.yaml"), "dirs: [/new]\n") },
		kind: lockfile.InputChanged, msg: "DIR/m.yaml changed", info: true, build: true,
	},
	{
		name: "included manifest gone", change: func(t *testing.T, dir string) { remove(t, filepath.Join(dir, "base.yaml")) },
		kind: lockfile.InputGone, msg: "DIR/base.yaml is gone", info: true,
	},
	{
		name: "manifest gone", change: func(t *testing.T, dir string) { remove(t, filepath.Join(dir, "m.yaml")) },
		kind: lockfile.ManifestGone, msg: "its manifest DIR/m.yaml is gone", info: true,
	},
	{
		name: "loader cache rewritten", change: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "ld.so.cache"), "new libraries") },
		kind: lockfile.InputChanged, msg: "DIR/ld.so.cache changed", info: true, build: true,
	},
	{
		name: "host source rewritten", change: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "data.txt"), "v2, longer\n") },
		kind: lockfile.SourceChanged, msg: "host file DIR/data.txt changed", info: true, build: true,
		check: []string{"/data.txt: host file DIR/data.txt changed (rebuild to pick it up)"},
	},
	{
		// check hashes: the same content under a new mtime is no problem
		// to it, though a build, which goes by stat, copies the file again.
		name: "host source touched", change: func(t *testing.T, dir string) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(filepath.Join(dir, "data.txt"), later, later); err != nil {
				t.Fatal(err)
			}
		},
		kind: lockfile.SourceChanged, msg: "host file DIR/data.txt changed", info: true, build: true,
	},
	{
		name: "host source gone", change: func(t *testing.T, dir string) { remove(t, filepath.Join(dir, "data.txt")) },
		kind: lockfile.SourceGone, msg: "host file DIR/data.txt is gone", info: true,
		check: []string{"/data.txt: host file DIR/data.txt is gone (rebuild, or drop it from the manifest)"},
	},
	{
		name: "file changed in the tree", change: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "jail/data.txt"), "tampered, longer\n")
		},
		kind: lockfile.TreeChanged, msg: "/data.txt changed in the jail", info: true, build: true,
		check: []string{"/data.txt: changed in the jail: is 17 bytes, the lock says 3 (rebuild)"},
	},
	{
		name: "file removed from the tree", change: func(t *testing.T, dir string) { remove(t, filepath.Join(dir, "jail/etc/motd")) },
		kind: lockfile.EntryMissing, msg: "/etc/motd is missing from the jail", info: true, build: true,
		check: []string{"/etc/motd: is missing from the jail: the lock lists a file here (rebuild)"},
	},
	{
		name: "symlink retargeted in the tree", change: func(t *testing.T, dir string) {
			remove(t, filepath.Join(dir, "jail/d"))
			if err := os.Symlink("/etc/motd", filepath.Join(dir, "jail/d")); err != nil {
				t.Fatal(err)
			}
		},
		kind: lockfile.TreeChanged, msg: "/d changed in the jail", info: true, build: true,
		check: []string{`/d: changed in the jail: symlink points to "/etc/motd", the lock says "/data.txt" (rebuild)`},
	},
	{
		name: "directory replaced by a symlink", change: func(t *testing.T, dir string) {
			remove(t, filepath.Join(dir, "jail/srv"))
			if err := os.Symlink("/", filepath.Join(dir, "jail/srv")); err != nil {
				t.Fatal(err)
			}
		},
		kind: lockfile.TreeChanged, msg: "/srv changed in the jail", info: true, build: true,
		check: []string{"/srv: changed in the jail: is a symlink, the lock says dir (rebuild)"},
	},
	{
		// check compares what is in a tree, not which directory it is.
		name: "tree replaced", change: func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "jail"), filepath.Join(dir, "old")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "jail"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		kind: lockfile.NotThisTree, msg: "DIR/jail is not the directory its lock was written for", info: true, build: true, noCheck: true,
	},
	{
		name: "tree removed", change: func(t *testing.T, dir string) { remove(t, filepath.Join(dir, "jail")) },
		kind: lockfile.NoJail, msg: "there is no jail at DIR/jail", info: true, build: true, noCheck: true,
	},
	{
		name: "program found elsewhere in PATH", change: func(t *testing.T, dir string) {
			other := filepath.Join(dir, "bin")
			if err := os.Mkdir(other, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/usr/bin/true", filepath.Join(other, "true")); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", other+":/usr/bin")
		},
		kind: lockfile.PlanChanged, msg: "a program the manifest names is found elsewhere in PATH now", info: true, build: true,
	},
	{
		name: "program gone from PATH", change: func(t *testing.T, dir string) { t.Setenv("PATH", t.TempDir()) },
		kind: lockfile.ManifestBroken, msg: "its manifest no longer loads: DIR/m.yaml:3:", prefix: true, info: true,
	},
}

// TestStaleness provokes each cause on a freshly built jail and asks the
// decision directly (as a build of the case's manifest and options would),
// then info, check and a build: each must give the same reason, kind and
// message, for the causes it can see.
func TestStaleness(t *testing.T) {
	for _, tt := range staleCases {
		t.Run(tt.name, func(t *testing.T) {
			dir, out := builtJail(t)
			if tt.change != nil {
				tt.change(t, dir)
			}
			want := strings.ReplaceAll(tt.msg, "DIR", dir)
			manifest := filepath.Join(dir, "m.yaml")
			if tt.other != "" {
				manifest = filepath.Join(dir, tt.other)
			}
			lock, err := lockfile.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			w := lockfile.WantManifest(manifest, tt.opts.Link)
			w.Force = tt.opts.Force
			assertReason(t, "Staleness", lockfile.Staleness(lock, out, w), tt.kind, want, tt.prefix)
			// The same from the check file, as a build reads it.
			quick, err := lockfile.ReadForCheck(out)
			if err != nil {
				t.Fatal(err)
			}
			assertReason(t, "Staleness(ReadForCheck)", lockfile.Staleness(quick, out, w), tt.kind, want, tt.prefix)
			assertInfo(t, out, tt, want)
			if !tt.noCheck {
				assertCheck(t, out, tt.check, dir)
			}
			if tt.build {
				assertBuild(t, manifest, out, tt, want)
			}
		})
	}
}

// builtJail writes staleManifest and what it names into a new directory,
// points the loader cache input at a file there, builds the jail and
// returns the directory and the jail.
func builtJail(t *testing.T) (dir, out string) {
	dir = t.TempDir()
	t.Setenv("PATH", "/usr/bin")
	writeFile(t, filepath.Join(dir, "data.txt"), "v1\n")
	writeFile(t, filepath.Join(dir, "base.yaml"), "version: 1\ndirs: [/srv]\n")
	writeFile(t, filepath.Join(dir, "ld.so.cache"), "libraries")
	lockfile.SetHostInputs(t, filepath.Join(dir, "ld.so.cache"))
	m := testutil.WriteManifest(t, dir, "m.yaml", staleManifest)
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte(staleManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "jail")
	if _, err := build.Build(context.Background(), testutil.LoadManifest(t, m), build.Options{Output: out}); err != nil {
		t.Fatal(err)
	}
	return dir, out
}

func assertReason(t *testing.T, who string, got lockfile.Reason, kind lockfile.Kind, msg string, prefix bool) {
	t.Helper()
	s := got.String()
	if got.Kind != kind || s != msg && !(prefix && strings.HasPrefix(s, msg)) {
		t.Errorf("%s = %s %q; want %s %q", who, got.Kind, s, kind, msg)
	}
}

// assertInfo checks the reason info gives, and its status line.
func assertInfo(t *testing.T, out string, tt staleCase, msg string) {
	t.Helper()
	in, err := inspect.Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	kind := tt.kind
	if !tt.info {
		kind, msg = lockfile.UpToDate, "up to date"
	}
	assertReason(t, "Inspect().Stale", in.Stale, kind, msg, tt.prefix)
	if in.UpToDate != (kind == lockfile.UpToDate) {
		t.Errorf("Inspect().UpToDate = %v with reason %s", in.UpToDate, in.Stale.Kind)
	}
	var text bytes.Buffer
	in.Text(&text)
	status := "status:        up to date\n"
	if kind != lockfile.UpToDate {
		status = "status:        stale: " + msg
	}
	if !strings.Contains(text.String(), status) {
		t.Errorf("Inspect().Text() =\n%s\nwant a line starting %q", text.String(), status)
	}
}

// assertCheck checks the problems check finds.
func assertCheck(t *testing.T, out string, want []string, dir string) {
	t.Helper()
	problems, err := inspect.Check(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	var w []string
	for _, s := range want {
		w = append(w, strings.ReplaceAll(s, "DIR", dir))
	}
	if strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Errorf("Check() = %q; want %q", got, w)
	}
}

// assertBuild builds after the change: the build says why it rebuilt, in
// the same words; a second build then finds the jail up to date.
func assertBuild(t *testing.T, manifest, out string, tt staleCase, msg string) {
	t.Helper()
	opts := tt.opts
	opts.Output = out
	sum, err := build.Build(context.Background(), testutil.LoadManifest(t, manifest), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.UpToDate != (tt.kind == lockfile.UpToDate) {
		t.Errorf("Build().UpToDate = %v, want %v", sum.UpToDate, tt.kind == lockfile.UpToDate)
	}
	if tt.kind == lockfile.UpToDate {
		msg = "" // an up-to-date build gives no reason: nothing was built
	}
	if sum.Reason.Kind != tt.kind || sum.Reason != (lockfile.Reason{}) && sum.Reason.String() != msg {
		t.Errorf("Build().Reason = %s %q; want %s %q", sum.Reason.Kind, sum.Reason, tt.kind, msg)
	}
	opts.Force = false
	if again, err := build.Build(context.Background(), testutil.LoadManifest(t, manifest), opts); err != nil || !again.UpToDate {
		t.Errorf("a second build = %+v, %v; want up to date (because: %s)", again, err, again.Reason)
	}
}

// downgradeLock rewrites the jail's lock as jailer wrote it at format 1,
// which kept the tree's birth time under "mtime".
func downgradeLock(t *testing.T, dir string) {
	p := lockfile.Path(filepath.Join(dir, "jail"))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var l map[string]json.RawMessage
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	var tree map[string]int64
	if err := json.Unmarshal(l["tree"], &tree); err != nil || tree["birth"] == 0 {
		t.Fatalf("lock tree = %s, %v; want a birth time", l["tree"], err)
	}
	tree["mtime"] = tree["birth"]
	delete(tree, "birth")
	l["tree"], _ = json.Marshal(tree)
	l["format"] = json.RawMessage("1")
	data, _ = json.Marshal(l)
	writeFile(t, p, string(data))
}

// markRootless makes the jail what a build without root makes of it: the
// lock says so (the builder 1001:1001) and the tree has no device.
func markRootless(t *testing.T, dir string) {
	out := filepath.Join(dir, "jail")
	editLock(t, out, func(l map[string]json.RawMessage) { l["rootless"] = json.RawMessage(`{"uid":1001,"gid":1001}`) })
	remove(t, filepath.Join(out, "dev/null"))
}

// editLock rewrites the lock of the jail out as edit changes it.
func editLock(t *testing.T, out string, edit func(map[string]json.RawMessage)) {
	t.Helper()
	p := lockfile.Path(out)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var l map[string]json.RawMessage
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	edit(l)
	data, _ = json.Marshal(l)
	writeFile(t, p, string(data))
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(s)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

// TestReadFormats: a lock of format 1 is read, its tree's birth time from
// "mtime"; a lock of a format this jailer does not know is refused with a
// message that says what to do.
func TestReadFormats(t *testing.T) {
	tests := []struct {
		lock    string
		want    lockfile.TreeID
		wantErr string
	}{
		{`{"format":1,"tree":{"dev":7,"ino":8,"mtime":9}}`, lockfile.TreeID{Dev: 7, Ino: 8, Birth: 9}, ""},
		{`{"format":2,"tree":{"dev":7,"ino":8,"birth":9}}`, lockfile.TreeID{Dev: 7, Ino: 8, Birth: 9}, ""},
		{`{"format":3,"tree":{"dev":7,"ino":8,"birth":9},"rootless":{"uid":1001,"gid":1002}}`, lockfile.TreeID{Dev: 7, Ino: 8, Birth: 9}, ""},
		{`{"format":4,"tree":{"dev":7,"ino":8,"birth":9},"link":"store","store":"/var/lib/jailer/store"}`, lockfile.TreeID{Dev: 7, Ino: 8, Birth: 9}, ""},
		{`{"format":5,"tree":{"dev":7,"ino":8,"birth":9},"manifest":"\u0000base64:L23pLnlhbWw="}`, lockfile.TreeID{Dev: 7, Ino: 8, Birth: 9}, ""},
		{`{"format":6,"tree":{}}`, lockfile.TreeID{}, "has format 6, this jailer reads 1 to 5 (rebuild the jail with --force"},
		{`{"format":0}`, lockfile.TreeID{}, "has format 0"},
	}
	for _, tt := range tests {
		dir := filepath.Join(t.TempDir(), "jail")
		writeFile(t, lockfile.Path(dir), tt.lock)
		for name, read := range map[string]func(string) (*lockfile.Lock, error){"Read": lockfile.Read, "ReadHead": lockfile.ReadHead} {
			l, err := read(dir)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s(%s) = %v; want an error containing %q", name, tt.lock, err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("%s(%s) = %v; want tree %+v", name, tt.lock, err, tt.want)
			case l.Tree != tt.want:
				t.Errorf("%s(%s) = tree %+v; want %+v", name, tt.lock, l.Tree, tt.want)
			}
		}
	}
	if _, err := lockfile.Read(t.TempDir()); !errors.Is(err, lockfile.ErrNotAJail) {
		t.Errorf("Read(dir without lock) = %v, want ErrNotAJail", err)
	}
}

// TestReasonKinds: every kind has a name and a message of its own, and the
// entry kinds print their path first except where the path comes first
// already (AtEntry).
func TestReasonKinds(t *testing.T) {
	names, msgs := map[string]bool{}, map[string]bool{}
	for k := lockfile.UpToDate; k <= lockfile.PlanChanged; k++ {
		r := lockfile.Reason{Kind: k, Path: "/host/f", Entry: "/e"}
		name, msg := k.String(), r.String()
		if strings.HasPrefix(name, "kind(") || names[name] {
			t.Errorf("kind %d has name %q, want a name of its own", k, name)
		}
		if strings.HasPrefix(msg, "stale (reason") || msgs[msg] {
			t.Errorf("%s: message %q, want one of its own", name, msg)
		}
		names[name], msgs[msg] = true, true
		if r.Stale() != (k != lockfile.UpToDate) {
			t.Errorf("%s: Stale() = %v", name, r.Stale())
		}
		if at := r.AtEntry(); at != msg && "/e "+at != msg {
			t.Errorf("%s: AtEntry() = %q, String() = %q; want String to be AtEntry, or the entry and AtEntry", name, at, msg)
		}
	}
	if s := (lockfile.Reason{Kind: lockfile.PlanChanged + 1}).String(); !strings.Contains(s, "stale") {
		t.Errorf("an unknown kind's message = %q, want it to say stale", s)
	}
	r := lockfile.Reason{Kind: lockfile.TreeChanged, Entry: "/etc/motd", Detail: "mode is 0666, the lock says 0644"}
	if got, want := r.String(), "/etc/motd changed in the jail: mode is 0666, the lock says 0644"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if data, err := json.Marshal(struct {
		R lockfile.Reason `json:"r,omitzero"`
		U lockfile.Reason `json:"u,omitzero"`
	}{R: r}); err != nil || string(data) != `{"r":"/etc/motd changed in the jail: mode is 0666, the lock says 0644"}` {
		t.Errorf("JSON of a reason and an up-to-date one = %s, %v; want the message, and nothing", data, err)
	}
}

// TestStalenessRootless: in a jail built without root, the devices the lock
// records are absent from the tree, and that is no drift to a build
// without root nor to check; something made where such a device would be
// is. The control: the same tree under a lock of a build by root.
func TestStalenessRootless(t *testing.T) {
	tests := []struct {
		name     string
		rootless bool
		plant    bool // a file where the lock has /dev/null
		kind     lockfile.Kind
		msg      string
		check    []string
	}{
		{name: "devices recorded, not made", rootless: true, kind: lockfile.UpToDate, msg: "up to date"},
		{
			name: "a file made where a device is recorded", rootless: true, plant: true,
			kind: lockfile.TreeChanged, msg: "/dev/null changed in the jail: the build made nothing here (it ran without root)",
			check: []string{"/dev/null: changed in the jail: is a file, but the build made nothing here (it ran without root) (rebuild)"},
		},
		{
			name: "control: a build by root made it", kind: lockfile.EntryMissing, msg: "/dev/null is missing from the jail",
			check: []string{"/dev/null: is missing from the jail: the lock lists a device here (rebuild)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, out := builtJail(t)
			remove(t, filepath.Join(out, "dev/null"))
			if tt.rootless {
				markRootless(t, dir)
			}
			if tt.plant {
				writeFile(t, filepath.Join(out, "dev/null"), "")
			}
			lock, err := lockfile.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			w := lockfile.WantManifest(filepath.Join(dir, "m.yaml"), "")
			w.Rootless = tt.rootless // built as it was: by root, or without
			assertReason(t, "Staleness", lockfile.Staleness(lock, out, w), tt.kind, tt.msg, false)
			assertCheck(t, out, tt.check, dir)
		})
	}
}

// TestNamesNotUTF8: a jail holding a file whose name is not UTF-8 (a
// fixture named in Latin-1) is up to date to the next build, whether it
// reads the lock or its check file, and clean to jailer check; the
// control: changing the host file makes it stale, naming the file.
func TestNamesNotUTF8(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", "/usr/bin")
	name := "caf\xe9"
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	writeFile(t, filepath.Join(dir, "data", name), "v1\n")
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/true]\nfiles:\n  - {src: ./data, dest: /data}\n")
	out := filepath.Join(dir, "jail")
	build1 := func() *build.Summary {
		t.Helper()
		sum, err := build.Build(context.Background(), testutil.LoadManifest(t, m), build.Options{Output: out})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	build1()
	if sum := build1(); !sum.UpToDate {
		t.Errorf("second build: rebuilt because %s", sum.Reason)
	}
	for _, read := range []func(string) (*lockfile.Lock, error){lockfile.Read, lockfile.ReadForCheck} {
		lock, err := read(out)
		if err != nil {
			t.Fatal(err)
		}
		if r := lockfile.Staleness(lock, out, lockfile.WantManifest(m, "")); r.Stale() {
			t.Errorf("Staleness: %s", r)
		}
	}
	assertCheck(t, out, nil, dir)
	appendFile(t, filepath.Join(dir, "data", name), "v2\n")
	lock, err := lockfile.ReadForCheck(out)
	if err != nil {
		t.Fatal(err)
	}
	if r := lockfile.Staleness(lock, out, lockfile.WantManifest(m, "")); r.Kind != lockfile.SourceChanged || !strings.HasSuffix(r.Path, "/data/"+name) {
		t.Errorf("after the host file changed: %s %q, want %s of it", r.Kind, r.Path, lockfile.SourceChanged)
	}
}
