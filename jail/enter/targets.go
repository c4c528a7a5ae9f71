//go:build linux

package enter

// Mount targets that a --persist run makes in the jail tree, and their
// removal.
//
// The init mounts /proc, /dev and the tmpfs and bind mounts onto
// directories of the jail. In a fresh root (jailinit/overlay.go) a target the tree
// lacks is made in the run's upper layer and goes with it; a run that
// writes into the tree itself (--persist) has to make it in the tree, and
// it must not stay behind: after the run the tree is as it was built. So
// the parent makes the missing targets before the init starts and removes
// them once it has ended, coordinated across concurrent enters of one jail
// by two locks on the tree's root directory, which exists for every jail
// and needs no file of its own:
//
//   - flock(2), exclusive: held while targets are made or removed;
//   - an open file description lock (fcntl F_OFD_SETLK), shared: held by
//     every run for as long as it runs.
//
// Every directory made is recorded (device, inode, jail path) in a journal
// beside the tree, .NAME.jailer.targets, right after mkdir; its first line
// names the tree, so that records never apply to another tree put at the
// same path by a rebuild. A run that ends takes the flock and asks
// (F_OFD_GETLK) whether any other run still holds a shared lock. Only when
// none does, it removes every recorded directory that is still the one
// made (same device and inode), still empty, and reached without following
// a symlink, deepest first, and deletes the journal; otherwise it leaves
// them to the last run. So two runs that bind the same missing target both
// find it and the last to end removes it, a jailer killed during a run
// leaves its records to the next run that ends alone, and a run that makes
// nothing writes nothing.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/jailfs"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
)

// targetsSuffix names the journal of a jail's mount targets beside it.
const targetsSuffix = ".jailer.targets"

// targetsHeader starts the journal; the tree's device and inode follow.
const targetsHeader = "jailer-targets 1"

// targetsPath is the journal of the jail tree at root (a resolved path).
func targetsPath(root string) string {
	return filepath.Join(filepath.Dir(root), "."+filepath.Base(root)+targetsSuffix)
}

// mountTargets are the jail paths the init mounts onto, in its order.
func mountTargets(cfg *jailinit.Config) []string {
	var ts []string
	if cfg.PID {
		ts = append(ts, "/proc")
	}
	ts = append(ts, "/dev")
	for _, m := range cfg.MountOrder() {
		ts = append(ts, path.Clean(m.Target))
	}
	return ts
}

// fileTargets are the targets of binds whose source is not a directory (a
// file, a socket, a device): the init binds those onto a file, which a
// --persist run makes empty and removes as it does directories.
func fileTargets(cfg *jailinit.Config) map[string]bool {
	files := map[string]bool{}
	for _, m := range cfg.Mounts {
		if st, err := os.Stat(m.Source); m.Type == "bind" && err == nil && !st.IsDir() {
			files[path.Clean(m.Target)] = true
		}
	}
	return files
}

// changeTargets are the paths the init made in the fresh root for the
// run rather than the run itself: the mount targets, and the
// resolv.conf of --net user (saved only when the run changed it).
func changeTargets(cfg *jailinit.Config) []string {
	ts := mountTargets(cfg)
	if cfg.ResolvConf != "" {
		ts = append(ts, resolvConfPath)
	}
	return ts
}

// treeTargets keeps the targets that lie in the jail tree itself: one at
// or below an earlier target is inside that mount (a tmpfs, or a bind
// source) by the time the init reaches it.
func treeTargets(targets []string) []string {
	var out []string
	for i, t := range targets {
		inside := slices.ContainsFunc(targets[:i], func(c string) bool {
			return t == c || strings.HasPrefix(t, c+"/")
		})
		if !inside {
			out = append(out, t)
		}
	}
	return out
}

// madeDir is a directory a run made: its jail path, device and inode.
type madeDir struct {
	path     string
	dev, ino uint64
}

// targetClaim is one run's hold on its jail's mount targets.
type targetClaim struct {
	dir     string          // the tree's path
	files   map[string]bool // targets that are files, not directories (see fileTargets)
	root    int             // descriptor of the tree, which carries the run's locks
	locked  bool            // false when the tree could not be opened for locking
	rootDev uint64          // the tree's identity, as the journal names it
	rootIno uint64
}

