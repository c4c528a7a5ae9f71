//go:build linux

package enter

// Attacks from a security review of jailer exec, --net user and file
// binds: what a jail, or another user, can take from the caller.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/runs"
)

// holders are the host processes other than this one that have f open
// (the same file, however their namespaces name it).
func holders(f *os.File) []string {
	want, err := f.Stat()
	if err != nil {
		return []string{err.Error()}
	}
	var pids []string
	self := strconv.Itoa(os.Getpid())
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil || p.Name() == self {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if fi, err := os.Stat(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil && os.SameFile(fi, want) {
				pids = append(pids, p.Name())
				break
			}
		}
	}
	return pids
}

// TestExecCallerTerminalOutlivesExec: `jailer exec ID cmd > out.txt` on a
// terminal is not interactive (stdout is no terminal), so the command gets
// the caller's terminal itself as stdin and stderr. The jail outlives the
// exec: what the command leaves behind (the jail controls the programs of
// its fresh root, and its processes may ptrace the command) keeps the
// caller's terminal after jailer exec has returned, and reads what the
// caller types next into their shell (a sudo password). jailer enter does
// not have this: the jail ends before enter returns.
func TestExecCallerTerminalOutlivesExec(t *testing.T) {
	j := startRootJail(t, liveScript)
	master, slave := escOpenPty(t)
	_ = master // kept open: the terminal stays up, as the caller's does
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// A command that leaves a reader of its stderr behind, as a program
	// the jail replaced would.
	o := ExecOptions{Command: []string{"/bin/sh", "-c", "cat <&2 > /tmp/stolen & exit 0"}}
	code, err := Exec(context.Background(), j.rec, o, Stdio{In: slave, Out: out, Err: slave})
	if err != nil || code != 0 {
		t.Fatalf("exec = %d, %v", code, err)
	}
	if pids := holders(slave); len(pids) > 0 {
		t.Errorf("after jailer exec returned, process(es) %v of the jail still hold the caller's terminal %s: they read what is typed into the caller's shell (give the command pipes, or a pty of its own, never the caller's terminal)", pids, slave.Name())
	}
	if code := j.end(t); code != 0 {
		t.Errorf("the jail's command exited %d, want 0", code)
	}
}

// TestExecRecordPlantedByAnotherUser: an unprivileged user writes a record
// into their own runtime directory that names root's jail tree and a
// socket of their own, backed by a process of theirs so that it counts as
// alive. root's `jailer exec TREE cmd` (its own jail of TREE has ended,
// or not started yet) must not take it for its jail: it would send root's
// stdin, stdout and stderr to the user's socket and print what the user
// answers as the command's output and status.
func TestExecRecordPlantedByAnotherUser(t *testing.T) {
	u := testutil.RequireUser(t, testutil.CINoIDsUser)
	tree := shellJail(t)
	dir := fmt.Sprintf("/tmp/jailer-%d", u.UID)
	switch err := os.Mkdir(dir, 0o700); {
	case err == nil:
		t.Cleanup(func() { os.Remove(dir) }) // only when empty: the user's own runs may use it
		if err := os.Chown(dir, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	case !errors.Is(err, fs.ErrExist):
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil || int(st.Uid) != u.UID || st.Mode&0o077 != 0 {
		t.Fatalf("%s is not %s's own runtime directory (%v)", dir, u.Name, err)
	}
	sleeper := u.Command("sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	start, err := runs.StartTime(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := newToken()[3:11]
	// The user binds the socket and writes the record; the test does it
	// for them and gives both to them, which is the same to jailer.
	sock := runs.SocketPath(dir, id)
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sock) })
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(map[string]any{
		"id": id, "tree": tree, "command": []string{"/bin/sh"}, "pid": sleeper.Process.Pid, "pid_start": start,
		"started": time.Now(), "net": "none", "exec": true,
	})
	recPath := filepath.Join(dir, id+".json")
	if err := os.WriteFile(recPath, rec, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(recPath) })
	for _, p := range []string{sock, recPath} {
		if err := os.Lchown(p, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
	// The user's side: take the request, keep the descriptors, say that
	// the command ran and exited 0.
	got := make(chan int, 1)
	go func() {
		conn, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			got <- -1
			return
		}
		defer unix.Close(conn)
		buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(3*4))
		_, oobn, _, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
		fds := 0
		if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && perr == nil {
			for _, m := range msgs {
				if r, err := unix.ParseUnixRights(&m); err == nil {
					fds += len(r)
					for _, fd := range r {
						unix.Close(fd)
					}
				}
			}
		}
		got <- fds // before the answer, which Exec waits for
		unix.Write(conn, []byte("0 started 1"))
		unix.Write(conn, []byte("exit 0"))
	}()

	r, err := runs.Find(tree)
	if err != nil {
		return // refused: root's exec of its tree does not reach the user's record
	}
	if r.Owner != 0 {
		t.Errorf("as root, %s (a tree of root's) names the record uid %d wrote in %s", tree, r.Owner, r.Dir())
	}
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	code, err := Exec(context.Background(), r, ExecOptions{Command: []string{"cat", "/etc/shadow"}}, Stdio{In: stdin, Out: os.Stderr, Err: os.Stderr})
	select {
	case n := <-got:
		if n > 0 {
			t.Errorf("root's jailer exec %s sent root's stdin, stdout and stderr (%d descriptors) to a socket of uid %d's, and took its answer as the command's (exit %d, %v)", tree, n, u.UID, code, err)
		}
	default:
	}
}

