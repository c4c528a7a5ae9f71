package lockfile

import (
	"encoding/json"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stat is the part of a file's stat that tells whether it changed.
type Stat struct {
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	Size  int64  `json:"size,omitempty"`
	Mtime int64  `json:"mtime,omitempty"` // nanoseconds since the epoch
	// Ctime is kept for files in the jail only (TreeStatOf): a process in
	// the jail can reset a file's mtime after changing it, not its ctime.
	Ctime int64 `json:"ctime,omitempty"`
}

// StatOf returns the change-detecting fields of fi.
func StatOf(fi fs.FileInfo) Stat {
	st := Stat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Dev, st.Ino = uint64(sys.Dev), sys.Ino
	}
	if fi.IsDir() {
		st.Size = 0
	}
	return st
}

// TreeStatOf is StatOf with the ctime, for files in the jail.
func TreeStatOf(fi fs.FileInfo) Stat {
	st := StatOf(fi)
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Ctime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
	}
	return st
}

// Lstat returns the Stat of path, not following a final symlink.
func Lstat(path string) (Stat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Stat{}, err
	}
	return StatOf(fi), nil
}

// TreeID identifies a jail directory. The inode alone is not enough: a
// directory made where a jail was deleted can get the jail's inode number
// back, but not its birth time.
type TreeID struct {
	Dev uint64 `json:"dev,omitempty"`
	Ino uint64 `json:"ino,omitempty"`
	// Birth is the directory's birth time in nanoseconds since the epoch,
	// 0 where the filesystem does not record it.
	Birth int64 `json:"birth,omitempty"`
}

// UnmarshalJSON reads a TreeID, also from a lock of format 1, which kept
// the birth time under "mtime".
func (id *TreeID) UnmarshalJSON(data []byte) error {
	var v struct {
		Dev   uint64 `json:"dev"`
		Ino   uint64 `json:"ino"`
		Birth int64  `json:"birth"`
		Mtime int64  `json:"mtime"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*id = TreeID{Dev: v.Dev, Ino: v.Ino, Birth: v.Birth}
	if v.Birth == 0 {
		id.Birth = v.Mtime
	}
	return nil
}

// TreeIDOf returns the identity of the directory at dir (not following a
// final symlink).
func TreeIDOf(dir string) (TreeID, error) {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_BTIME, &sx); err != nil {
		return TreeID{}, &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	return treeID(&sx), nil
}

// treeID is the TreeID that a statx asking for STATX_INO|STATX_BTIME
// answered.
func treeID(sx *unix.Statx_t) TreeID {
	id := TreeID{Dev: unix.Mkdev(sx.Dev_major, sx.Dev_minor), Ino: sx.Ino}
	if sx.Mask&unix.STATX_BTIME != 0 {
		id.Birth = sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
	}
	return id
}
