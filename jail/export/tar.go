package export

// `jailer export`: a built jail as a reproducible tar archive, or as a
// one-layer container image (an OCI image layout or a docker-archive, each
// in a tar file). The tree is walked as Check walks it (jailfs.Root.Walk):
// through directory descriptors, never following a symlink, and every
// regular file is opened through jailfs following no symlink at all, so a
// symlink planted in the jail is exported as a symlink and nothing outside
// the jail is ever read.
//
// Reproducible means: entries sorted by path, every mtime the same
// (SOURCE_DATE_EPOCH, else 0), numeric owners and no user or group names,
// no atime, ctime, xattrs or other host-specific records, and gzip headers
// without a name or a time. Exporting one jail twice gives the same bytes.

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/jailfs"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"

	"golang.org/x/sys/unix"
)

// newGzipWriter compresses to w with a header that names no file and no time.
func newGzipWriter(w io.Writer) *gzip.Writer {
	zw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression) // the level is valid
	return zw
}

// treeWriter writes a jail's tree as a reproducible tar stream.
type treeWriter struct {
	root  *jailfs.Root
	tree  *jailfs.Tree
	mtime time.Time
	// noDevices leaves out device nodes and FIFOs (image layers: the
	// container runtime provides /dev, and a rootless one cannot create them).
	noDevices bool
	sum       *Summary
	// lock and entries are set for a jail built without root or with
	// --link store: its lock, and the lock's entries by jail path (see
	// useLock).
	lock    *lockfile.Lock
	entries map[string]*lockfile.Entry
}

// useLock makes tw write the jail at dir as a build by root that copies
// its files would have made it, from its lock: for a build without root,
// the owners the entries record, and the devices the tree lacks; for one
// with --link store, the modes the entries record (store files have no
// write bits) and no hardlinks among stored files (two paths of one
// content, mode and mtime share a store file).
func (tw *treeWriter) useLock(dir string) error {
	lock, err := lockfile.Read(dir)
	if err != nil {
		return err
	}
	tw.lock = lock
	tw.entries = make(map[string]*lockfile.Entry, len(lock.Entries))
	for i := range lock.Entries {
		tw.entries[path.Clean("/"+lock.Entries[i].Dest)] = &lock.Entries[i]
	}
	return nil
}

// write writes the tar stream to w, every path but "/" in pathLess order.
func (tw *treeWriter) write(ctx context.Context, w io.Writer) error {
	all := maps.Clone(tw.tree.Nodes)
	for p, e := range tw.entries {
		if tw.lock.Deferred(e) && !tw.tree.Hidden(p) {
			all[p] = jailfs.Node{} // written from the lock, whatever the tree has there
		}
	}
	paths := slices.SortedFunc(maps.Keys(all), func(a, b string) int {
		switch {
		case a == b:
			return 0
		case plan.PathLess(a, b):
			return -1
		}
		return 1
	})
	t := tar.NewWriter(w)
	links := map[[2]uint64]string{} // (dev, ino) of files with several links: first name
	for _, p := range paths {
		if p == "/" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if e := tw.entries[p]; e != nil && tw.lock.Deferred(e) && !tw.tree.Hidden(p) {
			err = tw.device(t, e)
		} else {
			err = tw.entry(t, p, links)
		}
		if err != nil {
			return err
		}
	}
	return t.Close()
}

// entry writes the tar entry of the jail path p.
func (tw *treeWriter) entry(t *tar.Writer, p string, links map[[2]uint64]string) error {
	n := tw.tree.Nodes[p]
	hdr := &tar.Header{Name: strings.TrimPrefix(p, "/"), ModTime: tw.mtime}
	if slices.Contains(tw.tree.Mounts, p) {
		// Something is mounted here: the directory under it is hidden, so
		// write what the build makes (root's, 0755) rather than the mount's root.
		hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
		return tw.writeHeader(t, hdr)
	}
	var file *os.File
	var st unix.Stat_t
	if n.Kind() == plan.KindFile {
		f, err := tw.root.OpenFile(p, jailfs.FollowNone)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return &fs.PathError{Op: "stat", Path: tw.root.HostPath(p), Err: err}
		}
		file = f
	} else {
		var err error
		if st, err = tw.root.Stat(p, jailfs.FollowNone); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != n.Mode&unix.S_IFMT {
			return fmt.Errorf("%s changed during the export (was a %s)", tw.root.HostPath(p), n.Kind())
		}
	}
	hdr.Mode = int64(st.Mode & 0o7777)
	hdr.Uid, hdr.Gid = tw.owner(p, st)
	hdr.Mode = tw.mode(p, hdr.Mode)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
	case unix.S_IFLNK:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, n.Target
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if tw.noDevices {
			tw.sum.Omitted = append(tw.sum.Omitted, p+": a device node or FIFO (the container runtime provides /dev)")
			return nil
		}
		hdr.Typeflag = map[uint32]byte{unix.S_IFCHR: tar.TypeChar, unix.S_IFBLK: tar.TypeBlock, unix.S_IFIFO: tar.TypeFifo}[st.Mode&unix.S_IFMT]
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFREG:
		key := [2]uint64{st.Dev, st.Ino}
		if e := tw.entries[p]; e == nil || e.Store == "" {
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return tw.writeHeader(t, hdr)
			}
			if st.Nlink > 1 {
				links[key] = hdr.Name
			}
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if err := tw.writeHeader(t, hdr); err != nil {
			return err
		}
		buf := copyBufs.Get().(*[256 << 10]byte)
		defer copyBufs.Put(buf)
		k, err := io.CopyBuffer(t, io.LimitReader(file, st.Size), buf[:])
		if err == nil && k < st.Size {
			err = errors.New("file shrank during the export")
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", tw.root.HostPath(p), err)
		}
		tw.sum.Bytes += st.Size
		return nil
	default:
		tw.sum.Omitted = append(tw.sum.Omitted, p+": a socket (tar cannot hold one)")
		return nil
	}
	return tw.writeHeader(t, hdr)
}

