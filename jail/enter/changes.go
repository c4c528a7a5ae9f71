//go:build linux

package enter

// --keep-changes: what a run changed in its fresh root, saved on the host
// once the run has ended, however it ended.
//
// The init sends the parent a descriptor of the overlay's upper directory
// (jailinit/overlay.go) before the command starts. The socket queue holds it even
// when the init is killed, and the descriptor keeps the run's tmpfs alive
// after the mount namespace is gone; when the init has exited, nothing
// can change the upper layer any more, and the parent reads it:
//
//   - a regular file or symlink there was added or modified by the run:
//     it is copied to DIR/files/PATH (a symlink as a symlink, never
//     followed), with its mode and modification time, without setuid and
//     setgid bits;
//   - a whiteout (a character device 0/0) is a path the run deleted; an
//     opaque directory one it deleted and made again: both are listed in
//     DIR/deleted.txt, so that removing every listed path and then copying
//     files/ over gives the run's final tree;
//   - a directory is copied when something in it is, when the run made
//     it (but not the empty targets the init made for mounts), or when the
//     run changed its mode or owner;
//   - sockets, FIFOs and device nodes are left out, and so is the
//     /etc/resolv.conf the init wrote for --net user, unless the run
//     changed it;
//
// Everything saved belongs to the user who ran jailer (Invoker). Writes
// go through an os.Root on DIR, and reads through descriptors opened with
// O_NOFOLLOW below the upper directory, so neither the run's files nor
// anything put in DIR meanwhile makes jailer read or write elsewhere.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// changeSink is the parent's end of the socket the init sends the upper
// layer on, and where it goes.
type changeSink struct {
	dir        string // the host directory of --keep-changes
	uid, gid   int    // who gets what is saved
	recv, send *os.File
}

// newChangeSink checks the host directory dir (made when missing, else it
// must be empty) and makes the socket; the init gets sink.send.
func newChangeSink(dir string, uid, gid int) (*changeSink, error) {
	if err := emptyDirFor(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("--keep-changes %s: %w", dir, err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("--keep-changes: socketpair: %w", err)
	}
	return &changeSink{dir: dir, uid: uid, gid: gid,
		recv: os.NewFile(uintptr(fds[0]), "changes"), send: os.NewFile(uintptr(fds[1]), "changes")}, nil
}

// emptyDirFor makes dir for the user uid:gid, or checks that it is an
// empty directory.
func emptyDirFor(dir string, uid, gid int) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		return os.Lchown(dir, uid, gid)
	}
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		return errors.New("not a directory")
	}
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return errors.New("not empty (remove it, or pick another directory)")
	}
	return nil
}

// started is called once the init has its end of the socket.
func (c *changeSink) started() {
	if c != nil && c.send != nil {
		c.send.Close()
		c.send = nil
	}
}

// close drops the socket (and an upper layer never read).
func (c *changeSink) close() {
	if c == nil {
		return
	}
	c.started()
	c.recv.Close()
}

// save, once the init has exited, saves what the run changed (see the
// comment at the top of this file). lower is the tree; targets are the
// jail paths the init mounted onto; userxattr says which xattrs mark
// opaque directories.
func (c *changeSink) save(lower string, targets []string, userxattr bool) error {
	c.started()
	upper, err := c.receive()
	if err != nil {
		return fmt.Errorf("--keep-changes: %w", err)
	}
	return saveChanges(c.dir, upper, lower, targets, userxattr, c.uid, c.gid, nil)
}

