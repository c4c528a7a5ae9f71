//go:build linux

package enter

// A fresh root for every run, and what a run leaves on the host: its
// changes (--keep-changes), its outputs (--output) and its statistics
// (--stats). The tree-is-never-modified test, which needs inspect.Check,
// is TestRunLeavesTreeAsBuilt in the jail package's end-to-end tests.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

// ownShellJail builds a shell jail of the test's own, for runs that
// write into their tree (--persist), which must not touch the shared one.
func ownShellJail(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "shell.yaml", testutil.ShellManifest)
	mustBuild(t, m, build.Options{Output: filepath.Join(dir, "jail")})
	return filepath.Join(dir, "jail")
}

// TestEnterFreshRootPerRun: what one run writes, deletes or chmods, the
// next does not see; with --persist (the positive control) it does, and
// the tree on disk has it.
func TestEnterFreshRootPerRun(t *testing.T) {
	const write = `mkdir -p /tmp "$HOME" && echo one > /tmp/x && echo one > "$HOME/x" && echo extra >> /etc/passwd && rm /bin/true && chmod 700 /bin && echo wrote`
	const look = `cat /tmp/x "$HOME/x" 2>&1; grep -c extra /etc/passwd; ls /bin/true 2>&1; ls -ld /bin`
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprintf("persist=%v", persist), func(t *testing.T) {
			dir := shellJail(t)
			if persist {
				dir = ownShellJail(t)
			}
			before := treeListing(t, dir)
			edit := func(o *Options) { o.Persist = persist }
			if code, out, err := runIn(t, dir, edit, "bash", "-c", write); code != 0 || err != nil || !strings.Contains(out, "wrote") {
				t.Fatalf("first run: exit %d, %v, %q", code, err, out)
			}
			_, out, err := runIn(t, dir, edit, "bash", "-c", look)
			if err != nil {
				t.Fatalf("second run: %v, %q", err, out)
			}
			sawWrites := strings.Contains(out, "one\none\n1\n") && strings.Contains(out, "No such file") && strings.Contains(out, "drwx------")
			sawNothing := strings.Count(out, "No such file") == 2 && strings.Contains(out, "\n0\n/bin/true\n") && strings.Contains(out, "drwxr-xr-x")
			switch {
			case persist && !sawWrites:
				t.Errorf("with --persist the second run does not see the first's writes: %q", out)
			case !persist && !sawNothing:
				t.Errorf("the second run sees what the first wrote: %q", out)
			}
			if after := treeListing(t, dir); slices.Equal(after, before) == persist {
				t.Errorf("tree changed = %v, want %v (persist=%v)", !slices.Equal(after, before), persist, persist)
			}
		})
	}
}

// TestEnterParallelFreshRoots: 16 concurrent runs of one jail each write
// the same /tmp/x and $HOME/x, wait until all 16 have written, and read
// back their own. With --persist (the positive control) they share the
// tree, so all but the last writer read another's.
func TestEnterParallelFreshRoots(t *testing.T) {
	const n = 16
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprintf("persist=%v", persist), func(t *testing.T) {
			dir := shellJail(t)
			if persist {
				dir = ownShellJail(t)
			}
			syncDir := t.TempDir()
			var wg sync.WaitGroup
			results := make([]string, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					script := fmt.Sprintf(`mkdir -p /tmp "$HOME"; echo %d > /tmp/x; echo %d > "$HOME/x"; touch /sync/%d
						i=0; while [ "$(ls /sync | wc -l)" -lt %d ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
						[ "$(cat /tmp/x)" = %d ] && [ "$(cat "$HOME/x")" = %d ] && echo own || echo "other: $(cat /tmp/x) $(cat "$HOME/x")"`, i, i, i, n, i, i)
					code, out, err := runIn(t, dir, func(o *Options) {
						o.Persist = persist
						o.Mounts = append(o.Mounts, bindMount(syncDir, "/sync", false))
						o.Limits.Timeout = 2 * time.Minute
					}, "bash", "-c", script)
					results[i] = fmt.Sprintf("exit %d, %v, %q", code, err, out)
					if code == 0 && err == nil && out == "own\n" {
						results[i] = ""
					}
				}()
			}
			wg.Wait()
			var failed []string
			for i, r := range results {
				if r != "" {
					failed = append(failed, fmt.Sprintf("run %d: %s", i, r))
				}
			}
			switch {
			case !persist && len(failed) > 0:
				t.Errorf("%d of %d parallel runs did not read back their own files:\n%s", len(failed), n, strings.Join(failed, "\n"))
			case persist && len(failed) < n-1:
				t.Errorf("with --persist only %d of %d runs read another's file: the test cannot tell shared from fresh roots", len(failed), n)
			}
		})
	}
}

