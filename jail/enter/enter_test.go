//go:build linux

package enter

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/jailer-dev/jailer/manifest"
	"golang.org/x/sys/unix"
)

func TestEnterExitStatus(t *testing.T) {
	dir := shellJail(t)
	tests := []struct {
		name string
		argv []string
		edit func(*Options)
		code int
		msg  string
	}{
		{"success", []string{"true"}, nil, 0, ""},
		{"exit code", []string{"bash", "-c", "exit 7"}, nil, 7, ""},
		{"signal", []string{"bash", "-c", "kill -TERM $$"}, nil, 128 + 15, ""},
		{"not found", []string{"no-such-cmd"}, nil, ExitNotFound, "not exist"},
		{"not executable", []string{"/etc/passwd"}, nil, ExitCannotExec, "not an executable"},
		{"timeout", []string{"sleep", "30"}, func(o *Options) { o.Limits.Timeout = 300 * time.Millisecond }, ExitTimeout, "timed out"},
		{"unknown user", []string{"true"}, func(o *Options) { o.User = "nobody-here" }, ExitSetupFailed, "not in the jail's /etc/passwd"},
		{"unknown group", []string{"true"}, func(o *Options) { o.User = "tester:no-such-group" }, ExitSetupFailed, "not in the jail's /etc/group"},
		{"workdir missing", []string{"true"}, func(o *Options) { o.Workdir = "/nope" }, ExitSetupFailed, "workdir /nope: no such directory in the jail"},
		{"workdir is a file", []string{"true"}, func(o *Options) { o.Workdir = "/bin/true" }, ExitSetupFailed, "workdir /bin/true: not a directory in the jail"},
		{"workdir missing in a plain chroot", []string{"true"}, func(o *Options) {
			o.NoNamespaces = true
			o.Workdir = "/nope"
		}, ExitSetupFailed, "workdir /nope: no such directory in the jail"},
		{"relative command from the workdir", []string{"./true"}, func(o *Options) { o.Workdir = "/bin" }, 0, ""},
		{"no mount namespace", []string{"true"}, func(o *Options) { o.Namespaces = []string{"pid"} }, ExitSetupFailed, "mount namespace"},
		{"a read-only jail written into (--persist) gets no new mount targets", []string{"true"}, func(o *Options) {
			o.Readonly = true
			o.Persist = true
			o.Mounts = append(o.Mounts, mountTmpfs("/made/by/enter"))
		}, ExitSetupFailed, "mount target /made/by/enter: no such directory in the jail, and a read-only jail gets no new ones (add it under dirs: and rebuild)"},
		{"a read-only fresh root gets new mount targets", []string{"touch", "/made/by/enter/x"}, func(o *Options) {
			o.Readonly = true
			o.Mounts = append(o.Mounts, mountTmpfs("/made/by/enter"))
		}, 0, ""},
		{"read-only: no writes into the fresh root either", []string{"touch", "/x"}, func(o *Options) { o.Readonly = true }, 1, ""},
		{"--keep-changes needs a fresh root", []string{"true"}, func(o *Options) {
			o.Persist = true
			o.KeepChanges = "/nonexistent"
		}, ExitSetupFailed, "--keep-changes saves what a run changed in its fresh root"},
		{"--output in a plain chroot", []string{"true"}, func(o *Options) {
			o.NoNamespaces = true
			o.Outputs = []Output{{Host: "/nonexistent", Target: "/out"}}
		}, ExitSetupFailed, "need a mount namespace"},
		{"no pid namespace: no /proc", []string{"true"}, func(o *Options) { o.Namespaces = []string{"mount", "uts"} }, ExitSetupFailed, "without a PID namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, err := runIn(t, dir, tt.edit, tt.argv...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (err %v, output %q)", code, tt.code, err, out)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("error %v, want it to mention %q", err, tt.msg)
			}
		})
	}
}

