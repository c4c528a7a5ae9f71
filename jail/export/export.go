// Package export writes a built jail as a reproducible tar archive or as a
// one-layer container image (OCI layout or docker-archive), read through
// the jail's root without following symlinks, with the image config taken
// from the jail's recorded enter: settings.
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
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/internal/jailfs"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/manifest"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// Export formats.
const (
	// ExportTar is a plain tar archive of the tree.
	ExportTar = "tar"
	// ExportOCI is an OCI image layout in a tar archive (`podman load`,
	// `skopeo copy oci-archive:`).
	ExportOCI = "oci"
	// ExportDocker is a docker-archive (`docker load`, `podman load`).
	ExportDocker = "docker"
)

// ExportFormats are the formats Export writes.
var ExportFormats = []string{ExportTar, ExportOCI, ExportDocker}

// ExportOptions say what Export writes.
type ExportOptions struct {
	// Format is ExportTar (the default), ExportOCI or ExportDocker.
	Format string
	// Epoch is the mtime of every entry and the image's creation time, in
	// seconds since 1970 (see SourceDateEpoch).
	Epoch int64
	// Tag names the image (oci, docker); default jailer/NAME:latest.
	Tag string
	// Gzip compresses the whole output (tar only). ExportFile sets it for
	// a file name ending in .gz or .tgz.
	Gzip bool
	// TempDir holds the layer while an image is written; default the
	// system's temporary directory.
	TempDir string
}

// ExportSummary says what Export wrote.
type ExportSummary struct {
	// Jail is the jail directory exported.
	Jail string `json:"jail"`
	// Output is the file written ("-" for a stream).
	Output string `json:"output"`
	// Format is tar, oci or docker.
	Format string `json:"format"`
	// Entries is the number of entries in the tar archive or image layer.
	Entries int `json:"entries"`
	// Bytes is the size of the files' contents.
	Bytes int64 `json:"bytes"`
	// Tag is the image's name (oci, docker).
	Tag string `json:"tag,omitempty"`
	// ImageID is the digest of the image's config, which `podman images`
	// and `docker images` show as the image ID.
	ImageID string `json:"image_id,omitempty"`
	// Digest is the digest of the image's manifest.
	Digest string `json:"digest,omitempty"`
	// Omitted are the paths left out, each with the reason.
	Omitted []string `json:"omitted,omitempty"`
}

// String is the one-line summary `jailer export` prints.
func (s *ExportSummary) String() string {
	what := fmt.Sprintf("%d entries, %s", s.Entries, human.Bytes(s.Bytes))
	if s.Tag != "" {
		id := strings.TrimPrefix(s.ImageID, "sha256:")
		what = fmt.Sprintf("image %s (%s), %s", s.Tag, id[:min(12, len(id))], what)
	}
	if n := len(s.Omitted); n > 0 {
		what += fmt.Sprintf(", %d left out", n)
	}
	return fmt.Sprintf("exported %s to %s (%s): %s", s.Jail, s.Output, s.Format, what)
}

// SourceDateEpoch parses the value of SOURCE_DATE_EPOCH: "" is 0, anything
// but a non-negative number of seconds is an error (reproducible-builds.org
// asks tools to fail rather than ignore a bad value).
func SourceDateEpoch(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 1<<33 {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds since 1970", v)
	}
	return n, nil
}

// DefaultTag is the image name for a jail called jailName: jailer/NAME:latest,
// with NAME lowered and every run of characters other than a-z and 0-9
// replaced by "-".
func DefaultTag(jailName string) string {
	n := strings.Trim(badRepoChars.ReplaceAllString(strings.ToLower(jailName), "-"), "-")
	if n == "" {
		n = "jail"
	}
	return "jailer/" + n + ":latest"
}

// CheckTag says whether tag can name an image: [REGISTRY/]REPO[:TAG].
func CheckTag(tag string) error {
	_, err := parseTag(tag)
	return err
}

func parseTag(tag string) (name.Tag, error) {
	t, err := name.NewTag(tag)
	if err != nil {
		return t, fmt.Errorf("image name %q: %w", tag, err)
	}
	return t, nil
}

var badRepoChars = regexp.MustCompile(`[^a-z0-9]+`)