// changesScript adds, modifies, deletes and chmods in the jail; the
// table of TestEnterKeepChanges says how the run then ends.
const changesScript = `echo new > /added && echo extra >> /etc/passwd && rm /bin/true && chmod 640 /etc/group &&
mkdir -p /made/empty /x/y && echo deep > /x/y/z && rm -r /home/tester && mkdir /home/tester && echo again > /home/tester/f && echo changed; `

func TestEnterKeepChanges(t *testing.T) {
	dir := shellJail(t)
	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUDO_UID", "4321")
	t.Setenv("SUDO_GID", "4322")
	tests := []struct {
		name    string
		end     string
		timeout time.Duration
		code    int
	}{
		{"success", "exit 0", 0, 0},
		{"failure", "exit 3", 0, 3},
		{"killed on timeout", "sleep 60", 500 * time.Millisecond, ExitTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep := filepath.Join(t.TempDir(), "changes")
			before := treeListing(t, dir)
			code, out, err := runIn(t, dir, func(o *Options) {
				o.KeepChanges = keep
				o.Limits.Timeout = tt.timeout
				o.Mounts = append(o.Mounts, mountTmpfs("/scratch"))
			}, "bash", "-c", changesScript+tt.end)
			if code != tt.code || !strings.Contains(out, "changed") {
				t.Fatalf("exit %d, %v, %q; want %d", code, err, out, tt.code)
			}
			files := filepath.Join(keep, "files")
			for p, want := range map[string]string{
				"added":            "new\n",
				"etc/passwd":       string(passwd) + "extra\n",
				"x/y/z":            "deep\n",
				"home/tester/f":    "again\n",
				"../deleted.txt":   "/bin/true\n/home/tester\n",
				"etc/group mode":   "0640",
				"made/empty mode":  "0755",
				"scratch (target)": "",
				"proc (target)":    "",
			} {
				name, what, _ := strings.Cut(p, " ")
				got, err := os.ReadFile(filepath.Join(files, name))
				switch what {
				case "mode":
					var st unix.Stat_t
					if err := unix.Lstat(filepath.Join(files, name), &st); err != nil || fmt.Sprintf("%04o", st.Mode&0o7777) != want {
						t.Errorf("%s: mode %04o (%v), want %s", name, st.Mode&0o7777, err, want)
					}
				case "(target)":
					if _, err := os.Lstat(filepath.Join(files, name)); err == nil {
						t.Errorf("%s, a mount target, was saved as a change", name)
					}
				default:
					if err != nil || string(got) != want {
						t.Errorf("%s = %q (%v), want %q", name, got, err, want)
					}
				}
			}
			for _, p := range []string{"bin", "home", "etc"} {
				// Only what changed: the tree's other files are not copied.
				entries, _ := os.ReadDir(filepath.Join(files, p))
				if p == "bin" && len(entries) > 0 {
					t.Errorf("files/bin holds %d entries; only a deletion happened there", len(entries))
				}
			}
			if err := filepath.Walk(keep, func(p string, fi os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4322 {
					t.Errorf("%s is owned by %d:%d, want the invoker's 4321:4322", p, st.Uid, st.Gid)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			assertTreeAsBuilt(t, dir, before)
		})
	}
	t.Run("a directory that is not empty is refused", func(t *testing.T) {
		keep := t.TempDir()
		os.WriteFile(filepath.Join(keep, "old"), nil, 0o644)
		code, _, err := runIn(t, dir, func(o *Options) { o.KeepChanges = keep }, "true")
		if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("exit %d, %v; want it refused as not empty", code, err)
		}
	})
}

// TestEnterKeepChangesOnSignal: a run ended by a signal to jailer (passed
// on to the command, which dies of it) saves its changes too.
func TestEnterKeepChangesOnSignal(t *testing.T) {
	dir := shellJail(t)
	keep := filepath.Join(t.TempDir(), "changes")
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "bash", "-c", "echo sig > /from-signal; echo ready; exec sleep 60")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+dir, "JAILER_TEST_KEEP="+keep)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if n, err := stdout.Read(buf); err != nil || string(buf[:n]) != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v", buf[:n], err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if got, err := os.ReadFile(filepath.Join(keep, "files/from-signal")); err != nil || string(got) != "sig\n" {
		t.Errorf("files/from-signal = %q, %v; want the file the run wrote before it was ended", got, err)
	}
}

