// Package store keeps the files of jails built with --link store once,
// in a directory keyed by their content, and hardlinks them into jails.
//
// A store file is named by what a hardlink cannot differ in: its content's
// sha256, its mode, owner and mtime (Key). Two jails that want the same
// bytes with the same mode, owner and mtime share one inode; a jail whose
// file differs in any of these gets a store file of its own. Store files
// have no write bits and belong to the builder (root's store: files the
// manifest gives another owner are copied instead), and a jail made of
// them is only ever entered with a fresh root (the overlay of package
// enter), so nothing writes into them. A build reuses a store file only
// when its stat is what the store made (regular, mode, owner, size,
// mtime); one that differs was changed behind jailer's back and is
// replaced by a fresh copy under the same name (the jails that link the
// old inode keep it, and are stale). With verify (build --force) it is
// hashed too.
//
// Layout of a store directory (the builder's, mode 0700):
//
//	objects/ab/SHA256-MODE-UID-GID-MTIME   a store file (ab: the sum's first byte)
//	tmp/                                   files being written, renamed into objects/ when complete
//	lock, gate                             the flock(2) files below
//
// A file is written under tmp/ and renamed into objects/ only when it is
// complete, with its mode, owner and mtime set: a name in objects/ is
// always a whole file. Two builds that add the same file race harmlessly:
// the second rename finds the name taken (RENAME_NOREPLACE) and drops its
// copy.
//
// Collection (Sweep) deletes the store files that no tree links any more:
// a link count of 1, the store's own name. That is the whole test: a build
// links every store file it uses into its staging tree before it writes
// the lock that names it, so every file a lock names has a link in a tree,
// and so do the files of trees that have no lock but may still be used
// (an old tree a running jail holds, a staging tree). The one window is
// between a build finding (or adding) a store file and linking it; builds
// hold the store's lock shared through it, and Sweep takes it exclusively.
// So that a stream of overlapping builds cannot keep Sweep waiting for
// ever, a second lock, the gate, comes first: Sweep holds it exclusively
// while it waits for the builds inside to finish, and a build takes it
// shared only for the moment it takes the store's lock, so that new
// builds queue behind a waiting Sweep. flock(2) locks die with their
// process: a killed build holds nothing, and what it left (files in tmp/,
// store files no tree links) goes at the next Sweep.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Env names the environment variable that sets the default store
// directory.
const Env = "JAILER_STORE"

// RootDir is the default store of builds by root.
const RootDir = "/var/lib/jailer/store"

// Names inside a store directory.
const (
	objectsDir = "objects"
	tmpDir     = "tmp"
	lockName   = "lock"
	gateName   = "gate"
	tmpPrefix  = "new-"
)

// Dir is the store directory a build or gc uses: dir when it is set
// (--store), else $JAILER_STORE, else RootDir for root and
// $XDG_CACHE_HOME/jailer/store (~/.cache/jailer/store) for other users.
// It is made absolute.
func Dir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(Env)
	}
	if dir == "" {
		if os.Geteuid() == 0 {
			return RootDir, nil
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find the store: %w (set %s or pass --store DIR)", err, Env)
		}
		dir = filepath.Join(cache, "jailer", "store")
	}
	return filepath.Abs(dir)
}

// Errors of Link that a build answers by adding the file.
var (
	// ErrMissing: the store has no file of that key.
	ErrMissing = errors.New("not in the store")
	// ErrDamaged: the store file of that key is not what the store made
	// (its stat, or with verify its content, differs).
	ErrDamaged = errors.New("changed in the store")
)

// Store is a store directory opened by a build: while it is open, Sweep
// deletes nothing in it.
type Store struct {
	// Dir is the store's absolute path.
	Dir string

	root, objects, tmp int // O_PATH descriptors of the directories
	lock               int // the lock file, held shared
	uid, gid           int

	mu      sync.Mutex
	subdirs map[string]int // objects/ab, by "ab"
}

