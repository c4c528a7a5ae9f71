package main

// The rootless tests run the real jailer (this test binary with
// JAILER_TEST_MAIN=1, copied where others may run it) as the unprivileged
// accounts .ci/run makes, switching to them with SysProcAttr.Credential:
// jailer-ci, with subordinate ids, and jailer-ci-noids, without. The test
// itself runs as root (make test); what the users read and write is under
// directories opened to them (t.TempDir()'s parents are root's alone).

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// testUser is an account the rootless tests run jailer as.
type testUser struct {
	name     string
	uid, gid int
	home     string
}

// lookupTestUser returns the account called name, or why it cannot be used: a
// test needs root to switch to it, and the account to exist.
func lookupTestUser(name string) (testUser, error) {
	if os.Geteuid() != 0 {
		return testUser{}, fmt.Errorf("running as %s needs root", name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return testUser{}, fmt.Errorf("user %s: %w (.ci/run creates it)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return testUser{name: name, uid: uid, gid: gid, home: u.HomeDir}, nil
}

// requireTestUser is lookupTestUser for a test: it skips when the account
// cannot be used (and under -short), but fails under CI=true, where
// .ci/run makes the accounts and the tests run as root.
func requireTestUser(t *testing.T, name string) testUser {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs jailer as another user, which needs root")
	}
	u, err := lookupTestUser(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v, and CI=true", err)
		}
		t.Skip(err)
	}
	return u
}

// command runs name as u, with the environment of a login of u.
func (u testUser) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	return cmd
}

// jailer runs the real jailer, bin (a publicJailer), as u in dir.
func (u testUser) jailer(bin, dir string, args ...string) *exec.Cmd {
	cmd := u.command(bin, args...)
	cmd.Args[0] = "jailer"
	cmd.Env = append(cmd.Env, "JAILER_TEST_MAIN=1")
	cmd.Dir = dir
	return cmd
}

// publicJailer copies this test binary into a directory every user may
// enter, removed when the test ends, so that the test users can run it.
func publicJailer(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := publicTempDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(self)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "jailer"), data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "jailer")
}

