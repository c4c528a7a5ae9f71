//go:build linux

package enter

// The user-mode network (--net user): the jail has a network namespace of
// its own, as with --net none, and slirp4netns, started by jailer on the
// host side, gives it an interface (tap0, 10.0.2.100/24), a default route
// through the gateway 10.0.2.2 and a DNS forwarder at 10.0.2.3, and NATs
// what the jail sends out through ordinary sockets of the caller's. No
// privilege is needed: it works without root as it does with it. The
// gateway is also the host's loopback (slirp4netns's default), so that a
// test reaches a service on the host's 127.0.0.1; nothing else of the
// host's network namespace (its interfaces, its abstract unix sockets) is
// in the jail's.
//
// The sequence, in Run:
//
//  1. before the init starts: find slirp4netns, and make the pipe the init
//     waits on before it starts the command (jailinit's usernet.go); the
//     init is cloned in the new network namespace (not made on a thread
//     of its own as for --net none: slirp4netns must find it in
//     /proc/PID/ns/net);
//  2. once the init runs (blocked reading its config, its user namespace
//     mapped): open its network and user namespaces and start
//     slirp4netns on them, in a process group of its own (a Ctrl-C meant
//     for the jail must not end its network), with --exit-fd (a pipe
//     whose other end only jailer holds: when jailer dies, even of
//     SIGKILL, slirp4netns sees its end and exits) and PR_SET_PDEATHSIG;
//     as root also --enable-sandbox (its own mount namespace, every
//     capability but NET_BIND_SERVICE dropped: it parses what the jail
//     sends), and always --enable-seccomp;
//  3. while the init makes its mounts: wait for --ready-fd, publish the
//     ports through slirp4netns's API socket (add_hostfwd), then let the
//     init start the command;
//  4. once the init has exited: kill slirp4netns and reap it.
//
// /etc/resolv.conf of the jail (nameserver 10.0.2.3) is written by the
// init into the run's fresh root, never into the tree; --persist, which
// runs in the tree, is refused with --net user.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jailer-dev/jailer/manifest"
)

// NetUser is Options.Net for the user-mode network.
const NetUser = manifest.NetworkUser

// slirp4netns is the program of the user-mode network (a variable so
// that tests can make it missing).
var slirp4netns = "slirp4netns"

// Addresses of the user-mode network (slirp4netns's defaults).
const (
	UserNetAddr    = "10.0.2.100" // the jail's
	UserNetGateway = "10.0.2.2"   // the host, and the host's loopback
	UserNetDNS     = "10.0.2.3"
)

// resolvConfPath is where userNetResolvConf goes in the jail.
const resolvConfPath = "/etc/resolv.conf"

// userNetResolvConf is the jail's /etc/resolv.conf with --net user.
const userNetResolvConf = "# jailer --net user: the DNS forwarder of slirp4netns\nnameserver " + UserNetDNS + "\n"

// How long slirp4netns may take to configure the network, and to answer
// a request on its API socket, before the run fails: it takes
// milliseconds.
const (
	userNetReadyWithin = 30 * time.Second
	userNetAPIWithin   = 10 * time.Second
)

// validateNet refuses network options that cannot work together.
func (o *Options) validateNet() error {
	switch {
	case o.Net != "" && o.Net != NetUser:
		return fmt.Errorf("unknown network %q (use none, host or user)", o.Net)
	case o.Net == NetUser && o.NoNamespaces:
		return errors.New("--net user needs a network namespace of the jail's own; drop --no-namespaces")
	case o.Net == NetUser && !o.has("net"):
		return errors.New("--net user needs a network namespace of the jail's own, and the namespaces leave net out (add it, or use --net host)")
	case o.Net == NetUser && o.Persist:
		return errors.New("--net user writes the jail's /etc/resolv.conf into the run's fresh root, and --persist runs in the tree (drop --persist)")
	case len(o.Publish) > 0 && o.Net != NetUser:
		return fmt.Errorf("--publish %s forwards a port into the user-mode network: add --net user", o.Publish[0])
	}
	// One host port (and protocol) forwards to one jail port: a second
	// would fail in slirp4netns as "in use", after the jail had started.
	for i, p := range o.Publish {
		for _, q := range o.Publish[:i] {
			if p.HostPort == q.HostPort && p.Proto == q.Proto && (p.HostIP == q.HostIP || p.HostIP == "0.0.0.0" || q.HostIP == "0.0.0.0") {
				return fmt.Errorf("--publish %s and --publish %s both take host port %d/%s (publish each host port once)", q, p, p.HostPort, p.Proto)
			}
		}
	}
	return nil
}