// TestEnterInside checks, from inside a jail entered with defaults, what
// the command sees: its environment, fds, namespaces and privileges.
func TestEnterInside(t *testing.T) {
	dir := shellJail(t)
	os.Setenv("JAILER_TEST_SECRET", "leak")
	defer os.Unsetenv("JAILER_TEST_SECRET")
	tests := []struct {
		name   string
		script string
		edit   func(*Options)
		want   []string
		absent []string
	}{
		{"environment cleared then set", "echo GREETING=$GREETING SECRET=$JAILER_TEST_SECRET PATH=$PATH", nil,
			[]string{"GREETING=hello SECRET= PATH=/bin"}, nil},
		{"only stdio fds", "ls /proc/self/fd", nil,
			[]string{"0\n1\n2\n3\n"}, nil},
		{"PID 1 is the init, the command is in a new session", "cat /proc/1/comm; read -r pid comm state ppid pgrp sid rest < /proc/self/stat; [ $pid = $sid ] && echo own-session; echo ppid=$ppid", nil,
			[]string{"jailer-init\n", "own-session", "ppid=1\n"}, nil},
		{"hostname from the manifest name", "cat /proc/sys/kernel/hostname", nil, []string{"shell\n"}, nil},
		{"hostname flag", "cat /proc/sys/kernel/hostname", func(o *Options) { o.Hostname = "h2" }, []string{"h2\n"}, nil},
		{"root keeps no dangerous capability", "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status", nil,
			[]string{"NoNewPrivs:\t1", "Seccomp:\t2", "CapBnd:\t" + capHex(jailinit.KeptCaps()...)}, nil},
		{"a user has no capabilities", "grep -E '^(CapEff|CapPrm):' /proc/self/status; id", func(o *Options) { o.User = "tester" },
			[]string{"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "uid=1000(tester)"}, nil},
		{"user with group", "id -u; id -g", func(o *Options) { o.User = "1000:5" }, []string{"1000\n5\n"}, nil},
		{"workdir", "pwd", func(o *Options) { o.Workdir = "/tmp" }, []string{"/tmp\n"}, nil},
		{"read-only root", "touch /x 2>&1; touch /tmp/y && echo tmp-ok", func(o *Options) {
			o.Readonly = true
			o.Mounts = append(o.Mounts, mountTmpfs("/tmp"))
		}, []string{"Read-only file system", "tmp-ok"}, nil},
		{"user namespace", "cat /proc/self/uid_map; id -u", func(o *Options) { o.Namespaces = append(o.Namespaces, "user") },
			[]string{"2147483648", "0\n"}, nil},
		// Up: a connection to a closed port is refused, where a
		// loopback down would make the network unreachable. Not the
		// host's, with or without a user namespace.
		{"network namespace: loopback only, up", "cat /proc/net/dev; cat /proc/net/route; ls -l /proc/self/ns/net; (exec 3<>/dev/tcp/127.0.0.1/1) 2>&1; true",
			func(o *Options) { o.Namespaces = append(o.Namespaces, "net") }, []string{"lo:", "Connection refused"}, []string{"eth0", "ens", "veth", "ifb", hostNetns(t)}},
		{"network namespace, with a user namespace: loopback up, not the host's", "cat /proc/net/dev; ls -l /proc/self/ns/net; (exec 3<>/dev/tcp/127.0.0.1/1) 2>&1; true",
			func(o *Options) { o.Namespaces = append(o.Namespaces, "net", "user") }, []string{"lo:", "Connection refused"}, []string{"eth0", hostNetns(t)}},
		{"the machine's sysctls are read-only (core_pattern would run a program as host root)",
			"echo '|/bin/sh /tmp/x' > /proc/sys/kernel/core_pattern; echo rc=$?; cat /proc/sys/kernel/core_pattern", nil,
			[]string{"Read-only file system", "rc=1"}, []string{"|/bin/sh"}},
		{"minimal /dev", "ls /dev", nil, []string{"fd\nfull\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n"}, nil},
		{"zombies are reaped", "for i in 1 2 3 4 5; do (sleep 0.01 &); done; sleep 0.3; grep -l 'State:.*Z' /proc/[0-9]*/status | wc -l", nil,
			[]string{"0\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, err := runIn(t, dir, tt.edit, "bash", "-c", tt.script)
			if code != 0 || err != nil {
				t.Fatalf("exit %d, %v, output %q", code, err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("output %q has %q", out, a)
				}
			}
		})
	}
}

// capHex formats a capability set as /proc/PID/status shows it.
func capHex(caps ...int) string {
	var v uint64
	for _, c := range caps {
		v |= 1 << uint(c)
	}
	return fmt.Sprintf("%016x", v)
}

func TestEnterKillsTheRestWhenTheCommandExits(t *testing.T) {
	dir := shellJail(t)
	tag := strconv.Itoa(4000 + os.Getpid()%1000)
	code, out, err := runIn(t, dir, nil, "bash", "-c", "sleep "+tag+" & echo started")
	if code != 0 || err != nil {
		t.Fatalf("exit %d, %v, %q", code, err, out)
	}
	time.Sleep(100 * time.Millisecond)
	if pids := processesWith(t, "sleep "+tag); len(pids) > 0 {
		t.Errorf("background process survived the jail: %v", pids)
	}
}

// processesWith lists host pids whose command line is exactly cmdline.
func processesWith(t *testing.T, cmdline string) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == cmdline {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestEnterMounts(t *testing.T) {
	dir := shellJail(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "in.txt"), []byte("from host"), 0o644)
	// A mount inside the source must be read-only in the jail too.
	sub := filepath.Join(src, "sub")
	os.Mkdir(sub, 0o755)
	if err := syscall.Mount("tmpfs", sub, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(sub, syscall.MNT_DETACH)
	code, out, err := runIn(t, dir, func(o *Options) {
		o.Mounts = append(o.Mounts,
			bindMount(src, "/src", true),
			mountTmpfs("/scratch"))
	}, "bash", "-c", "cat /src/in.txt; echo; touch /src/new 2>&1; touch /src/sub/new 2>&1; touch /scratch/ok && echo scratch-ok")
	if code != 0 || err != nil {
		t.Fatalf("exit %d, %v, %q", code, err, out)
	}
	for _, w := range []string{"from host", "Read-only file system", "scratch-ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("output %q lacks %q", out, w)
		}
	}
	for _, f := range []string{"new", "sub/new"} {
		if _, err := os.Stat(filepath.Join(src, f)); err == nil {
			t.Errorf("a read-only bind mount was written: %s", f)
		}
	}
	assertNoMountsUnder(t, dir)
}

// assertNoMountsUnder fails when the host has a mount at or below dir.
func assertNoMountsUnder(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			t.Errorf("a mount is left on the host: %s", sc.Text())
		}
	}
}