// ExportFile exports the jail at dir into the file out, atomically: it is
// written beside out and renamed into place only when complete. A name
// ending in .gz or .tgz turns on opts.Gzip.
func ExportFile(ctx context.Context, dir, out string, opts ExportOptions) (*ExportSummary, error) {
	if inside(out, dir) {
		return nil, fmt.Errorf("export %s: the output %s is inside the jail (write it elsewhere)", dir, out)
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	if strings.HasSuffix(out, ".gz") || strings.HasSuffix(out, ".tgz") {
		opts.Gzip = true
	}
	if opts.TempDir == "" {
		opts.TempDir = filepath.Dir(absOut)
	}
	f, err := os.CreateTemp(filepath.Dir(absOut), "."+filepath.Base(absOut)+".jailer-export-*")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	defer os.Remove(f.Name()) // fails once renamed
	sum, err := Export(ctx, dir, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	err = f.Chmod(0o644)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), absOut)
	}
	if err != nil {
		return nil, fmt.Errorf("export %s: write %s: %w", dir, out, err)
	}
	sum.Output = out
	return sum, nil
}

// inside reports whether the file out is inside the directory dir, after
// symlinks in the directories that lead to each.
func inside(out, dir string) bool {
	abs := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		a, _ := filepath.Abs(p)
		return a
	}
	d, o := abs(dir), filepath.Join(abs(filepath.Dir(out)), filepath.Base(out))
	return strings.HasPrefix(o, d+string(filepath.Separator))
}

// Export writes the jail at dir to w as opts.Format says. It returns an
// error wrapping ErrNotAJail when dir has no lock beside it.
func Export(ctx context.Context, dir string, w io.Writer, opts ExportOptions) (*ExportSummary, error) {
	sum, err := export(ctx, dir, w, opts)
	if err != nil && !errors.Is(err, lockfile.ErrNotAJail) {
		err = fmt.Errorf("export %s: %w", dir, err)
	}
	return sum, err
}

func export(ctx context.Context, dir string, w io.Writer, opts ExportOptions) (*ExportSummary, error) {
	if opts.Format == "" {
		opts.Format = ExportTar
	}
	if !slices.Contains(ExportFormats, opts.Format) {
		return nil, fmt.Errorf("unknown export format %q (use %s)", opts.Format, strings.Join(ExportFormats, ", "))
	}
	if opts.Gzip && opts.Format != ExportTar {
		return nil, fmt.Errorf("gzip is for tar exports only: the layer of an %s image is compressed already, and podman load cannot read a gzipped archive (name the output .tar)", opts.Format)
	}
	lock, err := lockfile.ReadHead(dir)
	if err != nil {
		return nil, err
	}
	sum := &ExportSummary{Jail: dir, Output: "-", Format: opts.Format}
	var tag name.Tag
	if opts.Format != ExportTar {
		if opts.Tag == "" {
			opts.Tag = DefaultTag(lock.Name)
		}
		if tag, err = parseTag(opts.Tag); err != nil {
			return nil, err
		}
		sum.Tag = opts.Tag
	}
	root, err := jailfs.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	tree, err := root.Walk()
	if err != nil {
		return nil, err
	}
	var zw *gzip.Writer
	if opts.Gzip {
		zw = newGzipWriter(w)
		w = zw
	}
	tw := &treeWriter{root: root, tree: tree, mtime: time.Unix(opts.Epoch, 0), sum: sum}
	if opts.Format == ExportTar {
		err = tw.write(ctx, w)
	} else {
		tw.noDevices = true
		err = exportImage(ctx, tw, lock, tag, w, opts)
	}
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, err
	}
	return sum, nil
}

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
	sum       *ExportSummary
}

