package jail

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/manifest"
)

func TestParseRelations(t *testing.T) {
	tests := []struct {
		in   string
		want [][]dpkgDep
	}{
		{"", nil},
		{"libc6", [][]dpkgDep{{{"libc6", ""}}}},
		{"libc6 (>= 2.34), zlib1g (>= 1:1.2.0)", [][]dpkgDep{{{"libc6", ""}}, {{"zlib1g", ""}}}},
		{"debconf (>= 0.5) | debconf-2.0", [][]dpkgDep{{{"debconf", ""}, {"debconf-2.0", ""}}}},
		{"perl:any, python3:native (>= 3.11~)", [][]dpkgDep{{{"perl", "any"}}, {{"python3", "native"}}}},
		{"libfoo:amd64 [amd64] <!nocheck>", [][]dpkgDep{{{"libfoo", "amd64"}}}},
		{"git-man (>> 1:2.39.5), git-man (<< 1:2.39.5-.)", [][]dpkgDep{{{"git-man", ""}}, {{"git-man", ""}}}},
		{" a ,, b | ", [][]dpkgDep{{{"a", ""}}, {{"b", ""}}}},
	}
	for _, tt := range tests {
		if got := parseRelations(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseRelations(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// testStatus is a small dpkg status file: multi-line fields, a package
// removed but not purged, multi-arch instances, virtual packages.
const testStatus = `Package: app
Status: install ok installed
Architecture: amd64
Pre-Depends: libc6 (>= 2.34)
Depends: libssl3 (>= 3), mail-transport-agent | exim4, missing-one | libz, www-browser
Description: an application
 with a long description
 .
 over several lines

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Depends: libgcc-s1

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Depends: libc6 (>= 2.35)
Conffiles:
 /etc/x 0123 obsolete

Package: libssl3
Status: install ok unpacked
Architecture: amd64

Package: postfix
Status: install ok installed
Architecture: amd64
Provides: mail-transport-agent

Package: exim4
Status: deinstall ok config-files
Architecture: amd64

Package: libz
Status: install ok installed
Architecture: amd64

Package: lynx
Status: install ok installed
Architecture: amd64
Provides: www-browser (= 1)

Package: broken
Status: install ok installed
Architecture: all
Depends: gone (>= 1) | also-gone
`

func TestParseStatus(t *testing.T) {
	pkgs, err := parseStatus(strings.NewReader(testStatus))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range pkgs {
		keys = append(keys, p.key()+"/"+p.State)
	}
	want := []string{
		"app:amd64/installed", "libc6:amd64/installed", "libc6:i386/installed", "libgcc-s1:amd64/installed",
		"libssl3:amd64/unpacked", "postfix:amd64/installed", "exim4:amd64/config-files", "libz:amd64/installed",
		"lynx:amd64/installed", "broken:all/installed",
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("parseStatus packages = %v, want %v", keys, want)
	}
	app := pkgs[0]
	wantDeps := [][]dpkgDep{{{"libc6", ""}}, {{"libssl3", ""}}, {{"mail-transport-agent", ""}, {"exim4", ""}}, {{"missing-one", ""}, {"libz", ""}}, {{"www-browser", ""}}}
	if !reflect.DeepEqual(app.Depends, wantDeps) {
		t.Errorf("app Depends = %v, want Pre-Depends then Depends: %v", app.Depends, wantDeps)
	}
	if got := pkgs[8].Provides; !reflect.DeepEqual(got, []string{"www-browser"}) {
		t.Errorf("lynx Provides = %v, want [www-browser]", got)
	}
	if pkgs[2].MultiArch != "same" {
		t.Errorf("libc6:i386 Multi-Arch = %q, want same", pkgs[2].MultiArch)
	}
}

func TestParseList(t *testing.T) {
	got, err := parseList(strings.NewReader("/.\n/usr\n/usr/bin\n/usr/bin/git\n\n/usr/lib//git-core/\nrelative\n"))
	want := []string{"/usr", "/usr/bin", "/usr/bin/git", "/usr/lib/git-core"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseList = %v, %v; want %v", got, err, want)
	}
	got, err = parseConffiles(strings.NewReader("/etc/a.conf\nremove-on-upgrade /etc/old.conf\n\n"))
	want = []string{"/etc/a.conf", "/etc/old.conf"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseConffiles = %v, %v; want %v", got, err, want)
	}
}

func TestParseDiversions(t *testing.T) {
	got, err := parseDiversions(strings.NewReader("/bin/sh\n/bin/sh.distrib\ndash\n/usr/bin/pg_config\n/usr/bin/pg_config.libpq-dev\npostgresql-common\n"))
	want := map[string]diversion{
		"/bin/sh":            {"/bin/sh.distrib", "dash"},
		"/usr/bin/pg_config": {"/usr/bin/pg_config.libpq-dev", "postgresql-common"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseDiversions = %v, %v; want %v", got, err, want)
	}
	if _, err := parseDiversions(strings.NewReader("/a\n/b\n")); err == nil {
		t.Error("parseDiversions of two lines = nil error, want one")
	}
}

func TestIsDoc(t *testing.T) {
	tests := map[string]bool{
		"/usr/share/doc":                       true,
		"/usr/share/doc/git/README.md":         true,
		"/usr/share/man/man1/git.1.gz":         true,
		"/usr/share/info/dir":                  true,
		"/usr/share/lintian/overrides/git":     true,
		"/usr/share/locale/de/LC_MESSAGES/git": true,
		"/usr/share/doc-base/git-tools":        true,
		"/usr/share/documents":                 false,
		"/usr/share/git-core/templates":        false,
		"/usr/lib/locale/C.utf8/LC_CTYPE":      false,
		"/usr/share/perl5/Git.pm":              false,
	}
	for p, want := range tests {
		if got := isDoc(p); got != want {
			t.Errorf("isDoc(%q) = %v, want %v", p, got, want)
		}
	}
}

// fakeDpkg writes a dpkg database (status, diversions, info/*) into a
// temporary directory and returns it.
func fakeDpkg(t *testing.T, status, diversions string, info map[string]string) string {
	t.Helper()
	admin := t.TempDir()
	os.MkdirAll(filepath.Join(admin, "info"), 0o755)
	files := map[string]string{"status": status}
	if diversions != "" {
		files["diversions"] = diversions
	}
	for name, text := range info {
		files[filepath.Join("info", name)] = text
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(admin, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return admin
}

func TestClosure(t *testing.T) {
	native := manifest.NativeArch()
	if native != "amd64" {
		t.Skipf("the test status is written for amd64, not %s", native)
	}
	admin := fakeDpkg(t, testStatus, "", nil)
	db, err := loadDpkg(admin)
	if err != nil {
		t.Fatal(err)
	}
	pos := manifest.Pos{File: "/x/m.yaml", Line: 3, Col: 5}
	root := func(name string, depends bool) manifest.Package {
		return manifest.Package{Name: name, List: filepath.Join(admin, "info", name+".list"), Depends: depends, Pos: pos}
	}
	tests := []struct {
		name  string
		roots []manifest.Package
		want  []string // NAME:ARCH why
		errs  []string
	}{
		{"without depends", []manifest.Package{root("app", false)}, []string{"app:amd64 package app (m.yaml:3)"}, nil},
		{"depends", []manifest.Package{root("app", true)}, []string{
			"app:amd64 package app (m.yaml:3)",
			"libc6:amd64 package libc6, a dependency of app (m.yaml:3)",           // same architecture as app, not i386
			"libssl3:amd64 package libssl3, a dependency of app (m.yaml:3)",       // unpacked: its files are there
			"postfix:amd64 package postfix, a dependency of app (m.yaml:3)",       // provides mail-transport-agent; exim4 is only config files
			"libz:amd64 package libz, a dependency of app (m.yaml:3)",             // the first alternative installed
			"lynx:amd64 package lynx, a dependency of app (m.yaml:3)",             // provides www-browser
			"libgcc-s1:amd64 package libgcc-s1, a dependency of libc6 (m.yaml:3)", // recursively, and the cycle back to libc6 ends
		}, nil},
		{"a package twice", []manifest.Package{root("libz", false), root("app", true)}, []string{
			"libz:amd64 package libz (m.yaml:3)",
			"app:amd64 package app (m.yaml:3)",
			"libc6:amd64 package libc6, a dependency of app (m.yaml:3)",
			"libssl3:amd64 package libssl3, a dependency of app (m.yaml:3)",
			"postfix:amd64 package postfix, a dependency of app (m.yaml:3)",
			"lynx:amd64 package lynx, a dependency of app (m.yaml:3)",
			"libgcc-s1:amd64 package libgcc-s1, a dependency of libc6 (m.yaml:3)",
		}, nil},
		{"multi-arch list", []manifest.Package{{Name: "libc6:i386", List: filepath.Join(admin, "info", "libc6:i386.list"), Pos: pos}}, []string{"libc6:i386 package libc6:i386 (m.yaml:3)"}, nil},
		{"unsatisfied", []manifest.Package{root("broken", true)}, []string{"broken:all package broken (m.yaml:3)"},
			[]string{"/x/m.yaml:3:5: package broken depends on gone | also-gone, which is not installed (apt-get install gone)"}},
		{"only config files", []manifest.Package{root("exim4", false)}, nil,
			[]string{"/x/m.yaml:3:5: package exim4 is not installed (dpkg has its file list but not its files; apt-get install exim4)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, errs := db.closure(tt.roots)
			var got, gotErrs []string
			for _, it := range items {
				got = append(got, it.pkg.key()+" "+it.why)
			}
			for _, e := range errs {
				gotErrs = append(gotErrs, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("closure = %q,\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(gotErrs, tt.errs) {
				t.Errorf("closure errors = %q, want %q", gotErrs, tt.errs)
			}
		})
	}
}

// TestPackagePaths: a package's paths are its list and conffiles, with
// diversions by other packages applied and documentation left out.
func TestPackagePaths(t *testing.T) {
	admin := fakeDpkg(t, testStatus,
		"/usr/bin/tool\n/usr/bin/tool.distrib\nother\n/usr/bin/own\n/usr/bin/own.real\napp\n/etc/local.conf\n/etc/local.conf.orig\n:\n",
		map[string]string{
			"app.list":      "/.\n/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/own\n/usr/share/doc/app\n/usr/share/doc/app/copyright\n/usr/share/man/man1/app.1.gz\n/etc\n/etc/app.conf\n",
			"app.conffiles": "/etc/app.conf\n/etc/local.conf\n",
		})
	db, err := loadDpkg(admin)
	if err != nil {
		t.Fatal(err)
	}
	app := db.byName["app"][0]
	list := filepath.Join(admin, "info", "app.list")
	got, err := db.paths(pkgItem{pkg: app, list: list})
	want := []string{"/usr", "/usr/bin", "/usr/bin/tool.distrib", "/usr/bin/own", "/etc", "/etc/app.conf", "/etc/local.conf.orig"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q, %v;\nwant %q", got, err, want)
	}
	got, _ = db.paths(pkgItem{pkg: app, list: list, docs: true})
	if !hasString(got, "/usr/share/doc/app/copyright") || !hasString(got, "/usr/share/man/man1/app.1.gz") {
		t.Errorf("paths with docs = %q, want the documentation kept", got)
	}
	if _, err := db.paths(pkgItem{pkg: app, list: filepath.Join(admin, "info", "gone.list")}); err == nil {
		t.Error("paths of a missing list = nil error")
	}
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// requirePackage skips (or, in CI, fails) when a Debian package is not installed.
func requirePackage(t *testing.T, name string) {
	t.Helper()
	if _, err := manifest.PackageList(manifest.DpkgDir, name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("package %s is needed and CI=true: .ci/run must install it (%v)", name, err)
		}
		t.Skipf("package %s: %v", name, err)
	}
}

// TestPlanPackages plans real packages of this host: every file at its
// host path with the package as its reason, documentation left out, the
// libraries of the ELF files among them resolved.
func TestPlanPackages(t *testing.T) {
	requirePackage(t, "python3.11-minimal")
	requirePackage(t, "libpython3.11-stdlib")
	py, _ := filepath.EvalSymlinks("/usr/bin/python3.11")
	sqlite := dynload(t, "_sqlite3") // in libpython3.11-stdlib
	ssl := dynload(t, "_ssl")        // in libpython3.11-minimal
	for _, layout := range []string{"preserve", "flat"} {
		t.Run(layout, func(t *testing.T) {
			p := mustPlan(t, t.TempDir(), "version: 1\nlayout: "+layout+"\npackages:\n  - python3.11-minimal\n  - libpython3.11-stdlib\n  - libpython3.11-minimal\n")
			es := entryMap(p)
			for f, why := range map[string]string{
				py:                          "package python3.11-minimal (m.yaml:4)",
				sqlite:                      "package libpython3.11-stdlib (m.yaml:5)",
				ssl:                         "package libpython3.11-minimal (m.yaml:6)",
				"/usr/lib/python3.11/os.py": "package libpython3.11-minimal (m.yaml:6)",
			} {
				if e := es[f]; e.Kind != KindFile || e.Source != f || e.Why != why {
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
			for lib, by := range map[string]string{"libssl.so.3": ssl, "libsqlite3.so.0": sqlite, "libexpat.so.1": py} {
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
	requirePackage(t, "libpython3.11-stdlib")
	for _, layout := range []string{"preserve", "flat"} {
		t.Run(layout, func(t *testing.T) {
			p := mustPlan(t, t.TempDir(), "version: 1\nlayout: "+layout+"\npackages:\n  - { name: libpython3.11-stdlib, depends: true }\n")
			es := entryMap(p)
			for f, why := range map[string]string{
				dynload(t, "_sqlite3"):      "package libpython3.11-stdlib (m.yaml:4)",
				"/usr/lib/python3.11/os.py": "package libpython3.11-minimal, a dependency of libpython3.11-stdlib (m.yaml:4)",
			} {
				if e := es[f]; e.Kind != KindFile || e.Why != why {
					t.Errorf("%s = %+v, want why %q", f, e, why)
				}
			}
			libc, _ := filepath.EvalSymlinks("/lib/x86_64-linux-gnu/libc.so.6")
			if e := es[libc]; e.Kind != KindFile || !strings.HasPrefix(e.Why, "package libc6, a dependency of ") {
				t.Errorf("%s = %+v, want it from libc6, a dependency", libc, e)
			}
		})
	}
}

// dynload returns the path of a python3.11 extension module.
func dynload(t *testing.T, module string) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/python3.11/lib-dynload/" + module + ".*.so")
	if len(m) != 1 {
		t.Fatalf("no python module %s in lib-dynload", module)
	}
	return m[0]
}

// TestPlanPackagesDeterministic: packages, their dependencies and the
// profiles that ask host programs plan the same, byte for byte, every time.
func TestPlanPackagesDeterministic(t *testing.T) {
	requirePackage(t, "git")
	requireHostFile(t, pythonPath)
	requireHostFile(t, perlPath)
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
	requirePackage(t, "shared-mime-info")
	if _, err := os.Stat("/usr/share/mime/mime.cache"); err != nil {
		t.Fatalf("shared-mime-info is installed but its trigger wrote no mime.cache: %v", err)
	}
	p := mustPlan(t, t.TempDir(), "version: 1\nlayout: preserve\npackages: [shared-mime-info]\n")
	e, ok := lstatPlan(p, "/usr/share/mime/mime.cache")
	if !ok || e.Kind != KindFile || e.Source != "/usr/share/mime/mime.cache" ||
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
	admin := fakeDpkg(t, status, "", map[string]string{
		"pkg.list":   list("usr", "usr/share", "usr/share/own", "usr/share/own/listed", "usr/share/shared", "usr/share/shared/a", "etc", "etc/own"),
		"other.list": list("usr", "usr/share", "usr/share/shared"),
	})
	pl := newPlanner(&manifest.Manifest{Layout: "preserve", Packages: []manifest.Package{
		{Name: "pkg", List: filepath.Join(admin, "info", "pkg.list"), Pos: manifest.Pos{File: "m.yaml", Line: 3, Col: 12}},
	}}, nil)
	pl.dpkgDir = admin
	pl.packages()
	p := &Plan{Entries: pl.es.sorted(), Warnings: pl.warns}
	es := entryMap(p)
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