// claimTargets registers a run of the tree at root as a user of its mount
// targets (jail paths, see treeTargets; those in files are files) until
// release, and makes those the tree lacks when create is set (not for a
// read-only jail).
func claimTargets(root string, targets []string, files map[string]bool, create bool) (*targetClaim, error) {
	c := &targetClaim{dir: root, files: files, locked: true}
	var err error
	if c.root, err = unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		// A tree the caller may enter but not list: it can be locked
		// only when nothing has to be made in it.
		if c.root, err = unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, &os.PathError{Op: "open", Path: root, Err: err}
		}
		c.locked = false
	}
	var st unix.Stat_t
	if err := unix.Fstat(c.root, &st); err != nil {
		unix.Close(c.root)
		return nil, &os.PathError{Op: "stat", Path: root, Err: err}
	}
	c.rootDev, c.rootIno = st.Dev, st.Ino
	if err := c.register(targets, create); err != nil {
		unix.Close(c.root)
		return nil, err
	}
	return c, nil
}

// register takes the run's shared lock and, under the flock, makes what
// is missing.
func (c *targetClaim) register(targets []string, create bool) error {
	if c.locked {
		if err := c.flock(unix.LOCK_EX); err != nil {
			return err
		}
		defer c.flock(unix.LOCK_UN)
		if err := c.ofdLock(unix.F_OFD_SETLK, unix.F_RDLCK); err != nil {
			return &os.PathError{Op: "lock", Path: c.dir, Err: err}
		}
	}
	var missing []string
	if create {
		missing = slices.DeleteFunc(slices.Clone(targets), func(t string) bool { return existsIn(c.root, t, c.files[t]) })
	}
	if len(missing) == 0 {
		return nil
	}
	if err := c.make(missing); err != nil {
		if c.locked {
			c.clean() // what was made, unless another run uses it
		}
		return fmt.Errorf("mount targets %s in %s: %w (add them under dirs: and rebuild)", strings.Join(missing, ", "), c.dir, err)
	}
	return nil
}

// flock takes or drops the tree's flock (see the comment at the top of this file).
func (c *targetClaim) flock(how int) error {
	for {
		err := unix.Flock(c.root, how)
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "flock", Path: c.dir, Err: err}
			}
			return nil
		}
	}
}

// ofdLock sets (F_OFD_SETLK) or asks for (F_OFD_GETLK) a lock of type typ
// on byte 0 of the tree; asking returns unix.EAGAIN when another run
// holds a lock that typ would conflict with.
func (c *targetClaim) ofdLock(cmd int, typ int16) error {
	lk := &unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: 0, Len: 1}
	if err := unix.FcntlFlock(uintptr(c.root), cmd, lk); err != nil {
		return err
	}
	if cmd == unix.F_OFD_GETLK && lk.Type != unix.F_UNLCK {
		return unix.EAGAIN
	}
	return nil
}

// atPath says whether the tree is still the one at its path (a rebuild
// swaps in another).
func (c *targetClaim) atPath() bool {
	var st unix.Stat_t
	return unix.Lstat(c.dir, &st) == nil && st.Dev == c.rootDev && st.Ino == c.rootIno
}

// make makes the missing targets and records them, with the flock held.
func (c *targetClaim) make(missing []string) error {
	if !c.locked {
		return errors.New("the jail cannot be locked (it cannot be read)")
	}
	if !c.atPath() {
		return errors.New("the jail was replaced while entering it (a rebuild?): enter again")
	}
	j, err := openJournal(targetsPath(c.dir), true)
	if err != nil {
		return err
	}
	defer j.Close()
	if _, ours := c.readJournal(j); !ours {
		// None yet, or records of a tree no longer there: start afresh.
		if err := j.Truncate(0); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(j, "%s %d %d\n", targetsHeader, c.rootDev, c.rootIno); err != nil {
			return err
		}
	}
	for _, t := range missing {
		if err := c.makeTarget(j, t); err != nil {
			return err
		}
	}
	return nil
}

// openJournal opens the journal at p, creating it when create is set,
// and refuses one that someone else could have written.
func openJournal(p string, create bool) (*os.File, error) {
	flags := os.O_RDWR | os.O_APPEND | unix.O_NOFOLLOW
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(p, flags, 0o600)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	// A hard link to another file of ours (where fs.protected_hardlinks
	// is off, anyone who may write beside the tree can make one) would be
	// truncated and written over.
	if st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%s is not jailer's own (owned by uid %d, mode %o, %d links): remove it", p, st.Uid, st.Mode, st.Nlink)
	}
	return f, nil
}

// readJournal returns the directories recorded in j, and whether j is
// about this tree.
func (c *targetClaim) readJournal(j *os.File) (made []madeDir, ours bool) {
	data, err := io.ReadAll(io.NewSectionReader(j, 0, 1<<20))
	if err != nil {
		return nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != fmt.Sprintf("%s %d %d", targetsHeader, c.rootDev, c.rootIno) {
		return nil, false
	}
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) != 3 {
			continue
		}
		dev, err1 := strconv.ParseUint(f[0], 10, 64)
		ino, err2 := strconv.ParseUint(f[1], 10, 64)
		p, err3 := strconv.Unquote(f[2])
		if err1 != nil || err2 != nil || err3 != nil || !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			continue
		}
		made = append(made, madeDir{path: p, dev: dev, ino: ino})
	}
	return made, true
}

