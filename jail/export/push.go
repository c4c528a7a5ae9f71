package export

// `jailer export --push`: the image of a jail written straight to a
// registry with go-containerregistry's remote package. The image is the
// one an OCI export writes (reproducible: the same jail gives the same
// layer, config and manifest digests), and remote.Write asks the registry
// for each blob before it uploads it, so pushing an unchanged jail again
// uploads no layer: it only puts the manifest.
//
// Credentials are found where docker and podman keep them
// (authn.DefaultKeychain: ~/.docker/config.json or $DOCKER_CONFIG, with
// their credential helpers; $REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json),
// and in /run/containers/UID/auth.json, where `podman login` writes them
// when XDG_RUNTIME_DIR is not set (as root under sudo).
//
// Plain HTTP is refused unless Options.Insecure says otherwise, even for
// a registry on localhost (which go-containerregistry would otherwise try
// over HTTP after HTTPS): credentials would cross the wire in clear.

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PushRef parses where Push writes: REGISTRY/NAME:TAG, the registry and
// the tag written out (a name without a registry would go to Docker Hub).
func PushRef(ref string, insecure bool) (name.Tag, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	var t name.Tag
	err := errors.New("it names no tag")
	if i := strings.LastIndex(ref, "/"); strings.Contains(ref[i+1:], ":") {
		t, err = name.NewTag(ref, opts...)
	}
	if err != nil {
		return t, fmt.Errorf("%q: %w (write REGISTRY/NAME:TAG, such as localhost:5000/team/app:1.0)", ref, err)
	}
	return t, nil
}

// Push writes the jail at dir as a one-layer image (opts.Format: OCI, the
// default, or Docker media types) to the registry at ref, REGISTRY/NAME:TAG,
// and returns the summary, whose Pushed is ref@DIGEST. It returns an error
// wrapping ErrNotAJail when dir has no lock beside it.
func Push(ctx context.Context, dir, ref string, opts Options) (*Summary, error) {
	sum, err := push(ctx, dir, ref, opts)
	if err != nil && !errors.Is(err, lockfile.ErrNotAJail) {
		err = fmt.Errorf("push %s: %w", dir, err)
	}
	return sum, err
}

func push(ctx context.Context, dir, ref string, opts Options) (*Summary, error) {
	mt := ociTypes
	switch opts.Format {
	case "", OCI:
		opts.Format = OCI
	case Docker:
		mt = dockerTypes
	default:
		return nil, fmt.Errorf("a push writes an image: format %q is not one (use oci or docker)", opts.Format)
	}
	tag, err := PushRef(ref, opts.Insecure)
	if err != nil {
		return nil, err
	}
	lock, err := lockfile.ReadHead(dir)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Jail: dir, Output: ref, Format: opts.Format, Tag: ref}
	tw, err := openTree(dir, lock, sum, opts.Epoch)
	if err != nil {
		return nil, err
	}
	defer tw.root.Close()
	tw.noDevices = true
	tmp, err := os.MkdirTemp(opts.TempDir, ".jailer-export-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	img, err := treeImage(ctx, tw, lock, tmp, mt, opts.Epoch)
	if err != nil {
		return nil, err
	}
	guard := &plainHTTPGuard{base: baseTransport(opts.Insecure), allow: opts.Insecure}
	err = remote.Write(tag, img,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(Keychain()),
		remote.WithTransport(guard),
		remote.WithUserAgent("jailer"))
	if err != nil && guard.refused.Load() {
		return nil, fmt.Errorf("%s answers only over plain HTTP: pass --insecure to push to it without TLS", tag.RegistryStr())
	}
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return nil, fmt.Errorf("%s: %w (log in to %s with docker login or podman login)", ref, err, tag.RegistryStr())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	sum.Pushed = tag.Context().Name() + "@" + sum.Digest
	return sum, nil
}

// baseTransport is the transport a push starts from: the default one, not
// verifying TLS certificates when insecure (a registry on localhost with
// a certificate of its own).
func baseTransport(insecure bool) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return t
}

// plainHTTPGuard refuses requests over plain HTTP unless allow is set, and
// remembers that it did.
type plainHTTPGuard struct {
	base    http.RoundTripper
	allow   bool
	refused atomic.Bool
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allow {
		g.refused.Store(true)
		return nil, fmt.Errorf("plain HTTP to %s refused (--insecure allows it)", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// Keychain finds registry credentials as docker and podman do (see the
// comment at the top of this file).
func Keychain() authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, podmanRunKeychain{dir: podmanRunDir})
}

// podmanRunDir holds the auth.json of each uid that `podman login` writes
// when XDG_RUNTIME_DIR is not set; a variable for tests.
var podmanRunDir = "/run/containers"

// podmanRunKeychain reads DIR/UID/auth.json (containers-auth.json(5)),
// which authn.DefaultKeychain does not, when XDG_RUNTIME_DIR is not set
// (otherwise podman writes where DefaultKeychain looks).
type podmanRunKeychain struct{ dir string }

func (k podmanRunKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if os.Getenv("XDG_RUNTIME_DIR") != "" {
		return authn.Anonymous, nil
	}
	data, err := os.ReadFile(filepath.Join(k.dir, strconv.Itoa(os.Getuid()), "auth.json"))
	if err != nil {
		return authn.Anonymous, nil
	}
	var file struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(k.dir, strconv.Itoa(os.Getuid()), "auth.json"), err)
	}
	for key, a := range file.Auths {
		host := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
		if host != target.RegistryStr() || a.Auth == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", key, err)
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
	}
	return authn.Anonymous, nil
}