// publicTempDir makes a directory in /tmp that every user may enter.
func publicTempDir() (string, error) {
	dir, err := os.MkdirTemp("", "jailer-rootless-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	return dir, err
}

// userDir returns a new directory of u's, removed when the test ends.
func userDir(t *testing.T, u testUser) string {
	t.Helper()
	dir, err := publicTempDir()
	if err == nil {
		err = os.Chown(dir, u.uid, u.gid)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// runCmd runs cmd and returns its exit status, stdout and stderr.
func runCmd(t *testing.T, cmd *exec.Cmd) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// rootlessManifest asks for what a build without root cannot make:
// devices, and a user whose home it owns.
const rootlessManifest = `version: 1
binaries: [/bin/sh, /bin/cat, /bin/id, /bin/ls]
devices: [null, tty]
users: [{ name: tester, uid: 1000 }]
dirs: [{ path: /tmp, mode: "1777" }]
files: [{ dest: /etc/motd, content: "hello without root\n" }]
`

// TestRootlessCLI runs jailer as the CI user, for real: build (one
// warning), build again (up to date), check (ok), info (says so) and
// export; the archive it exports is the same bytes as root's export of
// the same manifest built by root. Root's check finds nothing wrong in
// the user's jail either. Then, once enter works without root: enter and
// run.
func TestRootlessCLI(t *testing.T) {
	u := requireTestUser(t, "jailer-ci")
	dir := userDir(t, u)
	m := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(m, []byte(rootlessManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	jail := filepath.Join(dir, "jail")
	bin := publicJailer(t)
	as := func(args ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, u.jailer(bin, dir, args...))
	}
	code, stdout, stderr := as("build", "m.yaml")
	if code != 0 || !strings.HasPrefix(stdout, "built "+jail+": ") {
		t.Fatalf("build as %s: exit %d\n%s%s", u.name, code, stdout, stderr)
	}
	if want := "jailer: warning: built without root: owners (/home/tester 1000:1000) are yours on disk and devices (null, tty) are not made; "; !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("build as %s warned:\n%s\nwant one line starting %q", u.name, stderr, want)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "m.yaml"}, "is up to date: nothing rewritten"},
		{[]string{"check", "jail"}, "jail: ok\n"},
		{[]string{"info", "jail"}, fmt.Sprintf(" %d:%d, without root: the declared owners of 1 path and 2 devices are recorded in the lock, not made", u.uid, u.gid)},
		{[]string{"export", "-q", "-o", "user.tar", "jail"}, ""},
	} {
		if code, stdout, stderr := as(tt.args...); code != 0 || !strings.Contains(stdout, tt.want) || stderr != "" {
			t.Errorf("jailer %s as %s: exit %d, stdout %q, stderr %q; want 0 and %q", strings.Join(tt.args, " "), u.name, code, stdout, stderr, tt.want)
		}
	}
	if code, stdout, _ := runCmd(t, asRoot("check", jail)); code != 0 {
		t.Errorf("check as root of the jail %s built: exit %d\n%s", u.name, code, stdout)
	}

	rootJail := filepath.Join(t.TempDir(), "jail")
	for _, args := range [][]string{{"build", "-q", "-o", rootJail, m}, {"export", "-q", "-o", rootJail + ".tar", rootJail}} {
		if code, stdout, stderr := runCmd(t, asRoot(args...)); code != 0 {
			t.Fatalf("jailer %v as root: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	userTar, _ := os.ReadFile(filepath.Join(dir, "user.tar"))
	rootTar, _ := os.ReadFile(rootJail + ".tar")
	if !bytes.Equal(userTar, rootTar) {
		t.Errorf("the export of the jail %s built differs from root's:\n%s", u.name, tarDiff(t, rootTar, userTar))
	}
	if list := tarList(t, userTar); !strings.Contains(list, "dev/null c 0666 0:0 1,3\n") || !strings.Contains(list, "home/tester/ d 0755 1000:1000 0,0\n") {
		t.Errorf("the export of the jail %s built lacks the devices or owners:\n%s", u.name, list)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"enter", "--no-tty", "jail", "/bin/sh", "-c", "id -u; cat /etc/motd"}, "0\nhello without root\n"},
		{[]string{"run", "m.yaml", "--no-tty", "--", "/bin/sh", "-c", "echo x > /tmp/x && cat /tmp/x"}, "x\n"},
	} {
		if code, stdout, stderr := as(tt.args...); code != 0 || stdout != tt.want {
			t.Errorf("jailer %s as %s: exit %d, stdout %q, stderr %q; want 0 and %q", strings.Join(tt.args, " "), u.name, code, stdout, stderr, tt.want)
		}
	}
}

// asRoot runs the real jailer as this test (root).
func asRoot(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Args[0] = "jailer"
	cmd.Env = append(os.Environ(), "JAILER_TEST_MAIN=1")
	return cmd
}

// tarList lists an archive's entries, one per line: "NAME TYPE MODE
// UID:GID MAJOR,MINOR".
func tarList(t *testing.T, data []byte) string {
	t.Helper()
	var b strings.Builder
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		fmt.Fprintf(&b, "%s %c %04o %d:%d %d,%d\n", h.Name, map[byte]byte{tar.TypeChar: 'c', tar.TypeDir: 'd', tar.TypeSymlink: 'l', tar.TypeReg: '-'}[h.Typeflag], h.Mode, h.Uid, h.Gid, h.Devmajor, h.Devminor)
	}
}

// tarDiff shows the entries of two archives where they first differ.
func tarDiff(t *testing.T, a, b []byte) string {
	la, lb := strings.Split(tarList(t, a), "\n"), strings.Split(tarList(t, b), "\n")
	for i := range max(len(la), len(lb)) {
		if i >= len(la) || i >= len(lb) || la[i] != lb[i] {
			get := func(l []string) string {
				if i < len(l) {
					return l[i]
				}
				return "(none)"
			}
			return fmt.Sprintf("entry %d: root's %q, the user's %q", i, get(la), get(lb))
		}
	}
	return "the same entries; the contents differ"
}
