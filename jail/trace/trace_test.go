//go:build linux

package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/jailer-dev/jailer/manifest"
)

// plugProgram dlopens libplug.so by name, after looking up a path from a
// thread, through a directory fd and from a child process.
const plugProgram = `#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void *lookup(void *arg) {
	struct stat st;
	stat("/from-a-thread", &st);
	return arg;
}

int main(void) {
	pthread_t th;
	pthread_create(&th, NULL, lookup, NULL);
	pthread_join(th, NULL);
	int d = open("/etc", O_RDONLY | O_DIRECTORY);
	if (d >= 0)
		openat(d, "from-a-dirfd", O_RDONLY);
	chdir("/bin");
	access("from-the-cwd", F_OK);
	if (fork() == 0) {
		open("/from-a-child", O_RDONLY);
		_exit(0);
	}
	wait(NULL);
	void *h = dlopen("libplug.so", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	int (*plug)(void) = (int (*)(void))dlsym(h, "plug");
	printf("plug says %d\n", plug());
	return 0;
}
`

// buildPlugProgram compiles plugProgram and libplug.so into dir, with the
// plugin directory in the program's RUNPATH, and returns the plugin's path.
func buildPlugProgram(t *testing.T, dir string) string {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte(plugProgram), 0o644)
	os.WriteFile(filepath.Join(dir, "plug.c"), []byte("int plug(void) { return 42; }\n"), 0o644)
	plugins := filepath.Join(dir, "plugins")
	os.Mkdir(plugins, 0o755)
	testutil.Gcc(t, "-shared", "-fPIC", "-o", filepath.Join(plugins, "libplug.so"), filepath.Join(dir, "plug.c"))
	testutil.Gcc(t, "-o", filepath.Join(dir, "prog"), filepath.Join(dir, "prog.c"), "-Wl,-rpath,"+plugins, "-pthread", "-ldl")
	return filepath.Join(plugins, "libplug.so")
}

// TestTraceLookups checks what the tracer records: relative paths made
// absolute against the cwd and a directory fd, lookups from a thread and
// a child, the loader's search, with namespaces and in a plain chroot.
func TestTraceLookups(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	plugin := buildPlugProgram(t, dir)
	m := testutil.WriteManifest(t, dir, "prog.yaml", "version: 1\nbinaries: [./prog]\n")
	jailDir := jailtest.MustBuild(t, m, build.Options{}).Output
	for _, noNS := range []bool{false, true} {
		tr := NewPathTracer(jailDir)
		code, out, err := jailtest.RunIn(t, jailDir, func(o *enter.Options) { o.Tracer = tr; o.NoNamespaces = noNS }, "/bin/prog")
		if code != 1 || err != nil || !strings.Contains(out, "dlopen: libplug.so: cannot open shared object file") {
			t.Fatalf("no namespaces %v: exit %d, err %v, output %q; want exit 1 and the dlopen error", noNS, code, err, out)
		}
		got := map[string]Lookup{}
		for _, l := range tr.Lookups() {
			got[l.Path] = l
		}
		for _, want := range []Lookup{
			{Path: "/from-a-thread", Syscall: "newfstatat", Program: "/bin/prog"},
			{Path: "/etc/from-a-dirfd", Syscall: "openat", Program: "/bin/prog"},
			{Path: "/bin/from-the-cwd", Syscall: "access", Program: "/bin/prog"},
			{Path: "/from-a-child", Syscall: "openat", Program: "/bin/prog"},
			// glibc stats a RUNPATH directory once, and looks no more in
			// it when it is missing: the plugin is looked for elsewhere.
			{Path: filepath.Dir(plugin), Syscall: "newfstatat", Program: "/bin/prog", Loader: true},
			{Path: "/lib/libplug.so", Syscall: "openat", Program: "/bin/prog", Loader: true},
		} {
			l, ok := got[want.Path]
			if !ok {
				t.Errorf("no namespaces %v: %s not among the lookups %v", noNS, want.Path, tr.Lookups())
				continue
			}
			// glibc may stat through statx or newfstatat.
			if l.Syscall != want.Syscall && !(want.Syscall == "newfstatat" && l.Syscall == "statx") ||
				l.Program != want.Program || l.Loader != want.Loader || l.Errno.Error() != "no such file or directory" {
				t.Errorf("no namespaces %v: lookup %+v, want %+v", noNS, l, want)
			}
		}
	}
}

