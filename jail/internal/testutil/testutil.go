// Package testutil holds what the jail packages' tests share: the checks
// that skip a test the host cannot run (RequireRoot, RequireTool,
// RequirePackage, RequireHostFile, SkipShort), facts about the host the
// tests derive rather than hard-code (HostPython, Multiarch, Loader), and
// small builders (manifests, C programs, fake dpkg databases).
//
// Skipping follows two rules. With CI=true a test that cannot run is a
// failure, not a skip: CI installs everything and runs as root. With
// -short, every test that needs root or takes long skips, even in CI, so
// that `go test -short ./...` (make test-short) is a quick loop for a
// developer without root.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jailer-dev/jailer/manifest"
	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// RequireRoot skips a test that needs root, except in CI (CI=true), where a
// missing privilege is a failure: those tests must run there. With -short
// it skips even as root: tests that need root build and enter real jails,
// which is what -short leaves out.
func RequireRoot(t testing.TB) {
	t.Helper()
	SkipShort(t, "needs root")
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root, and CI=true: run the tests as root")
	}
	t.Skip("needs root (set CI=true to make this a failure)")
}

// SkipShort skips a slow test, or one that needs root, under -short; why
// says which it is.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: %s", why)
	}
}

// RequireTool skips (or, in CI, fails) when a host program is missing.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed and CI=true: .ci/run must install it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// WriteManifest writes a manifest into dir and returns its path.
func WriteManifest(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// LoadManifest loads a manifest and fails the test on error.
func LoadManifest(t testing.TB, path string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatalf("manifest.Load(%s) = %v", path, err)
	}
	return m
}

// ChrootRun runs argv inside dir with chroot(8) and returns its output.
func ChrootRun(t testing.TB, dir string, argv ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("chroot", append([]string{dir}, argv...)...)
	cmd.Env = []string{"PATH=/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ChrootRunProc is ChrootRun with /proc mounted in a new mount and PID
// namespace, as jailer enter provides it.
func ChrootRunProc(t testing.TB, dir string, argv ...string) (string, error) {
	t.Helper()
	RequireTool(t, "unshare")
	chroot := RequireTool(t, "chroot")
	args := append([]string{"--mount", "--pid", "--fork", "--mount-proc=" + filepath.Join(dir, "proc"), chroot, dir}, argv...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = []string{"PATH=/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Gcc compiles a C program for a test, failing when gcc is missing in CI.
func Gcc(t testing.TB, args ...string) {
	t.Helper()
	RequireTool(t, "gcc")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
}

// RequireHostFile skips (or, in CI, fails) when the host lacks a file.
func RequireHostFile(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Stat(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed and CI=true: .ci/run must install it", name)
		}
		t.Skipf("host lacks %s", name)
	}
}

// RequirePackage skips (or, in CI, fails) when a Debian package is not installed.
func RequirePackage(t *testing.T, name string) {
	t.Helper()
	if _, err := dpkg.PackageList(dpkg.Dir, name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("package %s is needed and CI=true: .ci/run must install it (%v)", name, err)
		}
		t.Skipf("package %s: %v", name, err)
	}
}

// WriteScript writes an executable file into dir and returns its path.
func WriteScript(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// CLib builds lib/libNAME.so.1 and bin/prog linked to it with RUNPATH
// $ORIGIN/../lib under dir, and returns the program's path.
func CLib(t *testing.T, dir, name string) string {
	t.Helper()
	for _, d := range []string{"lib", "bin"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	lsrc := WriteScript(t, dir, name+".c", "int "+name+"(void){return 42;}\n")
	Gcc(t, "-shared", "-fPIC", "-Wl,-soname,lib"+name+".so.1", "-o", filepath.Join(dir, "lib", "lib"+name+".so.1"), lsrc)
	psrc := WriteScript(t, dir, "prog.c", "#include <stdio.h>\nint "+name+"(void);\nint main(void){printf(\"%d\\n\", "+name+"());return 0;}\n")
	prog := filepath.Join(dir, "bin", "prog")
	Gcc(t, "-o", prog, psrc, "-L"+filepath.Join(dir, "lib"), "-l:lib"+name+".so.1", "-Wl,-rpath,$ORIGIN/../lib")
	return prog
}

// Main runs a package's tests with a host cache of their own, never the
// user's, and removes it afterwards.
func Main(m *testing.M) {
	os.Exit(RunIsolated(m))
}

// RunIsolated is Main that returns the exit status instead of exiting.
// Tests get a host cache and a content store of their own, and build with
// the link mode they ask for, whatever JAILER_LINK the caller has.
func RunIsolated(m *testing.M) int {
	if os.Getenv("JAILER_CACHE_DIR") == "" {
		dir, err := os.MkdirTemp("", "jailer-test-cache-")
		if err == nil {
			os.Setenv("JAILER_CACHE_DIR", dir)
			defer os.RemoveAll(dir)
		}
	}
	if os.Getenv("JAILER_STORE") == "" {
		dir, err := os.MkdirTemp("", "jailer-test-store-")
		if err == nil {
			os.Setenv("JAILER_STORE", filepath.Join(dir, "store"))
			defer os.RemoveAll(dir)
		}
	}
	os.Unsetenv("JAILER_LINK")
	return m.Run()
}

// ShellManifest is the manifest of the shared jail tests enter: bash and
// the tools they run, and a user tester.
const ShellManifest = `version: 1
binaries: [/bin/bash, /bin/sh, /bin/ls, /bin/cat, /bin/sleep, /bin/id, /bin/grep, /bin/wc, /bin/touch, /bin/mkdir, /bin/echo, /bin/true, /bin/rm, /bin/chmod, /bin/dd]
users: [{name: tester, uid: 1000}]
enter:
  env: { PATH: /bin, GREETING: hello }
`
