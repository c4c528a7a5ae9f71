package planner

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// TestPlanGolden compares the plan of each testdata/manifests/*.yaml with
// testdata/golden/NAME.plan. These manifests name no host binaries, so the
// plans do not depend on the host's library versions.
func TestPlanGolden(t *testing.T) {
	manifests, _ := filepath.Glob("../../testdata/manifests/*.yaml")
	if len(manifests) == 0 {
		t.Fatal("no manifests in testdata/manifests")
	}
	for _, path := range manifests {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			p, err := New(testutil.LoadManifest(t, path))
			if err != nil {
				t.Fatalf("NewPlan(%s) = %v", path, err)
			}
			var text bytes.Buffer
			if err := p.Text(&text); err != nil {
				t.Fatal(err)
			}
			// Sources inside the repository differ by checkout: name them from its root.
			repo, _ := filepath.Abs("../..")
			got := bytes.NewBuffer(bytes.ReplaceAll(text.Bytes(), []byte(repo+"/"), []byte("$REPO/")))
			golden := filepath.Join("../../testdata/golden", name+".plan")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./jail -run TestPlanGolden -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("plan of %s differs from %s:\n--- got\n%s--- want\n%s", path, golden, got.String(), want)
			}
		})
	}
}

// entryMap indexes a plan's entries by jail path.
func EntryMap(p *plan.Plan) map[string]plan.Entry {
	m := map[string]plan.Entry{}
	for _, e := range p.Entries {
		m[e.Dest] = e
	}
	return m
}

// lstatPlan returns the entry a path names in the built jail, as lstat
// would see it: symlinks on the way (a flat jail's /usr/bin -> ../bin) are
// followed, one at its end is not.
func lstatPlan(p *plan.Plan, dest string) (plan.Entry, bool) {
	es := &entries{m: EntryMap(p)}
	c, ok := es.canonical(dest)
	if !ok {
		return plan.Entry{}, false
	}
	e, ok := es.m[c]
	return e, ok
}

func mustPlan(t *testing.T, dir, text string) *plan.Plan {
	t.Helper()
	p, err := New(testutil.LoadManifest(t, testutil.WriteManifest(t, dir, "m.yaml", text)))
	if err != nil {
		t.Fatalf("NewPlan = %v", err)
	}
	return p
}

func planErr(t *testing.T, dir, text string) string {
	t.Helper()
	_, err := New(testutil.LoadManifest(t, testutil.WriteManifest(t, dir, "m.yaml", text)))
	if err == nil {
		t.Fatalf("NewPlan succeeded, want an error")
	}
	return err.Error()
}

func TestPlanFlatBinaries(t *testing.T) {
	p := mustPlan(t, t.TempDir(), "version: 1\nbinaries: [/bin/bash, /bin/sh]\n")
	es := EntryMap(p)
	dash, _ := filepath.EvalSymlinks("/bin/sh")
	bash, _ := filepath.EvalSymlinks("/bin/bash")
	tests := []struct {
		dest   string
		kind   plan.Kind
		source string
	}{
		{"/bin/bash", plan.KindFile, bash},
		// A symlinked binary is installed under its own name, the listed
		// name a link to it, as on the host (programs read /proc/self/exe).
		{"/bin/sh", plan.KindSymlink, ""}, // -> the name below
		{"/bin/" + filepath.Base(dash), plan.KindFile, dash},
		{"/lib64/ld-linux-x86-64.so.2", plan.KindFile, ""},
		{"/lib/libc.so.6", plan.KindFile, ""},
		{"/lib/libtinfo.so.6", "", ""},
		{"/proc", plan.KindDir, ""},
		{"/tmp", plan.KindDir, ""},
	}
	for _, tt := range tests {
		e, ok := es[tt.dest]
		if !ok {
			t.Errorf("plan has no %s", tt.dest)
			continue
		}
		if tt.kind != "" && e.Kind != tt.kind {
			t.Errorf("%s kind = %s, want %s", tt.dest, e.Kind, tt.kind)
		}
		if tt.source != "" && e.Source != tt.source {
			t.Errorf("%s source = %s, want %s", tt.dest, e.Source, tt.source)
		}
	}
	if es["/tmp"].Mode != 0o777|os.ModeSticky {
		t.Errorf("/tmp mode = %v, want 1777", es["/tmp"].Mode)
	}
	// The libtinfo symlink chain is kept, by file name, inside /lib.
	for e := es["/lib/libtinfo.so.6"]; e.Kind == plan.KindSymlink; e = es["/lib/"+e.Target] {
		if strings.Contains(e.Target, "/") {
			t.Errorf("flat symlink %s -> %s leaves /lib", e.Dest, e.Target)
		}
		if _, ok := es["/lib/"+e.Target]; !ok {
			t.Errorf("symlink %s -> %s: target not in the plan", e.Dest, e.Target)
			break
		}
	}
	// glibc loads libgcc_s with dlopen when a thread exits: no ldd sees it.
	if e := es["/lib/libgcc_s.so.1"]; e.Kind != plan.KindFile || !strings.Contains(e.Why, "dlopen by libc for pthread_exit") {
		t.Errorf("/lib/libgcc_s.so.1 = %+v, want it for pthread_exit", e)
	}
	if !strings.Contains(es["/lib/libc.so.6"].Why, "needed by /bin/") {
		t.Errorf("libc Why = %q, want it to name the binary", es["/lib/libc.so.6"].Why)
	}
}

