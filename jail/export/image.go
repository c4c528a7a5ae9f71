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
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/manifest"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// imageTypes are the media types of one image format.
type imageTypes struct{ manifest, config, layer types.MediaType }

var (
	ociTypes    = imageTypes{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer}
	dockerTypes = imageTypes{types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer}
)

// exportImage writes the tree as the one layer of an image whose config
// comes from the lock's enter settings, in opts.Format, to w.
func exportImage(ctx context.Context, tw *treeWriter, lock *lockfile.Lock, tag name.Tag, w io.Writer, opts Options) error {
	tmp, err := os.MkdirTemp(opts.TempDir, ".jailer-export-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	mt := dockerTypes
	if opts.Format == OCI {
		mt = ociTypes
	}
	img, err := treeImage(ctx, tw, lock, tmp, mt, opts.Epoch)
	if err != nil {
		return err
	}
	if opts.Format == Docker {
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

// treeImage makes the one-layer image of the tree, configured from the
// lock's enter settings, with the media types mt; the layer is kept in
// the directory tmp, which must outlive the image. It records the image's
// ID and digest in tw's summary.
func treeImage(ctx context.Context, tw *treeWriter, lock *lockfile.Lock, tmp string, mt imageTypes, epoch int64) (v1.Image, error) {
	// The layer: the same tar stream, gzip-compressed once into a file
	// that go-containerregistry reads as often as it needs.
	layerPath := filepath.Join(tmp, "layer.tar.gz")
	lf, err := os.Create(layerPath)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	img, err := newImage(layerPath, lock, time.Unix(epoch, 0).UTC(), mt)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	id, err1 := img.ConfigName()
	digest, err2 := img.Digest()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	tw.sum.ImageID, tw.sum.Digest = id.String(), digest.String()
	return img, nil
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

// ImageWarnings says what of the jail at dir an image leaves out that its
// runs had: the bind mounts of enter.mounts (a container runtime takes
// them as volumes), and above all an enter.command that lies in one, which
// the image's Cmd then names without having it.
func ImageWarnings(dir string) ([]string, error) {
	lock, err := lockfile.ReadHead(dir)
	if err != nil {
		return nil, err
	}
	var warns []string
	cmd := ""
	if len(lock.Enter.Command) > 0 {
		cmd = path.Clean(lock.Enter.Command[0])
	}
	for _, m := range lock.Enter.Mounts {
		if m.Type != "bind" {
			continue
		}
		t := path.Clean("/" + m.Target)
		if path.IsAbs(cmd) && (cmd == t || strings.HasPrefix(cmd, t+"/") || t == "/") {
			warns = append(warns, fmt.Sprintf("the image's command %s comes from the bind mount of %s at %s, which an image has not: mount it when you run the image (podman run -v %s:%s ...)", cmd, m.Source, t, m.Source, t))
			continue
		}
		warns = append(warns, fmt.Sprintf("the bind mount of %s at %s (enter.mounts) is not in the image: mount it when you run the image (-v %s:%s)", m.Source, t, m.Source, t))
	}
	return warns, nil
}
