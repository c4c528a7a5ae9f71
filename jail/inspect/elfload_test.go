package inspect

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

// loaderFixture compiles the libraries and program of one loader case in
// a temporary directory: libB.so (b() returns 42), libA.so (a() returns
// b()), and prog, which prints a(). extra are more flags for each.
type loaderFixture struct {
	t   *testing.T
	dir string
}

func newLoaderFixture(t *testing.T) *loaderFixture {
	t.Helper()
	f := &loaderFixture{t: t, dir: t.TempDir()}
	testutil.WriteScript(t, f.dir, "b.c", "int b(void) { return 42; }\n")
	testutil.WriteScript(t, f.dir, "a.c", "int b(void);\nint a(void) { return b(); }\n")
	testutil.WriteScript(t, f.dir, "main.c", "#include <stdio.h>\nint a(void);\nint main(void) { printf(\"%d\\n\", a()); return 0; }\n")
	return f
}

// path returns the path of a file of the fixture.
func (f *loaderFixture) path(name string) string { return filepath.Join(f.dir, name) }

// lib compiles src into the shared library out, with the given flags.
func (f *loaderFixture) lib(out, src string, flags ...string) {
	f.t.Helper()
	testutil.Gcc(f.t, append([]string{"-shared", "-fPIC", "-o", f.path(out), f.path(src), "-L" + f.dir, "-Xlinker", "-rpath-link", "-Xlinker", f.dir}, flags...)...)
}

// prog compiles main.c into prog, with the given flags (libraries and paths).
func (f *loaderFixture) prog(flags ...string) {
	f.t.Helper()
	testutil.Gcc(f.t, append([]string{"-o", f.path("prog"), f.path("main.c"), "-L" + f.dir, "-Xlinker", "-rpath-link", "-Xlinker", f.dir, "-Wl,--no-as-needed"}, flags...)...)
}