// Open opens the store at dir for a build, making it if it is missing,
// and waits until no Sweep runs in it (or ctx is done). The caller must
// Close it once every store file it uses is linked into its tree.
func Open(ctx context.Context, dir string) (*Store, error) {
	s := &Store{Dir: dir, root: -1, objects: -1, tmp: -1, lock: -1, uid: os.Geteuid(), gid: os.Getegid(), subdirs: map[string]int{}}
	if err := s.open(true); err != nil {
		s.Close()
		return nil, err
	}
	gate, err := s.lockFile(gateName)
	if err != nil {
		s.Close()
		return nil, err
	}
	defer unix.Close(gate)
	if s.lock, err = s.lockFile(lockName); err != nil {
		s.Close()
		return nil, err
	}
	// The gate first: a Sweep waiting for the lock holds it.
	if err := flock(ctx, gate, unix.LOCK_SH); err != nil {
		s.Close()
		return nil, s.errorf("wait for jailer gc: %w", err)
	}
	if err := flock(ctx, s.lock, unix.LOCK_SH); err != nil {
		s.Close()
		return nil, s.errorf("wait for jailer gc: %w", err)
	}
	return s, nil
}

// Close lets Sweep run again.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fd := range append([]int{s.lock, s.tmp, s.objects, s.root}, mapValues(s.subdirs)...) {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	s.root, s.objects, s.tmp, s.lock, s.subdirs = -1, -1, -1, -1, map[string]int{}
}

func mapValues(m map[string]int) []int {
	var v []int
	for _, fd := range m {
		v = append(v, fd)
	}
	return v
}

// errorf formats an error about the store.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf("store %s: "+format, append([]any{s.Dir}, args...)...)
}

// open opens the store's directories, making them when create is set.
// The store must be the caller's and writable by nobody else: another
// user who could rename files in it could make a build of root's link
// the wrong one.
func (s *Store) open(create bool) error {
	if create {
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return s.errorf("%w", errors.Unwrap(err))
		}
	}
	fd, err := unix.Open(s.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return s.errorf("%w", err)
	}
	s.root = fd
	if err := s.mine(fd, ""); err != nil {
		return err
	}
	if s.objects, err = s.subdir(fd, objectsDir, objectsDir, create); err != nil {
		return err
	}
	s.tmp, err = s.subdir(fd, tmpDir, tmpDir, create)
	return err
}

// mine checks that the directory open as fd (name, in the store, for
// messages; "" for the store itself) is the caller's and that nobody else
// may write in it.
func (s *Store) mine(fd int, name string) error {
	if name == "" {
		name = "it"
	} else {
		name = "its " + name + "/"
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return s.errorf("%w", err)
	}
	switch {
	case int(st.Uid) != s.uid:
		return s.errorf("%s belongs to uid %d, not to you (uid %d): use a store of your own (--store DIR, or %s)", name, st.Uid, s.uid, Env)
	case st.Mode&0o022 != 0:
		return s.errorf("%s is writable by others (mode %04o): chmod go-w it, or use another store", name, st.Mode&0o7777)
	}
	return nil
}

