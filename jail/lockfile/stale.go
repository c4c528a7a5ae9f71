package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jailer-dev/jailer/jail/plan"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/manifest"
)

// ldCache is the loader's cache: installing or removing libraries rewrites it,
// so a change to it makes a jail stale.
const LdCache = "/etc/ld.so.cache"

// buildDigest covers what decides the plan besides the files' contents:
// the manifests, where each binary was found, and the build options.
func Digest(m *manifest.Manifest, link string) (string, error) {
	h := sha256.New()
	for _, src := range m.Sources {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("read manifest %s: %w", src, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", src, len(data))
		h.Write(data)
	}
	for _, b := range m.Binaries {
		fmt.Fprintf(h, "bin\x00%s\x00%s\n", b.Host, b.Dest)
	}
	fmt.Fprintf(h, "link\x00%s\x00format\x00%d\n", link, Format)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeID identifies a jail directory: device, inode, and birth time (in
// Mtime), because a directory made where a jail was deleted can get the
// jail's inode number back.
func TreeID(dir string) (Stat, error) {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_BTIME, &sx); err != nil {
		return Stat{}, &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	id := Stat{Dev: unix.Mkdev(sx.Dev_major, sx.Dev_minor), Ino: sx.Ino}
	if sx.Mask&unix.STATX_BTIME != 0 {
		id.Mtime = sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
	}
	return id, nil
}

// UpToDate returns nil when the jail at out is exactly what lock records
// and no host source changed since: every check is a stat, nothing is read.
func UpToDate(lock *Lock, out string) error {
	st, err := TreeID(out)
	if err != nil {
		return err
	}
	if st != lock.Tree {
		return errors.New("the jail directory is not the one the lock describes")
	}
	for _, in := range lock.Inputs {
		if st, err := Lstat(in.Path); err != nil || st != in.Stat {
			return fmt.Errorf("%s changed", in.Path)
		}
	}
	for _, e := range lock.Entries {
		if e.Source != "" {
			if st, err := Lstat(e.Source); err != nil || st != e.SourceStat {
				return fmt.Errorf("host file %s changed", e.Source)
			}
		}
		tree := filepath.Join(out, e.Dest)
		switch e.Kind {
		case plan.KindFile:
			fi, err := os.Lstat(tree)
			if err != nil || TreeStatOf(fi) != e.TreeStat {
				return fmt.Errorf("%s changed in the jail", e.Dest)
			}
		case plan.KindSymlink:
			if target, err := os.Readlink(tree); err != nil || target != e.Target {
				return fmt.Errorf("%s changed in the jail", e.Dest)
			}
		default:
			if _, err := os.Lstat(tree); err != nil {
				return fmt.Errorf("%s is missing from the jail", e.Dest)
			}
		}
	}
	return nil
}
