package build

import (
	"context"
	"errors"
	"hash"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Copying host files into a jail. A file is taken in chunks of copyChunk
// bytes, and the build's context is looked at before each: an interrupt
// stops a copy (or a hash) of a file of any size after at most one chunk,
// and the staging tree is then removed. A sparse file's holes, found with
// SEEK_DATA and SEEK_HOLE, are never read nor written: the copy gets holes
// of its own (its size set with ftruncate), and the sha256 is fed zeros for
// them, so that it is still the sum of the whole content as read(2) sees it.

// copyChunk is how much is copied or hashed between two looks at the
// context: small enough that an interrupt stops a copy within milliseconds,
// large enough that looking costs nothing.
const copyChunk = 8 << 20

// zeros stands in for the bytes of a hole when hashing it.
var zeros [256 << 10]byte

// errSourceChanged is returned when a file ends before its size: it was
// truncated while it was copied.
var errSourceChanged = errors.New("the source changed while it was copied (build again)")

// copier copies one file. dst is nil when the file is only hashed (it was
// hardlinked); h is nil when its sum is already known, and the kernel then
// copies the data (copy_file_range) without it passing through jailer.
type copier struct {
	ctx    context.Context
	src    *os.File
	dst    *os.File
	h      hash.Hash
	buf    []byte
	report func(int64) // nil, or told of every chunk done (holes included)

	srcFd, dstFd int
	kernel       bool // copy_file_range still worth trying
}

// copyContent copies the first size bytes of src to dst (unless dst is nil)
// and feeds them to h (unless h is nil), chunk by chunk, stopping with the
// context's error when ctx is done. Holes of a sparse src stay holes.
func copyContent(ctx context.Context, dst, src *os.File, fi os.FileInfo, h hash.Hash, buf []byte, report func(int64)) error {
	c := &copier{ctx: ctx, src: src, dst: dst, h: h, buf: buf, report: report, kernel: h == nil && dst != nil}
	c.srcFd = int(src.Fd())
	if dst != nil {
		c.dstFd = int(dst.Fd())
	}
	size := fi.Size()
	sparse := mayHaveHoles(fi)
	for off := int64(0); off < size; {
		data, hole := off, size
		if sparse {
			data, hole = nextData(c.srcFd, off, size)
		}
		if err := c.hole(off, data); err != nil {
			return err
		}
		if err := c.data(data, hole); err != nil {
			return err
		}
		off = hole
	}
	if sparse && dst != nil {
		// A hole at the end is made by the size alone.
		return dst.Truncate(size)
	}
	return nil
}

// mayHaveHoles says whether fi's allocated blocks cover less than its size.
// Only such files are asked where their data is: the common, dense file
// costs no extra system call.
func mayHaveHoles(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512 < st.Size
}

// nextData returns the first range of data at or after off, [data, hole).
// Past the last data it returns (size, size); a filesystem that cannot tell
// holes gives the rest of the file as data.
func nextData(fd int, off, size int64) (data, hole int64) {
	data, err := unix.Seek(fd, off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return size, size
	}
	if err != nil || data < off {
		return off, size
	}
	data = min(data, size)
	hole, err = unix.Seek(fd, data, unix.SEEK_HOLE)
	if err != nil || hole <= data {
		return data, size
	}
	return data, min(hole, size)
}

// done reports n bytes taken, to the progress bar.
func (c *copier) done(n int64) {
	if c.report != nil && n > 0 {
		c.report(n)
	}
}

// hole takes the zeros of [off, end): nothing to copy, but the hash must
// see them.
func (c *copier) hole(off, end int64) error {
	if c.h == nil {
		c.done(end - off)
		return nil
	}
	for off < end {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		n := min(end-off, copyChunk)
		for k := n; k > 0; {
			m := min(k, int64(len(zeros)))
			c.h.Write(zeros[:m])
			k -= m
		}
		off += n
		c.done(n)
	}
	return nil
}

// data copies (or hashes) the data in [off, end).
func (c *copier) data(off, end int64) error {
	for off < end {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		n, err := c.chunk(off, min(end-off, copyChunk))
		if err != nil {
			return err
		}
		off += n
		c.done(n)
	}
	return nil
}

// chunk copies up to n bytes at off and returns how many it did.
func (c *copier) chunk(off, n int64) (int64, error) {
	if c.kernel {
		roff, woff := off, off
		k, err := unix.CopyFileRange(c.srcFd, &roff, c.dstFd, &woff, int(n), 0)
		if err == nil && k > 0 {
			return int64(k), nil
		}
		if err != nil && !kernelCannot(err) {
			return 0, &os.PathError{Op: "copy_file_range", Path: c.src.Name(), Err: err}
		}
		// Copied nothing: the source ended early, or this filesystem
		// cannot. Reading tells which, and does the rest.
		c.kernel = false
	}
	for done := int64(0); done < n; {
		b := c.buf[:min(n-done, int64(len(c.buf)))]
		k, err := c.src.ReadAt(b, off+done)
		if k < len(b) {
			if err == io.EOF || err == nil {
				err = errSourceChanged
			}
			return 0, err
		}
		if c.h != nil {
			c.h.Write(b)
		}
		if c.dst != nil {
			if _, err := c.dst.WriteAt(b, off+done); err != nil {
				return 0, err
			}
		}
		done += int64(k)
	}
	return n, nil
}

// kernelCannot reports whether copy_file_range failed because the kernel or
// the filesystems do not support it here (as Go's own io.Copy decides), so
// that read and write must do.
func kernelCannot(err error) bool {
	switch err {
	case unix.ENOSYS, unix.EXDEV, unix.EINVAL, unix.EIO, unix.EOPNOTSUPP, unix.EPERM:
		return true
	}
	return false
}
