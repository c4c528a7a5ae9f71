//go:build linux

package enter

// The user-mode network (--net user), for real: a jail reaches an HTTP
// server on the host's loopback through the gateway, and a jail with its
// network of its own (the default) does not; a port published from the
// host reaches a server in the jail; slirp4netns is gone when the run
// ends, even when jailer is killed. As root and as the unprivileged user.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/manifest"
)

func TestValidateNet(t *testing.T) {
	pub := []manifest.Publish{{HostIP: "127.0.0.1", HostPort: 8080, JailPort: 80, Proto: "tcp"}}
	ns := []string{"mount", "uts", "pid", "net", "ipc"}
	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" for none
	}{
		{"none", Options{Namespaces: ns}, ""},
		{"user", Options{Namespaces: ns, Net: NetUser, Publish: pub}, ""},
		{"unknown", Options{Namespaces: ns, Net: "bridge"}, `unknown network "bridge" (use none, host or user)`},
		{"user without namespaces", Options{NoNamespaces: true, Net: NetUser}, "drop --no-namespaces"},
		{"user without net", Options{Namespaces: []string{"mount", "pid"}, Net: NetUser}, "the namespaces leave net out"},
		{"user with persist", Options{Namespaces: ns, Net: NetUser, Persist: true}, "drop --persist"},
		{"publish without user", Options{Namespaces: ns, Publish: pub}, "--publish 127.0.0.1:8080:80/tcp forwards a port into the user-mode network: add --net user"},
		{"one host port twice", Options{Namespaces: ns, Net: NetUser, Publish: append(pub, manifest.Publish{HostIP: "127.0.0.1", HostPort: 8080, JailPort: 81, Proto: "tcp"})},
			"--publish 127.0.0.1:8080:80/tcp and --publish 127.0.0.1:8080:81/tcp both take host port 8080/tcp (publish each host port once)"},
		{"one host port, every address and loopback", Options{Namespaces: ns, Net: NetUser, Publish: append(pub, manifest.Publish{HostIP: "0.0.0.0", HostPort: 8080, JailPort: 80, Proto: "tcp"})},
			"both take host port 8080/tcp"},
		{"one host port, tcp and udp", Options{Namespaces: ns, Net: NetUser, Publish: append(pub, manifest.Publish{HostIP: "127.0.0.1", HostPort: 8080, JailPort: 80, Proto: "udp"})}, ""},
		{"one host port on two addresses", Options{Namespaces: ns, Net: NetUser, Publish: append(pub, manifest.Publish{HostIP: "127.0.0.2", HostPort: 8080, JailPort: 80, Proto: "tcp"})}, ""},
	}
	for _, tt := range tests {
		err := tt.opts.validateNet()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: validateNet() = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// hostHTTP serves secret on the host's 127.0.0.1 and returns its port
// and how many requests it answered.
func hostHTTP(t *testing.T, secret string) (port int, hits *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits = &atomic.Int32{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, secret)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port, hits
}

// gatewayGET is a command for bash in a jail: print its resolv.conf,
// then GET / from port on the gateway (the host's loopback with --net
// user) and print the answer.
func gatewayGET(port int) []string {
	return []string{"/bin/bash", "-c", fmt.Sprintf(`cat /etc/resolv.conf; exec 3<>/dev/tcp/%s/%d || exit 3
printf 'GET / HTTP/1.0\r\nHost: jail\r\n\r\n' >&3
while IFS= read -r line <&3; do echo "$line"; done`, UserNetGateway, port)}
}

// slirpChildren are the slirp4netns processes whose parent is ppid.
func slirpChildren(t *testing.T, ppid int) []int {
	t.Helper()
	var out []int
	for _, p := range procsNamed(t, "slirp4netns") {
		if p.ppid == ppid {
			out = append(out, p.pid)
		}
	}
	return out
}

// slirpLeft waits until no slirp4netns that match is running and
// returns those still there after a minute. A run ends by killing its
// slirp4netns without waiting for it to be gone (its exit, where the
// kernel removes the jail's tap device, is slow: usernet.go's stop), so
// one may be in its last milliseconds when the run returns; a minute is
// only a bound for a loaded machine.
func slirpLeft(t *testing.T, match func(proc) bool) []proc {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var left []proc
		for _, p := range procsNamed(t, "slirp4netns") {
			var ws syscall.WaitStatus
			syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil) // a child of this test's: reaped
			if match(p) && alive(p.pid) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ofTest matches the slirp4netns processes this test's runs started.
func ofTest(p proc) bool { return p.ppid == os.Getpid() }

type proc struct{ pid, ppid, uid int }

// procsNamed are the live processes (not zombies) whose comm is name.
func procsNamed(t *testing.T, name string) []proc {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open || s[open+1:closing] != name {
			continue
		}
		f := strings.Fields(s[closing+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		ppid, _ := strconv.Atoi(f[1])
		var st syscall.Stat_t
		syscall.Stat(d, &st)
		out = append(out, proc{pid, ppid, int(st.Uid)})
	}
	return out
}

// serveJail builds, as root, a jail with the static server of
// testdata/serve as /serve, and bash.
func serveJail(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serve := serveBinary(t, dir)
	m := testutil.WriteManifest(t, dir, "serve.yaml", fmt.Sprintf("version: 1\nname: serve\nbinaries: [/bin/bash, /bin/cat, { src: %q, dest: /serve }]\n", serve))
	out := filepath.Join(dir, "jail")
	mustBuild(t, m, build.Options{Output: out})
	t.Cleanup(func() { escNoMountsUnder(t, dir) })
	return out
}

// serveBinary compiles testdata/serve/serve.c, static, into dir.
func serveBinary(t *testing.T, dir string) string {
	t.Helper()
	src, err := filepath.Abs("testdata/serve/serve.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "serve")
	testutil.Gcc(t, "-static", "-O1", "-Wall", "-o", bin, src)
	return bin
}

// freePort is a TCP port of the host's loopback that nothing listens on
// (at the time of asking).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// readLineFrom dials the host's 127.0.0.1:port and returns the first
// line it reads.
func readLineFrom(t *testing.T, port int) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Minute)
	if err != nil {
		t.Fatalf("dial the published port %d: %v", port, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read from the published port %d: %v (read %q)", port, err, line)
	}
	return strings.TrimSpace(line)
}

// TestUserNetHostLoopback: with --net user a jail reaches an HTTP server
// on the host's 127.0.0.1 through the gateway, with a resolv.conf naming
// slirp4netns's DNS that the tree never gets; with its network of its
// own (the default) it does not reach it. slirp4netns is gone after the
// run.
func TestUserNetHostLoopback(t *testing.T) {
	testutil.RequireTool(t, "slirp4netns")
	jail := shellJail(t)
	secret := "host-http-" + escRandomHex(t)
	port, hits := hostHTTP(t, secret)
	if _, err := os.Lstat(filepath.Join(jail, "etc/resolv.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the shell jail has an /etc/resolv.conf already (%v): the test cannot tell who wrote it", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Options)
	}{
		{"user", func(o *Options) { o.Net = NetUser }},
		{"user-in-userns", func(o *Options) { o.Net = NetUser; o.SetNamespace("user", true) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := hits.Load()
			code, out, err := runIn(t, jail, func(o *Options) { o.User = "root"; c.edit(o) }, gatewayGET(port)...)
			if code != 0 || err != nil || !strings.Contains(out, secret) {
				t.Fatalf("GET http://%s:%d/ with --net user: exit %d, %v: %q; want the host's answer %q", UserNetGateway, port, code, err, out, secret)
			}
			if !strings.Contains(out, "nameserver "+UserNetDNS+"\n") {
				t.Errorf("the jail's /etc/resolv.conf: %q; want nameserver %s", out, UserNetDNS)
			}
			if hits.Load() == before {
				t.Errorf("the host's server answered no request, yet the jail printed its secret")
			}
			if _, err := os.Lstat(filepath.Join(jail, "etc/resolv.conf")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the tree has an /etc/resolv.conf after the run (%v): it belongs in the run's fresh root only", err)
			}
			if left := slirpLeft(t, ofTest); len(left) > 0 {
				t.Errorf("slirp4netns %v still runs a minute after the run", left)
			}
		})
	}
	t.Run("keep-changes", func(t *testing.T) {
		// The resolv.conf is jailer's, not the run's: --keep-changes
		// saves it only when the run changed it.
		for _, c := range []struct {
			script string
			want   string // the saved resolv.conf; "" for none
		}{
			{"touch /etc/other", ""},
			{"echo nameserver 192.0.2.1 > /etc/resolv.conf", "nameserver 192.0.2.1\n"},
		} {
			keep := filepath.Join(t.TempDir(), "changes")
			code, out, err := runIn(t, jail, func(o *Options) { o.User = "root"; o.Net = NetUser; o.KeepChanges = keep }, "/bin/bash", "-c", c.script)
			if code != 0 || err != nil {
				t.Fatalf("%s: exit %d, %v: %s", c.script, code, err, out)
			}
			got, err := os.ReadFile(filepath.Join(keep, "files/etc/resolv.conf"))
			if c.want == "" && !errors.Is(err, os.ErrNotExist) || c.want != "" && string(got) != c.want {
				t.Errorf("%s: saved resolv.conf %q, %v; want %q", c.script, got, err, c.want)
			}
			if _, err := os.Stat(filepath.Join(keep, "files/etc/other")); c.want == "" && err != nil {
				t.Errorf("%s: the run's own change was not saved: %v", c.script, err)
			}
		}
	})
	t.Run("none", func(t *testing.T) {
		before := hits.Load()
		code, out, err := runIn(t, jail, func(o *Options) { o.User = "root" }, gatewayGET(port)...)
		if code == 0 || strings.Contains(out, secret) || hits.Load() != before {
			t.Errorf("ESCAPE: GET http://%s:%d/ from a jail with a network of its own: exit %d, %v, %d requests answered: %q; want no connection", UserNetGateway, port, code, err, hits.Load()-before, out)
		}
		if !strings.Contains(out, "Network is unreachable") {
			t.Errorf("output %q: want bash's Network is unreachable", out)
		}
	})
}

// TestUserNetPublish: a port published with --publish reaches a server
// in the jail from the host's loopback, while slirp4netns runs as
// jailer's child; a port the host already uses is refused with an error
// naming it; neither leaves slirp4netns behind.
func TestUserNetPublish(t *testing.T) {
	testutil.RequireTool(t, "slirp4netns")
	jail := serveJail(t)
	secret := "jail-says-" + escRandomHex(t)
	hostPort := freePort(t)
	opts, err := Defaults(jail)
	if err != nil {
		t.Fatal(err)
	}
	opts.Net = NetUser
	opts.Publish = []manifest.Publish{{HostIP: "127.0.0.1", HostPort: hostPort, JailPort: 8080, Proto: "tcp"}}
	opts.Command = []string{"/serve", "8080", secret}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Run(context.Background(), jail, opts, Stdio{In: null, Out: w, Err: w})
		w.Close()
		done <- result{code, err}
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if line != "listening\n" {
		w.Close()
		t.Fatalf("the server in the jail: %q, %v; want listening", line, err)
	}
	if running := slirpChildren(t, os.Getpid()); len(running) != 1 {
		t.Errorf("slirp4netns children of jailer while the jail runs: %v, want one", running)
	}
	if got := readLineFrom(t, hostPort); got != secret {
		t.Errorf("the published port %d said %q, want %q", hostPort, got, secret)
	}
	if res := <-done; res.code != 0 || res.err != nil {
		t.Errorf("the server's run: exit %d, %v", res.code, res.err)
	}
	if left := slirpLeft(t, ofTest); len(left) > 0 {
		t.Errorf("slirp4netns %v still runs a minute after the run", left)
	}

	t.Run("port-in-use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		used := l.Addr().(*net.TCPAddr).Port
		code, out, err := runIn(t, jail, func(o *Options) {
			o.Net = NetUser
			o.Publish = []manifest.Publish{{HostIP: "127.0.0.1", HostPort: used, JailPort: 80, Proto: "tcp"}}
		}, "/bin/cat", "/etc/resolv.conf")
		want := fmt.Sprintf("--publish 127.0.0.1:%d:80/tcp: slirp4netns cannot listen on tcp port 127.0.0.1:%d", used, used)
		if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), "(the port is in use)") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--publish of a port in use: exit %d, %v; want %d and one line with %q, ending in (the port is in use)", code, err, ExitSetupFailed, want)
		}
		if out != "" {
			t.Errorf("the command ran: %q", out)
		}
		// An address the host does not have (TEST-NET-3: no host has it).
		code, out, err = runIn(t, jail, func(o *Options) {
			o.Net = NetUser
			o.Publish = []manifest.Publish{{HostIP: "203.0.113.9", HostPort: used, JailPort: 80, Proto: "tcp"}}
		}, "/bin/cat", "/etc/resolv.conf")
		if want := "(the host has no address 203.0.113.9: use 127.0.0.1, 0.0.0.0 or one of its own)"; code != ExitSetupFailed || err == nil || !strings.HasSuffix(err.Error(), want) || out != "" {
			t.Errorf("--publish on an address not the host's: exit %d, %v, output %q; want %d and an error ending in %q", code, err, out, ExitSetupFailed, want)
		}
		if left := slirpLeft(t, ofTest); len(left) > 0 {
			t.Errorf("slirp4netns %v still runs a minute after the refused run", left)
		}
	})

	t.Run("udp", func(t *testing.T) {
		secret := "jail-says-udp-" + escRandomHex(t)
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hostPort := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close() // free again for slirp4netns, as freePort does for TCP
		opts, err := Defaults(jail)
		if err != nil {
			t.Fatal(err)
		}
		opts.Net = NetUser
		opts.Publish = []manifest.Publish{{HostIP: "127.0.0.1", HostPort: hostPort, JailPort: 5353, Proto: "udp"}}
		opts.Command = []string{"/serve", "-u", "5353", secret}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		done := make(chan result, 1)
		go func() {
			code, err := Run(context.Background(), jail, opts, Stdio{In: null, Out: w, Err: w})
			w.Close()
			done <- result{code, err}
		}()
		if line, err := bufio.NewReader(r).ReadString('\n'); line != "listening\n" {
			w.Close()
			t.Fatalf("the UDP server in the jail: %q, %v; want listening", line, err)
		}
		c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", hostPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Datagrams may be lost: ask again until the answer comes (a
		// minute is only a bound for a loaded machine).
		var got string
		buf := make([]byte, 512)
		for deadline := time.Now().Add(time.Minute); got == "" && time.Now().Before(deadline); {
			c.Write([]byte("hello\n"))
			c.SetReadDeadline(time.Now().Add(time.Second))
			if n, err := c.Read(buf); err == nil {
				got = strings.TrimSpace(string(buf[:n]))
			}
		}
		if got != secret {
			t.Errorf("the published UDP port %d said %q, want %q", hostPort, got, secret)
		}
		if res := <-done; res.code != 0 || res.err != nil {
			t.Errorf("the UDP server's run: exit %d, %v", res.code, res.err)
		}
	})

	t.Run("no-slirp4netns", func(t *testing.T) {
		defer func(old string) { slirp4netns = old }(slirp4netns)
		slirp4netns = "/nonexistent/slirp4netns"
		code, _, err := runIn(t, jail, func(o *Options) { o.Net = NetUser }, "/bin/cat", "/etc/resolv.conf")
		if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "--net user needs slirp4netns, which is not installed (as root: apt install slirp4netns") {
			t.Errorf("--net user without slirp4netns: exit %d, %v; want the package to install", code, err)
		}
	})
}