func TestEnterLimits(t *testing.T) {
	dir := shellJail(t)
	t.Run("fork bomb under pids 64", func(t *testing.T) {
		code, out, err := runIn(t, dir, func(o *Options) {
			o.Limits.Pids = 64
			o.Limits.Timeout = 20 * time.Second
		}, "/bin/sh", "-c", "(i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#")
		if code != 0 || err != nil {
			t.Fatalf("exit %d, %v, %q", code, err, out)
		}
		// /proc lists the init too, which the limit does not count.
		lines := strings.Fields(out)
		running, _ := strconv.Atoi(lines[len(lines)-1])
		if running < 10 || running > 64+1 {
			t.Errorf("%d processes in the jail under pids 64 (output %q)", running, out)
		}
	})
	t.Run("a small pids limit counts the command only", func(t *testing.T) {
		// The init's own threads once counted: --pids 5 to 8 failed to start.
		for n := 1; n <= 8; n++ {
			code, out, err := runIn(t, dir, func(o *Options) { o.Limits.Pids = n }, "bash", "-c", "echo started")
			if code != 0 || err != nil || out != "started\n" {
				t.Errorf("--pids %d: exit %d, %v, output %q; want the command started", n, code, err, out)
			}
		}
	})
	t.Run("memory hog under 64M", func(t *testing.T) {
		code, out, err := runIn(t, dir, func(o *Options) {
			o.Limits.Memory = 64 << 20
			o.Limits.Timeout = 20 * time.Second
		}, "bash", "-c", "x=a; while true; do x=$x$x; done")
		if code != 137 || err == nil || !strings.Contains(err.Error(), "out of memory (limit 64.0 MiB)") {
			t.Errorf("exit %d, %v (output %q); want 137 and the out-of-memory reason", code, err, out)
		}
	})
	t.Run("nofile", func(t *testing.T) {
		code, out, err := runIn(t, dir, func(o *Options) { o.Limits.Nofile = 100 }, "bash", "-c", "ulimit -n")
		if code != 0 || err != nil || strings.TrimSpace(out) != "100" {
			t.Errorf("ulimit -n = %q (exit %d, %v), want 100", out, code, err)
		}
	})
	t.Run("stale cgroups of a killed jailer are removed", func(t *testing.T) {
		base, err := v1Base("pids")
		if err != nil {
			t.Skip(err)
		}
		stale := filepath.Join(base, cgroupPrefix+"2147483646-dead")
		if err := os.MkdirAll(filepath.Join(stale, cmdCgroup), 0o755); err != nil {
			t.Fatal(err)
		}
		runIn(t, dir, func(o *Options) { o.Limits.Pids = 16 }, "true")
		if _, err := os.Stat(stale); err == nil {
			os.Remove(filepath.Join(stale, cmdCgroup))
			os.Remove(stale)
			t.Error("the cgroup of a jailer that no longer runs was not removed")
		}
	})
	// Every thread of jailer (this test) is back in its own cgroups: one
	// stepped into the jail's to start the init there (startInside).
	tasks, _ := filepath.Glob("/proc/self/task/*/cgroup")
	for _, f := range tasks {
		if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), cgroupPrefix) {
			t.Errorf("%s: a thread of jailer is left in a jail's cgroup:\n%s", f, data)
		}
	}
	// The cgroups are gone with the jail.
	for _, ctrl := range []string{"memory", "pids"} {
		base, err := v1Base(ctrl)
		if err != nil {
			continue
		}
		if left, _ := filepath.Glob(filepath.Join(base, cgroupPrefix+strconv.Itoa(os.Getpid())+"-*")); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
}

