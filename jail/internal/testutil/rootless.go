package testutil

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// RootlessUser returns the unprivileged account with subordinate ids the
// rootless tests run as (CIUser): see RequireUser.
func RootlessUser(t testing.TB) User {
	t.Helper()
	return RequireUser(t, CIUser)
}

// Credential is the credential to start a process as u: its ids and no
// supplementary groups.
func (u User) Credential() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
}

// Chown gives u the path p and everything below it, without following
// symlinks.
func (u User) Chown(t testing.TB, p string) {
	t.Helper()
	err := filepath.Walk(p, func(q string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(q, u.UID, u.GID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var (
	sharedDirOnce sync.Once
	sharedDir     string
	sharedDirErr  error
)

// SharedDir is a directory every user may enter and read (mode 0755, in
// the temporary directory), made once per test binary for files that
// the tests run as another user need: copies of programs, jails built
// for that user. Tests make what they need below it; RemoveSharedDir
// removes it at the end of TestMain.
func SharedDir(t testing.TB) string {
	t.Helper()
	sharedDirOnce.Do(func() {
		sharedDir, sharedDirErr = os.MkdirTemp("", "jailer-shared-")
		if sharedDirErr == nil {
			sharedDirErr = os.Chmod(sharedDir, 0o755)
		}
	})
	if sharedDirErr != nil {
		t.Fatal(sharedDirErr)
	}
	return sharedDir
}

// RemoveSharedDir removes SharedDir's directory, if one was made.
func RemoveSharedDir() {
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
}

var (
	selfCopyOnce sync.Once
	selfCopy     string
	selfCopyErr  error
)

// SelfForUsers returns a copy of the running test binary that every user
// may run (go test builds it in a directory of the invoking user's, mode
// 0700), in SharedDir, made once per test binary.
func SelfForUsers(t testing.TB) string {
	t.Helper()
	dir := SharedDir(t)
	selfCopyOnce.Do(func() {
		var self string
		if self, selfCopyErr = os.Executable(); selfCopyErr != nil {
			return
		}
		selfCopy = filepath.Join(dir, filepath.Base(self))
		selfCopyErr = copyFile(self, selfCopy, 0o755)
	})
	if selfCopyErr != nil {
		t.Fatal(selfCopyErr)
	}
	return selfCopy
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
