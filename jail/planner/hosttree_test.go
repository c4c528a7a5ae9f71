package planner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

func TestIsLoadableELF(t *testing.T) {
	dir := t.TempDir()
	src := testutil.WriteScript(t, dir, "x.c", "int x(void){return 1;}\nint main(void){return x();}\n")
	testutil.Gcc(t, "-o", filepath.Join(dir, "prog"), src)
	testutil.Gcc(t, "-shared", "-fPIC", "-o", filepath.Join(dir, "lib.so"), src)
	testutil.Gcc(t, "-c", "-o", filepath.Join(dir, "obj.o"), src)
	testutil.Gcc(t, "-static", "-o", filepath.Join(dir, "static"), src)
	os.WriteFile(filepath.Join(dir, "text.so"), []byte("not an ELF file, whatever its name\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "short"), []byte("\x7fELF\x02"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "badclass"), append([]byte("\x7fELF\x07\x01\x01"), make([]byte, 60)...), 0o644)
	tests := map[string]bool{
		"prog": true, "lib.so": true, "static": true,
		"obj.o": false, "text.so": false, "short": false, "empty": false, "badclass": false,
	}
	for name, want := range tests {
		got, err := elfdeps.IsLoadable(filepath.Join(dir, name))
		if err != nil || got != want {
			t.Errorf("isLoadableELF(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := elfdeps.IsLoadable(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("isLoadableELF(missing) = %v, want ErrNotExist", err)
	}
}

// newTestPlanner is a planner for a manifest of the given layout, to drive
// its parts directly.
func newTestPlanner(layout string) *planner {
	m := &manifest.Manifest{Layout: layout}
	return newPlanner(m, elfdeps.NewResolver())
}

// elfTree builds, under dir/tree, a directory with a program and a plugin
// that load lib/libfoo.so.1 through RUNPATH $ORIGIN/../lib, and files that
// are not ELF whatever their names say.
func elfTree(t *testing.T, dir string) string {
	tree := filepath.Join(dir, "tree")
	testutil.CLib(t, tree, "foo")
	os.MkdirAll(filepath.Join(tree, "plugins"), 0o755)
	psrc := testutil.WriteScript(t, tree, "plugin.c", "int foo(void);\nint plugin(void){return foo();}\n")
	testutil.Gcc(t, "-shared", "-fPIC", "-o", filepath.Join(tree, "plugins", "plugin.so"), psrc, "-L"+filepath.Join(tree, "lib"), "-l:libfoo.so.1", "-Wl,-rpath,$ORIGIN/../lib")
	os.WriteFile(filepath.Join(tree, "plugins", "fake.so"), []byte("text\n"), 0o755)
	testutil.WriteScript(t, tree, "bin/run.sh", "#!/bin/sh\nexec prog\n")
	return tree
}

// TestCopyTreeCollectsOnlyELF: walking a copied directory collects its ELF
// files, and nothing else, for the one batch of library resolution.
func TestCopyTreeCollectsOnlyELF(t *testing.T) {
	tree := elfTree(t, t.TempDir())
	p := newTestPlanner("flat")
	if err := p.copyTree(tree, "/opt/tree", hostOpts{}, "test"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for h, dest := range p.elfs {
		got = append(got, strings.TrimPrefix(h, tree)+" "+dest)
	}
	sort.Strings(got)
	want := []string{"/bin/prog /opt/tree/bin/prog", "/lib/libfoo.so.1 /opt/tree/lib/libfoo.so.1", "/plugins/plugin.so /opt/tree/plugins/plugin.so"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ELF files collected = %q, want %q", got, want)
	}
}

// TestPlanFilesResolveELF: the ELF files among a copied directory get
// their libraries, in the flat layout in /lib, in preserve at host paths.
func TestPlanFilesResolveELF(t *testing.T) {
	dir := t.TempDir()
	tree := elfTree(t, dir)
	es := EntryMap(mustPlan(t, dir, "version: 1\nfiles: [{src: ./tree, dest: /opt/tree}]\n"))
	for dest, why := range map[string]string{
		"/lib/libfoo.so.1":            "libfoo.so.1 needed by /opt/tree/bin/prog",
		"/lib/libc.so.6":              "libc.so.6 needed by /opt/tree/bin/prog",
		testutil.Loader(t):            "ELF interpreter of /opt/tree/bin/prog", // at the path gcc's programs name
		"/opt/tree/plugins/plugin.so": "files (m.yaml:2)",
		"/opt/tree/plugins/fake.so":   "files (m.yaml:2)",
	} {
		if e, ok := es[dest]; !ok || e.Why != why {
			t.Errorf("flat plan: %s = %+v, want why %q", dest, e, why)
		}
	}
	es = EntryMap(mustPlan(t, dir, "version: 1\nlayout: preserve\nfiles: ["+tree+"]\n"))
	libc, _ := filepath.EvalSymlinks(filepath.Join("/lib", testutil.Multiarch(t), "libc.so.6"))
	if e := es[libc]; e.Kind != plan.KindFile || e.Why != "libc.so.6 needed by "+tree+"/bin/prog" {
		t.Errorf("preserve plan: %s = %+v, want libc at its host path", libc, e)
	}
	if _, ok := es["/lib/libc.so.6"]; ok {
		t.Error("preserve plan has a flat /lib/libc.so.6")
	}
}

// TestPlanFilesMissingLibrary: an ELF file in a copied directory whose
// library the host lacks is copied as data, and the plan says so; listed
// as a binary, the same file is an error naming the library.
func TestPlanFilesMissingLibrary(t *testing.T) {
	dir := t.TempDir()
	tree := elfTree(t, dir)
	os.Remove(filepath.Join(tree, "lib", "libfoo.so.1"))
	p := mustPlan(t, dir, "version: 1\nfiles: [{src: ./tree/plugins, dest: /plugins}]\n")
	if e := EntryMap(p)["/plugins/plugin.so"]; e.Kind != plan.KindFile || !strings.HasSuffix(e.Why, "copied as data, not resolved: needs libfoo.so.1, not on this host") {
		t.Errorf("/plugins/plugin.so = %+v, want it copied as data, saying which library the host lacks", e)
	}
	if len(p.Warnings) != 1 {
		t.Errorf("Warnings = %q, want one", p.Warnings)
	}
	msg := planErr(t, dir, "version: 1\nbinaries: [./tree/bin/prog]\n")
	if want := "libfoo.so.1 needed by " + filepath.Join(tree, "bin", "prog") + ": not found"; !strings.Contains(msg, want) {
		t.Errorf("error %q does not say %q", msg, want)
	}
}

// TestPlanPreserveFilesKeepSymlinks: in the preserve layout a files: path
// with a symlink on the way (as /usr/share/perl/5.36 -> 5.36.0) keeps the
// link and copies the directory at its real path.
func TestPlanPreserveFilesKeepSymlinks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "perl", "5.36.0", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "perl", "5.36.0", "sub", "strict.pm"), []byte("1;\n"), 0o644)
	os.Symlink("5.36.0", filepath.Join(dir, "perl", "5.36"))
	es := EntryMap(mustPlan(t, dir, "version: 1\nlayout: preserve\nfiles: ["+dir+"/perl/5.36]\n"))
	if e := es[dir+"/perl/5.36"]; e.Kind != plan.KindSymlink || e.Target != "5.36.0" {
		t.Errorf("%s/perl/5.36 = %+v, want a symlink to 5.36.0", dir, e)
	}
	if e := es[dir+"/perl/5.36.0/sub/strict.pm"]; e.Kind != plan.KindFile {
		t.Errorf("strict.pm = %+v, want a file at its real path", e)
	}
	// The flat layout copies what the path names, at that path.
	es = EntryMap(mustPlan(t, dir, "version: 1\nfiles: ["+dir+"/perl/5.36]\n"))
	if e := es[dir+"/perl/5.36/sub/strict.pm"]; e.Kind != plan.KindFile {
		t.Errorf("flat: strict.pm = %+v, want a file below the path as written", e)
	}
}

// TestHostEntryMissingLeavesNoTrace: a path that turns out missing adds
// none of the symlinks met on the way.
func TestHostEntryMissingLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "real"), 0o755)
	os.Symlink("real", filepath.Join(dir, "link"))
	p := newTestPlanner("preserve")
	if _, _, err := p.hostEntry(filepath.Join(dir, "link", "missing"), hostOpts{}, "test"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("hostEntry(missing) = %v, want ErrNotExist", err)
	}
	if len(p.es.m) != 0 {
		t.Errorf("hostEntry(missing) added %v", p.es.m)
	}
	// Without follow, a symlink at the end is the entry.
	real, fi, err := p.hostEntry(filepath.Join(dir, "link"), hostOpts{}, "test")
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || real != filepath.Join(dir, "link") {
		t.Errorf("hostEntry(link) = %s, %v, %v; want the link itself", real, fi, err)
	}
}

