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
//
// A jail built without root (lockfile.Rootless) is exported as root would
// have built it: each path with the owner its lock entry records (the tree
// has the builder's), and the devices the lock records but the tree lacks,
// so that an archive or image is the same whoever built the jail.

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/internal/jailfs"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/google/go-containerregistry/pkg/name"
)

// Export formats.
const (
	// Tar is a plain tar archive of the tree.
	Tar = "tar"
	// OCI is an OCI image layout in a tar archive (`podman load`,
	// `skopeo copy oci-archive:`).
	OCI = "oci"
	// Docker is a docker-archive (`docker load`, `podman load`).
	Docker = "docker"
)

// Formats are the formats Export writes.
var Formats = []string{Tar, OCI, Docker}

// Options say what Export writes.
type Options struct {
	// Format is Tar (the default), OCI or Docker.
	Format string
	// Epoch is the mtime of every entry and the image's creation time, in
	// seconds since 1970 (see SourceDateEpoch).
	Epoch int64
	// Tag names the image (oci, docker); default jailer/NAME:latest.
	Tag string
	// Gzip compresses the whole output (tar only). ToFile sets it for
	// a file name ending in .gz or .tgz.
	Gzip bool
	// TempDir holds the layer while an image is written; default the
	// system's temporary directory.
	TempDir string
	// Insecure lets Push speak plain HTTP, and TLS without verifying the
	// registry's certificate.
	Insecure bool
}

// Summary says what Export wrote.
type Summary struct {
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
	// Pushed is where Push wrote the image: REGISTRY/NAME@DIGEST.
	Pushed string `json:"pushed,omitempty"`
}

// String is the one-line summary `jailer export` prints.
func (s *Summary) String() string {
	what := fmt.Sprintf("%d entries, %s", s.Entries, human.Bytes(s.Bytes))
	if s.Tag != "" {
		id := strings.TrimPrefix(s.ImageID, "sha256:")
		what = fmt.Sprintf("image %s (%s), %s", s.Tag, id[:min(12, len(id))], what)
	}
	if n := len(s.Omitted); n > 0 {
		what += fmt.Sprintf(", %d left out", n)
	}
	if s.Pushed != "" {
		return fmt.Sprintf("pushed %s to %s: %s (%s)", s.Jail, s.Output, s.Pushed, what)
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
	n := strings.Trim(badRepoChars().ReplaceAllString(strings.ToLower(jailName), "-"), "-")
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

var badRepoChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9]+`) })

// ToFile exports the jail at dir into the file out, atomically: it is
// written beside out and renamed into place only when complete. A name
// ending in .gz or .tgz turns on opts.Gzip.
func ToFile(ctx context.Context, dir, out string, opts Options) (*Summary, error) {
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
	sum, err := Write(ctx, dir, f, opts)
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

// openTree opens the tree of the jail at dir, whose lock (its head) is
// lock, for an export whose summary is sum and whose entries' mtime is
// epoch. The caller closes tw.root.
func openTree(dir string, lock *lockfile.Lock, sum *Summary, epoch int64) (*treeWriter, error) {
	root, err := jailfs.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	tree, err := root.Walk()
	if err != nil {
		root.Close()
		return nil, err
	}
	tw := &treeWriter{root: root, tree: tree, mtime: time.Unix(epoch, 0), sum: sum}
	if lock.Rootless != nil || lock.Link == lockfile.LinkStore {
		if err := tw.useLock(dir); err != nil {
			root.Close()
			return nil, err
		}
	}
	return tw, nil
}

// Write writes the jail at dir to w as opts.Format says. It returns an
// error wrapping ErrNotAJail when dir has no lock beside it.
func Write(ctx context.Context, dir string, w io.Writer, opts Options) (*Summary, error) {
	sum, err := export(ctx, dir, w, opts)
	if err != nil && !errors.Is(err, lockfile.ErrNotAJail) {
		err = fmt.Errorf("export %s: %w", dir, err)
	}
	return sum, err
}

func export(ctx context.Context, dir string, w io.Writer, opts Options) (*Summary, error) {
	if opts.Format == "" {
		opts.Format = Tar
	}
	if !slices.Contains(Formats, opts.Format) {
		return nil, fmt.Errorf("unknown export format %q (use %s)", opts.Format, strings.Join(Formats, ", "))
	}
	if opts.Gzip && opts.Format != Tar {
		return nil, fmt.Errorf("gzip is for tar exports only: the layer of an %s image is compressed already, and podman load cannot read a gzipped archive (name the output .tar)", opts.Format)
	}
	lock, err := lockfile.ReadHead(dir)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Jail: dir, Output: "-", Format: opts.Format}
	var tag name.Tag
	if opts.Format != Tar {
		if opts.Tag == "" {
			opts.Tag = DefaultTag(lock.Name)
		}
		if tag, err = parseTag(opts.Tag); err != nil {
			return nil, err
		}
		sum.Tag = opts.Tag
	}
	tw, err := openTree(dir, lock, sum, opts.Epoch)
	if err != nil {
		return nil, err
	}
	defer tw.root.Close()
	var zw *gzip.Writer
	if opts.Gzip {
		zw = newGzipWriter(w)
		w = zw
	}
	if opts.Format == Tar {
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