// TestUserNetSlirpInheritsNoCallerFds: slirp4netns parses what the jail
// sends (as root, on the host, in its sandbox): it must hold only the
// descriptors jailer gives it, not whatever jailer's caller left open
// without close-on-exec (a shell's `exec 7</root/secret`, a CI runner's
// pipes), which the jail would hold if it took slirp4netns over.
func TestUserNetSlirpInheritsNoCallerFds(t *testing.T) {
	testutil.RequireTool(t, "slirp4netns")
	jail := shellJail(t)
	secret, err := os.CreateTemp(t.TempDir(), "caller-secret")
	if err != nil {
		t.Fatal(err)
	}
	defer secret.Close()
	inherited, err := unix.Dup(int(secret.Fd())) // dup(2) leaves close-on-exec off, as a shell's redirection does
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(inherited)
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	opts, err := Defaults(jail)
	if err != nil {
		t.Fatal(err)
	}
	opts.User, opts.Net = "root", NetUser
	opts.Command = []string{"/bin/bash", "-c", "echo ready; read x"}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), jail, opts, Stdio{In: inR, Out: outW, Err: outW})
		outW.Close()
		done <- err
	}()
	defer func() { inW.Close(); <-done }()
	line := make([]byte, 6)
	if n, err := outR.Read(line); err != nil || string(line[:n]) != "ready\n" {
		t.Fatalf("the jail's first output %q, %v", line[:n], err)
	}
	slirps := slirpChildren(t, os.Getpid())
	if len(slirps) != 1 {
		t.Fatalf("slirp4netns children of the test: %v, want one", slirps)
	}
	if pids := holders(secret); slices.Contains(pids, strconv.Itoa(slirps[0])) {
		t.Errorf("slirp4netns (pid %d), which parses the jail's packets, holds the caller's descriptor %d of %s (start it with only its own descriptors: mark the caller's close-on-exec first)", slirps[0], inherited, secret.Name())
	}
}