func TestEnterConcurrently(t *testing.T) {
	dir := shellJail(t)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, err := runIn(t, dir, func(o *Options) { o.Limits.Pids = 32 }, "bash", "-c", fmt.Sprintf("echo job%d; sleep 0.2", i))
			if code != 0 || err != nil || strings.TrimSpace(out) != fmt.Sprintf("job%d", i) {
				errs <- fmt.Sprintf("enter %d: exit %d, %v, %q", i, code, err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	assertNoMountsUnder(t, dir)
}

// TestEnterPlainChrootTimeout: without a PID namespace to take them down,
// the command and its children still die on timeout.
func TestEnterPlainChrootTimeout(t *testing.T) {
	dir := shellJail(t)
	tag := strconv.Itoa(5000 + os.Getpid()%1000)
	code, _, _ := runIn(t, dir, func(o *Options) {
		o.NoNamespaces = true
		o.Limits.Timeout = 300 * time.Millisecond
	}, "bash", "-c", "sleep "+tag+" & sleep "+tag)
	if code != ExitTimeout {
		t.Errorf("exit %d, want %d", code, ExitTimeout)
	}
	time.Sleep(100 * time.Millisecond)
	if pids := processesWith(t, "sleep "+tag); len(pids) > 0 {
		t.Errorf("processes survived the timeout: %v", pids)
	}
}

func TestEnterPlainChroot(t *testing.T) {
	dir := shellJail(t)
	code, out, err := runIn(t, dir, func(o *Options) { o.NoNamespaces = true }, "bash", "-c", "ls / | grep -c . ; echo $GREETING")
	if code != 0 || err != nil || !strings.Contains(out, "hello") {
		t.Errorf("plain chroot: exit %d, %v, %q", code, err, out)
	}
}

// TestEnterHardlinkedJail: a jail whose files are the host's (built with
// --link hardlink) runs in a fresh root like any other, where writing its
// files copies them up and leaves the host's alone; writing into the tree
// itself (--persist, or a plain chroot) is refused.
func TestEnterHardlinkedJail(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	host := filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho host\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/bash, /bin/sh, /bin/touch, /bin/chmod]\nfiles: [{src: ./tool.sh, dest: /bin/tool.sh}]\n")
	mustBuild(t, m, build.Options{Link: lockfile.LinkHardlink})
	jail := filepath.Join(dir, "jail")
	if fi, hi := statT(t, filepath.Join(jail, "bin/tool.sh")), statT(t, host); fi.Ino != hi.Ino {
		t.Fatalf("the jail's tool.sh is not the host's inode: the test proves nothing")
	}
	code, out, err := runIn(t, jail, nil, "/bin/bash", "-c", "echo jail > /bin/tool.sh && chmod 700 /bin/tool.sh && touch /newfile && echo wrote")
	if code != 0 || err != nil || !strings.Contains(out, "wrote") {
		t.Errorf("writing a hardlinked jail's fresh root: exit %d, %v, %q", code, err, out)
	}
	if data, _ := os.ReadFile(host); string(data) != "#!/bin/sh\necho host\n" {
		t.Errorf("the host's file was written through the jail: %q", data)
	}
	if st := statT(t, host); st.Mode&0o777 != 0o755 {
		t.Errorf("the host's file was chmod'ed through the jail: %o", st.Mode)
	}
	for name, edit := range map[string]func(*Options){
		"--persist":       func(o *Options) { o.Persist = true },
		"--no-namespaces": func(o *Options) { o.NoNamespaces = true },
	} {
		code, _, err := runIn(t, jail, edit, "/bin/touch", "/x")
		if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "built with --link hardlink") {
			t.Errorf("%s on a hardlinked jail: exit %d, %v; want it refused", name, code, err)
		}
	}
}

