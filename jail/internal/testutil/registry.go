package testutil

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Registry is a container registry a test started: Debian's
// docker-registry (the distribution project's registry) on a loopback
// port, its storage in a temporary directory, with basic authentication
// (htpasswd) when asked for.
type Registry struct {
	// Addr is its host:port.
	Addr string
	// User and Password are the credentials it asks for, "" when it asks
	// for none.
	User, Password string
	// Log is the file its log goes to.
	Log string
}

// StartRegistry starts a registry for the test, stopped at its end; with
// auth it asks for a user and a password (htpasswd with a bcrypt hash,
// made with python3's crypt).
func StartRegistry(t *testing.T, auth bool) *Registry {
	t.Helper()
	bin := RequireTool(t, "docker-registry")
	dir := t.TempDir()
	r := &Registry{Addr: freeLoopbackAddr(t), Log: filepath.Join(dir, "registry.log")}
	authConf := ""
	if auth {
		python := RequireTool(t, "python3")
		r.User, r.Password = "jailer", "secret-"+fmt.Sprint(os.Getpid())
		hash, err := exec.Command(python, "-W", "ignore", "-c",
			"import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", r.Password).Output()
		if err != nil || !strings.HasPrefix(string(hash), "$2") {
			t.Fatalf("bcrypt hash for htpasswd: %q, %v", hash, err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(r.User+":"+strings.TrimSpace(string(hash))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		authConf = fmt.Sprintf("auth:\n  htpasswd:\n    realm: jailer-test\n    path: %s\n", htpasswd)
	}
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), r.Addr, authConf), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", conf)
	// Not the test's environment: the registry reads REGISTRY_* as
	// settings, and REGISTRY_AUTH_FILE, podman's, would be one.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	// Ready when /v2/ answers (401 with auth).
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Since(start) > 20*time.Second {
			data, _ := os.ReadFile(r.Log)
			t.Fatalf("the registry at %s did not answer: %v\n%s", r.Addr, err, data)
		}
	}
}

// freeLoopbackAddr returns a port on 127.0.0.1 that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// CountingProxy stands between clients and a registry and records every
// request, so that a test can tell what a client uploaded.
type CountingProxy struct {
	// Addr is the proxy's host:port, for clients.
	Addr string

	mu       sync.Mutex
	requests []string // "METHOD PATH"
}

// NewCountingProxy starts a proxy to the registry at addr for the test.
func NewCountingProxy(t *testing.T, addr string) *CountingProxy {
	t.Helper()
	target, err := url.Parse("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &CountingProxy{}
	// The registry writes upload locations with the Host it is asked
	// for, the proxy's: uploads come back through it.
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.Addr = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Reset forgets the requests recorded so far.
func (p *CountingProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}

// Uploads returns the requests recorded that upload a blob (a layer or a
// config): those to .../blobs/uploads/, which start, continue or end one.
func (p *CountingProxy) Uploads() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var up []string
	for _, r := range p.requests {
		if strings.Contains(r, "/blobs/uploads/") {
			up = append(up, r)
		}
	}
	return up
}

// Requests returns every request recorded.
func (p *CountingProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}
