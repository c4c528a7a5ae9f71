package inspect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"

	"golang.org/x/sys/unix"
)

// testJail is a jail tree made by hand in a test, and where its files came from.
type testJail struct {
	t       testing.TB
	dir     string
	sources map[string]string // jail path → host file copied
	extra   []lockfile.Entry  // lock entries beyond what the tree holds
}

func newTestJail(t testing.TB) *testJail {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the test jails are built from this host's x86-64 binaries")
	}
	j := &testJail{t: t, dir: filepath.Join(t.TempDir(), "jail"), sources: map[string]string{}}
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return j
}

// newBashJail returns a flat jail with the host's bash, its libraries in
// /lib (symlink chains kept, as libtinfo.so.6 -> libtinfo.so.6.4) and the
// loader where bash names it (/lib64).
func newBashJail(t testing.TB) *testJail {
	t.Helper()
	j := newTestJail(t)
	j.copy(realPath(t, "/bin/bash"), "/bin/bash")
	j.addLibs("/bin/bash")
	return j
}

// addLibs copies the libraries and loader that `ldd bin` finds.
func (j *testJail) addLibs(bin string) {
	j.t.Helper()
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		j.t.Skipf("ldd %s: %v", bin, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			real := realPath(j.t, f[2])
			if _, err := os.Lstat(j.path("/lib/" + f[0])); err == nil {
				continue
			}
			j.copy(real, "/lib/"+filepath.Base(real))
			if filepath.Base(real) != f[0] {
				j.symlink(filepath.Base(real), "/lib/"+f[0])
			}
		case len(f) == 2 && strings.HasPrefix(f[0], "/"):
			j.copy(realPath(j.t, f[0]), f[0])
		}
	}
}

// hostTinfo is the host's libtinfo.so.6, which bash needs.
func hostTinfo(t testing.TB) string {
	return filepath.Join("/usr/lib", testutil.Multiarch(t), "libtinfo.so.6")
}

// tinfoFile is where newBashJail puts the file libtinfo.so.6 links to,
// named by the host's ncurses version (/lib/libtinfo.so.6.4 on Debian 12).
func tinfoFile(t testing.TB) string {
	return "/lib/" + filepath.Base(realPath(t, hostTinfo(t)))
}

func realPath(t testing.TB, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Skip(err)
	}
	return r
}

// path returns the host path of the jail path p.
func (j *testJail) path(p string) string { return filepath.Join(j.dir, p) }

func (j *testJail) copy(host, dest string) {
	j.t.Helper()
	data, err := os.ReadFile(host)
	if err != nil {
		j.t.Fatal(err)
	}
	j.write(dest, data)
	j.sources[dest] = host
}

func (j *testJail) write(dest string, data []byte) {
	j.t.Helper()
	if err := os.MkdirAll(filepath.Dir(j.path(dest)), 0o755); err != nil {
		j.t.Fatal(err)
	}
	if err := os.WriteFile(j.path(dest), data, 0o755); err != nil {
		j.t.Fatal(err)
	}
}

func (j *testJail) symlink(target, dest string) {
	j.t.Helper()
	if err := os.MkdirAll(filepath.Dir(j.path(dest)), 0o755); err != nil {
		j.t.Fatal(err)
	}
	os.Remove(j.path(dest))
	if err := os.Symlink(target, j.path(dest)); err != nil {
		j.t.Fatal(err)
	}
}

func (j *testJail) remove(dest string) {
	j.t.Helper()
	if err := os.RemoveAll(j.path(dest)); err != nil {
		j.t.Fatal(err)
	}
}