// deps returns the parsed dynamic section of a file of the fixture.
func (f *loaderFixture) deps(name string) *elfdeps.Dynamic {
	f.t.Helper()
	r, err := os.Open(f.path(name))
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	d, err := elfdeps.ReadDynamic(r)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// TestCheckLoaderSearch builds small programs and libraries whose libraries
// are found (or not) only through the loader's rules for a whole process,
// checks their jails, and runs each program in its jail: the check must
// say the program fails exactly when the real loader fails.
func TestCheckLoaderSearch(t *testing.T) {
	tests := []struct {
		name string
		// build compiles the fixture and returns where its files go in
		// the jail, besides /bin/prog (when built) and the C library.
		build func(f *loaderFixture) map[string]string
		// shape checks that the compiler made what the case is about.
		shape func(f *loaderFixture) string
		want  []wantProblem
		// runErr is what the loader says when the program cannot start;
		// "" when it must print 42.
		runErr string
	}{
		{
			// systemd-analyze: the program's RUNPATH finds libA and libB;
			// libA, without a RUNPATH, needs libB, already loaded by then.
			name: "library needed by a library, loaded first by the program through its RUNPATH",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB")
				f.prog("-lA", "-lB", "-Wl,--enable-new-dtags,-rpath,/priv")
				return map[string]string{"/priv/libA.so": "libA.so", "/priv/libB.so": "libB.so"}
			},
			shape: func(f *loaderFixture) string {
				p, a := f.deps("prog"), f.deps("libA.so")
				if p.SearchTag != "RUNPATH" || !slices.Equal(p.Needed[:2], []string{"libA.so", "libB.so"}) || len(a.Search) > 0 || !slices.Contains(a.Needed, "libB.so") {
					return "want prog with RUNPATH and NEEDED libA.so, libB.so first, and libA.so without paths needing libB.so"
				}
				return ""
			},
		},
		{
			name: "RPATH of the program serves the libraries it loads",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB")
				f.prog("-lA", "-Wl,--disable-new-dtags,-rpath,/priv")
				return map[string]string{"/priv/libA.so": "libA.so", "/priv/libB.so": "libB.so"}
			},
			shape: func(f *loaderFixture) string {
				if p := f.deps("prog"); p.SearchTag != "RPATH" || len(p.Search) == 0 || slices.Contains(p.Needed, "libB.so") {
					return "want prog with RPATH, not needing libB.so itself"
				}
				return ""
			},
		},
		{
			name: "RUNPATH of the program does not serve the libraries it loads",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB")
				f.prog("-lA", "-Wl,--enable-new-dtags,-rpath,/priv")
				return map[string]string{"/priv/libA.so": "libA.so", "/priv/libB.so": "libB.so"}
			},
			shape: func(f *loaderFixture) string {
				if p := f.deps("prog"); p.SearchTag != "RUNPATH" || slices.Contains(p.Needed, "libB.so") {
					return "want prog with RUNPATH, not needing libB.so itself"
				}
				return ""
			},
			want:   []wantProblem{{"/bin/prog", "unresolved", "libB.so needed by /priv/libA.so but not found in the jail (/priv/libB.so is in the RUNPATH of /bin/prog, which serves only"}},
			runErr: "libB.so: cannot open shared object file",
		},
		{
			name: "a library's RUNPATH turns off the RPATHs of its loaders",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB", "-Wl,--enable-new-dtags,-rpath,/elsewhere")
				f.prog("-lA", "-Wl,--disable-new-dtags,-rpath,/priv")
				return map[string]string{"/priv/libA.so": "libA.so", "/priv/libB.so": "libB.so"}
			},
			shape: func(f *loaderFixture) string {
				if f.deps("prog").SearchTag != "RPATH" || f.deps("libA.so").SearchTag != "RUNPATH" {
					return "want prog with RPATH, libA.so with RUNPATH"
				}
				return ""
			},
			want:   []wantProblem{{"/bin/prog", "unresolved", "libB.so needed by /priv/libA.so but not found in the jail (searched RUNPATH /elsewhere and the default dirs;"}},
			runErr: "libB.so: cannot open shared object file",
		},
		{
			// libA needs libB.so.1; the program loaded that library as
			// libBalias.so, whose DT_SONAME is libB.so.1.
			name: "library matched by the DT_SONAME of one loaded under another name",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so.1", "b.c", "-Wl,-soname,libB.so.1")
				f.lib("libBalias.so", "b.c")
				f.lib("libA.so", "a.c", "-l:libB.so.1")
				f.prog("-lA", "-lBalias", "-Wl,--enable-new-dtags,-rpath,/priv")
				return map[string]string{"/priv/libA.so": "libA.so", "/priv/libBalias.so": "libB.so.1"}
			},
			shape: func(f *loaderFixture) string {
				if !slices.Contains(f.deps("libA.so").Needed, "libB.so.1") || f.deps("libB.so.1").Soname != "libB.so.1" {
					return "want libA.so needing libB.so.1, the SONAME of libB.so.1"
				}
				return ""
			},
		},
		{
			// $ORIGIN of libA is /opt/lib, the directory it was found in;
			// /opt/lib/.. is /usr/local, where the symlink leads, not /opt.
			name: "$ORIGIN/.. after a symlinked directory",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../priv")
				f.prog("-lA", "-Wl,--enable-new-dtags,-rpath,/opt/lib")
				return map[string]string{"/usr/local/lib/libA.so": "libA.so", "/usr/local/priv/libB.so": "libB.so", "/opt/lib": "-> ../usr/local/lib"}
			},
		},
		{
			name: "DF_1_NODEFLIB: the default dirs are not searched for the program",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB", "-Wl,--enable-new-dtags,-rpath,/priv")
				f.prog("-lA", "-Wl,--enable-new-dtags,-rpath,/priv", "-Wl,-z,nodefaultlib")
				return map[string]string{"/priv/libA.so": "libA.so", "/priv/libB.so": "libB.so"}
			},
			shape: func(f *loaderFixture) string {
				if !f.deps("prog").NoDefLib || f.deps("libA.so").NoDefLib {
					return "want prog with DF_1_NODEFLIB, libA.so without"
				}
				return ""
			},
			want:   []wantProblem{{"/bin/prog", "unresolved", "libc.so.6 needed but not found in the jail (searched RUNPATH /priv, not the default dirs (DF_1_NODEFLIB);"}},
			runErr: "libc.so.6: cannot open shared object file",
		},
		{
			// No program loads these: a dlopen'ed plugin finds what it
			// needs through its own paths and the default dirs.
			name: "libraries no program loads are checked on their own",
			build: func(f *loaderFixture) map[string]string {
				f.lib("libB.so", "b.c")
				f.lib("libA.so", "a.c", "-lB")
				f.lib("libA2.so", "a.c", "-lB", "-Wl,--enable-new-dtags,-rpath,$ORIGIN")
				return map[string]string{"/plugins/libA.so": "libA.so", "/plugins/libA2.so": "libA2.so", "/plugins/libB.so": "libB.so"}
			},
			want: []wantProblem{{"/plugins/libA.so", "unresolved", "libB.so needed but not found in the jail (rebuild, or add it to the manifest)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLoaderFixture(t)
			files := tt.build(f)
			if tt.shape != nil {
				if msg := tt.shape(f); msg != "" {
					t.Fatalf("gcc made another fixture than the case needs: %s", msg)
				}
			}
			j := newTestJail(t)
			j.addLibs(realPath(t, "/bin/true")) // the loader and the C library, in /lib and /lib64
			_, err := os.Stat(f.path("prog"))
			hasProg := err == nil
			if hasProg {
				j.copy(f.path("prog"), "/bin/prog")
			}
			for dest, src := range files {
				if target, ok := strings.CutPrefix(src, "-> "); ok {
					j.symlink(target, dest)
				} else {
					j.copy(f.path(src), dest)
				}
			}
			j.writeLock()
			checkProblems(t, j.dir, tt.want)

			if !hasProg {
				return
			}
			testutil.RequireRoot(t)
			out, err := testutil.ChrootRun(t, j.dir, "/bin/prog")
			switch {
			case tt.runErr == "" && (err != nil || strings.TrimSpace(out) != "42"):
				t.Errorf("chroot %s /bin/prog = %q, %v; want 42: the program runs, as the check says", j.dir, out, err)
			case tt.runErr != "" && (err == nil || !strings.Contains(out, tt.runErr)):
				t.Errorf("chroot %s /bin/prog = %q, %v; want it to fail with %q, as the check says", j.dir, out, err, tt.runErr)
			}
		})
	}
}

// TestCheckSystemdAnalyze builds the preserve jail of systemd-analyze, whose
// RUNPATH finds two private libraries, one needing the other: the check is
// clean, and the program runs.
func TestCheckSystemdAnalyze(t *testing.T) {
	const prog = "/usr/bin/systemd-analyze"
	if _, err := os.Stat(prog); err != nil {
		t.Skipf("%s is not on this host", prog)
	}
	testutil.RequireRoot(t)
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nlayout: preserve\nbinaries: ["+prog+"]\n")
	out := filepath.Join(dir, "jail")
	jailtest.MustBuild(t, m, build.Options{Output: out})
	checkProblems(t, out, nil)
	if got, err := testutil.ChrootRun(t, out, prog, "--version"); err != nil || !strings.HasPrefix(got, "systemd ") {
		t.Errorf("chroot %s %s --version = %q, %v; want it to run", out, prog, got, err)
	}
}