func statT(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEnterSignalForwarding(t *testing.T) {
	for _, mode := range []string{"namespaces", "plain chroot"} {
		t.Run(mode, func(t *testing.T) { testSignalForwarding(t, mode == "plain chroot") })
	}
}

func testSignalForwarding(t *testing.T, plain bool) {
	dir := shellJail(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+dir)
	if plain {
		cmd.Env = append(cmd.Env, "JAILER_TEST_NONS=1")
	}
	cmd.Args = append(cmd.Args, "--", "bash", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; sleep 30 & wait")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := r.ReadString('\n')
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 42 || rest != "got-term\n" {
		t.Errorf("after SIGTERM: exit %d (%v), output %q; want the command's trap to run and exit 42", cmd.ProcessState.ExitCode(), err, rest)
	}
}

func mountTmpfs(target string) manifest.Mount { return manifest.Mount{Type: "tmpfs", Target: target} }

func bindMount(src, target string, ro bool) manifest.Mount {
	return manifest.Mount{Type: "bind", Source: src, Target: target, Readonly: ro}
}

// TestEnterInteractive drives `enter` through a pty as a person would: an
// interactive bash with job control, where Ctrl-C stops the foreground job
// and not the shell.
func TestEnterInteractive(t *testing.T) {
	dir := shellJail(t)
	master, slave, err := openPtyPair()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "bash", "--norc", "-i")
	cmd.Env = append(os.Environ(), "JAILER_TEST_ENTER="+dir, "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var screen strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			ok := strings.Contains(screen.String(), s)
			mu.Unlock()
			if ok {
				return
			}
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("screen never showed %q:\n%s", s, screen.String())
	}
	type_ := func(s string) { master.Write([]byte(s)) }
	type_("[ -t 0 ] && echo is-a-$((1+1))-tty\n")
	waitFor("is-a-2-tty")
	type_("sleep 300 &\n")
	type_("jobs\n")
	waitFor("Running")
	type_("sleep 200\n")
	time.Sleep(300 * time.Millisecond)
	type_("\x03") // Ctrl-C: kills the foreground sleep, not bash
	type_("echo alive-$((6*7))\n")
	waitFor("alive-42")
	type_("exit 3\n")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the interactive jail did not exit")
	}
	if cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("exit %d, want the shell's 3", cmd.ProcessState.ExitCode())
	}
}

