package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/manifest/dpkg/dpkgtest"

	"github.com/jailer-dev/jailer/manifest"
)

// TestPlanPackages plans real packages of this host: every file at its
// host path with the package as its reason, documentation left out, the
// libraries of the ELF files among them resolved.
func TestPlanPackages(t *testing.T) {
	testutil.SkipShort(t, "plans python's whole standard library, twice")
	py := testutil.HostPython(t)
	minimal, stdlib, libMinimal := "python"+py.Version+"-minimal", "libpython"+py.Version+"-stdlib", "libpython"+py.Version+"-minimal"
	testutil.RequirePackage(t, minimal)
	testutil.RequirePackage(t, stdlib)
	exe, _ := filepath.EvalSymlinks(py.Exe)
	sqlite := dynload(t, py, "_sqlite3") // in libpython3.X-stdlib
	ssl := dynload(t, py, "_ssl")        // in libpython3.X-minimal
	for _, layout := range []string{"preserve", "flat"} {
		t.Run(layout, func(t *testing.T) {
			p := mustPlan(t, t.TempDir(), "version: 1\nlayout: "+layout+"\npackages:\n  - "+minimal+"\n  - "+stdlib+"\n  - "+libMinimal+"\n")
			es := EntryMap(p)
			for f, why := range map[string]string{
				exe:                               "package " + minimal + " (m.yaml:4)",
				sqlite:                            "package " + stdlib + " (m.yaml:5)",
				ssl:                               "package " + libMinimal + " (m.yaml:6)",
				filepath.Join(py.Stdlib, "os.py"): "package " + libMinimal + " (m.yaml:6)",
			} {
				if e := es[f]; e.Kind != plan.KindFile || e.Source != f || e.Why != why {
					t.Errorf("%s = %+v, want a file from the package, why %q", f, e, why)
				}
			}
			needed := map[string]string{}
			for _, e := range p.Entries {
				if strings.HasPrefix(e.Dest, "/usr/share/doc/") || strings.HasPrefix(e.Dest, "/usr/share/man/") {
					t.Errorf("documentation planned: %s (%s)", e.Dest, e.Why)
				}
				if lib, by, ok := strings.Cut(e.Why, " needed by "); ok {
					needed[lib] = by
				}
			}
			// The ELF files among the packages' files are resolved: the
			// extension modules' libraries are in the plan.
			for lib, by := range map[string]string{"libssl.so.3": ssl, "libsqlite3.so.0": sqlite, "libexpat.so.1": exe} {
				if needed[lib] != by {
					t.Errorf("%s needed by %q, want by %s", lib, needed[lib], by)
				}
			}
		})
	}
}

// TestPlanPackageDepends follows Depends: the dependencies' files are in
// the plan with the package that needed them as their reason, in both
// layouts (in the flat one, libc6's /lib64 -> usr/lib64 meets the flat
// ELF interpreter at /lib64).
func TestPlanPackageDepends(t *testing.T) {
	testutil.SkipShort(t, "plans python's standard library and everything it depends on, twice")
	py := testutil.HostPython(t)
	stdlib := "libpython" + py.Version + "-stdlib"
	testutil.RequirePackage(t, stdlib)
	for _, layout := range []string{"preserve", "flat"} {
		t.Run(layout, func(t *testing.T) {
			p := mustPlan(t, t.TempDir(), "version: 1\nlayout: "+layout+"\npackages:\n  - { name: "+stdlib+", depends: true }\n")
			es := EntryMap(p)
			for f, why := range map[string]string{
				dynload(t, py, "_sqlite3"):        "package " + stdlib + " (m.yaml:4)",
				filepath.Join(py.Stdlib, "os.py"): "package libpython" + py.Version + "-minimal, a dependency of " + stdlib + " (m.yaml:4)",
			} {
				if e := es[f]; e.Kind != plan.KindFile || e.Why != why {
					t.Errorf("%s = %+v, want why %q", f, e, why)
				}
			}
			libc, _ := filepath.EvalSymlinks(filepath.Join("/lib", testutil.Multiarch(t), "libc.so.6"))
			if e := es[libc]; e.Kind != plan.KindFile || !strings.HasPrefix(e.Why, "package libc6, a dependency of ") {
				t.Errorf("%s = %+v, want it from libc6, a dependency", libc, e)
			}
		})
	}
}

// dynload returns the path of one of py's extension modules.
func dynload(t *testing.T, py testutil.Python, module string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(py.DynLoad, module+".*.so"))
	if len(m) != 1 {
		t.Fatalf("no python module %s in lib-dynload", module)
	}
	return m[0]
}

// TestPlanPackagesDeterministic: packages, their dependencies and the
// profiles that ask host programs plan the same, byte for byte, every time.
func TestPlanPackagesDeterministic(t *testing.T) {
	testutil.SkipShort(t, "plans git, its dependencies and five profiles, three times")
	testutil.RequirePackage(t, "git")
	testutil.RequireHostFile(t, PythonPath)
	testutil.RequireHostFile(t, PerlPath)
	dir := t.TempDir()
	text := "version: 1\nlayout: preserve\npackages: [{name: git, depends: true}]\nprofiles: [python, perl, terminfo, certs, locale]\n"
	var first []byte
	for i := 0; i < 3; i++ {
		var b strings.Builder
		if err := mustPlan(t, dir, text).Text(&b); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = []byte(b.String())
		} else if b.String() != string(first) {
			t.Fatalf("plan %d differs from the first", i)
		}
	}
}

