package dpkg

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/manifest/dpkg/dpkgtest"
)

// TestPackageList finds dpkg file lists in a made-up database: plain
// NAME.list, multi-arch NAME:ARCH.list, the native architecture preferred.
func TestPackageList(t *testing.T) {
	native := NativeArch()
	lists := map[string]string{}
	for _, name := range []string{
		"git.list",                    // Multi-Arch: foreign or none: no qualifier
		"libssl3:" + native + ".list", // Multi-Arch: same
		"libz:" + native + ".list",    // installed for two architectures
		"libz:s390x.list",
		"libfoo:s390x.list", // only for a foreign architecture
		"libbar:mips.list",  // two foreign architectures
		"libbar:s390x.list",
		"git-man.list", "git-man.md5sums", // other files are not lists
	} {
		lists[name] = "/.\n"
	}
	admin := dpkgtest.FakeDB(t, "", "", lists)
	list := func(name string) string { return filepath.Join(admin, "info", name) }
	tests := []struct {
		name    string
		want    string
		wantErr string
	}{
		{"git", list("git.list"), ""},
		{"git:" + native, list("git.list"), ""},
		{"git:all", list("git.list"), ""},
		{"libssl3", list("libssl3:" + native + ".list"), ""},
		{"libssl3:" + native, list("libssl3:" + native + ".list"), ""},
		{"libz", list("libz:" + native + ".list"), ""},
		{"libz:s390x", list("libz:s390x.list"), ""},
		{"libfoo", list("libfoo:s390x.list"), ""},
		{"libbar", "", "is installed for several architectures (mips, s390x): name one, such as libbar:mips"},
		{"git:s390x", "", "not installed"},
		{"nope", "", "not installed"},
		{"git-m", "", "not installed"},
		{"Git", "", `"Git" is not a Debian package name`},
		{"../../etc/passwd", "", "is not a Debian package name"},
		{"a", "", "is not a Debian package name"},
		{"", "", "is not a Debian package name"},
	}
	for _, tt := range tests {
		got, err := PackageList(admin, tt.name)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("PackageList(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("PackageList(%q) = %q, %v; want an error containing %q", tt.name, got, err, tt.wantErr)
		}
	}
	if _, err := PackageList(admin, "nope"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("PackageList(nope) = %v, want ErrNotInstalled", err)
	}
}
