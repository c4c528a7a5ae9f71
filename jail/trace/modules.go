//go:build linux

package trace

// Failed imports: a Python or Perl module that the jail lacks shows in
// no failed path lookup when the interpreter lists its search directories
// instead of probing them (Python's importlib does), but the interpreter
// says so on stderr. Trace copies the command's output through a watcher
// that picks out those messages, and Suggest names the installed Debian
// package that ships the module, from dpkg's file lists.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jailer-dev/jailer/manifest/dpkg"
)

// MissingModule is a module an interpreter said it could not import.
type MissingModule struct {
	// Lang is python or perl.
	Lang string `json:"lang"`
	// Name is the module's name: a.b for Python, Foo::Bar for Perl.
	Name string `json:"name"`
	// Message is the line that said so.
	Message string `json:"message"`
}

var (
	// Python 3's ModuleNotFoundError, and the ImportError of Python 2 and
	// of code that raises it by hand; anywhere in a line, as pytest
	// prefixes it ("E   ModuleNotFoundError: ...").
	pythonImportError = lazyRegexp(`(?:ModuleNotFoundError|ImportError): No module named '?([A-Za-z_][A-Za-z0-9_.]*)'?`)
	// Perl's require: "Can't locate Foo/Bar.pm in @INC (you may need ...".
	perlImportError = lazyRegexp(`Can't locate ((?:[A-Za-z0-9_]+/)*[A-Za-z0-9_]+)\.pm in @INC`)
)

// ParseMissingModules picks the failed imports out of a command's output,
// each once, in the order they appear.
func ParseMissingModules(r io.Reader) []MissingModule {
	var out []MissingModule
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		if m, ok := parseImportError(sc.Text()); ok && !seen[m.Lang+" "+m.Name] {
			seen[m.Lang+" "+m.Name] = true
			out = append(out, m)
		}
	}
	return out
}

func parseImportError(line string) (MissingModule, bool) {
	if m := pythonImportError().FindStringSubmatch(line); m != nil {
		return MissingModule{Lang: "python", Name: strings.TrimSuffix(m[1], "."), Message: strings.TrimSpace(m[0])}, true
	}
	if m := perlImportError().FindStringSubmatch(line); m != nil {
		return MissingModule{Lang: "perl", Name: strings.ReplaceAll(m[1], "/", "::"), Message: strings.TrimSpace(m[0])}, true
	}
	return MissingModule{}, false
}

// outputWatcher copies a command's output to where it was going and keeps
// the failed imports it shows. Lines are cut at 4 KiB: an import error is
// short, and a command that never ends a line must not fill the memory.
type outputWatcher struct {
	r, w *os.File
	to   *os.File // nil: the output is dropped once read
	done chan struct{}

	mu   sync.Mutex
	mods []MissingModule
	seen map[string]bool
}

// watchOutput returns a watcher whose write end (w) the command gets in
// place of to.
func watchOutput(to *os.File) (*outputWatcher, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe for the command's output: %w", err)
	}
	o := &outputWatcher{r: r, w: w, to: to, done: make(chan struct{}), seen: map[string]bool{}}
	go o.copy()
	return o, nil
}

func (o *outputWatcher) copy() {
	defer close(o.done)
	defer o.r.Close()
	buf := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := o.r.Read(buf)
		if n > 0 {
			if o.to != nil {
				o.to.Write(buf[:n]) // a closed terminal: the command's business
			}
			for _, c := range buf[:n] {
				switch {
				case c == '\n' || c == '\r':
					o.line(string(line))
					line = line[:0]
				case len(line) < 4096:
					line = append(line, c)
				}
			}
		}
		if err != nil {
			o.line(string(line))
			return
		}
	}
}

func (o *outputWatcher) line(s string) {
	m, ok := parseImportError(s)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.seen[m.Lang+" "+m.Name] {
		o.seen[m.Lang+" "+m.Name] = true
		o.mods = append(o.mods, m)
	}
}

// finish closes the write end and returns the failed imports, once the
// output has been copied. Something the command left running (possible
// only without a PID namespace) may keep the pipe open: then the imports
// seen so far are returned and the copying goes on in the background.
func (o *outputWatcher) finish(wait time.Duration) []MissingModule {
	o.w.Close()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]MissingModule(nil), o.mods...)
}