// writeLock records the tree as it is now, as a build would.
func (j *testJail) writeLock() {
	j.t.Helper()
	l := lockfile.Lock{Format: lockfile.Format, Name: "test", Layout: "flat", Built: time.Now()}
	err := filepath.WalkDir(j.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == j.dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := lockfile.Entry{Dest: "/" + filepath.ToSlash(strings.TrimPrefix(p, j.dir+"/")), Mode: plan.ModeString(fi.Mode())}
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			e.Kind, e.Size, e.SHA256 = plan.KindFile, fi.Size(), hex.EncodeToString(sum[:])
			if src, ok := j.sources[e.Dest]; ok {
				sfi, err := os.Stat(src)
				if err != nil {
					return err
				}
				e.Source, e.SourceStat = src, lockfile.StatOf(sfi)
			}
		case fi.IsDir():
			e.Kind = plan.KindDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Kind = plan.KindSymlink
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeDevice != 0:
			e.Kind = plan.KindDevice
		}
		l.Entries = append(l.Entries, e)
		return nil
	})
	if err != nil {
		j.t.Fatal(err)
	}
	l.Entries = append(l.Entries, j.extra...)
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		j.t.Fatal(err)
	}
	if err := os.WriteFile(lockfile.Path(j.dir), data, 0o644); err != nil {
		j.t.Fatal(err)
	}
}

// wantProblem is a problem expected from Check; msg is a substring of Msg.
type wantProblem struct{ path, kind, msg string }

func checkProblems(t *testing.T, dir string, want []wantProblem) {
	t.Helper()
	got, err := Check(dir)
	if err != nil {
		t.Fatalf("Check(%s) = error %v, want problems", dir, err)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Path == want[i].path && got[i].Kind == want[i].kind && strings.Contains(got[i].Msg, want[i].msg)
	}
	if !ok {
		var g strings.Builder
		for _, p := range got {
			fmt.Fprintf(&g, "\n\t%s [%s]", p, p.Kind)
		}
		t.Errorf("Check(%s) = %d problems:%s\nwant %d: %+v", dir, len(got), g.String(), len(want), want)
	}
}

