package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeanLeavesOut: the lean jailer (the Makefile's bin/jailer) links
// neither the registry client nor the HTTP and TLS stacks: what it is
// lean for.
func TestLeanLeavesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("go list of every dependency")
	}
	out, err := exec.Command("go", "list", "-deps", "-tags", "urfave_cli_no_docs,jailer_lean", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, exitStderr(err))
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps gave %d packages: %v", len(deps), deps)
	}
	for _, d := range deps {
		if d == "net/http" || d == "crypto/tls" || strings.Contains(d, "go-containerregistry") || d == "github.com/jailer-dev/jailer/jail/export" {
			t.Errorf("the lean jailer links %s", d)
		}
	}
}

// TestLeanExport: `jailer export` of the lean jailer is done by
// jailer-full beside it, with the same arguments (global flags before the
// command too), and writes what jailer-full writes; without a usable
// jailer-full (missing, another build's) it fails with one line naming
// it, and writes nothing.
func TestLeanExport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds jailer three times")
	}
	bin := builtPrograms(t, "")
	work := t.TempDir()
	m := filepath.Join(work, "m.yaml")
	os.WriteFile(m, []byte("version: 1\nbinaries: [/bin/true]\nfiles:\n  - {dest: /etc/motd, content: \"hi\\n\"}\n"), 0o644)
	jailer := func(dir string, args ...string) (int, string, string) {
		return runCmd(t, exec.Command(filepath.Join(dir, "jailer"), args...))
	}
	if code, out, errOut := jailer(bin, "build", "-q", m); code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, out, errOut)
	}
	jail := filepath.Join(work, "jail")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	for _, format := range []string{"tar", "docker"} {
		lean, full := filepath.Join(work, "lean."+format), filepath.Join(work, "full."+format)
		if code, out, errOut := jailer(bin, "-q", "export", "-f", format, "-o", lean, jail); code != 0 || out != "" {
			t.Fatalf("lean jailer -q export -f %s: exit %d, stdout %q\n%s", format, code, out, errOut)
		}
		if code, _, errOut := runCmd(t, exec.Command(filepath.Join(bin, "jailer-full"), "export", "-q", "-f", format, "-o", full, jail)); code != 0 {
			t.Fatalf("jailer-full export -f %s: exit %d\n%s", format, code, errOut)
		}
		a, _ := os.ReadFile(lean)
		b, _ := os.ReadFile(full)
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("export -f %s: the lean jailer wrote %d bytes, jailer-full %d, not the same", format, len(a), len(b))
		}
	}
	// A usage error is jailer-full's, as the whole program says it.
	if code, _, errOut := jailer(bin, "export", "-f", "zip", "-o", filepath.Join(work, "x"), jail); code != 2 || !strings.Contains(errOut, `--format "zip"`) {
		t.Errorf("export -f zip: exit %d, stderr %q; want 2 and the format named", code, errOut)
	}

	data, err := os.ReadFile(filepath.Join(bin, "jailer"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, full, want string
	}{
		{"missing", "", "no such file"},
		{"another build", filepath.Join(bin, "jailer-init"), "another build"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "jailer"), data, 0o755)
			if c.full != "" {
				other, _ := os.ReadFile(c.full)
				os.WriteFile(filepath.Join(dir, fullProgramName), other, 0o755)
			}
			out := filepath.Join(work, "never.tar")
			code, _, errOut := jailer(dir, "export", "-o", out, jail)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code == 0 || len(lines) != 1 || !strings.Contains(errOut, fullProgramName) || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "make install") {
				t.Errorf("export without a usable %s: exit %d, stderr %q; want one line naming it, %q, and make install", fullProgramName, code, errOut, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
			// What the lean jailer does itself still works.
			if code, out, errOut := jailer(dir, "info", jail); code != 0 || !strings.Contains(out, "jail") {
				t.Errorf("lean jailer info: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// fullProgramName is the lean jailer's fullProgram (export_lean.go, which
// tests, built without the tag, do not see).
const fullProgramName = "jailer-full"
