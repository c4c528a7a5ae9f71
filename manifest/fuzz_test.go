package manifest

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are manifests, valid and not, that start the fuzzer off.
var fuzzSeeds = []string{
	"",
	"# comment only\n",
	"version: 1\n",
	"version: 2\n",
	"version: 1\n---\nversion: 1\n",
	"version: 1\nname: [\n",
	"version: 1\nbinaries: [ls, /bin/sh, {src: bash, dest: /bin/b}]\n",
	"version: 1\ndevices: [null, zero, ~]\nprofiles: [hosts]\n",
	"version: 1\nfiles: [{dest: /etc/motd, content: \"hi\\n\", mode: \"0644\"}, {dest: /x, content: y, mode: 0999}]\n",
	"version: 1\ndirs: [/a, {path: /tmp, mode: \"1777\", owner: \"1:1\"}, ../x]\n",
	"version: 1\nsymlinks: [{path: /usr/bin/env, target: /bin/env}]\n",
	"version: 1\nusers: [{name: t, uid: 1000}, {name: t, uid: 1000}]\ngroups: [{name: t, gid: 1000, members: [t, x]}]\n",
	"version: 1\nenter: {command: [/bin/sh, -l], namespaces: [mount, bogus], user: '1:2', workdir: /w, env: {A: b}, readonly: true}\n",
	"version: 1\nenter: {mounts: [{type: tmpfs, target: /tmp, size: 64M}, {type: bind, source: ., target: /s}], limits: {memory: 12Q, pids: 1, cpu: 1.5, nofile: 8, timeout: forever}}\n",
	"version: 1\ninclude: [self.yaml, m.yaml, ./nope.yaml, {path: x}]\n",
	"version: 1\nx: &a {k: 1}\nbinaries: [*a, *a]\n",
	"version: 1\nenter: {env: {A: 1, A: 2}}\nname: a\nname: b\n",
	"&a [*a]\n",
	"version: 1\nbinaries: &b [*b]\n",
	billionLaughs,
	wideBomb(200),
	keyBomb(100),
	longValueBomb(1<<12, 300),
}

// FuzzLoad feeds arbitrary bytes to the decoder and to Load. Neither may
// panic, hang or return an error without a position in the file, and what
// Load accepts must keep its promises (clean jail paths inside the jail).
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/*/*/*.yaml")
	for _, p := range append(files, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "m.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		var m Manifest
		err := parseDocument("fuzz.yaml", data, &m)
		checkPositioned(t, "parseDocument", "fuzz.yaml", err)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("parseDocument took %v", d)
		}
		if err != nil && len(err.Error()) > 4*maxExpanded+300*maxNodes {
			t.Errorf("parseDocument = error of %d bytes from %d bytes", len(err.Error()), len(data))
		}

		// Load reads includes from the host; keep away from files that
		// could block (a terminal on stdin, a FIFO under /proc).
		if bytes.Contains(data, []byte("/dev")) || bytes.Contains(data, []byte("/proc")) || bytes.Contains(data, []byte("/sys")) {
			return
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		lm, err := Load(file)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Load took %v", d)
		}
		if err != nil {
			if lm != nil {
				t.Errorf("Load = a manifest and an error")
			}
			checkPositioned(t, "Load", "", err)
			return
		}
		if lm.Version != Version || lm.Name == "" || lm.Layout == "" || len(lm.Enter.Namespaces) == 0 {
			t.Errorf("Load = version %d, name %q, layout %q, namespaces %q: defaults missing", lm.Version, lm.Name, lm.Layout, lm.Enter.Namespaces)
		}
		clean := func(what, p string) {
			if err := CheckJailPath(p); err != nil || path.Clean(p) != p {
				t.Errorf("Load accepted %s %q (not a clean jail path: %v)", what, p, err)
			}
		}
		for _, b := range lm.Binaries {
			clean("binary dest", b.Dest)
			if !filepath.IsAbs(b.Host) {
				t.Errorf("Load accepted binary %q with host path %q", b.Src, b.Host)
			}
		}
		for _, x := range lm.Files {
			clean("file dest", x.Dest)
		}
		for _, x := range lm.Dirs {
			clean("dir", x.Path)
		}
		for _, x := range lm.Symlinks {
			clean("symlink", x.Path)
		}
		for _, u := range lm.Users {
			clean("home", u.Home)
			clean("shell", u.Shell)
		}
		if lm.Enter.Workdir != "" {
			clean("workdir", lm.Enter.Workdir)
		}
		for _, x := range lm.Enter.Mounts {
			clean("mount target", x.Target)
		}
	})
}

// checkPositioned checks that every problem in err is an *Error with a
// position (in file, when file is not "").
func checkPositioned(t *testing.T, call, file string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if _, ok := e.(interface{ Unwrap() []error }); ok { // an include's joined errors
			checkPositioned(t, call, file, e)
			continue
		}
		var me *Error
		switch {
		case !errors.As(e, &me):
			t.Errorf("%s = %T %q, want *Error", call, e, e)
		case me.Pos.File == "" || (file != "" && me.Pos.File != file):
			t.Errorf("%s = %q, want it in %q", call, e, file)
		case me.Pos.Line < 1 && !strings.Contains(me.Msg, "cannot read manifest"):
			t.Errorf("%s = %q, want a line number", call, e)
		case me.Pos.Line >= 1 && me.Pos.Col < 1:
			t.Errorf("%s = %q, want a column", call, e)
		}
	}
}