func TestEnterOutputOwnedByInvoker(t *testing.T) {
	dir := shellJail(t)
	const script = `echo a > /out/a && mkdir /out/d && echo b > /out/d/b && chmod 6755 /out/a 2>/dev/null; chmod 700 /out/d; echo wrote`
	for _, sudo := range []bool{true, false} {
		t.Run(fmt.Sprintf("sudo=%v", sudo), func(t *testing.T) {
			// Without: not even the sudo that may have run the tests.
			uid, gid, sudoUID, sudoGID := 0, 0, "", ""
			if sudo {
				uid, gid, sudoUID, sudoGID = 4321, 4322, "4321", "4322"
			}
			t.Setenv("SUDO_UID", sudoUID)
			t.Setenv("SUDO_GID", sudoGID)
			out := filepath.Join(t.TempDir(), "out") // made for the run
			code, got, err := runIn(t, dir, func(o *Options) {
				o.Outputs = []Output{{Host: out, Target: "/out"}}
			}, "bash", "-c", script)
			if code != 0 || err != nil || got != "wrote\n" {
				t.Fatalf("exit %d, %v, %q", code, err, got)
			}
			n := 0
			filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
				if err != nil {
					t.Error(err)
					return nil
				}
				n++
				st := fi.Sys().(*syscall.Stat_t)
				if int(st.Uid) != uid || int(st.Gid) != gid {
					t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
				}
				if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 && fi.Mode().IsRegular() {
					t.Errorf("%s kept a setuid or setgid bit: %o", p, st.Mode)
				}
				return nil
			})
			if n != 4 {
				t.Errorf("the output holds %d paths, want 4 (out, a, d, d/b)", n)
			}
		})
	}
	t.Run("a directory of someone else's is refused", func(t *testing.T) {
		for _, invoker := range []string{"4321", ""} { // a sudo user's, and root's
			t.Setenv("SUDO_UID", invoker)
			t.Setenv("SUDO_GID", invoker)
			other := t.TempDir()
			if invoker == "" {
				os.Chown(other, 4321, 4321)
			}
			code, _, err := runIn(t, dir, func(o *Options) { o.Outputs = []Output{{Host: other, Target: "/out"}} }, "true")
			if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "not by you") {
				t.Errorf("invoker %q: exit %d, %v; want it refused", invoker, code, err)
			}
		}
	})
}

func TestEnterStats(t *testing.T) {
	dir := shellJail(t)
	const hog = 64 << 20
	tests := []struct {
		name  string
		argv  []string
		edit  func(*Options)
		check func(t *testing.T, s map[string]any)
	}{
		{"success", []string{"true"}, nil, func(t *testing.T, s map[string]any) {
			want(t, s, "exit_status", 0.0)
			want(t, s, "timed_out", false)
			want(t, s, "oom_killed", false)
			if s["wall_seconds"].(float64) <= 0 {
				t.Errorf("wall_seconds = %v, want > 0", s["wall_seconds"])
			}
		}},
		{"exit status and CPU", []string{"bash", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 5"}, nil, func(t *testing.T, s map[string]any) {
			want(t, s, "exit_status", 5.0)
			if cpu := s["user_cpu_seconds"].(float64) + s["system_cpu_seconds"].(float64); cpu <= 0.05 {
				t.Errorf("CPU %v s for 200000 rounds of a shell loop, want more than 0.05", cpu)
			}
		}},
		{"memory hog", []string{"bash", "-c", fmt.Sprintf("x=$(printf '%%*d' %d 0); echo ${#x}", hog)}, nil, func(t *testing.T, s map[string]any) {
			if peak := s["peak_memory_bytes"].(float64); peak < hog {
				t.Errorf("peak_memory_bytes = %v for a %d-byte string, want more (from %v)", peak, hog, s["peak_memory_from"])
			}
		}},
		{"timeout", []string{"sleep", "60"}, func(o *Options) { o.Limits.Timeout = 300 * time.Millisecond }, func(t *testing.T, s map[string]any) {
			want(t, s, "exit_status", float64(ExitTimeout))
			want(t, s, "timed_out", true)
		}},
		{"out of memory", []string{"bash", "-c", "x=a; while true; do x=$x$x; done"}, func(o *Options) { o.Limits.Memory = 64 << 20 }, func(t *testing.T, s map[string]any) {
			want(t, s, "exit_status", 137.0)
			want(t, s, "oom_killed", true)
			want(t, s, "peak_memory_from", "cgroup")
		}},
		{"not started", []string{"no-such-command"}, nil, func(t *testing.T, s map[string]any) {
			want(t, s, "exit_status", float64(ExitNotFound))
			if e, _ := s["error"].(string); !strings.Contains(e, "no-such-command") {
				t.Errorf("error = %q, want why", e)
			}
		}},
	}
	t.Setenv("SUDO_UID", "4321")
	t.Setenv("SUDO_GID", "4321")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "stats.json")
			runIn(t, dir, func(o *Options) {
				o.StatsFile = file
				if tt.edit != nil {
					tt.edit(o)
				}
			}, tt.argv...)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var s map[string]any
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatalf("%v:\n%s", err, data)
			}
			for _, k := range []string{"exit_status", "wall_seconds", "user_cpu_seconds", "system_cpu_seconds", "peak_memory_bytes", "peak_memory_from", "timed_out", "oom_killed"} {
				if _, ok := s[k]; !ok {
					t.Errorf("stats lack %s:\n%s", k, data)
				}
			}
			if t.Failed() {
				return
			}
			tt.check(t, s)
			if st := statT(t, file); st.Uid != 4321 {
				t.Errorf("the stats file is owned by %d, want the invoker", st.Uid)
			}
		})
	}
}