func TestCheckJail(t *testing.T) {
	hostTinfo, tinfo := hostTinfo(t), tinfoFile(t)
	loader := testutil.Loader(t)
	ld, libdir := filepath.Base(loader), filepath.Dir(hostTinfo)
	tests := []struct {
		name  string
		build func(j *testJail) // the jail as built, before the lock is written
		drift func(j *testJail) // what changed after the build
		want  []wantProblem
	}{
		{name: "clean bash jail"},
		{
			name:  "library left out",
			build: func(j *testJail) { j.remove("/lib/libtinfo.so.6"); j.remove(tinfo) },
			want:  []wantProblem{{"/bin/bash", "unresolved", "libtinfo.so.6 needed but not found in the jail"}},
		},
		{
			name:  "interpreter left out",
			build: func(j *testJail) { j.remove(loader) },
			// libc has a PT_INTERP (it runs) and names the loader in
			// DT_NEEDED, which only the mapped interpreter satisfies.
			want: []wantProblem{
				{"/bin/bash", "interpreter", "interpreter " + loader + " not found"},
				{"/bin/bash", "unresolved", ld + " needed by /lib/libc.so.6 but not found"},
				{"/lib/libc.so.6", "interpreter", "interpreter " + loader + " not found"},
				{"/lib/libc.so.6", "unresolved", ld + " needed but not found"},
			},
		},
		{
			name:  "absolute symlink to a host path resolves in the jail",
			build: func(j *testJail) { j.symlink(hostTinfo, "/lib/libtinfo.so.6") },
			want:  []wantProblem{{"/bin/bash", "unresolved", "libtinfo.so.6 needed"}},
		},
		{
			name:  "absolute symlink within the jail",
			build: func(j *testJail) { j.symlink(tinfo, "/lib/libtinfo.so.6") },
		},
		{
			name: "dot-dot symlink stops at the jail root",
			build: func(j *testJail) {
				j.symlink(strings.Repeat("../", 40)+hostTinfo[1:], "/lib/libtinfo.so.6")
			},
			want: []wantProblem{{"/bin/bash", "unresolved", "libtinfo.so.6 needed"}},
		},
		{
			name: "symlinked library directory to the host",
			build: func(j *testJail) {
				j.remove("/lib/libtinfo.so.6")
				j.symlink(libdir, libdir)
			},
			want: []wantProblem{{"/bin/bash", "unresolved", "libtinfo.so.6 needed"}},
		},
		{
			name: "library of another machine is skipped",
			build: func(j *testJail) {
				data, _ := os.ReadFile(j.path(tinfo))
				data[18], data[19] = byte(183), 0 // EM_AARCH64
				j.write(tinfo, data)
			},
			want: []wantProblem{
				{"/bin/bash", "unresolved", "/lib/libtinfo.so.6 is a 64-bit AARCH64 ELF, not 64-bit X86_64"},
				{tinfo, "unresolved", "libc.so.6 needed"},
			},
		},
		{
			name: "non-ELF and corrupt ELF files",
			build: func(j *testJail) {
				bash, _ := os.ReadFile(j.path("/bin/bash"))
				j.write("/bin/script", []byte("#!/bin/sh\necho hi\n"))
				j.write("/bin/empty", nil)
				j.write("/bin/magic", []byte("\x7fELF"))
				j.write("/bin/truncated", bash[:200])
				j.write("/bin/half", bash[:len(bash)/2])
			},
			want: []wantProblem{
				{"/bin/half", "unresolved", "corrupt ELF file"},
				{"/bin/magic", "unresolved", "corrupt ELF file"},
				{"/bin/truncated", "unresolved", "corrupt ELF file"},
			},
		},
		{
			name: "byte appended",
			drift: func(j *testJail) {
				f, _ := os.OpenFile(j.path("/bin/bash"), os.O_APPEND|os.O_WRONLY, 0)
				f.Write([]byte{0})
				f.Close()
			},
			want: []wantProblem{{"/bin/bash", "modified", "the lock says"}},
		},
		{
			name: "same size, other content",
			drift: func(j *testJail) {
				data, _ := os.ReadFile(j.path("/bin/bash"))
				data[len(data)/2] ^= 0xff
				j.write("/bin/bash", data)
			},
			want: []wantProblem{{"/bin/bash", "modified", "changed in the jail: its sha256 differs"}},
		},
		{
			name:  "file removed",
			drift: func(j *testJail) { j.remove("/bin/bash") },
			want:  []wantProblem{{"/bin/bash", "missing", "is missing from the jail: the lock lists a file here (rebuild)"}},
		},
		{
			name:  "library removed after the build",
			drift: func(j *testJail) { j.remove(tinfo) },
			want: []wantProblem{
				{"/bin/bash", "unresolved", "libtinfo.so.6 needed"},
				{tinfo, "missing", "the lock lists a file"},
			},
		},
		{
			name:  "symlink retargeted",
			drift: func(j *testJail) { j.symlink("./"+filepath.Base(tinfo), "/lib/libtinfo.so.6") },
			want:  []wantProblem{{"/lib/libtinfo.so.6", "modified", fmt.Sprintf("points to %q, the lock says %q", "./"+filepath.Base(tinfo), filepath.Base(tinfo))}},
		},
		{
			name: "file replaced by a directory",
			drift: func(j *testJail) {
				j.remove("/bin/bash")
				os.Mkdir(j.path("/bin/bash"), 0o755)
			},
			want: []wantProblem{{"/bin/bash", "unexpected-type", "is a dir, the lock says file"}},
		},
		{
			name: "device in the lock is missing",
			build: func(j *testJail) {
				j.extra = append(j.extra, lockfile.Entry{Dest: "/dev/null", Kind: plan.KindDevice, Mode: "0666"})
			},
			want: []wantProblem{{"/dev/null", "missing", "the lock lists a device"}},
		},
		{
			name: "device in the lock is a regular file",
			build: func(j *testJail) {
				j.extra = append(j.extra, lockfile.Entry{Dest: "/dev/null", Kind: plan.KindDevice, Mode: "0666"})
			},
			drift: func(j *testJail) { j.write("/dev/null", nil) },
			want: []wantProblem{
				{"/dev/null", "unexpected-type", "is a file, the lock says device"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newBashJail(t)
			if tt.build != nil {
				tt.build(j)
			}
			j.writeLock()
			if tt.drift != nil {
				tt.drift(j)
			}
			checkProblems(t, j.dir, tt.want)
		})
	}
}

func TestCheckStaleSource(t *testing.T) {
	tests := []struct {
		name  string
		drift func(host string)
		want  []wantProblem // HOST stands for the host file's path
	}{
		{name: "unchanged"},
		{
			name:  "rewritten",
			drift: func(host string) { os.WriteFile(host, []byte("version 2, longer\n"), 0o644) },
			want:  []wantProblem{{"/etc/data.txt", "stale", "host file HOST changed (rebuild to pick it up)"}},
		},
		{
			name:  "rewritten, same size",
			drift: func(host string) { os.WriteFile(host, []byte("version 2\n"), 0o644) },
			want:  []wantProblem{{"/etc/data.txt", "stale", "host file HOST changed (rebuild to pick it up)"}},
		},
		{
			name: "touched, same content",
			drift: func(host string) {
				later := time.Now().Add(time.Hour)
				os.Chtimes(host, later, later)
			},
		},
		{
			name:  "gone",
			drift: func(host string) { os.Remove(host) },
			want:  []wantProblem{{"/etc/data.txt", "stale", "host file HOST is gone (rebuild, or drop it from the manifest)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newTestJail(t)
			host := filepath.Join(t.TempDir(), "data.txt")
			if err := os.WriteFile(host, []byte("version 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			j.copy(host, "/etc/data.txt")
			j.writeLock()
			if tt.drift != nil {
				tt.drift(host)
			}
			want := slices.Clone(tt.want)
			for i := range want {
				want[i].msg = strings.ReplaceAll(want[i].msg, "HOST", host) // the source's own path, as a build names it
			}
			checkProblems(t, j.dir, want)
		})
	}
}

func TestCheckDevice(t *testing.T) {
	testutil.RequireRoot(t)
	j := newTestJail(t)
	os.MkdirAll(j.path("/dev"), 0o755)
	if err := unix.Mknod(j.path("/dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	j.writeLock()
	checkProblems(t, j.dir, nil)
}

// TestCheckMountedProc checks that the contents of a mounted /proc are not
// walked (a corrupt ELF there would be reported) nor compared with the lock.
func TestCheckMountedProc(t *testing.T) {
	testutil.RequireRoot(t)
	j := newTestJail(t)
	os.MkdirAll(j.path("/proc"), 0o555)
	j.extra = append(j.extra, lockfile.Entry{Dest: "/proc/gone", Kind: plan.KindFile, Size: 1})
	j.writeLock()
	if err := unix.Mount("tmpfs", j.path("/proc"), "tmpfs", 0, "size=1M"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(j.path("/proc"), unix.MNT_DETACH) })
	j.write("/proc/corrupt", []byte("\x7fELF"))
	checkProblems(t, j.dir, nil)

	unix.Unmount(j.path("/proc"), unix.MNT_DETACH)
	j.write("/proc/corrupt", []byte("\x7fELF"))
	checkProblems(t, j.dir, []wantProblem{
		{"/proc/corrupt", "unresolved", "corrupt ELF"},
		{"/proc/gone", "missing", "the lock lists a file"},
	})
}

// TestCheckBuiltJail checks jails made by Build, whose lock is the real
// thing: they check clean in both layouts, and drift after the build shows.
func TestCheckBuiltJail(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	for _, layout := range []string{"flat", "preserve"} {
		t.Run(layout, func(t *testing.T) {
			data := filepath.Join(dir, layout+".txt")
			if err := os.WriteFile(data, []byte("version 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, layout+".jail")
			m := testutil.WriteManifest(t, dir, layout+".yaml", `version: 1
layout: `+layout+`
binaries: [/bin/bash, /bin/ls, /usr/bin/getent]
files: [{ src: ./`+layout+`.txt, dest: /etc/data.txt }]
devices: [null, tty]
users: [{ name: tester, uid: 1000, home: /home/tester }]
`)
			jailtest.MustBuild(t, m, build.Options{Output: out})
			checkProblems(t, out, nil)

			os.WriteFile(data, []byte("version 2\n"), 0o644)
			os.WriteFile(filepath.Join(out, "etc/data.txt"), []byte("edited in the jail\n"), 0o644)
			checkProblems(t, out, []wantProblem{
				{"/etc/data.txt", "modified", "changed in the jail: is 19 bytes, the lock says 10 (rebuild)"},
				{"/etc/data.txt", "stale", "host file " + data + " changed (rebuild to pick it up)"},
			})
		})
	}
}

func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Check(dir); !errors.Is(err, lockfile.ErrNotAJail) {
		t.Errorf("Check(dir without lock) = %v, want an error wrapping ErrNotAJail", err)
	}
	if _, err := Check(filepath.Join(dir, "nonexistent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check(nonexistent) = %v, want an error wrapping fs.ErrNotExist", err)
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{Path: "/bin/bash", Kind: "unresolved", Msg: "libtinfo.so.6 needed but not found in the jail (rebuild, or add it to the manifest)"}
	want := "/bin/bash: libtinfo.so.6 needed but not found in the jail (rebuild, or add it to the manifest)"
	if got := p.String(); got != want {
		t.Errorf("Problem.String() = %q, want %q", got, want)
	}
}

// BenchmarkCheck400 checks a jail of 100 programs and 300 libraries.
func BenchmarkCheck400(b *testing.B) {
	j := newBashJail(b)
	bash, _ := os.ReadFile(j.path("/bin/bash"))
	lib, _ := os.ReadFile(j.path(tinfoFile(b)))
	for i := range 100 {
		j.write(fmt.Sprintf("/bin/bash%d", i), bash)
	}
	for i := range 300 {
		j.write(fmt.Sprintf("/lib/libfake%d.so", i), lib)
	}
	j.writeLock()
	for b.Loop() {
		ps, err := Check(j.dir)
		if err != nil || len(ps) != 0 {
			b.Fatalf("Check = %v, %v", ps, err)
		}
	}
}

// TestCheckFileCapabilities: a file given capabilities inside the jail is
// reported, whether the build made it or not, as a setuid file made
// inside is: the capabilities hold on the host.
func TestCheckFileCapabilities(t *testing.T) {
	testutil.RequireRoot(t) // setting security.capability needs CAP_SETFCAP
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{dest: /bin/tool, content: x, mode: \"0755\"}, {dest: /etc/motd, content: hi}]\n")
	jailtest.MustBuild(t, m, build.Options{})
	jail := filepath.Join(dir, "jail")
	if problems, err := Check(jail); err != nil || len(problems) != 0 {
		t.Fatalf("Check after the build = %v, %v; want no problems", problems, err)
	}
	// VFS_CAP_REVISION_2 with the effective flag, CAP_SYS_ADMIN permitted.
	capSysAdmin := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x20, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	os.WriteFile(filepath.Join(jail, "tmp/made"), []byte("y"), 0o755)
	for _, p := range []string{"bin/tool", "tmp/made"} {
		if err := unix.Setxattr(filepath.Join(jail, p), "security.capability", capSysAdmin, 0); err != nil {
			t.Fatalf("setxattr %s security.capability: %v", p, err)
		}
	}
	problems, err := Check(jail)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		if p.Kind == "unexpected-capabilities" {
			got = append(got, p.Path)
		}
	}
	if want := []string{"/bin/tool", "/tmp/made"}; !slices.Equal(got, want) {
		t.Errorf("Check = %v; want unexpected-capabilities for %v", problems, want)
	}
}

// TestCheckModesAndSetuid: a mode changed inside the jail, and a setuid
// program made inside it, are both reported.
func TestCheckModesAndSetuid(t *testing.T) {
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{dest: /etc/motd, content: hi}]\n")
	jailtest.MustBuild(t, m, build.Options{})
	jail := filepath.Join(dir, "jail")
	os.Chmod(filepath.Join(jail, "etc/motd"), 0o666)
	os.WriteFile(filepath.Join(jail, "tmp/sh"), []byte("x"), 0o755)
	os.Chmod(filepath.Join(jail, "tmp/sh"), os.ModeSetuid|0o755)
	problems, err := Check(jail)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/etc/motd: changed in the jail: mode is 0666, the lock says 0644 (rebuild)",
		"/tmp/sh: has mode 4755 but the build made no such file",
	}
	if len(problems) != len(want) {
		t.Fatalf("Check = %v, want %d problems", problems, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i].String(), w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, problems[i], w)
		}
	}
}