// owner is the owner the archive gives the jail path p, whose stat is st:
// its own, unless the jail was built without root, where every path is
// the builder's: then the owner its lock entry records, and for a path
// the build did not make (a --persist run's), root for the builder (as a
// run without root maps the caller to root) and its own for others.
func (tw *treeWriter) owner(p string, st unix.Stat_t) (uid, gid int) {
	uid, gid = int(st.Uid), int(st.Gid)
	if tw.lock == nil || tw.lock.Rootless == nil {
		return uid, gid
	}
	if e := tw.entries[p]; e != nil {
		return e.UID, e.GID
	}
	if uid == tw.lock.Rootless.UID {
		uid = 0
	}
	if gid == tw.lock.Rootless.GID {
		gid = 0
	}
	return uid, gid
}

// mode is the mode the archive gives the jail path p, whose mode in the
// tree is m: m, unless p is a store file or the jail was built without
// root. A store file has its entry's mode without write bits: the lock's
// is written. A tree built without root is its builder's, who may have
// set setuid or setgid bits on any file in it, which the archive, owned
// as the lock says (often root), would turn into setuid-root programs:
// only the bits the build itself set (the lock entry's mode, from
// allow_setuid) are kept.
func (tw *treeWriter) mode(p string, m int64) int64 {
	const special = 0o6000
	e := tw.entries[p]
	if e != nil && e.Store != "" {
		if lm, err := strconv.ParseUint(e.Mode, 8, 32); err == nil {
			return int64(lm)
		}
	}
	if tw.lock == nil || tw.lock.Rootless == nil || m&special == 0 {
		return m
	}
	var want int64
	if e != nil {
		if lm, err := strconv.ParseUint(e.Mode, 8, 32); err == nil {
			want = int64(lm) & special
		}
	}
	return m&^special | m&want
}

// device writes the device e that a build without root recorded but
// could not make, as a build by root makes it.
func (tw *treeWriter) device(t *tar.Writer, e *lockfile.Entry) error {
	p := path.Clean("/" + e.Dest)
	if tw.noDevices {
		tw.sum.Omitted = append(tw.sum.Omitted, p+": a device node or FIFO (the container runtime provides /dev)")
		return nil
	}
	mode, err := strconv.ParseUint(e.Mode, 8, 32)
	if err != nil {
		return fmt.Errorf("lock entry %s: mode %q: %w", p, e.Mode, err)
	}
	return tw.writeHeader(t, &tar.Header{
		Typeflag: tar.TypeChar, Name: strings.TrimPrefix(p, "/"), ModTime: tw.mtime, Mode: int64(mode),
		Uid: e.UID, Gid: e.GID, Devmajor: int64(e.Major), Devminor: int64(e.Minor),
	})
}

// writeHeader writes hdr and counts it.
func (tw *treeWriter) writeHeader(t *tar.Writer, hdr *tar.Header) error {
	if err := t.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar entry %s: %w", hdr.Name, err)
	}
	tw.sum.Entries++
	return nil
}

// tarDir writes the directory dir, which this process made (an OCI
// layout), to w as a reproducible tar: sorted, every mtime t, owned by
// root, modes 0755 and 0644.
func tarDir(w io.Writer, dir string, t time.Time) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: t, Mode: 0o644, Typeflag: tar.TypeReg}
		if d.IsDir() {
			hdr.Name, hdr.Mode, hdr.Typeflag = hdr.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(hdr)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		hdr.Size = fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// copyBufs holds read buffers for copying files into the archive: larger
// than io.Copy's 32 KiB, fewer reads.
var copyBufs = sync.Pool{New: func() any { return new([256 << 10]byte) }}