func want(t *testing.T, s map[string]any, key string, v any) {
	t.Helper()
	if s[key] != v {
		t.Errorf("%s = %v, want %v", key, s[key], v)
	}
}

// TestEnterTmpSizeBoundsWrites: what a run writes lives on a tmpfs of
// --tmp-size, and writing more fails with ENOSPC; with room, the same
// write succeeds (so the test can fail), and with --persist it goes into
// the tree, unbounded (the escape the fresh root closes).
func TestEnterTmpSizeBoundsWrites(t *testing.T) {
	const write = "dd if=/dev/zero of=/big bs=1M count=16 2>&1; echo rc=$?"
	tests := []struct {
		name    string
		size    int64
		persist bool
		want    string
	}{
		{"8M: no room for 16M", 8 << 20, false, "No space left on device"},
		{"64M: room for 16M", 64 << 20, false, "rc=0"},
		{"--persist writes into the tree", 8 << 20, true, "rc=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := shellJail(t)
			if tt.persist {
				dir = ownShellJail(t)
			}
			code, out, err := runIn(t, dir, func(o *Options) {
				o.TmpSize = tt.size
				o.Persist = tt.persist
			}, "bash", "-c", write)
			if code != 0 || err != nil || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, %v, %q; want %q", code, err, out, tt.want)
			}
			_, err = os.Lstat(filepath.Join(dir, "big"))
			if inTree := err == nil; inTree != tt.persist {
				t.Errorf("/big in the tree = %v, want %v", inTree, tt.persist)
			}
		})
	}
}

// TestEnterTreeOnOverlayfs: a jail on overlayfs (a container's root) gets
// its fresh root stacked on it; one on an overlay of an overlay, where the
// kernel refuses a third level, gets an error that says what to do.
func TestEnterTreeOnOverlayfs(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	overlay := func(lower, name string) string {
		for _, d := range []string{name + ".upper", name + ".work", name} {
			if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		mnt := filepath.Join(base, name)
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s.upper,workdir=%s.work", lower, mnt, mnt)
		if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
			t.Fatalf("mount an overlay for the test: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
		return mnt
	}
	os.Mkdir(filepath.Join(base, "lower"), 0o755)
	one := overlay(filepath.Join(base, "lower"), "one")
	two := overlay(one, "two")
	m := testutil.WriteManifest(t, base, "m.yaml", "version: 1\nbinaries: [/bin/bash, /bin/touch]\n")
	for _, tt := range []struct {
		name, on string
		code     int
		msg      string
	}{
		{"on overlayfs", filepath.Join(one, "jail1"), 0, ""},
		{"on an overlay of an overlay", filepath.Join(two, "jail2"), ExitSetupFailed, "the jail is on overlayfs itself"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			jail := tt.on
			mustBuild(t, m, build.Options{Output: jail})
			code, out, err := runIn(t, jail, nil, "/bin/bash", "-c", "touch /x && echo ok")
			if code != tt.code || (tt.msg == "" && out != "ok\n") || (tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg))) {
				t.Errorf("exit %d, %v, %q; want %d %q", code, err, out, tt.code, tt.msg)
			}
			if _, err := os.Lstat(filepath.Join(jail, "x")); err == nil {
				t.Error("the run wrote into the tree")
			}
		})
	}
}