// write writes the tar stream to w, every path but "/" in pathLess order.
func (tw *treeWriter) write(ctx context.Context, w io.Writer) error {
	paths := slices.SortedFunc(maps.Keys(tw.tree.Nodes), func(a, b string) int {
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
		if err := tw.entry(t, p, links); err != nil {
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
	hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
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
		if first, ok := links[key]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return tw.writeHeader(t, hdr)
		}
		if st.Nlink > 1 {
			links[key] = hdr.Name
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

// writeHeader writes hdr and counts it.
func (tw *treeWriter) writeHeader(t *tar.Writer, hdr *tar.Header) error {
	if err := t.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar entry %s: %w", hdr.Name, err)
	}
	tw.sum.Entries++
	return nil
}

// imageTypes are the media types of one image format.
type imageTypes struct{ manifest, config, layer types.MediaType }

var (
	ociTypes    = imageTypes{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer}
	dockerTypes = imageTypes{types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer}
)

// exportImage writes the tree as the one layer of an image whose config
// comes from the lock's enter settings, in opts.Format, to w.
func exportImage(ctx context.Context, tw *treeWriter, lock *lockfile.Lock, tag name.Tag, w io.Writer, opts ExportOptions) error {
	tmp, err := os.MkdirTemp(opts.TempDir, ".jailer-export-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The layer: the same tar stream, gzip-compressed once into a file
	// that go-containerregistry reads as often as it needs.
	layerPath := filepath.Join(tmp, "layer.tar.gz")
	lf, err := os.Create(layerPath)
	if err != nil {
		return err
	}
	zw := newGzipWriter(lf)
	err = tw.write(ctx, zw)
	if err == nil {
		err = zw.Close()
	}
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	mt := dockerTypes
	if opts.Format == ExportOCI {
		mt = ociTypes
	}
	img, err := newImage(layerPath, lock, time.Unix(opts.Epoch, 0).UTC(), mt)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	id, err1 := img.ConfigName()
	digest, err2 := img.Digest()
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	tw.sum.ImageID, tw.sum.Digest = id.String(), digest.String()
	if opts.Format == ExportDocker {
		if err := tarball.Write(tag, img, w); err != nil {
			return fmt.Errorf("docker-archive: %w", err)
		}
		return nil
	}
	dir := filepath.Join(tmp, "oci")
	lp, err := layout.Write(dir, empty.Index)
	if err == nil {
		err = lp.AppendImage(img, layout.WithAnnotations(map[string]string{
			// podman and skopeo name the loaded image after ref.name,
			// containerd (ctr import, nerdctl) after io.containerd.image.name.
			"org.opencontainers.image.ref.name": fullName(tag),
			"io.containerd.image.name":          fullName(tag),
		}))
	}
	if err == nil {
		err = tarDir(w, dir, time.Unix(opts.Epoch, 0))
	}
	if err != nil {
		return fmt.Errorf("oci layout: %w", err)
	}
	return nil
}

// fullName is tag with its registry, as podman, docker and containerd
// normalise it: jailer/x:latest is docker.io/jailer/x:latest. Without one,
// podman would name an image loaded from an OCI archive localhost/jailer/x
// and from a docker-archive docker.io/jailer/x.
func fullName(tag name.Tag) string {
	reg := tag.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + tag.RepositoryStr() + ":" + tag.TagStr()
}

// newImage is the one-layer image of the gzip-compressed tar at layerPath,
// configured to run as `jailer enter` runs the jail by default.
func newImage(layerPath string, lock *lockfile.Lock, created time.Time, mt imageTypes) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(layerPath) },
		tarball.WithMediaType(mt.layer))
	if err != nil {
		return nil, err
	}
	base, err := mutate.ConfigFile(mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt.manifest), mt.config), &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       ImageConfig(lock.Enter.Command, lock.Enter.Env, lock.Enter.User, lock.Enter.Workdir),
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "jailer export",
		Comment:   "the jail " + lock.Name,
	}})
}

// ImageConfig is the image config that runs a jail as `jailer enter` does
// by default: the command (default /bin/sh), the environment (PATH
// defaulting as in enter, sorted K=V), the user and the working directory.
func ImageConfig(command []string, env map[string]string, user, workdir string) v1.Config {
	e := maps.Clone(env)
	if e == nil {
		e = map[string]string{}
	}
	if _, ok := e["PATH"]; !ok {
		e["PATH"] = manifest.DefaultPATH
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(e)) {
		kv = append(kv, k+"="+e[k])
	}
	if len(command) == 0 {
		command = []string{"/bin/sh"}
	}
	return v1.Config{Cmd: slices.Clone(command), Env: kv, User: user, WorkingDir: workdir}
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