func TestPlanPreserveKeepsHostPaths(t *testing.T) {
	p := mustPlan(t, t.TempDir(), "version: 1\nlayout: preserve\nbinaries: [/bin/bash]\n")
	es := EntryMap(p)
	// Every host symlink on the way (/bin -> usr/bin on merged-/usr hosts)
	// becomes a symlink in the jail, and the real file sits at its real path.
	for _, host := range []string{"/bin/bash", "/lib64/ld-linux-x86-64.so.2"} {
		real, _ := filepath.EvalSymlinks(host)
		if e := es[real]; e.Kind != plan.KindFile || e.Source != real {
			t.Errorf("%s: entry %+v, want a file from %s", real, e, real)
		}
		// The first symlink from the top, e.g. /lib64 -> usr/lib64.
		parts := strings.Split(host, "/")[1:]
		for i := range parts {
			prefix := "/" + strings.Join(parts[:i+1], "/")
			if target, err := os.Readlink(prefix); err == nil {
				if e := es[prefix]; e.Kind != plan.KindSymlink || e.Target != target {
					t.Errorf("%s: entry %+v, want symlink -> %s as on the host", prefix, e, target)
				}
				break
			}
		}
	}
	for _, e := range p.Entries {
		if e.Kind == plan.KindFile && e.Dest != e.Source {
			t.Errorf("preserve layout put %s at %s", e.Source, e.Dest)
		}
	}
}

func TestPlanScripts(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteScript(t, dir, "hello.sh", "#!/bin/sh\necho hello\n")
	testutil.WriteScript(t, dir, "envy", "#!/usr/bin/env bash\necho hi\n")
	p := mustPlan(t, dir, "version: 1\nbinaries: [./hello.sh, ./envy]\n")
	es := EntryMap(p)
	for _, want := range []string{"/bin/hello.sh", "/bin/envy", "/bin/sh", "/usr/bin/env", "/bin/bash", "/lib/libc.so.6"} {
		if _, ok := lstatPlan(p, want); !ok {
			t.Errorf("plan of scripts has no %s", want)
		}
	}
	if why := es["/bin/sh"].Why; !strings.Contains(why, "#! interpreter of /bin/hello.sh") {
		t.Errorf("/bin/sh Why = %q", why)
	}
}

func TestPlanStaticBinary(t *testing.T) {
	dir := t.TempDir()
	src := testutil.WriteScript(t, dir, "s.c", "int main(void){return 0;}\n")
	testutil.Gcc(t, "-static", "-o", filepath.Join(dir, "static"), src)
	p := mustPlan(t, dir, "version: 1\nbinaries: [./static]\n")
	for _, e := range p.Entries {
		if e.Kind == plan.KindFile && e.Dest != "/bin/static" {
			t.Errorf("static binary pulled in %s", e.Dest)
		}
	}
}

func TestPlanOriginRunpath(t *testing.T) {
	dir := t.TempDir()
	testutil.CLib(t, dir, "foo")
	p := mustPlan(t, dir, "version: 1\nbinaries: [./bin/prog]\n")
	e, ok := EntryMap(p)["/lib/libfoo.so.1"]
	if !ok || e.Source != filepath.Join(dir, "lib", "libfoo.so.1") {
		t.Errorf("/lib/libfoo.so.1 = %+v, want it from %s/lib (found through $ORIGIN)", e, dir)
	}
}

func TestPlanMissingLibraries(t *testing.T) {
	dir := t.TempDir()
	testutil.CLib(t, dir, "foo")
	os.Remove(filepath.Join(dir, "lib", "libfoo.so.1"))
	other := filepath.Join(dir, "other")
	testutil.CLib(t, other, "bar")
	os.Remove(filepath.Join(other, "lib", "libbar.so.1"))
	msg := planErr(t, dir, "version: 1\nbinaries: [./bin/prog, {src: ./other/bin/prog, dest: /bin/prog2}]\n")
	for _, want := range []string{
		"libfoo.so.1 needed by " + filepath.Join(dir, "bin/prog") + ": not found",
		"libbar.so.1 needed by " + filepath.Join(other, "bin/prog") + ": not found",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not report %q", msg, want)
		}
	}
}

func TestPlanRefusesForeignInterpreter(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	fake := testutil.WriteScript(t, dir, "ld-evil.so", "#!/bin/sh\ntouch "+marker+"\n")
	src := testutil.WriteScript(t, dir, "p.c", "int main(void){return 0;}\n")
	testutil.Gcc(t, "-o", filepath.Join(dir, "evil"), "-Wl,--dynamic-linker="+fake, src)
	msg := planErr(t, dir, "version: 1\nbinaries: [./evil]\n")
	if !strings.Contains(msg, "not a system dynamic loader") {
		t.Errorf("error = %q, want it to refuse the interpreter", msg)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the binary's own interpreter %s was executed", fake)
	}
}