// subdir opens (and makes, with create) the directory name in parent,
// never through a symlink; path is its path in the store, for messages.
func (s *Store) subdir(parent int, name, path string, create bool) (int, error) {
	if create {
		if err := unix.Mkdirat(parent, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, s.errorf("make %s: %w", path, err)
		}
	}
	fd, err := unix.Openat(parent, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, s.errorf("open %s: %w", path, err)
	}
	if err := s.mine(fd, path); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// lockFile opens (making it) the lock file name of the store.
func (s *Store) lockFile(name string) (int, error) {
	fd, err := unix.Openat(s.root, name, unix.O_RDONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, s.errorf("open %s: %w", name, err)
	}
	return fd, nil
}

// flock takes the flock(2) how on fd, waiting (by polling, so that ctx
// can end the wait) while another holds it.
func flock(ctx context.Context, fd, how int) error {
	wait := time.Millisecond
	for {
		err := unix.Flock(fd, how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// objectDir returns the directory of store files whose sum starts with
// prefix, made if missing.
func (s *Store) objectDir(prefix string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd, ok := s.subdirs[prefix]; ok {
		return fd, nil
	}
	if s.objects < 0 {
		return -1, s.errorf("closed")
	}
	fd, err := s.subdir(s.objects, prefix, objectsDir+"/"+prefix, true)
	if err != nil {
		return -1, err
	}
	s.subdirs[prefix] = fd
	return fd, nil
}

// Key is what names a store file: everything a hardlink shares.
type Key struct {
	// SHA256 is the content's sum, in lower-case hex.
	SHA256 string
	// Mode is the entry's mode; the store file has it without write
	// bits (lockfile.StoredMode).
	Mode fs.FileMode
	// UID and GID own the store file.
	UID, GID int
	// Mtime is its modification time in nanoseconds since 1970 (a copy
	// keeps its source's: Python and make compare them).
	Mtime int64
}

// storedMode is the permission bits of k's store file, as chmod takes them.
func (k Key) storedMode() uint32 {
	m := uint32(k.Mode.Perm() &^ 0o222)
	if k.Mode&fs.ModeSetuid != 0 {
		m |= unix.S_ISUID
	}
	if k.Mode&fs.ModeSetgid != 0 {
		m |= unix.S_ISGID
	}
	if k.Mode&fs.ModeSticky != 0 {
		m |= unix.S_ISVTX
	}
	return m
}

// Name is the store file's path relative to the store directory.
func (k Key) Name() string {
	return objectsDir + "/" + k.SHA256[:2] + "/" + k.base()
}

func (k Key) base() string {
	return fmt.Sprintf("%s-%04o-%d-%d-%d", k.SHA256, k.storedMode(), k.UID, k.GID, k.Mtime)
}

// valid says whether k can name a store file.
func (k Key) valid() bool {
	if len(k.SHA256) != 64 || strings.ToLower(k.SHA256) != k.SHA256 {
		return false
	}
	_, err := hex.DecodeString(k.SHA256)
	return err == nil && k.UID >= 0 && k.GID >= 0
}

// ParseName returns the key of a store file's base name, and whether it
// is one (a name the store makes).
func ParseName(base string) (Key, bool) {
	f := strings.Split(base, "-")
	if len(f) != 5 {
		return Key{}, false
	}
	mode, err1 := strconv.ParseUint(f[1], 8, 32)
	uid, err2 := strconv.Atoi(f[2])
	gid, err3 := strconv.Atoi(f[3])
	mtime, err4 := strconv.ParseInt(f[4], 10, 64)
	if errors.Join(err1, err2, err3, err4) != nil || len(f[1]) != 4 {
		return Key{}, false
	}
	k := Key{SHA256: f[0], Mode: fs.FileMode(mode & 0o777), UID: uid, GID: gid, Mtime: mtime}
	if mode&unix.S_ISUID != 0 {
		k.Mode |= fs.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		k.Mode |= fs.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		k.Mode |= fs.ModeSticky
	}
	return k, k.valid() && k.base() == base
}

// Link makes name, in the directory open as dir, a hardlink of the store
// file of k, whose content is size bytes, and returns the store file's
// stat from before the link. It returns ErrMissing when the store has no
// such file and ErrDamaged when it has one that is not what the store
// made (with verify, also when its content's sum is not k's); an error
// wrapping unix.EXDEV when dir is on another filesystem, and unix.EMLINK
// when the file has as many links as it can.
func (s *Store) Link(k Key, size int64, dir int, name string, verify bool) (unix.Stat_t, error) {
	var st unix.Stat_t
	if !k.valid() {
		return st, s.errorf("bad key %+v", k)
	}
	sub, err := s.objectDir(k.SHA256[:2])
	if err != nil {
		return st, err
	}
	base := k.base()
	err = unix.Fstatat(sub, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return st, ErrMissing
	case err != nil:
		return st, s.errorf("%s: %w", k.Name(), err)
	case !k.made(&st, size):
		return st, ErrDamaged
	}
	if verify {
		if ok, err := s.sumIs(sub, base, k.SHA256); err != nil {
			return st, err
		} else if !ok {
			return st, ErrDamaged
		}
	}
	if err := unix.Linkat(sub, base, dir, name, 0); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return st, ErrMissing
		}
		return st, &os.LinkError{Op: "link", Old: filepath.Join(s.Dir, k.Name()), New: name, Err: err}
	}
	return st, nil
}

// made says whether st is the stat of the store file of k, size bytes
// long, as the store made it.
func (k Key) made(st *unix.Stat_t, size int64) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o7777 == k.storedMode() &&
		int(st.Uid) == k.UID && int(st.Gid) == k.GID && st.Size == size &&
		st.Mtim.Nano() == k.Mtime
}

// Temp is a file being written into the store.
type Temp struct {
	// File is open for writing.
	*os.File
	s    *Store
	name string
}

// Create starts a new store file, under tmp/ until Commit.
func (s *Store) Create() (*Temp, error) {
	for range 10 {
		var b [8]byte
		rand.Read(b[:])
		name := tmpPrefix + hex.EncodeToString(b[:])
		fd, err := unix.Openat(s.tmp, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, s.errorf("create a file in tmp: %w", err)
		}
		return &Temp{File: os.NewFile(uintptr(fd), filepath.Join(s.Dir, tmpDir, name)), s: s, name: name}, nil
	}
	return nil, s.errorf("create a file in tmp: %w", unix.EEXIST)
}

// Discard deletes t.
func (t *Temp) Discard() {
	t.File.Close()
	unix.Unlinkat(t.s.tmp, t.name, 0)
}

// Commit gives t, whose content has the sum k.SHA256, the mode, owner and
// mtime of k, closes it and names it k. When the store has a file of k
// already, t is dropped, unless replace says that file is damaged: t then
// takes its name (the jails that link the damaged file keep it).
func (t *Temp) Commit(k Key, replace bool) error {
	if !k.valid() {
		t.Discard()
		return t.s.errorf("bad key %+v", k)
	}
	err := t.seal(k)
	if cerr := t.File.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(t.s.tmp, t.name, 0)
		return t.s.errorf("%s: %w", k.Name(), err)
	}
	sub, err := t.s.objectDir(k.SHA256[:2])
	if err != nil {
		unix.Unlinkat(t.s.tmp, t.name, 0)
		return err
	}
	flags := uint(unix.RENAME_NOREPLACE)
	if replace {
		flags = 0
	}
	err = unix.Renameat2(t.s.tmp, t.name, sub, k.base(), flags)
	if errors.Is(err, unix.EEXIST) {
		// Another build added it meanwhile: whole, as every name there is.
		err = nil
		unix.Unlinkat(t.s.tmp, t.name, 0)
	}
	if err != nil {
		unix.Unlinkat(t.s.tmp, t.name, 0)
		return t.s.errorf("%s: %w", k.Name(), err)
	}
	return nil
}

// seal sets t's owner (first: chown clears setuid bits), mode and mtime.
func (t *Temp) seal(k Key) error {
	fd := int(t.File.Fd())
	if k.UID != t.s.uid || k.GID != t.s.gid {
		if err := unix.Fchown(fd, k.UID, k.GID); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, k.storedMode()); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(k.Mtime), unix.NsecToTimespec(k.Mtime)}
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}

// CanLink says whether store files can be linked into the directory open
// as dir: nil, or the error of a trial link (wrapping unix.EXDEV when dir
// is on another filesystem than the store).
func (s *Store) CanLink(dir int) error {
	t, err := s.Create()
	if err != nil {
		return err
	}
	defer t.Discard()
	name := ".jailer-store-probe-" + t.name
	if err := unix.Linkat(s.tmp, t.name, dir, name, 0); err != nil {
		return &os.LinkError{Op: "link", Old: t.Name(), New: name, Err: err}
	}
	unix.Unlinkat(dir, name, 0)
	return nil
}