var (
	// Where Debian's Python finds modules: the standard library of each
	// version, its lib-dynload and dist-packages, and the version-less
	// dist-packages (site-packages for locally built Pythons).
	pythonModuleDir = lazyRegexp(`^/usr/(?:local/)?lib/(?:python3\.[0-9]+/(?:lib-dynload/|dist-packages/|site-packages/)?|python3/dist-packages/)(.+)$`)
	// Debian's @INC: vendor and core modules, architecture-independent
	// and per architecture, and perl-base's own.
	perlModuleDir = lazyRegexp(`^(?:/etc/perl|/usr/(?:local/)?share/perl5?(?:/[0-9.]+)?|/usr/(?:local/)?lib/[^/]+/perl(?:5|-base)?(?:/[0-9.]+)?)/(.+)$`)
)

// moduleFile says whether a path inside a module directory (rel) is the
// module: for Python a.b, a/b/__init__.py, a/b.py, an extension module
// a/b.*.so or a/b.so, or the directory a/b (a namespace package); for
// Perl Foo::Bar, Foo/Bar.pm. It returns a rank, lower for a better match.
func moduleFile(m MissingModule, rel string) (int, bool) {
	switch m.Lang {
	case "python":
		base := strings.ReplaceAll(m.Name, ".", "/")
		switch {
		case rel == base+"/__init__.py":
			return 0, true
		case rel == base+".py":
			return 1, true
		case strings.HasPrefix(rel, base+".") && strings.HasSuffix(rel, ".so") && !strings.Contains(rel[len(base):], "/"):
			return 2, true
		case rel == base:
			return 3, true
		}
	case "perl":
		if rel == strings.ReplaceAll(m.Name, "::", "/")+".pm" {
			return 0, true
		}
	}
	return 0, false
}

// moduleHit is an installed package's file that is a missing module.
type moduleHit struct {
	pkg  string // the list's name: NAME or NAME:ARCH
	path string
	rank int
}

