package testutil

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Python is what the tests need to know of Debian's /usr/bin/python3.
type Python struct {
	// Exe is the versioned interpreter, such as /usr/bin/python3.11.
	Exe string
	// Version is its major.minor version, such as 3.11; Debian's package
	// names hold it (python3.11-minimal, libpython3.11-stdlib).
	Version string
	// Stdlib is its standard library, such as /usr/lib/python3.11.
	Stdlib string
	// DynLoad holds its extension modules, such as /usr/lib/python3.11/lib-dynload.
	DynLoad string
}

// hostPython asks /usr/bin/python3 once per test binary.
var hostPython = sync.OnceValues(func() (Python, error) {
	// /usr/bin/python3, not python3 in PATH: a pyenv shim on some machines.
	out, err := exec.Command("/usr/bin/python3", "-I", "-S", "-c",
		"import sys, sysconfig; print('%d.%d' % sys.version_info[:2]); print(sysconfig.get_path('stdlib')); print(sysconfig.get_config_var('DESTSHARED') or '')").Output()
	if err != nil {
		return Python{}, fmt.Errorf("ask /usr/bin/python3 for its version: %w", err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(f) != 3 || f[0] == "" || !filepath.IsAbs(f[1]) || !filepath.IsAbs(f[2]) {
		return Python{}, fmt.Errorf("/usr/bin/python3 answered %q, not its version, stdlib and lib-dynload", out)
	}
	p := Python{Exe: "/usr/bin/python" + f[0], Version: f[0], Stdlib: f[1], DynLoad: f[2]}
	if _, err := os.Stat(p.Exe); err != nil {
		return Python{}, err
	}
	return p, nil
})

// HostPython returns what /usr/bin/python3 says of itself, and skips the
// test (fails it in CI) when the host has none.
func HostPython(t testing.TB) Python {
	t.Helper()
	p, err := hostPython()
	if err != nil {
		missing(t, err)
	}
	return p
}

// hostMultiarch finds the host's multiarch triplet once.
var hostMultiarch = sync.OnceValues(func() (string, error) {
	// gcc knows it; without gcc, the directory of the C library that the
	// loader of /bin/sh finds does.
	if out, err := exec.Command("gcc", "-dumpmachine").Output(); err == nil {
		t := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join("/usr/lib", t, "libc.so.6")); err == nil {
			return t, nil
		}
	}
	out, err := exec.Command("ldd", "/bin/sh").Output()
	if err != nil {
		return "", fmt.Errorf("ldd /bin/sh: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if name, path, ok := strings.Cut(strings.TrimSpace(line), " => "); ok && name == "libc.so.6" {
			dir := filepath.Base(filepath.Dir(strings.Fields(path)[0]))
			if strings.Contains(dir, "-linux-") {
				return dir, nil
			}
		}
	}
	return "", errors.New("neither gcc -dumpmachine nor the C library's directory names a multiarch triplet")
})

// Multiarch returns the host's multiarch triplet, such as
// x86_64-linux-gnu: the directory under /usr/lib (and /lib) that holds its
// native libraries. It skips the test (fails it in CI) on a host without.
func Multiarch(t testing.TB) string {
	t.Helper()
	m, err := hostMultiarch()
	if err != nil {
		missing(t, err)
	}
	return m
}

// Loader returns the dynamic loader the host's programs name (the
// PT_INTERP of /bin/sh), such as /lib64/ld-linux-x86-64.so.2.
func Loader(t testing.TB) string {
	t.Helper()
	f, err := elf.Open("/bin/sh")
	if err != nil {
		missing(t, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatalf("read the interpreter of /bin/sh: %v", err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	missing(t, errors.New("/bin/sh names no dynamic loader"))
	return ""
}

// missing skips a test the host cannot run, or fails it in CI.
func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: .ci/run must provide it)", err)
	}
	t.Skip(err)
}
