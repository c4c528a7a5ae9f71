//go:build linux

package trace

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/privdirs"
	"github.com/jailer-dev/jailer/jail/planner"
	"github.com/jailer-dev/jailer/manifest/dpkg"

	"github.com/jailer-dev/jailer/manifest"
)

// texts renders suggestions as "field item" and notes as "subject: text".
func texts(sugs []Suggestion, notes []Note) (s, n []string) {
	for _, x := range sugs {
		s = append(s, x.Field+" "+x.Item())
	}
	for _, x := range notes {
		n = append(n, x.Subject+": "+x.Text)
	}
	return s, n
}

// hasNote says whether a note about subject contains every one of words.
func hasNote(notes []Note, subject string, words ...string) bool {
	return slices.ContainsFunc(notes, func(n Note) bool {
		if n.Subject != subject {
			return false
		}
		for _, w := range words {
			if !strings.Contains(n.Text, w) {
				return false
			}
		}
		return true
	})
}

// TestTraceSuggestBigDirectories: a directory looked for itself (a stat
// or readlink of /usr/share while resolving a path in it) is copied whole
// only when small; otherwise what was looked for inside it is suggested,
// or a note says why nothing was.
func TestTraceSuggestBigDirectories(t *testing.T) {
	host := t.TempDir()
	root := filepath.Join(host, "jail")
	os.MkdirAll(root, 0o755)
	big := filepath.Join(host, "share")
	os.MkdirAll(filepath.Join(big, "tcl"), 0o755)
	for i := range collapseMaxEntries {
		os.WriteFile(filepath.Join(big, "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), []byte("x"), 0o644)
	}
	initTcl := filepath.Join(big, "tcl", "init.tcl")
	os.WriteFile(initTcl, []byte("x"), 0o644)
	// Few entries, but more bytes than the limit (a sparse file).
	heavy := filepath.Join(host, "heavy")
	os.MkdirAll(heavy, 0o755)
	f, _ := os.Create(filepath.Join(heavy, "blob"))
	f.Truncate(collapseMaxBytes + 1)
	f.Close()
	os.WriteFile(filepath.Join(heavy, "small"), []byte("x"), 0o644)
	small := filepath.Join(host, "small")
	os.MkdirAll(small, 0o755)
	os.WriteFile(filepath.Join(small, "a"), []byte("a"), 0o644)

	tests := []struct {
		name      string
		lookups   []Lookup
		sugs      []string
		noteAbout string // a note about this path, or ""
	}{
		{"readlink of a big directory, then a file in it",
			[]Lookup{{Path: big, Syscall: "readlink", Program: "/bin/tclsh"}, {Path: initTcl, Syscall: "access", Program: "/bin/tclsh"}},
			[]string{"files " + initTcl}, ""},
		{"a big directory alone", []Lookup{{Path: big, Syscall: "newfstatat", Program: "/bin/tclsh"}}, nil, big},
		{"two files of a big directory stay two files",
			[]Lookup{{Path: filepath.Join(big, "faa"), Syscall: "openat"}, {Path: filepath.Join(big, "fba"), Syscall: "openat"}},
			[]string{"files " + filepath.Join(big, "faa"), "files " + filepath.Join(big, "fba")}, ""},
		{"a directory of few but big files", []Lookup{{Path: heavy, Syscall: "newfstatat"}}, nil, heavy},
		{"two files of it", []Lookup{{Path: filepath.Join(heavy, "blob")}, {Path: filepath.Join(heavy, "small")}},
			[]string{"files " + filepath.Join(heavy, "blob"), "files " + filepath.Join(heavy, "small")}, ""},
		{"a small directory is copied whole", []Lookup{{Path: small, Syscall: "newfstatat"}}, []string{"files " + small}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sugs, notes := Suggest(root, tt.lookups, SuggestOptions{})
			got, gotNotes := texts(sugs, notes)
			if !slices.Equal(got, tt.sugs) {
				t.Errorf("Suggest = %q, want %q", got, tt.sugs)
			}
			switch {
			case tt.noteAbout == "" && len(notes) > 0:
				t.Errorf("notes %q, want none", gotNotes)
			case tt.noteAbout != "" && !hasNote(notes, tt.noteAbout, "never copied whole", "more than 64 entries or 16.0 MiB"):
				t.Errorf("notes %q, want one saying %s is too big to copy whole", gotNotes, tt.noteAbout)
			}
		})
	}
}

// TestTraceSuggestPrivate: nothing in a home or cache directory is
// suggested, not through a symlink either, and no directory that holds
// one is copied whole; notes say what was left out.
func TestTraceSuggestPrivate(t *testing.T) {
	host := t.TempDir()
	root := filepath.Join(host, "jail")
	os.MkdirAll(root, 0o755)
	homes := filepath.Join(host, "home")
	alice := filepath.Join(homes, "alice")
	cache := filepath.Join(alice, ".cache")
	for _, d := range []string{filepath.Join(alice, "go", "pkg"), filepath.Join(cache, "go-build")} {
		os.MkdirAll(d, 0o755)
	}
	netrc := filepath.Join(alice, ".netrc")
	os.WriteFile(netrc, []byte("machine example.com password secret\n"), 0o600)
	os.WriteFile(filepath.Join(cache, "go-build", "00"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(homes, "motd"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(homes, "issue"), []byte("x"), 0o644)
	link := filepath.Join(host, "config")
	os.Symlink(netrc, link)
	private := []privdirs.Dir{
		{Path: cache, Why: "the cache directory of the user running jailer (~/.cache)"},
		{Path: alice, Why: "the home directory of alice (/etc/passwd)"},
	}
	lookups := []Lookup{
		{Path: netrc, Syscall: "openat"},
		{Path: filepath.Join(alice, "go"), Syscall: "newfstatat"},
		{Path: filepath.Join(cache, "go-build", "00"), Syscall: "openat"},
		{Path: link, Syscall: "openat"},
		{Path: homes, Syscall: "newfstatat"},                                        // small, but it holds alice's home
		{Path: filepath.Join(homes, "motd")}, {Path: filepath.Join(homes, "issue")}, // not collapsed into it
	}
	sugs, notes := Suggest(root, lookups, SuggestOptions{Private: private})
	got, gotNotes := texts(sugs, notes)
	want := []string{"files " + filepath.Join(homes, "issue"), "files " + filepath.Join(homes, "motd")}
	if !slices.Equal(got, want) {
		t.Errorf("Suggest = %q, want %q", got, want)
	}
	const never = "; a host user's files are never suggested (add what the command needs yourself, or bind-mount it with --bind)"
	wantNotes := []string{
		alice + ": left out " + link + ", " + netrc + ", " + filepath.Join(alice, "go") + ": in the home directory of alice (/etc/passwd)" + never,
		cache + ": left out " + filepath.Join(cache, "go-build", "00") + ": in the cache directory of the user running jailer (~/.cache)" + never,
	}
	if !slices.Equal(gotNotes, wantNotes) {
		t.Errorf("notes\n%s\nwant\n%s", strings.Join(gotNotes, "\n"), strings.Join(wantNotes, "\n"))
	}
	// Alone, the directory that holds a home gets a note of its own.
	sugs, notes = Suggest(root, lookups[4:5], SuggestOptions{Private: private})
	got, gotNotes = texts(sugs, notes)
	wantNotes = []string{homes + ": left out (newfstatat): a directory that holds a home or cache directory is never copied whole; add what the command needs in it"}
	if len(got) != 0 || !slices.Equal(gotNotes, wantNotes) {
		t.Errorf("Suggest of %s = %q, notes %q; want nothing but %q", homes, got, gotNotes, wantNotes)
	}
}

// TestTraceSuggestAccounts: the host's account files are never suggested;
// a note names the manifest field that makes jailer write each, and when
// the manifest has that field nothing is said. /etc/hosts becomes the
// hosts profile, and a path of any profile that profile.
func TestTraceSuggestAccounts(t *testing.T) {
	root := t.TempDir() // a jail with no /etc at all
	lookups := []Lookup{
		{Path: "/etc/passwd", Syscall: "openat", Program: "/usr/bin/id"},
		{Path: "/etc/group", Syscall: "openat", Program: "/usr/bin/id"},
		{Path: "/etc/nsswitch.conf", Syscall: "newfstatat", Program: "/usr/bin/id"},
		{Path: "/etc/shadow", Syscall: "openat", Program: "/usr/bin/id"},
		{Path: "/etc/hosts", Syscall: "openat", Program: "/usr/bin/getent"},
	}
	sugs, notes := Suggest(root, lookups, SuggestOptions{})
	got, gotNotes := texts(sugs, notes)
	if want := []string{"profiles hosts"}; !slices.Equal(got, want) {
		t.Errorf("Suggest = %q, want %q", got, want)
	}
	for _, want := range []struct{ path, field string }{
		{"/etc/passwd", "users:"}, {"/etc/group", "groups:"}, {"/etc/nsswitch.conf", "profiles: [hosts]"}, {"/etc/shadow", "password hashes"},
	} {
		if !hasNote(notes, want.path, "left out", want.field, "the host's is never copied") {
			t.Errorf("notes %q, want one about %s naming %s", gotNotes, want.path, want.field)
		}
	}
	// users: and the hosts profile write all but the shadow file.
	m := &manifest.Manifest{Users: []manifest.User{{Name: "tester"}}, Profiles: []manifest.Profile{{Name: "hosts"}}}
	sugs, notes = Suggest(root, lookups, SuggestOptions{Manifest: m})
	got, gotNotes = texts(sugs, notes)
	if len(got) != 0 || len(notes) != 1 || notes[0].Subject != "/etc/shadow" {
		t.Errorf("with users: and profiles: [hosts], Suggest = %q, notes %q; want nothing but the shadow note", got, gotNotes)
	}

	// A file of the locale profile, and of the python profile (asked of
	// the host's python itself here).
	locale := "/usr/lib/locale/C.utf8/LC_CTYPE"
	out, err := exec.Command(planner.PythonPath, "-I", "-S", "-c", "import os; print(os.__file__)").Output()
	if _, serr := os.Stat(locale); serr != nil || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the host lacks %s or %s: %v %v", locale, planner.PythonPath, serr, err)
		}
		t.Skipf("no %s or %s", locale, planner.PythonPath)
	}
	osPy := strings.TrimSpace(string(out))
	lookups = []Lookup{{Path: locale, Syscall: "openat", Program: "/bin/p"}, {Path: osPy, Syscall: "newfstatat", Program: "/bin/p"}}
	sugs, _ = Suggest(root, lookups, SuggestOptions{})
	got, _ = texts(sugs, nil)
	if want := []string{"profiles locale", "profiles python"}; !slices.Equal(got, want) {
		t.Errorf("Suggest of %s and %s = %q, want %q", locale, osPy, got, want)
	}
	if sugs[0].Why != locale+": openat by /bin/p" {
		t.Errorf("why = %q", sugs[0].Why)
	}
	m = &manifest.Manifest{Profiles: []manifest.Profile{{Name: "locale"}, {Name: "python"}}}
	if sugs, notes := Suggest(root, lookups, SuggestOptions{Manifest: m}); len(sugs)+len(notes) != 0 {
		t.Errorf("with the profiles in the manifest, Suggest = %+v, %+v; want nothing", sugs, notes)
	}
}

// TestTraceParseMissingModules checks which lines are failed imports.
func TestTraceParseMissingModules(t *testing.T) {
	out := strings.Join([]string{
		"Traceback (most recent call last):",
		`  File "<string>", line 1, in <module>`,
		"ModuleNotFoundError: No module named 'six'",
		"E   ModuleNotFoundError: No module named 'attr'", // pytest
		"ImportError: No module named yaml",               // Python 2
		"ModuleNotFoundError: No module named 'a.b'; 'a' is not a package",
		"ModuleNotFoundError: No module named 'six'", // again
		"ImportError: cannot import name 'x' from 'y'",
		"Can't locate JSON.pm in @INC (you may need to install the JSON module) (@INC contains: /etc/perl) at -e line 1.",
		"Can't locate Text/Wrap.pm in @INC (you may need to install the Text::Wrap module)",
		"Can't locate object method \"new\" via package \"Foo\"",
	}, "\n")
	var got []string
	for _, m := range ParseMissingModules(strings.NewReader(out)) {
		got = append(got, m.Lang+" "+m.Name)
	}
	want := []string{"python six", "python attr", "python yaml", "python a.b", "perl JSON", "perl Text::Wrap"}
	if !slices.Equal(got, want) {
		t.Errorf("ParseMissingModules = %q, want %q", got, want)
	}
}

// owner asks dpkg which package ships a path: the oracle for findModules.
func owner(t *testing.T, p string) string {
	t.Helper()
	out, err := exec.Command("dpkg", "-S", p).Output()
	if err != nil {
		t.Fatalf("dpkg -S %s: %v", p, err)
	}
	name, _, _ := strings.Cut(string(out), ": ")
	name, arch, _ := strings.Cut(name, ":")
	if arch != "" && arch != dpkg.NativeArch() {
		name += ":" + arch
	}
	return name
}

// TestTraceSuggestModules: a failed import becomes the Debian package
// that ships the module, with depends: true when the jail lacks what the
// package needs; a module no package ships is a note; a module that a
// suggested profile brings needs no package.
func TestTraceSuggestModules(t *testing.T) {
	const six = "/usr/lib/python3/dist-packages/six.py" // python3-six, installed by .ci/run
	out, perr := exec.Command("/usr/bin/perl", "-MText::Wrap", "-e", `print $INC{"Text/Wrap.pm"}`).Output()
	if _, err := os.Stat(six); err != nil || perr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the host lacks %s or perl's Text::Wrap (.ci/run installs python3-six and perl): %v %v", six, err, perr)
		}
		t.Skipf("no %s or perl", six)
	}
	wrap := string(out)
	root := t.TempDir()
	mods := []MissingModule{
		{Lang: "python", Name: "six", Message: "ModuleNotFoundError: No module named 'six'"},
		{Lang: "perl", Name: "Text::Wrap", Message: "Can't locate Text/Wrap.pm in @INC"},
		{Lang: "python", Name: "no_such_module_anywhere", Message: "ModuleNotFoundError: No module named 'no_such_module_anywhere'"},
	}
	sugs, notes := Suggest(root, nil, SuggestOptions{Modules: mods})
	got, gotNotes := texts(sugs, notes)
	want := []string{"packages { name: " + owner(t, wrap) + ", depends: true }", "packages { name: python3-six, depends: true }"}
	if !slices.Equal(got, want) {
		t.Errorf("Suggest = %q, want %q", got, want)
	}
	for _, s := range sugs {
		if s.Name == "python3-six" && s.Why != "Python module six: "+six+" (ModuleNotFoundError: No module named 'six'); it needs python3, which the jail lacks" {
			t.Errorf("why = %q", s.Why)
		}
	}
	if !hasNote(notes, "Python module no_such_module_anywhere", "no installed Debian package ships it") || len(notes) != 1 {
		t.Errorf("notes %q, want one saying no package ships no_such_module_anywhere", gotNotes)
	}

	// A jail that has every file of python3 (six's one dependency) needs
	// no depends: true.
	list, err := exec.Command("dpkg", "-L", "python3").Output()
	if err != nil {
		t.Fatalf("dpkg -L python3: %v", err)
	}
	for _, p := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
			os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
			os.WriteFile(filepath.Join(root, p), nil, 0o644)
		}
	}
	sugs, _ = Suggest(root, nil, SuggestOptions{Modules: mods[:1]})
	if got, _ := texts(sugs, nil); !slices.Equal(got, []string{"packages python3-six"}) {
		t.Errorf("with python3 in the jail, Suggest = %q, want python3-six without depends", got)
	}

	// The standard library's encodings, when the jail lacks the whole
	// standard library: the python profile brings it, no package needed.
	enc, err := exec.Command(planner.PythonPath, "-I", "-S", "-c", "import encodings, os; print(os.path.dirname(encodings.__path__[0]))").Output()
	if err != nil {
		t.Fatalf("%s: %v", planner.PythonPath, err)
	}
	stdlib := strings.TrimSpace(string(enc))
	sugs, notes = Suggest(t.TempDir(), []Lookup{{Path: stdlib, Syscall: "newfstatat"}},
		SuggestOptions{Modules: []MissingModule{{Lang: "python", Name: "encodings", Message: "No module named 'encodings'"}}})
	if got, gotNotes := texts(sugs, notes); !slices.Equal(got, []string{"profiles python"}) || len(notes) != 0 {
		t.Errorf("Suggest of %s and encodings = %q, notes %q; want the python profile alone", stdlib, got, gotNotes)
	}
}
