package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jailer-dev/jailer/jail/inspect"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"
)

// rootlessManifest declares what a build without root cannot make: devices,
// a directory with an owner, a user's home, a file in them.
const rootlessManifest = `version: 1
binaries: [/bin/true]
devices: [null, zero, tty]
dirs: [{path: /data, owner: "1000:1000", mode: "0750"}]
files: [{dest: /data/note, content: "hi\n", mode: "0640"}]
users: [{name: tester, uid: 1000}]
`

// TestBuildRootless builds as the unprivileged CI user, for real: the
// build succeeds, says once what it could not make, and records it (the
// builder, the devices with their numbers, the declared owners); the tree
// holds no device and is the builder's. A second build as that user finds
// it up to date, and so do check and the staleness decision as that user
// would make it; a build as root rebuilds it with the devices and owners.
func TestBuildRootless(t *testing.T) {
	u := testutil.RequireUser(t, testutil.CIUser)
	dir := testutil.PublicDir(t, &u)
	m := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(m, []byte(rootlessManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "jail")
	bin := testutil.PublicExecutable(t)
	buildAs := func() (string, string) {
		t.Helper()
		cmd := u.Command(bin)
		cmd.Env = append(cmd.Env, "JAILER_TEST_BUILD="+m+":"+out)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("build as %s: %v\n%s", u.Name, err, stderr.String())
		}
		return string(stdout), stderr.String()
	}

	stdout, stderr := buildAs()
	if !strings.HasPrefix(stdout, "built "+out) {
		t.Errorf("first build as %s printed %q, want a build", u.Name, stdout)
	}
	want := "warning: built without root: owners (/data 1000:1000 and 1 more) are yours on disk and devices (null, tty, zero) are not made; the lock records them"
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("build as %s warned:\n%s\nwant one line starting %q", u.Name, stderr, want)
	}

	lock, err := lockfile.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if lock.Rootless == nil || *lock.Rootless != (lockfile.Rootless{UID: u.UID, GID: u.GID}) {
		t.Errorf("lock.Rootless = %+v, want the builder %d:%d", lock.Rootless, u.UID, u.GID)
	}
	entries := map[string]lockfile.Entry{}
	for _, e := range lock.Entries {
		entries[e.Dest] = e
	}
	for _, tt := range []struct {
		dest         string
		kind         plan.Kind
		mode         string
		uid, gid     int
		major, minor uint32
	}{
		{"/dev/null", plan.KindDevice, "0666", 0, 0, 1, 3},
		{"/dev/tty", plan.KindDevice, "0666", 0, 0, 5, 0},
		{"/data", plan.KindDir, "0750", 1000, 1000, 0, 0},
		{"/data/note", plan.KindFile, "0640", 0, 0, 0, 0},
		{"/home/tester", plan.KindDir, "0755", 1000, 1000, 0, 0},
	} {
		e := entries[tt.dest]
		if e.Kind != tt.kind || e.Mode != tt.mode || e.UID != tt.uid || e.GID != tt.gid || e.Major != tt.major || e.Minor != tt.minor {
			t.Errorf("lock entry %s = %+v; want %s %s %d:%d, device %d:%d", tt.dest, e, tt.kind, tt.mode, tt.uid, tt.gid, tt.major, tt.minor)
		}
		fi, err := os.Lstat(filepath.Join(out, tt.dest))
		switch {
		case tt.kind == plan.KindDevice:
			if err == nil {
				t.Errorf("%s is in the tree (%v); a build without root cannot make a device", tt.dest, fi.Mode())
			}
		case err != nil:
			t.Error(err)
		case plan.ModeString(fi.Mode()) != tt.mode:
			t.Errorf("%s has mode %s, want %s", tt.dest, plan.ModeString(fi.Mode()), tt.mode)
		default:
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != u.UID || int(st.Gid) != u.GID {
				t.Errorf("%s is owned by %d:%d, want the builder %d:%d", tt.dest, st.Uid, st.Gid, u.UID, u.GID)
			}
		}
	}

	if stdout, stderr := buildAs(); !strings.Contains(stdout, "is up to date") || stderr != "" {
		t.Errorf("second build as %s: %q, %q; want up to date, no warning", u.Name, stdout, stderr)
	}
	w := lockfile.WantManifest(m, "")
	w.Rootless = true // as the builder asks
	if r := lockfile.Staleness(lock, out, w); r.Stale() {
		t.Errorf("Staleness as %s = %s, want up to date", u.Name, r)
	}
	if problems, err := inspect.Check(out); err != nil || len(problems) > 0 {
		t.Errorf("Check = %v, %v; want no problem (devices and owners recorded, not made)", problems, err)
	}

	sum, err := Build(context.Background(), testutil.LoadManifest(t, m), Options{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reason.Kind != lockfile.BuiltRootless || len(sum.Warnings) > 0 {
		t.Errorf("build as root: reason %s, warnings %q; want %s and none", sum.Reason.Kind, sum.Warnings, lockfile.BuiltRootless)
	}
	if fi, err := os.Lstat(filepath.Join(out, "dev/null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("after a build as root, /dev/null = %v, %v; want a device", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(out, "data")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("after a build as root, /data = %v, %v; want it owned by 1000", fi, err)
	}
	if lock, _ := lockfile.Read(out); lock == nil || lock.Rootless != nil {
		t.Errorf("after a build as root, lock.Rootless = %+v, want none", lock.Rootless)
	}
}
