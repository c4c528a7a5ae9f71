package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostFacts checks what the tests are told about the host against the
// host itself, by other means than those the helpers use.
func TestHostFacts(t *testing.T) {
	t.Run("python", func(t *testing.T) {
		py := HostPython(t)
		out, err := exec.Command(py.Exe, "--version").Output()
		if err != nil || !strings.HasPrefix(string(out), "Python "+py.Version+".") {
			t.Errorf("%s --version = %q, %v; want Python %s.x", py.Exe, out, err, py.Version)
		}
		for _, f := range []string{filepath.Join(py.Stdlib, "os.py"), py.DynLoad} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("HostPython() = %+v, but %v", py, err)
			}
		}
		if filepath.Base(py.Stdlib) != "python"+py.Version {
			t.Errorf("HostPython().Stdlib = %s, want a directory named python%s", py.Stdlib, py.Version)
		}
	})
	t.Run("multiarch", func(t *testing.T) {
		m := Multiarch(t)
		libc, err := filepath.EvalSymlinks(filepath.Join("/usr/lib", m, "libc.so.6"))
		if err != nil {
			t.Fatalf("Multiarch() = %s, but %v", m, err)
		}
		out, _ := exec.Command("ldd", "/bin/sh").Output()
		if !strings.Contains(string(out), "/"+m+"/libc.so.6") {
			t.Errorf("Multiarch() = %s (%s), but ldd /bin/sh says\n%s", m, libc, out)
		}
	})
	t.Run("loader", func(t *testing.T) {
		l := Loader(t)
		out, _ := exec.Command("ldd", "/bin/sh").Output()
		if _, err := os.Stat(l); err != nil || !strings.Contains(string(out), l+" (") {
			t.Errorf("Loader() = %s (%v), but ldd /bin/sh says\n%s", l, err, out)
		}
	})
}