// TestUserNetJailerKilled: when jailer itself is killed (SIGKILL: no
// deferred cleanup runs), slirp4netns ends too (its --exit-fd sees
// jailer's end close, and PR_SET_PDEATHSIG).
func TestUserNetJailerKilled(t *testing.T) {
	testutil.RequireTool(t, "slirp4netns")
	jail := shellJail(t)
	cmd := exec.Command(os.Args[0], "--", "/bin/bash", "-c", "echo up; exec sleep 600")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+jail, `JAILER_TEST_OPTS={"Net":"user","User":"root"}`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "up\n" {
		t.Fatalf("the jail: %q, %v; want up", line, err)
	}
	slirp := slirpChildren(t, cmd.Process.Pid)
	if len(slirp) != 1 {
		t.Fatalf("slirp4netns children of the running jailer: %v, want one", slirp)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// It exits at once; a minute is only a bound for a loaded machine.
	deadline := time.Now().Add(time.Minute)
	for alive(slirp[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("slirp4netns %d still runs a minute after jailer was killed", slirp[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive says whether pid is a process that has not exited (a zombie has;
// one of ours is reaped).
func alive(pid int) bool {
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, syscall.WNOHANG, nil) // in case it is ours now (a subreaper)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// TestRootlessUserNet: as the unprivileged user, --net user reaches the
// host's loopback through the gateway, with the full mapping and with
// the caller alone, and a published port reaches the jail; the default
// network does not reach the host; no slirp4netns of the user's is left.
func TestRootlessUserNet(t *testing.T) {
	testutil.RequireTool(t, "slirp4netns")
	r := newRootless(t)
	r.fullMapping(t)
	d := r.dir(t)
	serve := serveBinary(t, d)
	jail := r.build(t, fmt.Sprintf("version: 1\nname: usernet\nbinaries: [/bin/bash, /bin/cat, { src: %q, dest: /serve }]\n", serve))
	secret := "host-http-" + escRandomHex(t)
	port, hits := hostHTTP(t, secret)
	noSlirp := func(t *testing.T) {
		t.Helper()
		for _, p := range slirpLeft(t, func(p proc) bool { return p.uid == r.user.UID }) {
			t.Errorf("slirp4netns %d of %s still runs a minute after the run", p.pid, r.user.Name)
		}
	}
	for _, c := range []struct {
		name string
		env  []string
	}{{"full-mapping", nil}, {"caller-only", noSubIDs}} {
		t.Run(c.name, func(t *testing.T) {
			before := hits.Load()
			out := r.mustEnter(t, jail, rlRun{env: c.env, opts: map[string]any{"Net": "user"}}, gatewayGET(port)...)
			if !strings.Contains(out, secret) || !strings.Contains(out, "nameserver "+UserNetDNS+"\n") || hits.Load() == before {
				t.Errorf("GET through the gateway as %s: %q; want the host's answer %q and resolv.conf", r.user.Name, out, secret)
			}
			noSlirp(t)
		})
	}
	t.Run("none", func(t *testing.T) {
		before := hits.Load()
		code, out := r.enter(t, jail, rlRun{}, gatewayGET(port)...)
		if code == 0 || strings.Contains(out, secret) || hits.Load() != before {
			t.Errorf("ESCAPE: GET through the gateway from a jail with a network of its own, as %s: exit %d: %q", r.user.Name, code, out)
		}
	})
	t.Run("publish", func(t *testing.T) {
		hostPort := freePort(t)
		jsecret := "jail-says-" + escRandomHex(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		opts := fmt.Sprintf(`{"Net":"user","Publish":[{"host_ip":"127.0.0.1","host_port":%d,"jail_port":8080,"proto":"tcp"}]}`, hostPort)
		cmd := r.command(ctx, filepath.Dir(jail), []string{"JAILER_TEST_ENTER=" + jail, "JAILER_TEST_OPTS=" + opts}, "--", "/serve", "8080", jsecret)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "listening\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the server in the jail as %s: %q, %v; want listening", r.user.Name, line, err)
		}
		if got := readLineFrom(t, hostPort); got != jsecret {
			t.Errorf("the published port %d said %q, want %q", hostPort, got, jsecret)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("the server's run as %s: %v", r.user.Name, err)
		}
		noSlirp(t)
	})
}