// existsIn says whether the jail path p is a directory below root (or
// anything but one, when file is set), reached without following symlinks.
func existsIn(root int, p string, file bool) bool {
	if !file {
		fd, err := jailinit.OpenDirIn(root, p, false)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}
	parent, err := jailinit.OpenDirIn(root, path.Dir(p), false)
	if err != nil {
		return false
	}
	defer unix.Close(parent)
	var st unix.Stat_t
	return unix.Fstatat(parent, path.Base(p), &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// makeTarget makes the missing directories of the jail path p, one
// component at a time without following symlinks, and records each in j.
// What it cannot make (a symlink on the way, a file) it leaves to the
// init, which refuses to mount there and says why.
func (c *targetClaim) makeTarget(j *os.File, p string) error {
	fd, err := unix.Dup(c.root)
	if err != nil {
		return err
	}
	defer func() { unix.Close(fd) }()
	// O_RDONLY, not O_PATH, so that a directory made can be chmod'ed
	// through its descriptor: by name, a process of a running jail could
	// have put a symlink to a host file there meanwhile.
	const flags = unix.O_RDONLY | unix.O_DIRECTORY
	sofar := "/"
	names := strings.Split(strings.Trim(p, "/"), "/")
	for i, name := range names {
		if name == "" || name == "." || name == ".." {
			return nil // not a clean jail path: validate refuses those
		}
		sofar = path.Join(sofar, name)
		if i == len(names)-1 && c.files[p] {
			return makeFile(j, fd, name, sofar)
		}
		next, err := jailfs.OpenChild(fd, name, flags)
		if errors.Is(err, unix.ENOENT) {
			err = unix.Mkdirat(fd, name, 0o755)
			made := err == nil
			if made || errors.Is(err, unix.EEXIST) {
				next, err = jailfs.OpenChild(fd, name, flags)
			}
			if made && err == nil {
				if err := record(j, next, sofar); err != nil {
					unix.Close(next)
					return err
				}
			}
		}
		if err != nil {
			return nil
		}
		unix.Close(fd)
		fd = next
	}
	return nil
}

// makeFile makes the empty file name in the directory fd (the jail path
// p), the target of a file bind, and records it in j; one that appeared
// meanwhile is left to the init to check.
func makeFile(j *os.File, dir int, name, p string) error {
	f, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil
	}
	defer unix.Close(f)
	return record(j, f, p)
}

// record adds the directory (or the file) fd, just made at the jail path
// p, to the journal j, and gives it mode 0755 (0644) whatever the umask,
// as the init would.
func record(j *os.File, fd int, p string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if _, err := fmt.Fprintf(j, "%d %d %s\n", st.Dev, st.Ino, strconv.Quote(p)); err != nil {
		return fmt.Errorf("record %s: %w", p, err)
	}
	mode := uint32(0o755)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		mode = 0o644
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}

// release ends the run's hold on the targets; the last run to end removes
// what runs made (see the comment at the top of this file).
func (c *targetClaim) release() {
	defer unix.Close(c.root) // and with it the run's locks
	if !c.locked || c.flock(unix.LOCK_EX) != nil {
		return
	}
	c.clean()
}

// clean, with the flock held, removes what runs made in the tree when no
// other run holds it, and deletes the journal.
func (c *targetClaim) clean() {
	if c.ofdLock(unix.F_OFD_GETLK, unix.F_WRLCK) != nil {
		return // another run still uses the targets
	}
	p := targetsPath(c.dir)
	j, err := openJournal(p, false)
	if err != nil {
		return
	}
	defer j.Close()
	if !c.atPath() {
		return // this tree was replaced: the journal may be the new one's
	}
	// Records of another tree, no longer at this path, are of no use to
	// anyone: they go too.
	made, _ := c.readJournal(j)
	for i := len(made) - 1; i >= 0; i-- {
		removeMade(c.root, made[i])
	}
	os.Remove(p)
}

// removeMade removes the directory d if it is still the one made and
// empty (or the empty file made for a file bind), reached from root
// without following a symlink.
func removeMade(root int, d madeDir) {
	parent, err := jailinit.OpenDirIn(root, path.Dir(d.path), false)
	if err != nil {
		return
	}
	defer unix.Close(parent)
	name := path.Base(d.path)
	var st unix.Stat_t
	if unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Dev != d.dev || st.Ino != d.ino {
		return
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
		unix.Unlinkat(parent, name, 0)
		return
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return
	}
	unix.Unlinkat(parent, name, unix.AT_REMOVEDIR) // fails, as it should, when not empty or a mount point
}