// TestTraceSignals checks that a traced jail behaves as an untraced one:
// signals reach their handlers, a stopped process stays stopped until
// SIGCONT, the exit status is the command's, and a timeout still kills.
func TestTraceSignals(t *testing.T) {
	dir := jailtest.ShellJail(t)
	tests := []struct {
		name, script string
		edit         func(*enter.Options)
		code         int
		want         string
	}{
		{"signal handler", `trap 'echo got-usr1' USR1; kill -USR1 $$; echo after`, nil, 0, "got-usr1\nafter\n"},
		// A stopped tracee shows as "t (tracing stop)": stopped all the same.
		// Under ptrace a stopped child and one at a syscall stop look alike
		// in /proc, so SIGCONT is sent until the child goes on: one sent
		// before its SIGSTOP would otherwise leave it stopped for good.
		{"stop and continue", `sh -c 'kill -STOP $$; echo resumed' &
			i=0; while kill -0 $! 2>/dev/null && [ $i -lt 200 ]; do kill -CONT $! 2>/dev/null; sleep 0.05; i=$((i+1)); done
			kill -KILL $! 2>/dev/null; wait $!`, nil, 0, "resumed\n"},
		{"killed by a signal", `kill -TERM $$`, nil, 128 + 15, ""},
		{"exit status", `exit 7`, nil, 7, ""},
		{"timeout", `sleep 30`, func(o *enter.Options) { o.Limits.Timeout = 300 * time.Millisecond }, enter.ExitTimeout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewPathTracer(dir)
			start := time.Now()
			code, out, _ := jailtest.RunIn(t, dir, func(o *enter.Options) {
				o.Tracer = tr
				o.Limits.Timeout = 60 * time.Second // a hang is a failure, not a stuck test run
				if tt.edit != nil {
					tt.edit(o)
				}
			}, "bash", "-c", tt.script)
			if code != tt.code || out != tt.want {
				t.Errorf("exit %d, output %q; want %d, %q", code, out, tt.code, tt.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// TestTraceDlopen: a program that dlopens a library by name fails in a
// jail with only the program; one traced round finds the library, writes
// it to the manifest, and the second round runs.
func TestTraceDlopen(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	plugin := buildPlugProgram(t, dir)
	m := testutil.WriteManifest(t, dir, "prog.yaml", `# prog loads its plugin at run time
version: 1

binaries:
  - ./prog   # the program only
# end of binaries

devices: [null]
`)
	var out bytes.Buffer
	stdout, _ := os.CreateTemp(dir, "out")
	defer stdout.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	rounds, err := Trace(context.Background(), m, Options{
		Command: []string{"/bin/prog"},
		Stdio:   enter.Stdio{In: devnull, Out: stdout, Err: stdout},
		Write:   true,
	})
	if err != nil {
		t.Fatalf("Trace = %v", err)
	}
	data, _ := os.ReadFile(stdout.Name())
	out.Write(data)
	if len(rounds) != 2 {
		t.Fatalf("%d rounds, want 2: %+v\noutput:\n%s", len(rounds), rounds, out.String())
	}
	want := []Suggestion{{Field: "files", Path: plugin, Why: "the loader's library search by /bin/prog"}}
	if r := rounds[0]; r.Status != 1 || !slices.Equal(r.Missing, want) || !r.Written {
		t.Errorf("round 1 = %+v, want exit 1, missing %+v, written", r, want)
	}
	if r := rounds[1]; r.Status != 0 || len(r.Missing) != 0 || r.Written {
		t.Errorf("round 2 = %+v, want exit 0, nothing missing", r)
	}
	if !strings.Contains(out.String(), "plug says 42\n") {
		t.Errorf("output %q, want the plugin's answer", out.String())
	}
	text, _ := os.ReadFile(m)
	wantText := `# prog loads its plugin at run time
version: 1

binaries:
  - ./prog   # the program only
# end of binaries

devices: [null]
files:
  - ` + plugin + `  # jailer trace: the loader's library search by /bin/prog
`
	if string(text) != wantText {
		t.Errorf("manifest after trace:\n%s\nwant:\n%s", text, wantText)
	}
}

// TestTracePython starts from a jail with nothing but the interpreter
// Debian's /usr/bin/python3 links to, and traces `import json` of a module
// from PYTHONPATH until it runs: the python profile (for the standard
// library) and the module's directory are found, the loop stops when the
// command succeeds, and the manifest keeps its comments.
func TestTracePython(t *testing.T) {
	testutil.RequireRoot(t)
	py := testutil.HostPython(t)
	python := py.Exe
	dir := t.TempDir()
	mods := filepath.Join(dir, "mods")
	os.MkdirAll(filepath.Join(mods, "greeting"), 0o755)
	os.WriteFile(filepath.Join(mods, "greeting", "__init__.py"), []byte("WORDS = ['hello', 'jail']\n"), 0o644)
	m := testutil.WriteManifest(t, dir, "py.yaml", `version: 1
layout: preserve   # python finds its library next to itself
# the interpreter alone: trace finds the rest
binaries: [`+python+`]
enter:
  env: { PYTHONPATH: `+mods+` }  # the module lives here
`)
	stdout, _ := os.CreateTemp(dir, "out")
	defer stdout.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	start := time.Now()
	rounds, err := Trace(context.Background(), m, Options{
		Command: []string{python, "-c", "import json, greeting; print(json.dumps(greeting.WORDS))"},
		Stdio:   enter.Stdio{In: devnull, Out: stdout, Err: stdout},
		Write:   true,
	})
	out, _ := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatalf("Trace = %v\noutput:\n%s", err, out)
	}
	t.Logf("%d rounds in %s", len(rounds), time.Since(start))
	if len(rounds) < 2 || rounds[len(rounds)-1].Status != 0 {
		t.Fatalf("rounds %+v, want the last one to succeed\noutput:\n%s", rounds, out)
	}
	if !strings.Contains(string(out), `["hello", "jail"]`) {
		t.Errorf("output %q, want the module's words as JSON", out)
	}
	var written []string
	for _, r := range rounds {
		for _, s := range r.Missing {
			if r.Written {
				written = append(written, s.Field+" "+s.Path+s.Name)
			}
		}
	}
	// The standard library comes with the python profile, not as a copy
	// of the directory python looked for (too big, and the profile knows
	// what is in it).
	for _, want := range []string{"profiles python", "files " + mods} {
		if !slices.Contains(written, want) {
			t.Errorf("written %q, want %q among them", written, want)
		}
	}
	text, _ := os.ReadFile(m)
	for _, want := range []string{"layout: preserve   # python finds its library next to itself\n",
		"# the interpreter alone: trace finds the rest\n", "# the module lives here\n",
		"\n  - python  # jailer trace: " + py.Stdlib + ": "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("manifest after trace:\n%s\nwant it to contain %q", text, want)
		}
	}
	lock, err := lockfile.Read(filepath.Join(dir, "jail"))
	if err != nil {
		t.Fatal(err)
	}
	json := filepath.Join(py.Stdlib, "json/__init__.py")
	if !slices.ContainsFunc(lock.Entries, func(e lockfile.Entry) bool { return e.Dest == json }) {
		t.Errorf("the jail has no %s", json)
	}
}

// suggestIn is Suggest for a manifest that says only its layout.
func suggestIn(root, layout string, lookups []Lookup, skip []string) []Suggestion {
	sugs, _ := Suggest(root, lookups, SuggestOptions{Manifest: &manifest.Manifest{Layout: layout}, Skip: skip})
	return sugs
}

// TestTraceSuggest checks which lookups become which manifest items, on a
// fake jail (a directory) and files made on the host.
func TestTraceSuggest(t *testing.T) {
	host := t.TempDir()
	root := filepath.Join(host, "jail")
	mk := func(p string, mode os.FileMode, data string) string {
		p = filepath.Join(host, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := mk("etc/app.conf", 0o644, "x")
	inJail := mk("share/in-jail.txt", 0o644, "x")
	mk("jail"+inJail, 0o644, "x")
	a, b := mk("data/a.txt", 0o644, "a"), mk("data/b.txt", 0o644, "b")
	mk("data/c.txt", 0o644, "c")
	plugin := mk("plugins/libx.so.1", 0o755, "\x7fELF not really")
	tool := mk("tools/tool", 0o755, "#!/bin/sh\n")
	script := mk("tools/run.sh", 0o755, "#!/bin/sh\n")
	mk("pkg/mod/__init__.py", 0o644, "")
	pkg := filepath.Join(host, "pkg")
	os.Symlink(conf, filepath.Join(host, "etc", "alias.conf"))
	os.MkdirAll(root, 0o755)
	bin := "/usr/bin/env"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no /usr/bin/env")
	}

	lookups := []Lookup{
		{Path: conf, Syscall: "openat", Program: "/bin/app"},
		{Path: filepath.Join(host, "etc", "alias.conf"), Syscall: "openat"}, // the same file again
		{Path: inJail, Syscall: "openat"},                                   // the jail has it
		{Path: filepath.Join(host, "nowhere"), Syscall: "openat"},           // the host lacks it
		{Path: "/proc/self/nothing", Syscall: "openat"},
		{Path: "/etc/ld.so.cache", Syscall: "openat", Loader: true},
		{Path: filepath.Join(host, "plugins"), Syscall: "newfstatat", Loader: true}, // the loader's directory probe
		{Path: plugin, Syscall: "openat", Loader: true},
		{Path: filepath.Join(host, "data", "libfound.so"), Syscall: "openat", Loader: true, FoundElsewhere: true},
		{Path: a, Syscall: "openat"}, {Path: b, Syscall: "openat"}, // two of one small directory
		{Path: tool, Syscall: "execve", Exec: true},
		{Path: script, Syscall: "newfstatat"}, // an executable script found by stat
		{Path: pkg, Syscall: "openat", Program: "/usr/bin/python3"},
		{Path: filepath.Join(pkg, "mod", "__init__.py"), Syscall: "newfstatat"}, // under a copied directory
		{Path: filepath.Join(root, "x"), Syscall: "openat"},                     // the jail itself
		{Path: bin, Syscall: "execve", Exec: true},
	}
	got := suggestIn(root, "flat", lookups, nil)
	var texts []string
	for _, s := range got {
		texts = append(texts, s.Field+" "+s.Item())
	}
	want := []string{
		"binaries { src: " + script + ", dest: " + script + " }",
		"binaries { src: " + tool + ", dest: " + tool + " }",
		"binaries { src: /usr/bin/env, dest: /usr/bin/env }",
		"files " + filepath.Join(host, "data"),
		"files " + conf,
		"files " + pkg,
		"files " + plugin,
	}
	if !slices.Equal(texts, want) {
		t.Errorf("Suggest =\n%s\nwant\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range got {
		if s.Path == pkg && !strings.HasPrefix(s.Why, "directory, 2 entries, 0 B; openat by /usr/bin/python3") {
			t.Errorf("why of %s = %q", pkg, s.Why)
		}
	}
	// A top-level directory, or one that holds the jail, is created, not copied.
	empty := t.TempDir()
	if got := suggestIn(empty, "flat", []Lookup{{Path: "/tmp"}}, nil); len(got) != 1 || got[0].Field+" "+got[0].Item() != `dirs { path: /tmp, mode: "1777" }` {
		t.Errorf("Suggest of /tmp = %+v, want it under dirs: with its mode", got)
	}
	if got := suggestIn(empty, "flat", []Lookup{{Path: "/tmp"}, {Path: filepath.Dir(empty)}}, nil); len(got) != 1 || got[0].Field != "dirs" || got[0].Path != filepath.Dir(empty) {
		t.Errorf("Suggest of /tmp and the jail's parent = %+v, want the parent alone under dirs: (it makes /tmp)", got)
	}
	// A link in the jail to a file it lacks: the file is suggested.
	target := mk("real/cfg.txt", 0o644, "x")
	os.MkdirAll(filepath.Join(root, host, "links"), 0o755)
	os.Symlink(target, filepath.Join(root, host, "links", "cfg"))
	if got := suggestIn(root, "flat", []Lookup{{Path: filepath.Join(host, "links", "cfg")}}, nil); len(got) != 1 || got[0].Path != target {
		t.Errorf("Suggest of a dangling link in the jail = %+v, want %s", got, target)
	}
	// The loader stats a search directory once; a library it never finds
	// is suggested from the first such directory the host has it in.
	lib := mk("libdir2/libz9.so.1", 0o644, "x")
	mk("libdir3/libz9.so.1", 0o644, "y")
	got = suggestIn(root, "flat", []Lookup{
		{Path: filepath.Join(host, "nolibs"), Syscall: "newfstatat", Loader: true},
		{Path: filepath.Join(host, "libdir2"), Syscall: "newfstatat", Loader: true},
		{Path: filepath.Join(host, "libdir3"), Syscall: "newfstatat", Loader: true},
		{Path: "/lib/libz9.so.1", Syscall: "openat", Loader: true, Program: "/bin/p"},
		{Path: "/lib/libc.so.6", Syscall: "openat", Loader: true, FoundElsewhere: true},
	}, nil)
	if len(got) != 1 || got[0].Path != lib || got[0].Why != "the loader's library search by /bin/p" {
		t.Errorf("Suggest of a library search = %+v, want %s alone", got, lib)
	}
	// preserve keeps a program's path: no dest.
	if got := suggestIn(root, "preserve", []Lookup{{Path: tool, Exec: true}}, nil); len(got) != 1 || got[0].Item() != tool {
		t.Errorf("Suggest preserve = %+v, want %s alone", got, tool)
	}
	// Paths under a mount target are the mount's business.
	if got := suggestIn(root, "flat", []Lookup{{Path: conf}}, []string{filepath.Dir(conf)}); len(got) != 0 {
		t.Errorf("Suggest under a mount target = %+v, want nothing", got)
	}
}

// TestTraceAppendSuggestions checks that additions go at the end of the right
// list, in its style, and that everything else stays as written.
func TestTraceAppendSuggestions(t *testing.T) {
	dir := t.TempDir()
	x, y := filepath.Join(dir, "x"), filepath.Join(dir, "y #1")
	os.WriteFile(x, nil, 0o644)
	os.WriteFile(y, nil, 0o644)
	sugs := []Suggestion{{Field: "files", Path: x, Why: "openat"}, {Field: "files", Path: y, Why: "stat"}}
	add := "  - " + x + "  # jailer trace: openat\n  - '" + y + "'  # jailer trace: stat\n"
	flowNotes := "# jailer trace: " + x + ": openat\n# jailer trace: '" + y + "': stat\n"
	tests := []struct{ name, in, want string }{
		{"block list with comments", "version: 1 # v\n\n# the files\nfiles:\n  - /etc/hostname   # first\n  # a comment in the list\n  - { dest: /motd, content: \"hi\\n\" }\n\n# users next\nusers: []\n",
			"version: 1 # v\n\n# the files\nfiles:\n  - /etc/hostname   # first\n  # a comment in the list\n  - { dest: /motd, content: \"hi\\n\" }\n" + add + "\n# users next\nusers: []\n"},
		{"list at the key's indentation, last in the file, no final newline", "version: 1\nfiles:\n- /etc/hostname",
			"version: 1\nfiles:\n- /etc/hostname\n" + strings.ReplaceAll(add, "  - ", "- ")},
		{"multi-line item", "version: 1\nfiles:\n  - src: /etc/hostname\n    dest: /h\ndirs: [/d]\n",
			"version: 1\nfiles:\n  - src: /etc/hostname\n    dest: /h\n" + add + "dirs: [/d]\n"},
		// A flow list takes the items; their comments follow it, a line each.
		{"flow list", "version: 1\nfiles: [/etc/hostname]  # flow\ndirs: [/d]\n",
			"version: 1\nfiles: [/etc/hostname, " + x + ", '" + y + "']  # flow\n" + flowNotes + "dirs: [/d]\n"},
		{"empty flow list, no final newline", "version: 1\nfiles: []", "version: 1\nfiles: [" + x + ", '" + y + "']\n" + flowNotes},
		{"multi-line flow list", "version: 1\nfiles: [\n  /etc/hostname,  # h\n  \"/etc/passwd\"\n]\n",
			"version: 1\nfiles: [\n  /etc/hostname,  # h\n  \"/etc/passwd\", " + x + ", '" + y + "'\n]\n" + flowNotes},
		{"empty key", "version: 1\nfiles:\ndirs: [/d]\n", "version: 1\nfiles:\n" + add + "dirs: [/d]\n"},
		{"no key", "version: 1\n# the end\n", "version: 1\n# the end\nfiles:\n" + add},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testutil.WriteManifest(t, dir, "m.yaml", tt.in)
			if err := AppendSuggestions(p, sugs); err != nil {
				t.Fatalf("AppendSuggestions = %v", err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tt.want {
				t.Errorf("manifest\n%s\nbecame\n%s\nwant\n%s", tt.in, got, tt.want)
			}
			if _, err := manifest.Load(p); err != nil {
				t.Errorf("the result does not load: %v", err)
			}
		})
	}
	// Several fields at once, each to its own list.
	p := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries:\n  - /bin/sh\n")
	err := AppendSuggestions(p, []Suggestion{{Field: "dirs", Path: "/tmp", Mode: "1777", Why: "stat"}, {Field: "binaries", Path: "/usr/bin/env", Why: "execve"}})
	got, _ := os.ReadFile(p)
	want := "version: 1\nbinaries:\n  - /bin/sh\n  - /usr/bin/env  # jailer trace: execve\ndirs:\n  - { path: /tmp, mode: \"1777\" }  # jailer trace: stat\n"
	if err != nil || string(got) != want {
		t.Errorf("AppendSuggestions = %v, manifest\n%s\nwant\n%s", err, got, want)
	}
	// Profiles and packages, to a flow list and to a new block list.
	p = testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nprofiles: [locale]\n")
	err = AppendSuggestions(p, []Suggestion{
		{Field: "profiles", Name: "hosts", Why: "/etc/hosts: openat"},
		{Field: "packages", Name: "python3-six", Depends: true, Why: "Python module six"},
		{Field: "packages", Name: "libc-bin", Why: "x"},
	})
	got, _ = os.ReadFile(p)
	want = "version: 1\nprofiles: [locale, hosts]\n# jailer trace: hosts: /etc/hosts: openat\n" +
		"packages:\n  - { name: python3-six, depends: true }  # jailer trace: Python module six\n  - libc-bin  # jailer trace: x\n"
	if err != nil || string(got) != want {
		t.Errorf("AppendSuggestions = %v, manifest\n%s\nwant\n%s", err, got, want)
	}
	// A result that does not load leaves the file as it was.
	in := "version: 1\nfiles: [/etc/hostname]\n"
	p = testutil.WriteManifest(t, dir, "m.yaml", in)
	err = AppendSuggestions(p, []Suggestion{{Field: "files", Path: "/etc/hostname", Why: "again"}, {Field: "files", Path: filepath.Join(dir, "gone"), Why: "x"}})
	if got, _ := os.ReadFile(p); err == nil || string(got) != in {
		t.Errorf("AppendSuggestions of a missing file = %v, manifest %q, want an error and %q", err, got, in)
	}
}

// TestTraceRootless: jailer trace as an ordinary user (testutil's
// RootlessUser, running a copy of this test binary): it builds the jail
// without root, traces the command in a user namespace of its own, finds
// what the jail lacks, writes it into the manifest, and the next round
// runs.
func TestTraceRootless(t *testing.T) {
	u := testutil.RootlessUser(t)
	bin := testutil.SelfForUsers(t)
	dir, err := os.MkdirTemp(testutil.SharedDir(t), "trace-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	m := testutil.WriteManifest(t, dir, "t.yaml", "version: 1\nbinaries: [/bin/sh, /bin/cat]\n")
	data := testutil.WriteManifest(t, dir, "data.txt", "data\n")
	u.Chown(t, dir)
	cmd := exec.Command(bin, "--", "/bin/cat", data)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + u.Home, "JAILER_CACHE_DIR=off", "JAILER_TEST_TRACE=" + m}
	cmd.Dir = dir
	cmd.SysProcAttr = u.Credential()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jailer trace as %s: %v: %s", u.Name, err, stderr.String())
	}
	var rounds []Round
	if err := json.Unmarshal(out, &rounds); err != nil {
		t.Fatalf("rounds %q: %v", out, err)
	}
	if len(rounds) != 2 || rounds[0].Status != 1 || rounds[1].Status != 0 || len(rounds[0].Missing) == 0 || rounds[0].Missing[0].Path != data {
		t.Errorf("rounds of cat %s traced as %s: %+v; want a failing round that finds it, then one that succeeds", data, u.Name, rounds)
	}
	if text, _ := os.ReadFile(m); !strings.Contains(string(text), data) {
		t.Errorf("the manifest after trace --write as %s:\n%s", u.Name, text)
	}
}