// findModules searches the file lists of the dpkg database at admin for
// the missing modules, and returns the files that are each, best first,
// then by package and path. Only paths the host has count.
func findModules(admin string, mods []MissingModule) (map[string][]moduleHit, error) {
	lists, err := filepath.Glob(filepath.Join(admin, "info", "*.list"))
	if err != nil {
		return nil, err
	}
	sort.Strings(lists)
	out := map[string][]moduleHit{}
	for _, list := range lists {
		f, err := os.Open(list)
		if err != nil {
			return nil, err
		}
		pkg := strings.TrimSuffix(filepath.Base(list), ".list")
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p := sc.Text()
			if !strings.Contains(p, "/python3") && !strings.Contains(p, "perl") {
				continue // cheaper than the expressions below, for most lines
			}
			var rel string
			if m := pythonModuleDir().FindStringSubmatch(p); m != nil {
				rel = m[1]
			} else if m := perlModuleDir().FindStringSubmatch(p); m != nil {
				rel = m[1]
			} else {
				continue
			}
			for _, mod := range mods {
				dir := pythonModuleDir()
				if mod.Lang == "perl" {
					dir = perlModuleDir()
				}
				if !dir.MatchString(p) {
					continue
				}
				if rank, ok := moduleFile(mod, rel); ok {
					if _, err := os.Lstat(p); err == nil {
						key := mod.Lang + " " + mod.Name
						out[key] = append(out[key], moduleHit{pkg: pkg, path: p, rank: rank})
					}
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", list, err)
		}
	}
	for _, hits := range out {
		sort.SliceStable(hits, func(a, b int) bool { return hits[a].rank < hits[b].rank })
	}
	return out, nil
}

// moduleSuggestions turns failed imports into packages: suggestions, or
// notes when no package ships a module. A module that another suggestion
// brings already (a profile, a copied directory) needs no package.
func (s *suggester) moduleSuggestions(out []Suggestion) ([]Suggestion, []Note) {
	if len(s.o.Modules) == 0 {
		return nil, nil
	}
	admin := s.o.Dpkg
	if admin == "" {
		admin = dpkg.Dir
	}
	hits := s.moduleHits()
	var sugs []Suggestion
	var notes []Note
	if s.hitsErr != nil {
		return nil, []Note{{Subject: admin, Text: fmt.Sprintf("cannot search dpkg's file lists for the missing modules: %v", s.hitsErr)}}
	}
	db, dbErr := dpkg.Open(admin)
	for _, m := range s.o.Modules {
		subject := langName[m.Lang] + " module " + m.Name
		hs := hits[m.Lang+" "+m.Name]
		if len(hs) == 0 {
			notes = append(notes, Note{Subject: subject, Text: fmt.Sprintf("no installed Debian package ships it (%q in the command's output)", m.Message)})
			continue
		}
		if slices.ContainsFunc(hs, func(h moduleHit) bool { return s.covered(h.path, out) }) {
			continue
		}
		h := hs[0]
		if s.j.exists(h.path) {
			notes = append(notes, Note{Subject: subject, Text: fmt.Sprintf("the jail has it (%s), but the command did not find it: is its directory on the command's search path?", h.path)})
			continue
		}
		name := h.pkg
		if n, arch, ok := strings.Cut(h.pkg, ":"); ok && arch == dpkg.NativeArch() {
			name = n
		}
		if slices.ContainsFunc(sugs, func(o Suggestion) bool { return o.Name == name }) {
			continue
		}
		sug := Suggestion{Field: "packages", Name: name, Why: fmt.Sprintf("%s: %s (%s)", subject, h.path, m.Message)}
		if dbErr == nil {
			if missing := s.missingDepends(db, h.pkg); missing != "" {
				sug.Depends = true
				sug.Why += "; it needs " + missing + ", which the jail lacks"
			}
		}
		sugs = append(sugs, sug)
	}
	return sugs, notes
}

// lazyRegexp compiles expr when first used: every jailer command links
// this package, and compiling at package init would slow each start
// (enter's included) for what only trace uses.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var langName = map[string]string{"python": "Python", "perl": "Perl"}

// moduleHits searches dpkg's file lists for the missing modules, once.
func (s *suggester) moduleHits() map[string][]moduleHit {
	if s.hits == nil && s.hitsErr == nil && len(s.o.Modules) > 0 {
		admin := s.o.Dpkg
		if admin == "" {
			admin = dpkg.Dir
		}
		s.hits, s.hitsErr = findModules(admin, s.o.Modules)
	}
	return s.hits
}

// isModuleProbe says whether a lookup is an interpreter's probe for a
// missing module that a package ships (Perl stats Foo/Bar.pm in each
// directory of @INC): the package is suggested for it, not the file
// where the host happens to have it, nor the profile that copies it.
func (s *suggester) isModuleProbe(p string) bool {
	hits := s.moduleHits()
	for _, m := range s.o.Modules {
		if len(hits[m.Lang+" "+m.Name]) == 0 {
			continue
		}
		dir := pythonModuleDir()
		if m.Lang == "perl" {
			dir = perlModuleDir()
		}
		if sub := dir.FindStringSubmatch(p); sub != nil {
			if _, ok := moduleFile(m, sub[1]); ok {
				return true
			}
		}
	}
	return false
}

// missingDepends names the first dependency of the package (NAME or
// NAME:ARCH) that the jail lacks: a package some of whose files (not
// directories, not documentation) the jail does not have. "" when the
// jail has them all, or dpkg does not know the package.
func (s *suggester) missingDepends(db *dpkg.DB, key string) string {
	name, arch, _ := strings.Cut(key, ":")
	pkg := db.Pick(name, arch, dpkg.NativeArch())
	if pkg == nil {
		return ""
	}
	for _, g := range pkg.Depends {
		d := db.Choose(g, pkg)
		if d == nil {
			continue // not installed: depends: true could not copy it either
		}
		paths, err := db.Paths(dpkg.Item{Pkg: d, List: db.ListOf(d)})
		if err != nil {
			continue
		}
		for _, p := range paths {
			if fi, err := os.Lstat(p); err == nil && !fi.IsDir() && !s.j.exists(p) {
				return d.Name
			}
		}
	}
	return ""
}

// covered says whether a host path comes with one of the suggestions: a
// file or directory copied, or a profile that copies it.
func (s *suggester) covered(p string, out []Suggestion) bool {
	for _, o := range out {
		switch o.Field {
		case "files", "binaries":
			if within(p, o.Path) {
				return true
			}
		case "profiles":
			if name, _, ok := s.profileFor(p); ok && name == o.Name {
				return true
			}
		}
	}
	return false
}
