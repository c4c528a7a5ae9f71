package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/human"

	"golang.org/x/sys/unix"
)

// Swept says what Sweep did in a store.
type Swept struct {
	// Path is the store directory.
	Path string `json:"path"`
	// Removed counts the store files deleted, and the files that
	// interrupted builds left in tmp/.
	Removed int `json:"removed"`
	// Bytes is the disk space freed.
	Bytes int64 `json:"bytes"`
	// InUse counts the store files some tree still links.
	InUse int `json:"in_use"`
	// InUseBytes is their size on disk, counted once each.
	InUseBytes int64 `json:"in_use_bytes"`
}

// String is the line `jailer gc` prints for the store.
func (w *Swept) String() string {
	return fmt.Sprintf("store %s: removed %d files no jail links (%s), %d in use (%s)",
		w.Path, w.Removed, human.Bytes(w.Bytes), w.InUse, human.Bytes(w.InUseBytes))
}

// Sweep deletes, in the store at dir, every store file that no tree links
// (its link count is 1: the store's own name) and what interrupted builds
// left in tmp/. It waits until the builds that are adding or linking
// store files are done with it, and keeps new ones waiting meanwhile (see
// the package comment); ctx ends the wait. A store that does not exist is
// no error: Sweep returns nil. Only names the store makes are deleted.
func Sweep(ctx context.Context, dir string) (*Swept, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	s := &Store{Dir: dir, root: -1, objects: -1, tmp: -1, lock: -1, uid: os.Geteuid(), gid: os.Getegid(), subdirs: map[string]int{}}
	defer s.Close()
	if err := s.open(false); errors.Is(err, fs.ErrNotExist) {
		return &Swept{Path: dir}, nil // a build is making it
	} else if err != nil {
		return nil, err
	}
	gate, err := s.lockFile(gateName)
	if err != nil {
		return nil, err
	}
	defer unix.Close(gate)
	if s.lock, err = s.lockFile(lockName); err != nil {
		return nil, err
	}
	if err := flock(ctx, gate, unix.LOCK_EX); err != nil {
		return nil, s.errorf("wait for the builds using it: %w", err)
	}
	if err := flock(ctx, s.lock, unix.LOCK_EX); err != nil {
		return nil, s.errorf("wait for the builds using it: %w", err)
	}
	w := &Swept{Path: dir}
	for _, name := range s.list(s.tmp) {
		if strings.HasPrefix(name, tmpPrefix) {
			w.remove(s.tmp, name, false)
		}
	}
	for _, prefix := range s.list(s.objects) {
		if _, err := hex.DecodeString(prefix); err != nil || len(prefix) != 2 {
			continue
		}
		sub, err := s.objectDir(prefix)
		if err != nil {
			return w, err
		}
		for _, name := range s.list(sub) {
			if k, ok := ParseName(name); ok && k.SHA256[:2] == prefix {
				w.remove(sub, name, true)
			}
		}
	}
	return w, nil
}

// list returns the names in the directory open (O_PATH) as dir.
func (s *Store) list(dir int) []string {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "dir")
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return names
}

// remove deletes the regular file name in dir, unless linked says it is
// a store file and it has links beside the store's.
func (w *Swept) remove(dir int, name string, linked bool) {
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	if linked && st.Nlink > 1 {
		w.InUse++
		w.InUseBytes += st.Blocks * 512
		return
	}
	if unix.Unlinkat(dir, name, 0) == nil {
		w.Removed++
		w.Bytes += st.Blocks * 512
	}
}

// sumIs says whether the content of the file name in dir has the sha256 sum.
func (s *Store) sumIs(dir int, name, sum string) (bool, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, s.errorf("verify %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, s.errorf("verify %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sum, nil
}
