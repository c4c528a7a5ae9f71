package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/planner"
)

func TestInspectUpToDate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "data.txt"), []byte("12345\n"), 0o644)
	m := testutil.WriteManifest(t, dir, "m.yaml", lines(
		"version: 1",
		"name: info",
		"files: [{src: ./data.txt, dest: /data.txt}, {dest: /etc/motd, content: hi}]",
		"symlinks: [{path: /d, target: /data.txt}]",
		"enter: {user: \"1000\", env: {PATH: /bin, GREETING: hello world}, mounts: [{type: tmpfs, target: /tmp, size: 8M}], limits: {memory: 64M, pids: 10}}",
	))
	before := time.Now().Add(-time.Second)
	jailtest.MustBuild(t, m, build.Options{})
	in, err := Inspect(filepath.Join(dir, "jail"))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(m)
	if in.Name != "info" || in.Manifest != abs || !in.ManifestExists || in.Layout != "flat" || in.Link != lockfile.LinkCopy {
		t.Errorf("Inspect = %+v, want name info, manifest %s, flat, copy", in, abs)
	}
	if !in.UpToDate || in.Stale.Stale() {
		t.Errorf("Inspect after a build: UpToDate %v, Stale %q; want up to date", in.UpToDate, in.Stale)
	}
	if in.Built.Before(before) || in.Built.After(time.Now()) {
		t.Errorf("Built = %v, want about now", in.Built)
	}
	// One symlink from the manifest, and the flat layout's /usr/bin, /sbin... links.
	if in.Files != 2 || in.Symlinks != 1+len(planner.FlatAliases) || in.Devices != 0 || in.Dirs == 0 || in.Bytes != 6+2 || in.Linked != 0 {
		t.Errorf("counts = %d files, %d dirs, %d symlinks, %d devices, %d bytes, %d linked; want 2 files, %d symlinks, 8 bytes",
			in.Files, in.Dirs, in.Symlinks, in.Devices, in.Bytes, in.Linked, 1+len(planner.FlatAliases))
	}
	e := in.Enter
	if strings.Join(e.Command, " ") != "/bin/sh" || e.User != "1000" || e.Workdir != "/" || e.Hostname != "info" ||
		strings.Join(e.Namespaces, ",") != "mount,uts,pid,net,ipc" || e.Readonly == nil || *e.Readonly {
		t.Errorf("Enter = %+v, want jailer's defaults filled in (/bin/sh, /, hostname info, mount,uts,pid,net,ipc, not read-only)", e)
	}

	var text bytes.Buffer
	if err := in.Text(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^name: +info$`,
		`(?m)^manifest: +` + regexp.QuoteMeta(abs) + `$`,
		`(?m)^built: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`,
		`(?m)^contents: +2 files \(8 B\), \d+ dirs, 6 symlinks, 0 devices$`,
		`(?m)^files: +copied$`,
		`(?m)^status: +up to date$`,
		`(?m)^enter: +/bin/sh$`,
		`(?m)^  user: +1000$`,
		`(?m)^  env: +'GREETING=hello world' PATH=/bin$`,
		`(?m)^  mount: +tmpfs /tmp \(8M\)$`,
		`(?m)^  limits: +memory 64M, pids 10$`,
	} {
		if !regexp.MustCompile(want).MatchString(text.String()) {
			t.Errorf("Text() =\n%s\nwant a line matching %s", text.String(), want)
		}
	}

	var j map[string]any
	data, _ := json.Marshal(in)
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"jail", "name", "manifest", "built", "files", "bytes", "up_to_date", "enter"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON %s lacks %q", data, k)
		}
	}
}

func TestInspectStale(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string
	}{
		{"host file changed", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "data.txt"), []byte("v2, longer\n"), 0o644)
		}, "host file .*data.txt changed"},
		{"file changed in the jail", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "jail", "data.txt"), []byte("tampered\n"), 0o644)
		}, "/data.txt changed in the jail"},
		{"file removed from the jail", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "jail", "etc", "motd"))
		}, "/etc/motd is missing from the jail"},
		{"manifest edited", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "m.yaml"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("dirs: [/new]\n")
			f.Close()
		}, "m.yaml changed"},
		{"manifest removed", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "m.yaml"))
		}, "its manifest .*m.yaml is gone"},
		{"jail removed", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "jail"))
		}, "there is no jail at .*jail"},
		{"jail replaced", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "jail"), filepath.Join(dir, "old"))
			os.Mkdir(filepath.Join(dir, "jail"), 0o755)
		}, "jail is not the directory its lock was written for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "data.txt"), []byte("v1\n"), 0o644)
			m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{src: ./data.txt, dest: /data.txt}, {dest: /etc/motd, content: hi}]\n")
			jailtest.MustBuild(t, m, build.Options{})
			tt.change(t, dir)
			in, err := Inspect(filepath.Join(dir, "jail"))
			if err != nil {
				t.Fatal(err)
			}
			if in.UpToDate || !regexp.MustCompile(tt.want).MatchString(in.Stale.String()) {
				t.Errorf("Inspect: UpToDate %v, Stale %q; want stale matching %q", in.UpToDate, in.Stale, tt.want)
			}
			var text bytes.Buffer
			in.Text(&text)
			if !strings.Contains(text.String(), "status:") || !strings.Contains(text.String(), "stale: ") {
				t.Errorf("Text() =\n%s\nwant a stale status", text.String())
			}
		})
	}
}

// A program found elsewhere in PATH changes the plan though no file's stat
// changed: only the fresh digest of the manifest catches it.
func TestInspectStalePATH(t *testing.T) {
	if _, err := os.Stat("/usr/bin/true"); err != nil {
		t.Skip(err)
	}
	other := t.TempDir()
	if err := os.Symlink("/usr/bin/true", filepath.Join(other, "true")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [true]\n")
	t.Setenv("PATH", "/usr/bin")
	jailtest.MustBuild(t, m, build.Options{})
	if in, err := Inspect(filepath.Join(dir, "jail")); err != nil || !in.UpToDate {
		t.Fatalf("Inspect = %+v, %v; want up to date", in, err)
	}
	t.Setenv("PATH", other+":/usr/bin")
	in, err := Inspect(filepath.Join(dir, "jail"))
	if err != nil {
		t.Fatal(err)
	}
	if in.UpToDate || in.Stale.Kind != lockfile.PlanChanged || !strings.Contains(in.Stale.String(), "PATH") {
		t.Errorf("Inspect with true elsewhere in PATH: UpToDate %v, Stale %q; want stale naming PATH", in.UpToDate, in.Stale)
	}
	// The digest Inspect compares is the one Build records.
	lock, _ := lockfile.Read(filepath.Join(dir, "jail"))
	t.Setenv("PATH", "/usr/bin")
	if d, err := lockfile.Digest(testutil.LoadManifest(t, m), lock.Link); err != nil || d != lock.Digest {
		t.Errorf("Digest = %s, %v; want the lock's %s", d, err, lock.Digest)
	}
}

func TestInspectHardlink(t *testing.T) {
	// Only a host file owned as in the jail (by root) can be linked.
	testutil.RequireRoot(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "data.txt"), []byte("shared\n"), 0o644)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{src: ./data.txt, dest: /data.txt}, {dest: /gen, content: x}]\n")
	jailtest.MustBuild(t, m, build.Options{Link: lockfile.LinkHardlink})
	in, err := Inspect(filepath.Join(dir, "jail"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Link != lockfile.LinkHardlink || in.Linked != 1 || in.Files != 2 || !in.UpToDate {
		t.Errorf("Inspect = link %s, %d of %d linked, up to date %v; want hardlink, 1 of 2, up to date", in.Link, in.Linked, in.Files, in.UpToDate)
	}
	var text bytes.Buffer
	in.Text(&text)
	if !regexp.MustCompile(`(?m)^files: +hardlinked: 1 of 2 files share .*--persist is refused`).MatchString(text.String()) {
		t.Errorf("Text() =\n%s\nwant the files line to say 1 of 2 hardlinked, and no --persist", text.String())
	}
}

func TestInspectNotAJail(t *testing.T) {
	_, err := Inspect(t.TempDir())
	if !errors.Is(err, lockfile.ErrNotAJail) {
		t.Errorf("Inspect(empty dir) = %v, want ErrNotAJail", err)
	}
}

func TestInfoQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/bin/sh": "/bin/sh", "-l": "-l", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$HOME": "'$HOME'", "K=v:w": "K=v:w",
	} {
		if got := infoQuote(in); got != want {
			t.Errorf("infoQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