// TestPlanGeneratedCompanions: shared-mime-info's trigger writes
// /usr/share/mime/mime.cache, which no file list has; GLib's content-type
// lookups need it. It comes with the package, saying why.
func TestPlanGeneratedCompanions(t *testing.T) {
	testutil.RequirePackage(t, "shared-mime-info")
	if _, err := os.Stat("/usr/share/mime/mime.cache"); err != nil {
		t.Fatalf("shared-mime-info is installed but its trigger wrote no mime.cache: %v", err)
	}
	p := mustPlan(t, t.TempDir(), "version: 1\nlayout: preserve\npackages: [shared-mime-info]\n")
	e, ok := lstatPlan(p, "/usr/share/mime/mime.cache")
	if !ok || e.Kind != plan.KindFile || e.Source != "/usr/share/mime/mime.cache" ||
		!strings.Contains(e.Why, "generated in /usr/share/mime, a directory only shared-mime-info has") {
		t.Errorf("/usr/share/mime/mime.cache = %+v, want it copied as generated by the package", e)
	}
}

// TestGeneratedCompanionsRules: in a directory only the package has,
// unlisted files come with it; in one a few packages share, they are named
// in a warning; private files never come, nor does anything outside the
// directories triggers write caches to.
func TestGeneratedCompanionsRules(t *testing.T) {
	root := t.TempDir()
	old := generatedRoots
	generatedRoots = []string{root + "/usr/"}
	t.Cleanup(func() { generatedRoots = old })
	for f, mode := range map[string]os.FileMode{
		"usr/share/own/listed": 0o644, "usr/share/own/cache": 0o644, "usr/share/own/secret": 0o600,
		"usr/share/own/sub/x.xml": 0o644, "usr/share/shared/a": 0o644, "usr/share/shared/made.cache": 0o644,
		"etc/own/hostkey": 0o644,
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), []byte(f), mode)
	}
	list := func(paths ...string) string {
		var b strings.Builder
		for _, p := range paths {
			b.WriteString(root + "/" + p + "\n")
		}
		return b.String()
	}
	status := "Package: pkg\nStatus: install ok installed\nArchitecture: all\n\nPackage: other\nStatus: install ok installed\nArchitecture: all\n"
	admin := dpkgtest.FakeDB(t, status, "", map[string]string{
		"pkg.list":   list("usr", "usr/share", "usr/share/own", "usr/share/own/listed", "usr/share/shared", "usr/share/shared/a", "etc", "etc/own"),
		"other.list": list("usr", "usr/share", "usr/share/shared"),
	})
	pl := newPlanner(&manifest.Manifest{Layout: "preserve", Packages: []manifest.Package{
		{Name: "pkg", List: filepath.Join(admin, "info", "pkg.list"), Pos: manifest.Pos{File: "m.yaml", Line: 3, Col: 12}},
	}}, nil)
	pl.dpkgDir = admin
	pl.packages()
	p := &plan.Plan{Entries: pl.es.sorted(), Warnings: pl.warns}
	es := EntryMap(p)
	for f, want := range map[string]bool{
		"usr/share/own/listed": true, "usr/share/own/cache": true, "usr/share/own/sub/x.xml": true,
		"usr/share/own/secret": false, "usr/share/shared/made.cache": false, "etc/own/hostkey": false,
	} {
		if _, ok := es[filepath.Join(root, f)]; ok != want {
			t.Errorf("%s in the plan: %v, want %v", f, ok, want)
		}
	}
	if why := es[filepath.Join(root, "usr/share/own/cache")].Why; !strings.HasPrefix(why, "generated in "+root+"/usr/share/own, a directory only pkg has") {
		t.Errorf("cache Why = %q", why)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], ": 1 file in directories it shares with other packages is in no package's file list (made by a trigger?): "+root+"/usr/share/shared/made.cache;") {
		t.Errorf("Warnings = %q, want one naming made.cache", p.Warnings)
	}
}

// TestPlanPackageProblemsAtItem: what dpkg's database cannot satisfy is
// reported at the packages: item that asked for it, FILE:LINE:COL.
func TestPlanPackageProblemsAtItem(t *testing.T) {
	status := "Package: app\nStatus: install ok installed\nArchitecture: all\nDepends: gone (>= 1) | also-gone\n\n" +
		"Package: old\nStatus: deinstall ok config-files\nArchitecture: all\n"
	admin := dpkgtest.FakeDB(t, status, "", map[string]string{"app.list": "/.\n", "old.list": "/.\n"})
	pl := newPlanner(&manifest.Manifest{Layout: "preserve", Packages: []manifest.Package{
		{Name: "app", List: filepath.Join(admin, "info", "app.list"), Depends: true, Pos: manifest.Pos{File: "m.yaml", Line: 3, Col: 5}},
		{Name: "old", List: filepath.Join(admin, "info", "old.list"), Pos: manifest.Pos{File: "m.yaml", Line: 4, Col: 5}},
	}}, nil)
	pl.dpkgDir = admin
	pl.packages()
	var got []string
	for _, err := range pl.es.errs {
		got = append(got, err.Error())
	}
	want := []string{
		"m.yaml:3:5: package app depends on gone | also-gone, which is not installed (apt-get install gone)",
		"m.yaml:4:5: package old is not installed (dpkg has its file list but not its files; apt-get install old)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages() errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