// saveChanges saves into dir, for uid:gid, what the upper directory
// (a descriptor it closes; -1 when there is none) holds over the tree
// lower (see changeSink.save). owned are the entries the init gave their
// owners (chownOwned): their owner in the tree counts as that one.
func saveChanges(dir string, upper int, lower string, targets []string, userxattr bool, uid, gid int, owned []ownedEntry) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		if upper >= 0 {
			unix.Close(upper)
		}
		return fmt.Errorf("--keep-changes: %w", err)
	}
	defer root.Close()
	s := &saver{root: root, uid: uid, gid: gid, opaque: "trusted.overlay.opaque", skip: map[string]bool{}, owned: map[string]ownedEntry{}}
	if userxattr {
		s.opaque = "user.overlay.opaque"
	}
	for _, t := range targets {
		for p := t; p != "/"; p = path.Dir(p) {
			s.skip[p] = true
		}
	}
	for _, e := range owned {
		s.owned[e.Path] = e
	}
	if err := s.mkdir("files", 0o755); err != nil {
		return fmt.Errorf("--keep-changes %s: %w", dir, err)
	}
	if upper >= 0 {
		defer unix.Close(upper)
		tree, err := unix.Open(lower, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("--keep-changes: open %s: %w", lower, err)
		}
		defer unix.Close(tree)
		if _, err := s.walk(upper, tree, "/"); err != nil {
			return fmt.Errorf("--keep-changes %s: %w", dir, err)
		}
	}
	var list bytes.Buffer
	slices.Sort(s.deleted)
	for _, p := range s.deleted {
		if q := strconv.Quote(p); q[1:len(q)-1] != p {
			p = q // a name with a newline or such: quoted as Go does
		}
		list.WriteString(p + "\n")
	}
	if err := s.writeFile("deleted.txt", &list, 0o644); err != nil {
		return fmt.Errorf("--keep-changes %s: %w", dir, err)
	}
	return nil
}

// receive returns the upper directory the init sent, or -1 when it sent
// none (it failed before it made the overlay: nothing changed).
func (c *changeSink) receive() (int, error) {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, err := unix.Recvmsg(int(c.recv.Fd()), buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || (err == nil && oobn == 0) {
			return -1, nil
		}
		if err != nil {
			return -1, fmt.Errorf("receive the run's changes: %w", err)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return -1, errors.New("receive the run's changes: a malformed message")
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return -1, errors.New("receive the run's changes: a malformed message")
		}
		return fds[0], nil
	}
}

// saver copies an upper layer into a --keep-changes directory.
type saver struct {
	root     *os.Root
	uid, gid int
	opaque   string                // the xattr that marks an opaque directory
	skip     map[string]bool       // mount targets and the directories above them
	owned    map[string]ownedEntry // owners the init gave, by jail path
	deleted  []string
}

// walk saves what the upper directory fd (jail path p) holds; lower is
// the same directory in the tree, or -1 when the tree has none (or the
// run replaced it). saved says whether anything below p was saved.
func (s *saver) walk(fd, lower int, p string) (saved bool, err error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return false, err
	}
	d := os.NewFile(uintptr(dup), p)
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	slices.Sort(names)
	for _, name := range names {
		jp := path.Join(p, name)
		var st, lst unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return saved, &os.PathError{Op: "stat", Path: jp, Err: err}
		}
		inLower := lower >= 0 && unix.Fstatat(lower, name, &lst, unix.AT_SYMLINK_NOFOLLOW) == nil
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			if st.Rdev == 0 {
				s.deleted = append(s.deleted, jp)
			}
		case unix.S_IFDIR:
			ok, err := s.dir(fd, lower, name, jp, &st, inLower, &lst)
			if err != nil {
				return saved, err
			}
			saved = saved || ok
		case unix.S_IFREG:
			if !inLower && s.skip[jp] && st.Size == 0 {
				continue // the empty target the init made for a file bind
			}
			if s.skip[jp] && jailersOwn(fd, name, jp, &st) {
				continue
			}
			if err := s.file(fd, name, jp, &st); err != nil {
				return saved, err
			}
			saved = true
		case unix.S_IFLNK:
			target, err := readlinkat(fd, name)
			if err != nil {
				return saved, &os.PathError{Op: "readlink", Path: jp, Err: err}
			}
			if err := s.root.Symlink(target, "files"+jp); err != nil {
				return saved, err
			}
			if err := s.root.Lchown("files"+jp, s.uid, s.gid); err != nil {
				return saved, err
			}
			saved = true
		}
	}
	return saved, nil
}

