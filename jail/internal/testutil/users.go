package testutil

// Rootless tests run jailer as the unprivileged accounts .ci/run makes:
// the test (as root) switches to them with SysProcAttr.Credential. What
// such a process runs and writes must be reachable by it: the test binary
// and t.TempDir() live under directories only root may enter, so these
// tests copy the binary into, and work in, directories they open to all
// (PublicDir), as TestForeignSuite does for its host run.

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// The accounts .ci/run makes for the rootless tests: CIUser has a range of
// subordinate ids (200000:65536 in /etc/subuid and /etc/subgid),
// CINoIDsUser has none.
const (
	CIUser      = "jailer-ci"
	CINoIDsUser = "jailer-ci-noids"
)

// User is an account a test runs jailer as.
type User struct {
	Name     string
	UID, GID int
	Home     string
}

// RequireUser returns the account called name, for a test that runs
// programs as it. It needs root (to switch to it) and the account: without either it
// skips, except with CI=true, where .ci/run makes the accounts and the
// tests run as root, so it fails. -short skips it.
func RequireUser(t testing.TB, name string) User {
	t.Helper()
	RequireRoot(t)
	u, err := user.Lookup(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("user %s: %v, and CI=true: .ci/run must create it", name, err)
		}
		t.Skipf("user %s: %v (.ci/run creates it)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return User{Name: name, UID: uid, GID: gid, Home: u.HomeDir}
}

// Command returns a command that runs as u, with the environment of a
// login of u (HOME, USER, LOGNAME, a system PATH) and nothing of the
// test's.
func (u User) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
	return cmd
}

// PublicDir returns a new directory that every user may enter and read
// (0755, under /tmp), removed when the test ends; owner, when not nil,
// gets it.
func PublicDir(t testing.TB, owner *User) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jailer-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// PublicExecutable copies the running test binary into a PublicDir and
// returns the copy's path, for running it as another user.
func PublicExecutable(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(PublicDir(t, nil), filepath.Base(self))
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err == nil {
		_, err = io.Copy(out, src)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