// TestDropAliases: a flat file entry that symlinks in the plan already
// provide is dropped; one with other contents is kept (and clashes).
func TestDropAliases(t *testing.T) {
	p := newTestPlanner("flat")
	ld := "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
	for _, e := range []plan.Entry{
		{Dest: "/lib64", Kind: plan.KindSymlink, Target: "usr/lib64"},
		{Dest: "/lib", Kind: plan.KindSymlink, Target: "usr/lib"},
		{Dest: "/usr/lib64/ld-linux-x86-64.so.2", Kind: plan.KindSymlink, Target: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		{Dest: ld, Kind: plan.KindFile, Source: ld, Mode: 0o755},
		{Dest: "/lib64/ld-linux-x86-64.so.2", Kind: plan.KindFile, Source: ld, Mode: 0o755},
		{Dest: "/bin", Kind: plan.KindSymlink, Target: "usr/bin"},
		{Dest: "/usr/bin/sh", Kind: plan.KindSymlink, Target: "dash"},
		{Dest: "/usr/bin/dash", Kind: plan.KindFile, Source: "/usr/bin/dash", Mode: 0o755},
		{Dest: "/bin/sh", Kind: plan.KindFile, Source: "/usr/bin/bash", Mode: 0o755},
	} {
		p.es.m[e.Dest] = e
	}
	p.dropAliases()
	if _, ok := p.es.m["/lib64/ld-linux-x86-64.so.2"]; ok {
		t.Error("/lib64/ld-linux-x86-64.so.2 kept, though /lib64 -> usr/lib64 leads to the same host file")
	}
	if _, ok := p.es.m["/bin/sh"]; !ok {
		t.Error("/bin/sh (bash) dropped, though the plan's /usr/bin/sh is dash")
	}
}