func TestPlanSameLibraryNameTwice(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	testutil.CLib(t, a, "dup")
	testutil.CLib(t, b, "dup")
	// Make b's library differ from a's.
	testutil.Gcc(t, "-shared", "-fPIC", "-Wl,-soname,libdup.so.1", "-o", filepath.Join(b, "lib", "libdup.so.1"), testutil.WriteScript(t, b, "dup2.c", "int dup(void){return 7;}\nint other(void){return 1;}\n"))
	text := "version: 1\nbinaries: [./a/bin/prog, {src: ./b/bin/prog, dest: /bin/prog2}]\n"
	msg := planErr(t, dir, text)
	if !strings.Contains(msg, "two different libraries are named libdup.so.1") || !strings.Contains(msg, "layout: preserve") {
		t.Errorf("error = %q, want it to name the clash and suggest preserve", msg)
	}
	p := mustPlan(t, dir, strings.Replace(text, "version: 1\n", "version: 1\nlayout: preserve\n", 1))
	es := EntryMap(p)
	for _, d := range []string{a, b} {
		if _, ok := es[filepath.Join(d, "lib", "libdup.so.1")]; !ok {
			t.Errorf("preserve plan lacks %s/lib/libdup.so.1", d)
		}
	}
}

func TestPlanSetuidStripped(t *testing.T) {
	dir := t.TempDir()
	p := testutil.WriteScript(t, dir, "tool", "#!/bin/sh\n")
	if err := os.Chmod(p, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want os.FileMode
	}{
		{"version: 1\nfiles: [{src: ./tool, dest: /bin/tool}]\n", 0o755},
		{"version: 1\nfiles: [{src: ./tool, dest: /bin/tool, allow_setuid: true}]\n", 0o755 | os.ModeSetuid},
		{"version: 1\nbinaries: [./tool]\n", 0o755},
		{"version: 1\nbinaries: [{src: ./tool, allow_setuid: true}]\n", 0o755 | os.ModeSetuid},
	}
	for _, tt := range tests {
		got := EntryMap(mustPlan(t, dir, tt.text))["/bin/tool"].Mode
		if got != tt.want {
			t.Errorf("plan of %q: /bin/tool mode = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestPlanDeterministic(t *testing.T) {
	dir := t.TempDir()
	text := "version: 1\nbinaries: [/bin/bash, /bin/ls, /usr/bin/getent, /bin/id]\nusers: [{name: u, uid: 1000}]\nprofiles: [hosts]\n"
	var first []byte
	for i := 0; i < 5; i++ {
		var b bytes.Buffer
		if err := mustPlan(t, dir, text).JSON(&b); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b.Bytes()
		} else if !bytes.Equal(first, b.Bytes()) {
			t.Fatalf("plan %d differs from the first", i)
		}
	}
}

func TestPlanManifestSymlinkDoesNotRedirect(t *testing.T) {
	// A file below a manifest symlink is planned where the link leads inside
	// the jail, never through it.
	p := mustPlan(t, t.TempDir(), "version: 1\nsymlinks: [{path: /etc, target: /victim}, {path: /up, target: ../../../../host}]\nfiles:\n  - {dest: /etc/x, content: a}\n  - {dest: /up/y, content: b}\n")
	es := EntryMap(p)
	for _, want := range []string{"/victim/x", "/host/y"} {
		if e := es[want]; e.Kind != plan.KindFile {
			t.Errorf("plan has %+v at %s, want the file moved there", e, want)
		}
	}
	if _, ok := es["/etc/x"]; ok {
		t.Error("plan still writes /etc/x through the /etc symlink")
	}
}

func TestHasVersionAtLeast(t *testing.T) {
	p, _ := filepath.EvalSymlinks(filepath.Join("/lib", testutil.Multiarch(t), "libc.so.6"))
	if p == "" {
		t.Skip("no glibc at the usual path")
	}
	// This host's glibc is 2.36: its files backend is built in.
	if !nssFilesInLibc(p) {
		t.Errorf("nssFilesInLibc(%s) = false, want true on glibc >= 2.34", p)
	}
}

func TestCheckLoader(t *testing.T) {
	loader := testutil.Loader(t) // /lib64/ld-linux-x86-64.so.2 on x86-64
	name := filepath.Base(loader)
	tests := []struct {
		interp string
		ok     bool
	}{
		{loader, true},
		{filepath.Join("/lib", testutil.Multiarch(t), name), true},
		{"/tmp/" + name, false},
		{filepath.Dir(loader) + "/../tmp/" + name, false},
		{"/lib64/evil.so", false},
		{"/lib/ld-musl-x86_64.so.1", false}, // the right name, but not on this host
		{"", false},
	}
	for _, tt := range tests {
		err := elfdeps.CheckLoader(tt.interp)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoader(%q) = %v, want ok=%v", tt.interp, err, tt.ok)
		}
	}
}
