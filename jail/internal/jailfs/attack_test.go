package jailfs

// Attacks on the resolver: a jail's tree is written by whoever runs in the
// jail, and jailer reads it from the host as root. Every test runs with
// both lookups, openat2 and the walk used where openat2 is missing, and
// asserts that what is read is the jail's file of that name, or an error,
// never the host's file. The host secret lies beside the jail, and the
// jail holds a decoy at the same absolute path, so that a lookup that
// stays inside finds the decoy.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"

	"golang.org/x/sys/unix"
)

const hostSecret = "HOST SECRET"

// lab is a jail tree beside a host directory holding a secret.
type lab struct {
	jail   string // the jail's directory
	secret string // host path of the secret, outside the jail
}

// newLab makes a jail with /etc/secret, the decoy at the secret's host path,
// and the links given (jail path to target).
func newLab(t *testing.T, links map[string]string) *lab {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{jail: filepath.Join(base, "jail"), secret: filepath.Join(base, "host", "secret")}
	l.file(t, l.secret, hostSecret)
	for _, p := range []string{"/etc/secret", l.secret, "/a/b/file"} {
		l.file(t, filepath.Join(l.jail, p), "jail:"+p)
	}
	l.link(t, links)
	return l
}

// secretPath is the jail path of the decoy: the host path of the secret.
func (l *lab) secretPath() string { return l.secret }

