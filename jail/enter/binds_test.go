//go:build linux

package enter

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/manifest"
)

// TestEnterFileBinds binds single files, as `--bind ./script.sh:/s.sh:ro`
// does: read-only and writable, onto a path the tree lacks (made in the
// run's fresh root, never in the tree) and onto one it has, with
// --persist (made in the tree for the run and removed after), and the
// refusals: a missing source, a file onto a directory, a symlink planted
// where the target goes.
func TestEnterFileBinds(t *testing.T) {
	dir := shellJail(t)
	host := t.TempDir()
	script := filepath.Join(host, "script.sh")
	write := func() {
		if err := os.WriteFile(script, []byte("echo from-the-script\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name     string
		target   string
		ro       bool
		persist  bool
		cmd      string
		want     string // in the output
		wantHost string // the host file after the run
	}{
		{name: "read-only new path", target: "/s.sh", ro: true,
			cmd:  "bash /s.sh; echo more >> /s.sh",
			want: "from-the-script\n", wantHost: "echo from-the-script\n"},
		{name: "read-only refuses writes", target: "/s.sh", ro: true,
			cmd:  "echo more >> /s.sh",
			want: "Read-only file system", wantHost: "echo from-the-script\n"},
		{name: "writable in a new directory", target: "/opt/tool/s.sh",
			cmd:  "echo more >> /opt/tool/s.sh && cat /opt/tool/s.sh",
			want: "from-the-script\nmore\n", wantHost: "echo from-the-script\nmore\n"},
		{name: "over a file of the tree", target: "/etc/passwd", ro: true,
			cmd:  "cat /etc/passwd",
			want: "echo from-the-script\n", wantHost: "echo from-the-script\n"},
		{name: "persist", target: "/opt/tool/s.sh", persist: true,
			cmd:  "echo more >> /opt/tool/s.sh && bash /opt/tool/s.sh",
			want: "from-the-script\n", wantHost: "echo from-the-script\nmore\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			write()
			code, out, err := runIn(t, dir, func(o *Options) {
				o.Mounts = append(o.Mounts, bindMount(script, c.target, c.ro))
				o.Persist = c.persist
			}, "bash", "-c", c.cmd)
			if err != nil || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, %v, output %q; want it to contain %q", code, err, out, c.want)
			}
			if data, _ := os.ReadFile(script); string(data) != c.wantHost {
				t.Errorf("the host file holds %q, want %q", data, c.wantHost)
			}
			for _, p := range []string{"s.sh", "opt"} {
				if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
					t.Errorf("the run left its mount target %s in the tree", p)
				}
			}
			if data, err := os.ReadFile(filepath.Join(dir, "etc/passwd")); err != nil || !strings.Contains(string(data), "tester") {
				t.Errorf("the tree's /etc/passwd is changed: %q, %v", data, err)
			}
			assertNoMountsUnder(t, dir)
		})
	}
	write()

	refusals := []struct {
		name   string
		source string
		target string
		want   string
	}{
		{"missing source", filepath.Join(host, "nope.sh"), "/s.sh", "bind onto /s.sh: the source: stat " + filepath.Join(host, "nope.sh") + ": no such file or directory"},
		{"file onto a directory", script, "/etc", "the source is a file but /etc is a directory in the jail"},
		{"through a flat jail's /usr/bin link", script, "/usr/bin/s.sh", "/usr/bin/s.sh: bin is a symlink in the jail (to \"../bin\"); refusing to mount there (mount at /bin/s.sh)"},
		{"a directory through it", host, "/usr/bin/x/y", "/usr/bin/x/y: bin is a symlink in the jail (to \"../bin\"); refusing to mount there (mount at /bin/x/y)"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			code, out, err := runIn(t, dir, func(o *Options) {
				o.Mounts = append(o.Mounts, bindMount(c.source, c.target, false))
			}, "true")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("exit %d, %v, output %q; want an error containing %q", code, err, out, c.want)
			}
		})
	}
}

// TestEnterFileBindSymlinkTarget: a symlink in the tree where a file bind
// goes, pointing at a host file, must not carry the mount (or the empty
// file a missing target gets) out of the jail.
func TestEnterFileBindSymlinkTarget(t *testing.T) {
	lab := newEscapeLab(t)
	jail := lab.newJail(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{victim, filepath.Join(filepath.Dir(victim), "new")} {
		os.Remove(filepath.Join(jail, "evil"))
		if err := os.Symlink(link, filepath.Join(jail, "evil")); err != nil {
			t.Fatal(err)
		}
		for _, persist := range []bool{false, true} {
			opts := escEnterOptions(t, jail, "fds")
			opts.Mounts = append(opts.Mounts, bindMount(src, "/evil", false))
			opts.Persist = persist
			r := escEnterWith(t, jail, opts, nil)
			if r.err == nil || !strings.Contains(r.err.Error(), "/evil is a symlink in the jail; refusing to mount there") {
				t.Errorf("link to %s, persist %v: exit %d, err %v; want the symlink refused", link, persist, r.code, r.err)
			}
		}
	}
	if data, _ := os.ReadFile(victim); string(data) != "host file\n" {
		t.Errorf("the host file behind the link is now %q", data)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(victim), "new")); err == nil {
		t.Errorf("a file was made on the host through the link")
	}
	escNoMountsUnder(t, filepath.Dir(victim))
}

