package dpkg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Dir is dpkg's database of installed packages; its info/NAME.list files
// say which paths each package owns.
const Dir = "/var/lib/dpkg"

// ErrNotInstalled is returned by PackageList for a package dpkg does not know.
var ErrNotInstalled = errors.New("not installed")

// packageName is a Debian package name, optionally qualified by an
// architecture; compiled on first use, as the jail's init runs this binary
// too and should not pay for it.
var packageName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$`)
})

// debianArch maps Go's architecture names to Debian's, to prefer the native
// one among a multi-arch package's instances.
var debianArch = map[string]string{
	"amd64": "amd64", "arm64": "arm64", "386": "i386", "arm": "armhf",
	"ppc64le": "ppc64el", "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el",
	"loong64": "loong64",
}

// NativeArch is the Debian name of the architecture jailer runs on.
func NativeArch() string {
	if a, ok := debianArch[runtime.GOARCH]; ok {
		return a
	}
	return runtime.GOARCH
}

// PackageList returns the path of the file list that the dpkg database at
// admin keeps for the package name: admin/info/NAME.list, or for a
// multi-arch package NAME:ARCH.list. A name without an architecture finds
// either; when a package is installed for several architectures the native
// one is taken. A package dpkg has no list for gives ErrNotInstalled.
func PackageList(admin, name string) (string, error) {
	info := filepath.Join(admin, "info")
	if !packageName().MatchString(name) {
		return "", fmt.Errorf("%q is not a Debian package name (lowercase letters, digits, + - ., optionally :ARCH)", name)
	}
	exact := filepath.Join(info, name+".list")
	if _, err := os.Stat(exact); err == nil {
		return exact, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if strings.Contains(name, ":") {
		// NAME:ARCH also names an Architecture: all or a foreign-only
		// package, whose list has no qualifier.
		bare, arch, _ := strings.Cut(name, ":")
		if _, err := os.Stat(filepath.Join(info, bare+".list")); err == nil && (arch == NativeArch() || arch == "all") {
			return filepath.Join(info, bare+".list"), nil
		}
		return "", ErrNotInstalled
	}
	lists, err := filepath.Glob(filepath.Join(info, name+":*.list"))
	if err != nil {
		return "", err
	}
	sort.Strings(lists)
	switch len(lists) {
	case 0:
		return "", ErrNotInstalled
	case 1:
		return lists[0], nil
	}
	var archs []string
	for _, l := range lists {
		arch := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(l), name+":"), ".list")
		if arch == NativeArch() {
			return l, nil
		}
		archs = append(archs, arch)
	}
	return "", fmt.Errorf("is installed for several architectures (%s): name one, such as %s:%s", strings.Join(archs, ", "), name, archs[0])
}