// TestClaimTargetsRefusesAHardLinkedJournal: whoever may write the
// directory beside the tree can put a hard link to a file of jailer's
// user where the journal goes (a root-owned file where
// fs.protected_hardlinks is 0). The journal is then truncated and
// written over, and the file's content is lost: a journal with other
// links must be refused like one of another owner's.
func TestClaimTargetsRefusesAHardLinkedJournal(t *testing.T) {
	testutil.RequireRoot(t)
	tree := newTargetTree(t)
	victim := filepath.Join(t.TempDir(), "victim")
	const content = "a file of root's, not a journal\n"
	if err := os.WriteFile(victim, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(victim, targetsPath(tree)); err != nil {
		t.Fatal(err)
	}
	c, err := claimTargets(tree, []string{"/new"}, nil, true)
	if err == nil {
		c.release()
	}
	if got, _ := os.ReadFile(victim); string(got) != content {
		t.Errorf("claimTargets wrote through a journal hard-linked to %s: it now holds %q", victim, got)
	}
}

// TestExecSocketOutOfTheJailsReach: the init holds the listening socket
// jailer exec connects to, and processes of the jail may ptrace each
// other. A command of the jail (here one run by jailer exec, forked as the
// jail's command is) finds no listening socket among its descriptors, and
// can take none from the init: pidfd_getfd and /proc/1/fd are refused
// (the init is non-dumpable). The control: root on the host takes the
// init's socket with pidfd_getfd and finds it bound to the record's path.
func TestExecSocketOutOfTheJailsReach(t *testing.T) {
	src, err := filepath.Abs("testdata/grabinit/grabinit.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "grabinit")
	testutil.Gcc(t, "-static", "-O1", "-Wall", "-o", bin, src)
	j := startRootJail(t, liveScript)

	pidfd, err := unix.PidfdOpen(j.rec.PID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	found := false
	for fd := 0; fd < 1024 && !found; fd++ {
		got, err := unix.PidfdGetfd(pidfd, fd, 0)
		if err != nil {
			continue
		}
		acc, _ := unix.GetsockoptInt(got, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		sa, _ := unix.Getsockname(got)
		if ua, ok := sa.(*unix.SockaddrUnix); ok && acc == 1 && ua.Name == j.rec.Socket {
			found = true
		}
		unix.Close(got)
	}
	if !found {
		t.Fatalf("control: the init (pid %d) holds no listening socket bound to %s: the test cannot tell whether the jail could take it", j.rec.PID, j.rec.Socket)
	}

	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if code, out, err := execIn(t, j.rec, ExecOptions{Command: []string{"/bin/sh", "-c", "cat > /tmp/grabinit && chmod 755 /tmp/grabinit"}}, f); code != 0 || err != nil {
		t.Fatalf("copy grabinit into the jail: exit %d, %v: %s", code, err, out)
	}
	code, out, err := execIn(t, j.rec, ExecOptions{Command: []string{"/tmp/grabinit"}}, nil)
	if err != nil || code != 0 || !strings.HasPrefix(out, "contained: ") {
		t.Errorf("ESCAPE: a command in the jail reached the init's exec socket: exit %d, %v: %s", code, err, out)
	}
	t.Logf("grabinit: %s", strings.TrimSpace(out))
	if code := j.end(t); code != 0 {
		t.Errorf("the jail's command exited %d, want 0", code)
	}
}

// TestRuntimeDirOutOfABindsReach: a jail that binds a host directory
// holding the caller's runtime directory (`--bind /run:/hostrun` as root)
// would find there the exec sockets of the caller's other jails, and run
// commands in them (each init takes commands from its own uid, which is
// the jail's root here). The init covers the runtime directory in such a
// bind with an empty tmpfs. The control: another jail's record and
// socket are in the host's runtime directory meanwhile.
func TestRuntimeDirOutOfABindsReach(t *testing.T) {
	other := startRootJail(t, liveScript)
	dir := runs.DirPath()
	if _, err := os.Stat(other.rec.Socket); err != nil || filepath.Dir(other.rec.Socket) != dir {
		t.Fatalf("control: the other jail's socket %s is not in the runtime directory %s (%v)", other.rec.Socket, dir, err)
	}
	parent := filepath.Dir(dir)
	inJail := path.Join("/hostdir", filepath.Base(dir))
	code, out, err := runIn(t, shellJail(t), func(o *Options) {
		o.User = "root"
		o.Mounts = append(o.Mounts, bindMount(parent, "/hostdir", true))
	}, "bash", "-c", "ls -A "+inJail+" | wc -l; touch "+inJail+"/x 2>&1 | grep -c 'Read-only'")
	if err != nil || code != 0 || out != "0\n1\n" {
		t.Errorf("in a jail that binds %s, %s: exit %d, %v, output %q; want it empty and read-only (0, 1)", parent, inJail, code, err, out)
	}
	if code := other.end(t); code != 0 {
		t.Errorf("the other jail's command exited %d, want 0", code)
	}
}

// TestRuntimeMasks: which jail paths a bind mount (or an output) brings
// the runtime directory to.
func TestRuntimeMasks(t *testing.T) {
	dir := "/nonexistent-run/jailer" // not there: taken as written
	ms := []jailinit.OrderedMount{
		{Mount: jailinit.Mount{Type: "bind", Source: "/nonexistent-run", Target: "/hostrun"}},
		{Mount: jailinit.Mount{Type: "bind", Source: "/nonexistent-run/jailer", Target: "/rt"}},
		{Mount: jailinit.Mount{Type: "bind", Source: "/", Target: "/host"}},
		{Mount: jailinit.Mount{Type: "bind", Source: "/nonexistent-run/jailer-other", Target: "/other"}},
		{Mount: jailinit.Mount{Type: "bind", Source: "/srv", Target: "/srv"}},
		{Mount: jailinit.Mount{Type: "tmpfs", Target: "/nonexistent-run"}},
		{Mount: jailinit.Mount{Type: "bind", Source: "/nonexistent-run", Target: "/out"}, Output: true},
	}
	want := []string{"/hostrun/jailer", "/rt", "/host/nonexistent-run/jailer", "/out/jailer", "/host/nonexistent-tmp/jailer-1"}
	if got := runtimeMasks([]string{dir, "/nonexistent-tmp/jailer-1"}, ms); !slices.Equal(got, want) {
		t.Errorf("runtimeMasks = %q, want %q", got, want)
	}
}

// TestExecLeftoversDoNotHoldExec: what a command of jailer exec leaves
// running keeps the pipes that stand in for the caller's terminal; jailer
// exec must still return when the command exits: a process that writes
// without end (the copy of what the pipe held when it was cut, and no
// more), and one that holds stdin and reads nothing while the caller
// types on (the copy into the full pipe is cut too).
func TestExecLeftoversDoNotHoldExec(t *testing.T) {
	j := startRootJail(t, liveScript)
	for _, c := range []struct {
		name   string
		script string
		tty    string // which of stdin, stdout is the terminal
	}{
		{"writers without end", "for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero bs=64k 2>/dev/null & done; sleep 0.3; exit 0", "stdout"},
		{"a holder of stdin", "exec 3<&0; sleep 1000 & sleep 0.3; exit 0", "stdin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			master, slave := escOpenPty(t)
			// The caller's terminal: what is written to it is read (as a
			// terminal shows it), and the caller types on and on.
			go io.Copy(io.Discard, master)
			go func() {
				line := []byte(strings.Repeat("typed ", 100) + "\n")
				for {
					if _, err := master.Write(line); err != nil {
						return
					}
				}
			}()
			file, err := os.CreateTemp(t.TempDir(), "io")
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			stdio := Stdio{In: file, Out: slave, Err: slave}
			if c.tty == "stdin" {
				stdio = Stdio{In: slave, Out: file, Err: file}
			}
			done := make(chan error, 1)
			go func() {
				_, err := Exec(context.Background(), j.rec, ExecOptions{Command: []string{"/bin/bash", "-c", c.script}}, stdio)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exec = %v", err)
				}
			case <-time.After(time.Minute): // a bound, not a measure: it returns at once or never
				t.Fatalf("jailer exec has not returned a minute after its command exited: what it left behind holds it")
			}
		})
	}
	if code := j.end(t); code != 0 {
		t.Errorf("the jail's command exited %d, want 0", code)
	}
}