// TestEnterSocketBind binds a host process's unix socket into the jail,
// where a client connects to it.
func TestEnterSocketBind(t *testing.T) {
	lab := newEscapeLab(t)
	jail := lab.newJail(t)
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello from the host's service\n"))
			c.Close()
		}
	}()
	opts := escEnterOptions(t, jail, "unix", "/run/app.sock")
	opts.Mounts = append(opts.Mounts, bindMount(sock, "/run/app.sock", true))
	r := escEnterWith(t, jail, opts, nil)
	if r.err != nil || r.code != 0 || !strings.Contains(r.out, "which said: hello from the host's service") {
		t.Errorf("exit %d, err %v, output %q; want the host's service reached through the bound socket", r.code, r.err, r.out)
	}
	if _, err := os.Lstat(filepath.Join(jail, "run")); err == nil {
		t.Errorf("the run left /run in the tree")
	}
}

// TestEnterNestedMounts: a mount below another one is made after it,
// whatever order the flags gave them in (a tmpfs at /tmp made after a bind
// at /tmp/src hid it), and a target below a bind mount that the host's
// directory lacks is an error, not a file or directory jailer makes in
// the user's directory.
func TestEnterNestedMounts(t *testing.T) {
	dir := shellJail(t)
	host := t.TempDir()
	src := filepath.Join(host, "src")
	conf := filepath.Join(host, "app.conf")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "in-src"), []byte("from src\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("from conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		mounts []manifest.Mount
		cmd    string
		want   string
	}{
		{"tmpfs first", []manifest.Mount{mountTmpfs("/tmp"), bindMount(src, "/tmp/src", true)}, "cat /tmp/src/in-src", "from src\n"},
		{"bind first", []manifest.Mount{bindMount(src, "/tmp/src", true), mountTmpfs("/tmp")}, "cat /tmp/src/in-src", "from src\n"},
		{"file bind below a tmpfs", []manifest.Mount{bindMount(conf, "/etc/app/app.conf", true), mountTmpfs("/etc/app")}, "cat /etc/app/app.conf", "from conf\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, err := runIn(t, dir, func(o *Options) { o.Mounts = append(o.Mounts, c.mounts...) }, "bash", "-c", c.cmd)
			if code != 0 || err != nil || out != c.want {
				t.Errorf("exit %d, %v, output %q; want %q", code, err, out, c.want)
			}
			assertNoMountsUnder(t, dir)
		})
	}

	t.Run("missing below a bind", func(t *testing.T) {
		for _, persist := range []bool{false, true} {
			code, out, err := runIn(t, dir, func(o *Options) {
				o.Persist = persist
				o.Mounts = append(o.Mounts, bindMount(src, "/srv", false), bindMount(conf, "/srv/deep/app.conf", true))
			}, "true")
			want := "mount target /srv/deep/app.conf: " + src + "/deep/app.conf does not exist, and it lies in the bind mount of " + src + " at /srv"
			if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("persist %v: exit %d, %v, output %q; want an error with %q", persist, code, err, out, want)
			}
			if _, err := os.Lstat(filepath.Join(src, "deep")); err == nil {
				t.Fatalf("persist %v: the run made deep/ in the host directory it bound", persist)
			}
		}
	})
	t.Run("in a tmpfs inside a bind", func(t *testing.T) {
		// The tmpfs's target is in the host directory (it must be
		// there); what goes on the tmpfs is the jail's to make.
		if err := os.MkdirAll(filepath.Join(src, "build"), 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(src, "build"))
		code, out, err := runIn(t, dir, func(o *Options) {
			o.Mounts = append(o.Mounts, bindMount(src, "/src", false), mountTmpfs("/src/build"), bindMount(conf, "/src/build/out/app.conf", true))
		}, "bash", "-c", "cat /src/build/out/app.conf")
		if code != 0 || err != nil || out != "from conf\n" {
			t.Errorf("exit %d, %v, output %q; want the file bound on the tmpfs", code, err, out)
		}
		if entries, _ := os.ReadDir(filepath.Join(src, "build")); len(entries) != 0 {
			t.Errorf("the run made %v in the host's directory under the tmpfs", entries)
		}
	})
	t.Run("present below a bind", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(src, "deep"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "deep/app.conf"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, err := runIn(t, dir, func(o *Options) {
			o.Mounts = append(o.Mounts, bindMount(conf, "/srv/deep/app.conf", true), bindMount(src, "/srv", false))
		}, "bash", "-c", "cat /srv/deep/app.conf /srv/in-src")
		if code != 0 || err != nil || out != "from conf\nfrom src\n" {
			t.Errorf("exit %d, %v, output %q", code, err, out)
		}
		if data, _ := os.ReadFile(filepath.Join(src, "deep/app.conf")); len(data) != 0 {
			t.Errorf("the host's deep/app.conf is now %q", data)
		}
	})
}
