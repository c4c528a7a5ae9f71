package dpkg

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/manifest/dpkg/dpkgtest"
)

func TestParseRelations(t *testing.T) {
	tests := []struct {
		in   string
		want [][]Dep
	}{
		{"", nil},
		{"libc6", [][]Dep{{{"libc6", ""}}}},
		{"libc6 (>= 2.34), zlib1g (>= 1:1.2.0)", [][]Dep{{{"libc6", ""}}, {{"zlib1g", ""}}}},
		{"debconf (>= 0.5) | debconf-2.0", [][]Dep{{{"debconf", ""}, {"debconf-2.0", ""}}}},
		{"perl:any, python3:native (>= 3.11~)", [][]Dep{{{"perl", "any"}}, {{"python3", "native"}}}},
		{"libfoo:amd64 [amd64] <!nocheck>", [][]Dep{{{"libfoo", "amd64"}}}},
		{"git-man (>> 1:2.39.5), git-man (<< 1:2.39.5-.)", [][]Dep{{{"git-man", ""}}, {{"git-man", ""}}}},
		{" a ,, b | ", [][]Dep{{{"a", ""}}, {{"b", ""}}}},
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
	wantDeps := [][]Dep{{{"libc6", ""}}, {{"libssl3", ""}}, {{"mail-transport-agent", ""}, {"exim4", ""}}, {{"missing-one", ""}, {"libz", ""}}, {{"www-browser", ""}}}
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
		if got := IsDoc(p); got != want {
			t.Errorf("IsDoc(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestClosure walks a made-up status file from the roots a manifest
// names; problems name the root they belong to, by index.
func TestClosure(t *testing.T) {
	native := NativeArch()
	if native != "amd64" {
		t.Skipf("the test status is written for amd64, not %s", native)
	}
	admin := dpkgtest.FakeDB(t, testStatus, "", nil)
	db, err := Open(admin)
	if err != nil {
		t.Fatal(err)
	}
	root := func(name string, depends bool) Root {
		return Root{Name: name, List: filepath.Join(admin, "info", name+".list"), Depends: depends, At: "m.yaml:3"}
	}
	tests := []struct {
		name  string
		roots []Root
		want  []string // NAME:ARCH why (root)
		errs  []string // (root) message
	}{
		{"without depends", []Root{root("app", false)}, []string{"app:amd64 package app (m.yaml:3) (0)"}, nil},
		{"depends", []Root{root("app", true)}, []string{
			"app:amd64 package app (m.yaml:3) (0)",
			"libc6:amd64 package libc6, a dependency of app (m.yaml:3) (0)",           // same architecture as app, not i386
			"libssl3:amd64 package libssl3, a dependency of app (m.yaml:3) (0)",       // unpacked: its files are there
			"postfix:amd64 package postfix, a dependency of app (m.yaml:3) (0)",       // provides mail-transport-agent; exim4 is only config files
			"libz:amd64 package libz, a dependency of app (m.yaml:3) (0)",             // the first alternative installed
			"lynx:amd64 package lynx, a dependency of app (m.yaml:3) (0)",             // provides www-browser
			"libgcc-s1:amd64 package libgcc-s1, a dependency of libc6 (m.yaml:3) (0)", // recursively, and the cycle back to libc6 ends
		}, nil},
		{"a package twice", []Root{root("libz", false), root("app", true)}, []string{
			"libz:amd64 package libz (m.yaml:3) (0)",
			"app:amd64 package app (m.yaml:3) (1)",
			"libc6:amd64 package libc6, a dependency of app (m.yaml:3) (1)",
			"libssl3:amd64 package libssl3, a dependency of app (m.yaml:3) (1)",
			"postfix:amd64 package postfix, a dependency of app (m.yaml:3) (1)",
			"lynx:amd64 package lynx, a dependency of app (m.yaml:3) (1)",
			"libgcc-s1:amd64 package libgcc-s1, a dependency of libc6 (m.yaml:3) (1)",
		}, nil},
		{"multi-arch list", []Root{{Name: "libc6:i386", List: filepath.Join(admin, "info", "libc6:i386.list"), At: "m.yaml:3"}}, []string{"libc6:i386 package libc6:i386 (m.yaml:3) (0)"}, nil},
		{"unsatisfied", []Root{root("libz", false), root("broken", true)}, []string{"libz:amd64 package libz (m.yaml:3) (0)", "broken:all package broken (m.yaml:3) (1)"},
			[]string{"(1) package broken depends on gone | also-gone, which is not installed (apt-get install gone)"}},
		{"only config files", []Root{root("exim4", false)}, nil,
			[]string{"(0) package exim4 is not installed (dpkg has its file list but not its files; apt-get install exim4)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, errs := db.Closure(tt.roots)
			var got, gotErrs []string
			for _, it := range items {
				got = append(got, fmt.Sprintf("%s %s (%d)", it.Pkg.key(), it.Why, it.Root))
			}
			for _, e := range errs {
				gotErrs = append(gotErrs, fmt.Sprintf("(%d) %v", e.Root, e))
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
	admin := dpkgtest.FakeDB(t, testStatus,
		"/usr/bin/tool\n/usr/bin/tool.distrib\nother\n/usr/bin/own\n/usr/bin/own.real\napp\n/etc/local.conf\n/etc/local.conf.orig\n:\n",
		map[string]string{
			"app.list":      "/.\n/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/own\n/usr/share/doc/app\n/usr/share/doc/app/copyright\n/usr/share/man/man1/app.1.gz\n/etc\n/etc/app.conf\n",
			"app.conffiles": "/etc/app.conf\n/etc/local.conf\n",
		})
	db, err := Open(admin)
	if err != nil {
		t.Fatal(err)
	}
	app := db.byName["app"][0]
	list := filepath.Join(admin, "info", "app.list")
	got, err := db.Paths(Item{Pkg: app, List: list})
	want := []string{"/usr", "/usr/bin", "/usr/bin/tool.distrib", "/usr/bin/own", "/etc", "/etc/app.conf", "/etc/local.conf.orig"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q, %v;\nwant %q", got, err, want)
	}
	got, _ = db.Paths(Item{Pkg: app, List: list, Docs: true})
	if !slices.Contains(got, "/usr/share/doc/app/copyright") || !slices.Contains(got, "/usr/share/man/man1/app.1.gz") {
		t.Errorf("paths with docs = %q, want the documentation kept", got)
	}
	if _, err := db.Paths(Item{Pkg: app, List: filepath.Join(admin, "info", "gone.list")}); err == nil {
		t.Error("paths of a missing list = nil error")
	}
}