// openPtyPair opens a new pseudo-terminal pair.
func openPtyPair() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// TestFromLockIsolatedByDefault: what a lock records becomes the options
// Run gets. A lock written before network, ipc and the default pids limit
// existed (it lists mount, uts and pid) is entered isolated too.
func TestFromLockIsolatedByDefault(t *testing.T) {
	pids := func(n int) *int { return &n }
	tests := []struct {
		name        string
		enter       manifest.Enter
		namespaces  []string
		pids        int
		pidsDefault bool
	}{
		{"nothing recorded", manifest.Enter{}, []string{"mount", "uts", "pid", "net", "ipc"}, manifest.DefaultPids, true},
		{"an old lock", manifest.Enter{Namespaces: []string{"mount", "uts", "pid"}}, []string{"mount", "uts", "pid", "net", "ipc"}, manifest.DefaultPids, true},
		{"network host", manifest.Enter{Namespaces: []string{"mount", "uts", "pid", "ipc"}, Network: "host", IPC: "private"}, []string{"mount", "uts", "pid", "ipc"}, manifest.DefaultPids, true},
		{"ipc host, user", manifest.Enter{Namespaces: []string{"mount", "uts", "pid", "user"}, IPC: "host"}, []string{"mount", "uts", "pid", "user", "net"}, manifest.DefaultPids, true},
		{"pids asked for", manifest.Enter{Limits: manifest.Limits{Pids: pids(64)}}, []string{"mount", "uts", "pid", "net", "ipc"}, 64, false},
		{"no pids limit", manifest.Enter{Limits: manifest.Limits{Pids: pids(0)}}, []string{"mount", "uts", "pid", "net", "ipc"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := FromLock(&lockfile.Lock{Name: "j", Enter: tt.enter})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.Namespaces, tt.namespaces) || o.Limits.Pids != tt.pids || o.Limits.PidsDefault != tt.pidsDefault {
				t.Errorf("FromLock(%+v) = namespaces %q, pids %d (default %v); want %q, %d (default %v)",
					tt.enter, o.Namespaces, o.Limits.Pids, o.Limits.PidsDefault, tt.namespaces, tt.pids, tt.pidsDefault)
			}
		})
	}
}

func TestSetNamespace(t *testing.T) {
	o := Options{Namespaces: []string{"mount", "uts", "pid", "net", "ipc"}}
	o.SetNamespace("net", false)
	o.SetNamespace("ipc", true)
	o.SetNamespace("user", true)
	o.SetNamespace("cgroup", false)
	if want := []string{"mount", "uts", "pid", "ipc", "user"}; !slices.Equal(o.Namespaces, want) {
		t.Errorf("Namespaces = %q, want %q", o.Namespaces, want)
	}
}