// dir saves the directory name in the upper directory fd (see walk).
func (s *saver) dir(fd, lower int, name, jp string, st *unix.Stat_t, inLower bool, lst *unix.Stat_t) (bool, error) {
	sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, &os.PathError{Op: "open", Path: jp, Err: err}
	}
	defer unix.Close(sub)
	opaque := false
	buf := make([]byte, 8)
	if n, err := unix.Fgetxattr(sub, s.opaque, buf); err == nil && string(buf[:n]) == "y" {
		opaque = true
		s.deleted = append(s.deleted, jp)
	}
	subLower := -1
	if inLower && !opaque && lst.Mode&unix.S_IFMT == unix.S_IFDIR {
		if subLower, err = unix.Openat(lower, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
			subLower = -1
		}
	}
	if subLower >= 0 {
		defer unix.Close(subLower)
	}
	if err := s.mkdir("files"+jp, 0o700); err != nil {
		return false, err
	}
	saved, err := s.walk(sub, subLower, jp)
	if err != nil {
		return false, err
	}
	uid, gid := lst.Uid, lst.Gid
	if o, ok := s.owned[jp]; ok && uid == 0 && gid == 0 {
		uid, gid = uint32(o.UID), uint32(o.GID) // the init's doing, not the run's
	}
	changed := !inLower || lst.Mode != st.Mode || uid != st.Uid || gid != st.Gid
	if !saved && !opaque && (!changed || (!inLower && s.skip[jp])) {
		return false, s.root.Remove("files" + jp)
	}
	return true, s.setAttrs("files"+jp, st)
}

// jailersOwn says whether the regular file name in the upper directory
// fd (jail path jp) is one the init wrote for the run and the run left
// as it was: the resolv.conf of --net user.
func jailersOwn(fd int, name, jp string, st *unix.Stat_t) bool {
	if jp != resolvConfPath || st.Size != int64(len(userNetResolvConf)) {
		return false
	}
	in, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(in), jp)
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(len(userNetResolvConf))+1))
	return err == nil && string(data) == userNetResolvConf
}

// file copies the regular file name in the upper directory fd.
func (s *saver) file(fd int, name, jp string, st *unix.Stat_t) error {
	in, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: jp, Err: err}
	}
	src := os.NewFile(uintptr(in), jp)
	defer src.Close()
	dst, err := s.root.OpenFile("files"+jp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", jp, err)
	}
	return s.setAttrs("files"+jp, st)
}

// setAttrs gives a saved file or directory its owner (the invoker), the
// mode it had in the jail without setuid and setgid bits, and its
// modification time.
func (s *saver) setAttrs(name string, st *unix.Stat_t) error {
	if err := s.root.Lchown(name, s.uid, s.gid); err != nil {
		return err
	}
	if err := s.root.Chmod(name, os.FileMode(st.Mode&0o777)|stickyBit(st.Mode)); err != nil {
		return err
	}
	mtime := time.Unix(st.Mtim.Unix())
	return s.root.Chtimes(name, mtime, mtime)
}

func stickyBit(mode uint32) os.FileMode {
	if mode&unix.S_ISVTX != 0 {
		return os.ModeSticky
	}
	return 0
}

// mkdir makes a directory of DIR for the invoker.
func (s *saver) mkdir(name string, perm os.FileMode) error {
	if err := s.root.Mkdir(name, perm); err != nil {
		return err
	}
	return s.root.Lchown(name, s.uid, s.gid)
}

// writeFile writes a file of DIR for the invoker.
func (s *saver) writeFile(name string, r io.Reader, perm os.FileMode) error {
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return s.root.Lchown(name, s.uid, s.gid)
}

// readlinkat reads the symlink name in the directory fd.
func readlinkat(fd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
