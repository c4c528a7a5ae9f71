package planner

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// TestProfileTable: the profiles manifest accepts are the profiles the
// planner knows, and every path in the table is a clean absolute path.
func TestProfileTable(t *testing.T) {
	if got, want := slices.Sorted(maps.Keys(Profiles)), slices.Sorted(maps.Keys(manifest.Profiles)); !reflect.DeepEqual(got, want) {
		t.Errorf("jail profiles %v, manifest.Profiles %v: want the same names", got, want)
	}
	for name, def := range Profiles {
		if len(def.Content) == 0 && len(def.copy) == 0 && len(def.optional) == 0 && def.find == nil {
			t.Errorf("profile %s adds nothing", name)
		}
		if len(def.Content) == 0 && def.install == "" {
			t.Errorf("profile %s copies host files but names no package to install them", name)
		}
		paths := append(append(slices.Sorted(maps.Keys(def.Content)), def.copy...), def.optional...)
		for _, p := range paths {
			if !path.IsAbs(p) || path.Clean(p) != p {
				t.Errorf("profile %s: %q is not a clean absolute path", name, p)
			}
		}
		for _, pat := range def.Skip {
			if _, err := path.Match(pat, "x"); err != nil || strings.Contains(pat, "/") {
				t.Errorf("profile %s: skip pattern %q is not a base-name pattern", name, pat)
			}
		}
	}
}

