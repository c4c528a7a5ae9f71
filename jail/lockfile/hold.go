package lockfile

// Trees in use, and the moment a build swaps one.
//
// A build replaces a jail by swapping a new tree into the output's path
// (renameat2 RENAME_EXCHANGE); runs that entered the old tree go on using
// it, so the old tree may be deleted only once no run holds it. Two locks
// say so. Both are open file description locks (fcntl F_OFD_*), which the
// kernel drops with the last descriptor of whoever took them: a run or a
// build killed with SIGKILL holds nothing.
//
//   - The hold: a run read-locks byte 1 of its tree's root directory
//     (HoldTree) and keeps the lock until its init has exited. Whoever
//     deletes an old tree (a build, `jailer gc`) first asks whether a write
//     lock could be had there (TreeHeld); a directory cannot be opened for
//     writing, so that lock is only ever asked about, never taken. Asking
//     is enough because no run takes a new hold on a tree that is no longer
//     at its output's path: HoldTree checks, after locking, that the path
//     still names the directory it locked, and tries again otherwise.
//     (Byte 0 of the tree belongs to the mount targets of package enter.)
//   - The swap lock: byte 0 of the output's mutex file (MutexPath, whose
//     flock(2) makes builds take turns; flock and fcntl locks do not meet).
//     A build write-locks it for the moment of its swap (LockSwap); a run
//     read-locks it from before it opens the tree until its init has
//     resolved the tree's path and mounted it (Hold.Started). So the tree
//     a run holds is the tree its init mounts: no swap falls in between.

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Bytes of the locked files that the locks cover.
const (
	swapByte = 0 // of the output's mutex file
	holdByte = 1 // of the tree's root directory
)

// holdTries bounds how often HoldTree starts again when the output's path
// names another tree by the time it is locked (a build swapped meanwhile,
// which only a run without the swap lock can see).
const holdTries = 100

// MutexPath is the file beside the jail out whose flock(2) makes builds
// of out take turns, .NAME.jailer.flock, and whose byte 0 is the swap
// lock. (It is not the lock file, NAME.jailer.lock, which records the
// jail.)
func MutexPath(out string) string {
	out = filepath.Clean(out)
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".jailer.flock")
}

// Hold is a run's claim on the tree it entered: while it is held, no
// build or gc deletes that tree, wherever a rebuild has moved it.
type Hold struct {
	mu   sync.Mutex
	tree int // the tree's root directory, read-locked at holdByte; -1 for none
	swap int // the output's mutex file, read-locked at swapByte; -1 once Started
}

// HoldTree holds the tree at dir, the path a run is about to enter, and
// keeps builds of it from swapping until Started. It waits while a build
// swaps. It always returns a Hold; one that holds nothing when dir cannot
// be opened for reading (a run that cannot list its tree is not protected
// from rebuilds), and one without the swap lock when the mutex file beside
// it can neither be opened nor created (a rebuild can then fall between
// the check and the mount).
func HoldTree(dir string) *Hold {
	h := &Hold{tree: -1, swap: -1}
	if fd, err := openMutex(dir); err == nil {
		if ofdLock(fd, unix.F_OFD_SETLKW, unix.F_RDLCK, swapByte) == nil {
			h.swap = fd
		} else {
			unix.Close(fd)
		}
	}
	for range holdTries {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		if ofdLock(fd, unix.F_OFD_SETLK, unix.F_RDLCK, holdByte) != nil {
			unix.Close(fd)
			break
		}
		if at, err := TreeIDOf(dir); err == nil && at == TreeIDOfFd(fd) {
			h.tree = fd
			break
		}
		unix.Close(fd) // swapped meanwhile: hold the tree there now
	}
	return h
}

// openMutex opens the mutex file of the jail dir for reading; it makes
// the file when dir is a jail that has none yet (built by an older
// jailer), and never beside a directory that is not a jail.
func openMutex(dir string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(MutexPath(dir), flags, 0)
	if errors.Is(err, unix.ENOENT) {
		if _, lerr := os.Lstat(Path(dir)); lerr == nil {
			fd, err = unix.Open(MutexPath(dir), flags|unix.O_CREAT, 0o644)
		}
	}
	return fd, err
}

// Held reports whether h holds a tree.
func (h *Hold) Held() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tree >= 0
}

// Started lets builds swap the tree's path again: the run's init has
// resolved it. The tree stays held.
func (h *Hold) Started() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.swap >= 0 {
		unix.Close(h.swap)
		h.swap = -1
	}
}

// Release ends the hold: the run no longer uses the tree.
func (h *Hold) Release() {
	h.Started()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tree >= 0 {
		unix.Close(h.tree)
		h.tree = -1
	}
}

// TreeHeld reports whether a run holds the tree whose root directory is
// open as fd (any descriptor of it but a Hold's own).
func TreeHeld(fd int) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: holdByte, Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// LockSwap takes the swap lock of an output for a build that is about to
// swap a tree into its path, on fd, the output's mutex file open for
// writing. It waits while runs are starting in the tree there (a few
// milliseconds each), and gives up when ctx is done.
func LockSwap(ctx context.Context, fd int) (unlock func(), err error) {
	wait := time.Millisecond
	for {
		err := ofdLock(fd, unix.F_OFD_SETLK, unix.F_WRLCK, swapByte)
		if err == nil {
			return func() { ofdLock(fd, unix.F_OFD_SETLK, unix.F_UNLCK, swapByte) }, nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			return nil, &os.PathError{Op: "lock for the swap", Path: "/proc/self/fd/" + strconv.Itoa(fd), Err: err}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// ofdLock sets a lock of type typ on byte b of fd with cmd (F_OFD_SETLK,
// or F_OFD_SETLKW, which waits), through interruptions by signals.
func ofdLock(fd, cmd int, typ int16, b int64) error {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: b, Len: 1}
	for {
		err := unix.FcntlFlock(uintptr(fd), cmd, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

// TreeIDOfFd is TreeIDOf for a directory open as fd (the zero TreeID when
// it cannot be had).
func TreeIDOfFd(fd int) TreeID {
	var sx unix.Statx_t
	if unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_INO|unix.STATX_BTIME, &sx) != nil {
		return TreeID{}
	}
	return treeID(&sx)
}