// userNet is the user-mode network of a run, as the parent sees it.
type userNet struct {
	bin      string   // slirp4netns
	initEnd  *os.File // the init's end of the pipe it waits on (jailinit.Config.NetReady)
	release  *os.File // jailer's end: a byte on it lets the init start the command
	ready    *os.File // slirp4netns's --ready-fd, read end
	exit     *os.File // slirp4netns's --exit-fd, write end: slirp4netns exits when it closes
	dir, api string   // a directory of the run's own, and the API socket in it
	pid      int      // slirp4netns, once started; 0 once reaped
	log      tailBuffer
	logDone  chan struct{}
}

// newUserNet finds slirp4netns and makes the pipe the init waits on.
func newUserNet() (*userNet, error) {
	bin := lookTool(slirp4netns)
	if bin == "" {
		return nil, errors.New("--net user needs slirp4netns, which is not installed (as root: apt install slirp4netns; see jailer doctor)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	return &userNet{bin: bin, initEnd: r, release: w}, nil
}

// start starts slirp4netns on the network namespace of the init pid
// (joining its user namespace first when userns), with an API socket
// when ports are to be published.
func (n *userNet) start(pid int, userns, publish bool) (err error) {
	// The child's ends and the namespaces are closed here once it has
	// them; jailer's ends too when it could not be started.
	var childEnds, ours []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
		if err != nil {
			for _, f := range ours {
				f.Close()
			}
		}
	}()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	childEnds = append(childEnds, null)
	netns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("open the jail's network namespace: %w", err)
	}
	childEnds = append(childEnds, netns)
	var pipes [3][2]*os.File // --exit-fd, --ready-fd, the log
	for i := range pipes {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		pipes[i] = [2]*os.File{r, w}
	}
	exitR, exitW, readyR, readyW, logR, logW := pipes[0][0], pipes[0][1], pipes[1][0], pipes[1][1], pipes[2][0], pipes[2][1]
	childEnds = append(childEnds, exitR, readyW, logW)
	ours = append(ours, exitW, readyR, logR)
	fds := []uintptr{null.Fd(), logW.Fd(), logW.Fd(), exitR.Fd(), readyW.Fd(), netns.Fd()}
	args := []string{"slirp4netns", "--configure", "--mtu=65520", "--exit-fd=3", "--ready-fd=4", "--enable-seccomp"}
	if os.Geteuid() == 0 {
		// Its sandbox switches to root (gid 0) in its own namespaces,
		// which only works where it is root.
		args = append(args, "--enable-sandbox")
	}
	if publish {
		if n.dir, err = os.MkdirTemp("", "jailer-net-"); err != nil {
			return fmt.Errorf("a directory for slirp4netns's API socket: %w", err)
		}
		n.api = filepath.Join(n.dir, "api.sock")
		args = append(args, "--api-socket="+n.api)
	}
	args = append(args, "--netns-type=path")
	if userns {
		u, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
		if err != nil {
			return fmt.Errorf("open the jail's user namespace: %w", err)
		}
		childEnds = append(childEnds, u)
		fds = append(fds, u.Fd())
		args = append(args, "--userns-path=/proc/self/fd/6")
	}
	args = append(args, "/proc/self/fd/5", "tap0")
	n.pid, err = syscall.ForkExec(n.bin, args, &syscall.ProcAttr{
		Env:   []string{},
		Files: fds,
		// A process group of its own: a Ctrl-C on the caller's terminal
		// is jailer's to forward to the jail, not to end its network.
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		n.pid = 0
		return fmt.Errorf("start %s: %w", n.bin, err)
	}
	n.ready, n.exit = readyR, exitW
	n.logDone = make(chan struct{})
	go func() {
		io.Copy(&n.log, logR) // to its end, when slirp4netns exits
		logR.Close()
		close(n.logDone)
	}()
	return nil
}

// up waits until slirp4netns has configured the jail's network,
// publishes the ports, and lets the init start the command.
func (n *userNet) up(publish []manifest.Publish) error {
	n.ready.SetReadDeadline(time.Now().Add(userNetReadyWithin))
	var b [1]byte
	_, err := io.ReadFull(n.ready, b[:])
	n.ready.Close()
	n.ready = nil
	if err != nil {
		what := "exited"
		if errors.Is(err, os.ErrDeadlineExceeded) {
			what = fmt.Sprintf("did not answer within %s", userNetReadyWithin)
		}
		return n.failed(fmt.Sprintf("start the user-mode network: slirp4netns %s before the network was up", what))
	}
	for _, p := range publish {
		if err := n.addHostfwd(p); err != nil {
			return err
		}
	}
	// The init may be gone (killed meanwhile): its wait status will say.
	n.release.Write([]byte{1})
	n.release.Close()
	n.release = nil
	return nil
}

// addHostfwd asks slirp4netns to forward the host port of p to the jail.
func (n *userNet) addHostfwd(p manifest.Publish) error {
	req, err := json.Marshal(map[string]any{
		"execute": "add_hostfwd",
		"arguments": map[string]any{
			"proto": p.Proto, "host_addr": p.HostIP, "host_port": p.HostPort,
			"guest_addr": UserNetAddr, "guest_port": p.JailPort,
		},
	})
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("unix", n.api, userNetAPIWithin)
	if err != nil {
		return fmt.Errorf("--publish %s: reach slirp4netns: %w", p, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(userNetAPIWithin))
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("--publish %s: ask slirp4netns: %w", p, err)
	}
	c.(*net.UnixConn).CloseWrite()
	resp, err := io.ReadAll(io.LimitReader(c, 64<<10))
	if err != nil {
		return fmt.Errorf("--publish %s: read slirp4netns's answer: %w", p, err)
	}
	var r struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	switch err := json.Unmarshal(resp, &r); {
	case err != nil:
		return fmt.Errorf("--publish %s: slirp4netns answered %q", p, strings.TrimSpace(string(resp)))
	case r.Error != nil:
		return fmt.Errorf("--publish %s: slirp4netns cannot listen on %s port %s:%d: %s (%s)", p, p.Proto, p.HostIP, p.HostPort, r.Error.Desc, listenHint(p))
	case r.Return == nil:
		return fmt.Errorf("--publish %s: slirp4netns answered %q", p, strings.TrimSpace(string(resp)))
	}
	return nil
}

// listenHint says why the host cannot listen where p asks, as the kernel
// says it when jailer tries (slirp4netns's own answer names no reason).
func listenHint(p manifest.Publish) string {
	addr := net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))
	var err error
	if p.Proto == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp4", addr); err == nil {
			l.Close()
		}
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "the port is in use"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "the host has no address " + p.HostIP + ": use 127.0.0.1, 0.0.0.0 or one of its own"
	case errors.Is(err, syscall.EACCES) && p.HostPort < 1024:
		return "a port below 1024 needs root, or sysctl net.ipv4.ip_unprivileged_port_start"
	case err != nil:
		return err.Error()
	}
	return "is the port in use?"
}

