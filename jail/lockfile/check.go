package lockfile

// The check file: what Staleness needs of a lock's entries (each one's
// kind, paths, mode and stats), which a build writes beside the lock in
// an encoding of its own, read in a twentieth of the time the lock's JSON
// takes (0.04 against 0.7 ms for a jail of a hundred programs, in every
// up-to-date build and run). It is only ever a copy: it records the
// identity of the lock it was made from (device, inode, size, mtime,
// ctime), and ReadForCheck falls back on the lock itself when they
// differ, the file is missing, or it does not decode.

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/plan"
)

// checkMagic starts a check file; its last byte is the encoding's version.
const checkMagic = "jailer check\x01"

// CheckPath is the check file of the jail at dir: hidden, beside it.
func CheckPath(dir string) string {
	parent, base := filepath.Split(filepath.Clean(dir))
	return filepath.Join(parent, "."+base+".jailer.check")
}

// WriteCheck writes the check file of l, the lock just written beside
// the jail at dir (its identity is what the file records). A failure
// leaves no check file: ReadForCheck then reads the lock.
func WriteCheck(dir string, l *Lock) error {
	p := CheckPath(dir)
	var st unix.Stat_t
	if err := unix.Stat(Path(dir), &st); err != nil {
		os.Remove(p)
		return err
	}
	data := encodeCheck(lockIdentity(&st), l.Entries)
	f, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".*")
	if err == nil {
		_, err = f.Write(data)
		if err == nil {
			err = f.Chmod(0o644) // as the lock: who may read one may read both
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), p)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}
	if err != nil {
		os.Remove(p)
	}
	return err
}

// ReadForCheck reads the lock beside the jail at dir for Staleness: its
// settings from the lock, its entries from the check file when that was
// made from this very lock. Such entries have only what Staleness looks
// at (not SHA256, Why, owners, sizes); otherwise it is Read.
func ReadForCheck(dir string) (*Lock, error) {
	f, err := openLock(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil {
		if data, err := os.ReadFile(CheckPath(dir)); err == nil {
			if entries, ok := decodeCheck(data, lockIdentity(&st)); ok {
				if l, err := readHead(f); err == nil {
					l.Entries = entries
					return l, nil
				}
			}
		}
	}
	return Read(dir)
}

// lockIdentity is what tells one lock file from another: a build writes
// a new one (a new inode); an edit in place changes its size, mtime or
// ctime.
func lockIdentity(st *unix.Stat_t) []uint64 {
	return []uint64{st.Dev, st.Ino, uint64(st.Size), uint64(st.Mtim.Nano()), uint64(st.Ctim.Nano())}
}

func encodeCheck(id []uint64, entries []Entry) []byte {
	b := []byte(checkMagic)
	num := func(v uint64) { b = binary.AppendUvarint(b, v) }
	str := func(s string) {
		num(uint64(len(s)))
		b = append(b, s...)
	}
	stat := func(s Stat) {
		for _, v := range []uint64{s.Dev, s.Ino, uint64(s.Size), uint64(s.Mtime), uint64(s.Ctime)} {
			num(v)
		}
	}
	for _, v := range id {
		num(v)
	}
	num(uint64(len(entries)))
	for i := range entries {
		e := &entries[i]
		for _, s := range []string{string(e.Kind), e.Dest, e.Source, e.Target, e.Mode, e.Store} {
			str(s)
		}
		stat(e.SourceStat)
		stat(e.TreeStat)
	}
	return b
}

// decodeCheck reads what encodeCheck wrote, when it was written for the
// lock whose identity is id.
func decodeCheck(b []byte, id []uint64) ([]Entry, bool) {
	if len(b) < len(checkMagic) || string(b[:len(checkMagic)]) != checkMagic {
		return nil, false
	}
	b = b[len(checkMagic):]
	var bad error
	num := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = errors.New("short")
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := num()
		if n > uint64(len(b)) {
			bad = errors.New("short")
			b = nil
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	stat := func() Stat {
		return Stat{Dev: num(), Ino: num(), Size: int64(num()), Mtime: int64(num()), Ctime: int64(num())}
	}
	for _, v := range id {
		if num() != v {
			return nil, false
		}
	}
	n := num()
	if n > uint64(len(b)) { // each entry takes more than a byte
		return nil, false
	}
	entries := make([]Entry, n)
	for i := range entries {
		e := &entries[i]
		e.Kind = plan.Kind(str())
		e.Dest, e.Source, e.Target, e.Mode, e.Store = str(), str(), str(), str(), str()
		e.SourceStat = stat()
		e.TreeStat = stat()
	}
	if bad != nil || len(b) != 0 {
		return nil, false
	}
	return entries, true
}