func TestFindTerminfo(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"etc/x/xterm", "lib/x/xterm", "lib/x/xterm-256color", "lib/d/dumb", "share/v/vt100"} {
		os.MkdirAll(filepath.Join(dir, path.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	dirs := []string{dir + "/etc", dir + "/lib", dir + "/share"}
	got, err := findTerminfo([]string{"dumb", "screen", "vt100", "xterm", "xterm-256color"}, dirs, "/usr/share/terminfo")()
	want := []profilePath{
		{dir + "/lib/d/dumb", "/usr/share/terminfo/d/dumb"},
		{dir + "/share/v/vt100", "/usr/share/terminfo/v/vt100"},
		{dir + "/etc/x/xterm", "/usr/share/terminfo/x/xterm"}, // the first directory wins, as in ncurses
		{dir + "/lib/x/xterm-256color", "/usr/share/terminfo/x/xterm-256color"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("findTerminfo = %v, %v;\nwant %v", got, err, want)
	}
}

func TestAskHost(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "a/b", "c"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	out := strings.Join([]string{"", "relative", dir + "/a", dir + "/a/b", dir + "/missing", dir + "/c/", dir + "/a"}, "\n")
	got, err := askHost("/bin/sh", "-c", `printf '%s\n' "$0"; test -z "$HOME$PYTHONPATH"`, out)()
	want := []profilePath{{Src: dir + "/a"}, {Src: dir + "/c"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("askHost = %v, %v; want %v (absolute, existing, none inside another, empty environment)", got, err, want)
	}
	if _, err := askHost("/bin/sh", "-c", "echo oops >&2; exit 3")(); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("askHost of a failing program = %v, want its stderr in the error", err)
	}
}

// TestPlanProfilePython: the standard library of /usr/bin/python3, asked
// of the host interpreter, without site directories or build files; the
// libraries of its extension modules resolved.
func TestPlanProfilePython(t *testing.T) {
	py := testutil.HostPython(t)
	paths, err := Profiles["python"].find()
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, p := range paths {
		srcs = append(srcs, p.Src)
	}
	if !slices.Contains(srcs, py.Stdlib) {
		t.Errorf("python profile finds %v, want %s among them", srcs, py.Stdlib)
	}
	p := mustPlan(t, t.TempDir(), "version: 1\nlayout: preserve\nprofiles:\n  - python\n")
	es := EntryMap(p)
	if e := es[filepath.Join(py.Stdlib, "os.py")]; e.Kind != plan.KindFile || e.Why != "profile python (m.yaml:4)" {
		t.Errorf("os.py = %+v, want it from the profile", e)
	}
	ssl := dynload(t, py, "_ssl")
	for _, e := range p.Entries {
		switch {
		case strings.Contains(e.Dest, "dist-packages") || strings.Contains(e.Dest, "site-packages"):
			t.Errorf("python profile copies %s", e.Dest)
		case strings.HasPrefix(e.Dest, py.Stdlib+"/config-"):
			t.Errorf("python profile copies the build files %s", e.Dest)
		}
	}
	found := false
	for _, e := range p.Entries {
		found = found || e.Why == "libssl.so.3 needed by "+ssl
	}
	if !found {
		t.Errorf("no libssl.so.3 needed by %s in the plan", ssl)
	}
}

// TestPlanProfilePerl: @INC of /usr/bin/perl, symlinked directories kept.
func TestPlanProfilePerl(t *testing.T) {
	testutil.RequireHostFile(t, PerlPath)
	p := mustPlan(t, t.TempDir(), "version: 1\nlayout: preserve\nprofiles: [perl]\n")
	es := EntryMap(p)
	if target, err := os.Readlink("/usr/share/perl/5.36"); err == nil {
		if e := es["/usr/share/perl/5.36"]; e.Kind != plan.KindSymlink || e.Target != target {
			t.Errorf("/usr/share/perl/5.36 = %+v, want a symlink to %s", e, target)
		}
	}
	posix := ""
	for _, e := range p.Entries {
		if strings.HasSuffix(e.Dest, "/auto/POSIX/POSIX.so") {
			posix = e.Dest
		}
		if strings.Contains(e.Dest, "/CORE/") {
			t.Errorf("perl profile copies the C headers %s", e.Dest)
		}
	}
	if posix == "" || es[posix].Why != "profile perl (m.yaml:3)" {
		t.Fatalf("no POSIX.so from the perl profile in the plan")
	}
}

// TestPlanProfileTerminfo: entries copied to /usr/share/terminfo, without
// touching /lib of a flat jail.
func TestPlanProfileTerminfo(t *testing.T) {
	testutil.RequireHostFile(t, "/lib/terminfo/x/xterm")
	es := EntryMap(mustPlan(t, t.TempDir(), "version: 1\nprofiles: [terminfo]\n"))
	for _, term := range []string{"d/dumb", "l/linux", "s/screen", "t/tmux", "v/vt100", "x/xterm", "x/xterm-256color"} {
		if e := es["/usr/share/terminfo/"+term]; e.Kind != plan.KindFile || e.Why != "profile terminfo (m.yaml:2)" {
			t.Errorf("/usr/share/terminfo/%s = %+v, want a file from the profile", term, e)
		}
	}
	if e := es["/lib"]; e.Kind != plan.KindDir {
		t.Errorf("/lib = %+v, want the flat layout's directory", e)
	}
}

// TestPlanProfileCerts: the bundle and OpenSSL's link to it.
func TestPlanProfileCerts(t *testing.T) {
	testutil.RequireHostFile(t, "/etc/ssl/certs/ca-certificates.crt")
	p := mustPlan(t, t.TempDir(), "version: 1\nprofiles: [certs]\n")
	if e, _ := lstatPlan(p, "/etc/ssl/certs/ca-certificates.crt"); e.Kind != plan.KindFile {
		t.Errorf("CA bundle = %+v, want a file", e)
	}
	if target, err := os.Readlink("/usr/lib/ssl/cert.pem"); err == nil {
		if e, _ := lstatPlan(p, "/usr/lib/ssl/cert.pem"); e.Kind != plan.KindSymlink || e.Target != target {
			t.Errorf("/usr/lib/ssl/cert.pem = %+v, want a symlink to %s", e, target)
		}
	}
}

// TestNsswitchAsksDNS: the nsswitch.conf jailer writes (for accounts and
// the hosts profile) sends host names to DNS after /etc/hosts, so that a
// jail on --net user resolves them (with "hosts: files" getent found
// nothing there); users and groups stay with the files.
func TestNsswitchAsksDNS(t *testing.T) {
	for _, content := range []string{nsswitch, Profiles["hosts"].Content["/etc/nsswitch.conf"]} {
		lines := strings.Split(strings.TrimSpace(content), "\n")
		for _, want := range []string{"passwd: files", "group: files", "shadow: files", "hosts: files dns"} {
			if !slices.Contains(lines, want) {
				t.Errorf("nsswitch.conf %q lacks the line %q", content, want)
			}
		}
	}
}