// link makes the symlinks given (jail path to target) in the jail.
func (l *lab) link(t *testing.T, links map[string]string) {
	t.Helper()
	for p, target := range links {
		p = filepath.Join(l.jail, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

func (l *lab) file(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// resolvers are the two ways a Root looks paths up.
var resolvers = []struct {
	name string
	walk bool
}{{"openat2", false}, {"walk", true}}

// open opens the lab's jail as a Root that looks paths up with the
// fallback walk when walk is set, else with openat2.
func (l *lab) open(t *testing.T, walk bool) *Root {
	t.Helper()
	if !walk && !haveOpenat2() {
		t.Skip("this kernel has no openat2: only the walk can be tested")
	}
	r, err := OpenRoot(l.jail)
	if err != nil {
		t.Fatal(err)
	}
	r.forceWalk = walk
	t.Cleanup(func() { r.Close() })
	return r
}

// read reads p through r with ReadFile, and fails the test when the host's
// secret comes back.
func read(t *testing.T, r *Root, p string) (string, error) {
	t.Helper()
	data, err := r.ReadFile(p, 1<<20)
	if string(data) == hostSecret {
		t.Errorf("ESCAPE: ReadFile(%q) read the host's secret", p)
	}
	return string(data), err
}

// TestAttackSymlinks: symlinks and ".." that lead out of a chrooted tree
// on the host stay inside the jail, and loops end in ELOOP.
func TestAttackSymlinks(t *testing.T) {
	const up = "../../../../../../../../../.."
	type links = map[string]string
	cases := []struct {
		name    string
		links   func(l *lab) links
		path    func(l *lab) string
		want    func(l *lab) string // the jail path read; nil when wantErr
		wantErr error
	}{
		{name: "absolute symlink", links: func(l *lab) links { return links{"/abs": l.secret} },
			path: fixed("/abs"), want: (*lab).secretPath},
		{name: "dotdot symlink", links: func(l *lab) links { return links{"/a/up": up + l.secret} },
			path: fixed("/a/up"), want: (*lab).secretPath},
		{name: "dotdot symlink to a directory", links: func(*lab) links { return links{"/a/updir": up} },
			path: func(l *lab) string { return "/a/updir" + l.secret }, want: (*lab).secretPath},
		{name: "dotdot in the path", path: func(l *lab) string { return "/a/b/" + up + l.secret }, want: (*lab).secretPath},
		{name: "dotdot after a symlink is the target's parent", links: func(*lab) links { return links{"/l": "/a/b"} },
			path: fixed("/l/../b/file"), want: func(*lab) string { return "/a/b/file" }},
		{name: "symlink loop", links: func(*lab) links { return links{"/loop1": "/loop2", "/loop2": "loop1"} },
			path: fixed("/loop1"), wantErr: unix.ELOOP},
		{name: "self loop", links: func(*lab) links { return links{"/self": "self/x"} },
			path: fixed("/self"), wantErr: unix.ELOOP},
		{name: "proc self root without proc", links: func(l *lab) links { return links{"/pr": "/proc/self/root" + l.secret} },
			path: fixed("/pr"), wantErr: unix.ENOENT},
		{name: "proc self fd without proc", links: func(*lab) links { return links{"/pfd": "/proc/self/fd/0"} },
			path: fixed("/pfd"), wantErr: unix.ENOENT},
		{name: "file on the way", path: fixed("/etc/secret/x"), wantErr: unix.ENOTDIR},
	}
	for _, c := range cases {
		for _, res := range resolvers {
			t.Run(c.name+"/"+res.name, func(t *testing.T) {
				l := newLab(t, nil)
				if c.links != nil {
					l.link(t, c.links(l))
				}
				r := l.open(t, res.walk)
				p := c.path(l)
				got, err := read(t, r, p)
				if c.wantErr != nil {
					if !errors.Is(err, c.wantErr) {
						t.Errorf("ReadFile(%q) = %q, %v; want %v", p, got, err, c.wantErr)
					}
					return
				}
				if want := "jail:" + c.want(l); err != nil || got != want {
					t.Errorf("ReadFile(%q) = %q, %v; want %q", p, got, err, want)
				}
			})
		}
	}
}

// fixed is a path that does not depend on the lab.
func fixed(p string) func(*lab) string { return func(*lab) string { return p } }

// TestAttackMaxLinks: a chain of MaxLinks symlinks is followed, one more
// is ELOOP, as in the kernel's own lookup.
func TestAttackMaxLinks(t *testing.T) {
	for _, res := range resolvers {
		for _, n := range []int{MaxLinks, MaxLinks + 1} {
			t.Run(fmt.Sprintf("%s/%d", res.name, n), func(t *testing.T) {
				links := map[string]string{fmt.Sprintf("/l%d", n-1): "/etc/secret"}
				for i := range n - 1 {
					links[fmt.Sprintf("/l%d", i)] = fmt.Sprintf("l%d", i+1)
				}
				r := newLab(t, links).open(t, res.walk)
				got, err := read(t, r, "/l0")
				if n <= MaxLinks && (err != nil || got != "jail:/etc/secret") {
					t.Errorf("ReadFile through %d links = %q, %v; want the file", n, got, err)
				}
				if n > MaxLinks && !errors.Is(err, unix.ELOOP) {
					t.Errorf("ReadFile through %d links = %q, %v; want ELOOP", n, got, err)
				}
			})
		}
	}
}

// TestAttackMagicLinks: with a real procfs inside the jail (as when the
// host's /proc is bound into a tree), a symlink to /proc/self/root or to
// /proc/self/fd/N, or a path through them, does not jump out of the jail.
// It needs root (a private mount namespace, on one thread).
func TestAttackMagicLinks(t *testing.T) {
	testutil.RequireRoot(t) // to bind /proc in a private mount namespace
	l := newLab(t, nil)
	host, err := os.Open(l.secret)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	fd := strconv.Itoa(int(host.Fd()))
	links := map[string]string{
		"/root-link": "/proc/self/root" + l.secret,
		"/fd-link":   "/proc/self/fd/" + fd,
		"/pid-link":  "/proc/" + strconv.Itoa(os.Getpid()) + "/root" + l.secret,
		"/cwd-link":  "/proc/thread-self/cwd",
	}
	l.link(t, links)
	paths := []string{"/root-link", "/fd-link", "/pid-link", "/cwd-link" + l.secret,
		"/proc/self/root" + l.secret, "/proc/self/fd/" + fd, "/proc/thread-self/fd/" + fd}
	if err := os.Mkdir(filepath.Join(l.jail, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	inMountNS(t, func() {
		if err := unix.Mount("/proc", filepath.Join(l.jail, "proc"), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			t.Errorf("bind /proc into the jail: %v", err)
			return
		}
		for _, res := range resolvers {
			if !res.walk && !haveOpenat2() {
				continue
			}
			r, err := OpenRoot(l.jail)
			if err != nil {
				t.Error(err)
				return
			}
			r.forceWalk = res.walk
			if _, err := r.Stat("/proc/1/status", FollowNone); err != nil {
				t.Errorf("%s: the jail's /proc is not a procfs (Stat(/proc/1/status) = %v): the test proves nothing", res.name, err)
			}
			for _, p := range paths {
				if got, err := read(t, r, p); !errors.Is(err, unix.ELOOP) {
					t.Errorf("%s: ReadFile(%q) = %q, %v; want ELOOP (a magic link)", res.name, p, got, err)
				}
			}
			r.Close()
		}
	})
}

// inMountNS runs f on a thread of its own in a private mount namespace;
// the thread ends with f, so nothing mounted in f reaches the host.
func inMountNS(t *testing.T, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			t.Errorf("unshare the mount namespace: %v", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Errorf("make mounts private: %v", err)
			return
		}
		f()
	}()
	<-done
}

// TestAttackSwappedSymlink: while lookups run, a directory of the jail is
// exchanged again and again with a symlink that climbs out of the tree (as
// a process in the jail can do); no lookup reads the host's file, each
// reads one of the two jail files or fails.
func TestAttackSwappedSymlink(t *testing.T) {
	for _, res := range resolvers {
		t.Run(res.name, func(t *testing.T) {
			l := newLab(t, nil)
			hostDir := filepath.Dir(l.secret)
			if err := os.Symlink("../../../../../../../../../.."+hostDir, filepath.Join(l.jail, "s")); err != nil {
				t.Fatal(err)
			}
			r := l.open(t, res.walk)
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, s := filepath.Join(l.jail, "a"), filepath.Join(l.jail, "s")
				for !stop.Load() {
					unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, s, unix.RENAME_EXCHANGE)
				}
			}()
			// As a directory, a holds b/file; as the symlink, the decoy.
			ok := map[string]bool{"jail:/a/b/file": true, "jail:" + l.secret: true}
			found := 0
			for i := range 4000 {
				p := []string{"/a/b/file", "/a/../a/b/file", "/a/secret", "/s/../s/secret"}[i%4]
				got, err := read(t, r, p)
				if err == nil && !ok[got] {
					t.Errorf("ReadFile(%q) = %q: not a file of the jail", p, got)
				}
				if err == nil {
					found++
				}
			}
			stop.Store(true)
			wg.Wait()
			t.Logf("%d of 4000 lookups found a file while the tree changed", found)
		})
	}
}