// TestStdioCheck: a directory or an O_PATH descriptor on fd 0, 1 or 2 is
// refused before anything starts; files, pipes, terminals and sockets
// are what a command is given.
func TestStdioCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(p string, flags int) *os.File {
		fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), p)
		t.Cleanup(func() { f.Close() })
		return f
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sock := os.NewFile(uintptr(sp[0]), "socket")
	defer sock.Close()
	defer unix.Close(sp[1])
	null := open(os.DevNull, unix.O_RDWR)
	tests := []struct {
		name  string
		stdio Stdio
		want  string // "" for none
	}{
		{"files, pipes, sockets", Stdio{In: open(file, unix.O_RDONLY), Out: pw, Err: sock}, ""},
		{"/dev/null and a pipe", Stdio{In: pr, Out: null, Err: null}, ""},
		{"a directory as stdin", Stdio{In: open(dir, unix.O_RDONLY|unix.O_DIRECTORY), Out: null, Err: null}, "stdin is the directory " + dir + ", through which the command could leave the jail"},
		{"an O_PATH directory as stderr", Stdio{In: null, Out: null, Err: open(dir, unix.O_PATH)}, "stderr is an O_PATH descriptor of " + dir},
		{"an O_PATH file as stdout", Stdio{In: null, Out: open(file, unix.O_PATH), Err: null}, "stdout is an O_PATH descriptor of " + file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.stdio.check()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("check() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("check() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestCgroupPidsLayout: the pids limit is on a child cgroup of the jail's
// (cmd), which only the command joins; on a unified hierarchy cmd is
// threaded, so that the init's forking thread can step in and out. The
// kernel's part is not here (this test writes into a plain directory laid
// out as cgroupfs): it runs in TestEnterLimits and TestEscapeForkCount.
func TestCgroupPidsLayout(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v1", true: "v2"}[v2], func(t *testing.T) {
			root := t.TempDir()
			old := cgroupRoot
			cgroupRoot = root
			defer func() { cgroupRoot = old }()
			base := filepath.Join(root, "pids", selfCgroup("pids"))
			threads := "tasks"
			if v2 {
				base = filepath.Join(root, selfCgroup(""))
				threads = "cgroup.threads"
				os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644)
				os.MkdirAll(base, 0o755)
				os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("cpu memory pids\n"), 0o644)
			} else {
				os.MkdirAll(base, 0o755)
				os.WriteFile(filepath.Join(root, "pids", "cgroup.procs"), nil, 0o644)
			}
			cg, err := newCgroup(Limits{Pids: 8}, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(cg.dirs) != 1 || filepath.Dir(cg.dirs[0]) != base || cg.cmd != filepath.Join(cg.dirs[0], cmdCgroup) || cg.v2 != v2 {
				t.Fatalf("newCgroup = %+v, want one directory below %s with its cmd child", cg, base)
			}
			want := map[string]string{filepath.Join(cg.cmd, "pids.max"): "9"}
			if v2 {
				want[filepath.Join(cg.cmd, "cgroup.type")] = "threaded"
				want[filepath.Join(cg.dirs[0], "cgroup.subtree_control")] = "+pids"
			}
			for f, w := range want {
				if got, err := os.ReadFile(f); err != nil || string(got) != w {
					t.Errorf("%s = %q, %v; want %q", f, got, err, w)
				}
			}
			for _, f := range []string{filepath.Join(cg.cmd, threads), filepath.Join(cg.dirs[0], threads)} {
				os.WriteFile(f, nil, 0o644) // the kernel makes these
			}
			hop, files, err := cg.hopFiles(5)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []string{filepath.Join(cg.cmd, threads), filepath.Join(cg.cmd, "pids.max"), filepath.Join(cg.dirs[0], threads)} {
				if files[i].Name() != want {
					t.Errorf("hop file %d = %s, want %s", i, files[i].Name(), want)
				}
				files[i].Close()
			}
			if *hop != (jailinit.PidsHop{Into: 5, Limit: 6, Back: 7, Pids: 8}) {
				t.Errorf("hop = %+v, want fds 5, 6, 7 and pids 8", *hop)
			}
		})
	}
}

// hostNetns is the test's own network namespace, as readlink shows it.
func hostNetns(t *testing.T) string {
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