// failed ends slirp4netns and returns an error of msg and what it said.
func (n *userNet) failed(msg string) error {
	n.stop()
	if n.logDone != nil {
		<-n.logDone // what it said, to its end
	}
	said := n.log.lastLines(3)
	if strings.Contains(said, "/dev/net/tun") {
		said += " (users must be able to open /dev/net/tun: as root, chmod 0666 /dev/net/tun, as udev does on Debian; see jailer doctor)"
	}
	if said == "" {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", msg, said)
}

// stop ends slirp4netns (the jail's network has no use once the init has
// exited) and removes what the run made for it. It may be called more
// than once.
//
// It kills slirp4netns but does not wait for it to be gone: slirp4netns
// holds the jail's network namespace, so its exit is where the kernel
// unregisters the tap device and waits out an RCU grace period, 15-30 ms
// that jailer's caller would wait for nothing (a killed process does
// nothing more). It is reaped on a goroutine, or, when jailer exits
// first, by whoever reaps orphans.
func (n *userNet) stop() {
	for _, f := range []**os.File{&n.initEnd, &n.release, &n.ready, &n.exit} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
	if n.pid > 0 {
		syscall.Kill(n.pid, syscall.SIGKILL)
		go func(pid int) {
			var ws syscall.WaitStatus
			for {
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
					return
				}
			}
		}(n.pid)
		n.pid = 0
	}
	if n.dir != "" {
		os.RemoveAll(n.dir)
		n.dir = ""
	}
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(p), nil
}

// lastLines are the last n lines that are not slirp4netns's banner
// (lines of "* Key: value"), joined with "; ".
func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, l := range bytes.Split(t.buf, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" && !strings.HasPrefix(s, "* ") && !strings.HasPrefix(s, "WARNING:") {
			out = append(out, s)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "; ")
}
