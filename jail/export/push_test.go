package export

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// noCredentials points every place Keychain looks at an empty directory.
func noCredentials(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"} {
		t.Setenv(v, "")
	}
	old := podmanRunDir
	podmanRunDir = filepath.Join(home, "run-containers")
	t.Cleanup(func() { podmanRunDir = old })
	return home
}

// dockerAuth is a docker config.json (or podman auth.json) that holds
// user:password for host.
func dockerAuth(host, user, password string) []byte {
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{
		host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}})
	return data
}

// TestPushRegistry pushes a jail built with --link store to a real
// registry (Debian's docker-registry, with a password) through a proxy
// that counts requests: the push needs the credentials, found where
// podman login writes them, and --insecure for plain HTTP; it prints the
// digest of the image an OCI export writes (the same as a copied jail's);
// a second push of the unchanged jail gives the same digest and uploads
// nothing. podman pulls and runs the image (the manifest's enter:
// command, user, workdir and environment), and skopeo reads its config.
func TestPushRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "podman")
	skopeo := testutil.RequireTool(t, "skopeo")
	home := noCredentials(t)
	reg := testutil.StartRegistry(t, true)
	proxy := testutil.NewCountingProxy(t, reg.Addr)
	tmp := t.TempDir()
	m := testutil.WriteManifest(t, tmp, "m.yaml", `version: 1
name: push-test
binaries: [/bin/sh, /bin/cat, /bin/id]
users: [{name: tester, uid: 1000}]
files:
  - { dest: /etc/motd, content: "hello from the registry\n" }
enter:
  command: [/bin/sh, -c, 'echo "default $GREETING $PWD $(id -un)"; cat /etc/motd']
  user: tester
  workdir: /home/tester
  env: { GREETING: hello, PATH: /bin }
`)
	dir := filepath.Join(tmp, "jail")
	jailtest.MustBuild(t, m, build.Options{Output: dir, Link: lockfile.LinkStore, Store: filepath.Join(tmp, "store")})
	ctx := context.Background()
	ref := fmt.Sprintf("%s/jailer-test/push:%d", proxy.Addr, os.Getpid())

	if _, err := Push(ctx, dir, ref, Options{Insecure: true}); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "(log in to "+proxy.Addr+" with docker login or podman login)") {
		t.Fatalf("Push without credentials = %v, want the registry's refusal", err)
	}
	authFile := filepath.Join(home, "auth.json")
	if out, err := exec.Command("podman", "login", "--tls-verify=false", "--authfile", authFile, "-u", reg.User, "-p", reg.Password, proxy.Addr).CombinedOutput(); err != nil {
		t.Fatalf("podman login: %v\n%s", err, out)
	}
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	if _, err := Push(ctx, dir, ref, Options{}); err == nil || !strings.Contains(err.Error(), proxy.Addr+" answers only over plain HTTP: pass --insecure") {
		t.Fatalf("Push over plain HTTP without --insecure = %v, want it refused", err)
	}
	if up := proxy.Uploads(); len(up) > 0 {
		t.Fatalf("refused pushes uploaded: %v", up)
	}

	first, err := Push(ctx, dir, ref, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(proxy.Uploads()) == 0 {
		t.Fatalf("the first push uploaded nothing: %v", proxy.Requests())
	}
	exported, err := Write(ctx, dir, io.Discard, Options{Format: OCI})
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(tmp, "copied")
	jailtest.MustBuild(t, m, build.Options{Output: copied})
	fromCopy, err := Write(ctx, copied, io.Discard, Options{Format: OCI})
	if err != nil {
		t.Fatal(err)
	}
	repo := strings.TrimSuffix(ref, ":"+strconv.Itoa(os.Getpid()))
	if first.Digest != exported.Digest || first.Digest != fromCopy.Digest || first.Pushed != repo+"@"+first.Digest {
		t.Errorf("pushed %s (%s); the OCI export's digest is %s, the copied jail's %s", first.Pushed, first.Digest, exported.Digest, fromCopy.Digest)
	}
	if want := "pushed " + dir + " to " + ref + ": " + first.Pushed + " (image " + ref; !strings.HasPrefix(first.String(), want) {
		t.Errorf("summary %q, want it to start %q", first, want)
	}

	proxy.Reset()
	second, err := Push(ctx, dir, ref, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest != first.Digest {
		t.Errorf("an unchanged jail pushed again: digest %s, first %s", second.Digest, first.Digest)
	}
	if up := proxy.Uploads(); len(up) > 0 {
		t.Errorf("pushing an unchanged jail again uploaded: %v", up)
	}
	if slices.ContainsFunc(proxy.Requests(), func(r string) bool { return !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") }) {
		t.Errorf("pushing an unchanged jail again wrote to the registry: %v", proxy.Requests())
	}

	// podman pulls it by its digest and runs it.
	pullRef := repo + "@" + first.Digest
	if out, err := exec.Command("podman", "pull", "--tls-verify=false", "--authfile", authFile, pullRef).CombinedOutput(); err != nil {
		t.Fatalf("podman pull %s: %v\n%s", pullRef, err, out)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", pullRef).Run() })
	out, err := podman(t, "run", pullRef)
	if want := "default hello /home/tester tester\nhello from the registry\n"; err != nil || out != want {
		t.Errorf("podman run %s = %q, %v; want %q", pullRef, out, err, want)
	}
	out, err = podman(t, "run", pullRef, "/bin/id", "-u")
	if err != nil || out != "1000\n" {
		t.Errorf("podman run %s /bin/id -u = %q, %v", pullRef, out, err)
	}

	// skopeo reads its config: what enter: says.
	data, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "--authfile", authFile, "--config", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config: %v", err)
	}
	var cfg struct {
		Architecture string
		Config       struct {
			Cmd        []string
			Env        []string
			User       string
			WorkingDir string
		} `json:"config"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("skopeo's config %s: %v", data, err)
	}
	c := cfg.Config
	if !slices.Equal(c.Cmd, []string{"/bin/sh", "-c", `echo "default $GREETING $PWD $(id -un)"; cat /etc/motd`}) ||
		!slices.Equal(c.Env, []string{"GREETING=hello", "PATH=/bin"}) || c.User != "tester" || c.WorkingDir != "/home/tester" {
		t.Errorf("skopeo inspect --config: %+v", c)
	}
	data, err = exec.Command(skopeo, "inspect", "--tls-verify=false", "--authfile", authFile, "docker://"+ref).Output()
	var insp struct{ Digest string }
	if err != nil || json.Unmarshal(data, &insp) != nil || insp.Digest != first.Digest {
		t.Errorf("skopeo inspect: digest %q (%v), want %s", insp.Digest, err, first.Digest)
	}
}

// TestKeychain: credentials are found where docker login and podman login
// write them, and nowhere else.
func TestKeychain(t *testing.T) {
	host := "registry.example:5000"
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, home string)
		user  string // "" for none
	}{
		{"none", func(t *testing.T, home string) {}, ""},
		{"docker config", func(t *testing.T, home string) {
			os.MkdirAll(filepath.Join(home, ".docker"), 0o700)
			os.WriteFile(filepath.Join(home, ".docker/config.json"), dockerAuth(host, "docker-user", "pw"), 0o600)
		}, "docker-user"},
		{"DOCKER_CONFIG", func(t *testing.T, home string) {
			os.WriteFile(filepath.Join(home, "config.json"), dockerAuth(host, "docker-config-user", "pw"), 0o600)
			t.Setenv("DOCKER_CONFIG", home)
		}, "docker-config-user"},
		{"REGISTRY_AUTH_FILE", func(t *testing.T, home string) {
			os.WriteFile(filepath.Join(home, "a.json"), dockerAuth(host, "authfile-user", "pw"), 0o600)
			t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(home, "a.json"))
		}, "authfile-user"},
		{"XDG_RUNTIME_DIR", func(t *testing.T, home string) {
			os.MkdirAll(filepath.Join(home, "xdg/containers"), 0o700)
			os.WriteFile(filepath.Join(home, "xdg/containers/auth.json"), dockerAuth(host, "xdg-user", "pw"), 0o600)
			t.Setenv("XDG_RUNTIME_DIR", filepath.Join(home, "xdg"))
		}, "xdg-user"},
		{"/run/containers/UID (podman login without XDG_RUNTIME_DIR)", func(t *testing.T, home string) {
			d := filepath.Join(podmanRunDir, strconv.Itoa(os.Getuid()))
			os.MkdirAll(d, 0o700)
			os.WriteFile(filepath.Join(d, "auth.json"), dockerAuth("https://"+host, "run-user", "pw"), 0o600)
		}, "run-user"},
		{"another registry's", func(t *testing.T, home string) {
			os.WriteFile(filepath.Join(home, "a.json"), dockerAuth("other.example", "other-user", "pw"), 0o600)
			t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(home, "a.json"))
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home := noCredentials(t)
			tt.setup(t, home)
			a, err := Keychain().Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if tt.user == "" && a != authn.Anonymous {
				t.Errorf("credentials found: %+v", cfg)
			}
			if tt.user != "" && (cfg.Username != tt.user || cfg.Password != "pw") {
				t.Errorf("credentials %q:%q, want %s:pw", cfg.Username, cfg.Password, tt.user)
			}
		})
	}
}

func TestPushRef(t *testing.T) {
	for _, tt := range []struct{ ref, err string }{
		{"localhost:5000/team/app:1.0", ""},
		{"registry.example.com/app:latest", ""},
		{"docker.io/user/app:1", ""},
		{"team/app:1", "strict validation requires the registry to be explicitly defined"},
		{"localhost:5000/app", "it names no tag"},
		{"app", "it names no tag"},
		{"Reg.example/App:1", "repository can only contain"},
	} {
		_, err := PushRef(tt.ref, false)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "(write REGISTRY/NAME:TAG")) {
			t.Errorf("PushRef(%q) = %v, want %q", tt.ref, err, tt.err)
		}
	}
}
