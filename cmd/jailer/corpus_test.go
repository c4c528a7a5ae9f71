package main

// The corpus test: every dynamically linked program of this machine, in a
// jail, as users would put it there. Our own examples pass where users'
// manifests broke; this test finds the next such defect here first.

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// corpusDirs are where the programs come from.
var corpusDirs = []string{"/usr/bin", "/usr/sbin"}

// corpusNeverRun are programs the test never runs, not even on the host:
// they do not parse --version and act on it (killall5 would signal every
// process), or they take over the machine.
var corpusNeverRun = map[string]bool{
	"killall5": true, "halt": true, "poweroff": true, "reboot": true, "shutdown": true,
	"telinit": true, "init": true, "runlevel": true, "sulogin": true, "agetty": true,
}

// corpusNeedsData are the programs whose --version does not give the
// host's output in a jail of only the program and its libraries: they
// read runtime data that a manifest must add. Each says what, and the
// manifest lines `jailer trace` suggests for it.
var corpusNeedsData = map[string]string{
	"apt":          aptData,
	"apt-cache":    aptData,
	"apt-cdrom":    aptData,
	"apt-config":   aptData,
	"apt-get":      aptData,
	"apt-mark":     aptData,
	"chmem":        "reads /sys/devices/system/memory before its options, and a jail has no /sys (--bind /sys:/sys:ro); trace: nothing missing",
	"gcc-ar":       gccPlugin,
	"gcc-nm":       gccPlugin,
	"gcc-ranlib":   gccPlugin,
	"gdb":          "starts its embedded Python and reads terminfo; trace: profiles: [python, terminfo], files: [/usr/share/gdb]",
	"groff":        "runs troff with the ps device's fonts; trace: files: [/usr/share/groff/1.22.4/font/devps/DESC], and the rest of /usr/share/groff",
	"gsettings":    "needs compiled schemas and a user; trace: files: [/usr/share/glib-2.0/schemas/gschemas.compiled], users:",
	"osslsigncode": "prints where the CA bundle is; trace: files: [/etc/ssl/certs/ca-certificates.crt, /usr/lib/ssl/openssl.cnf] (profiles: [certs])",
	"valgrind.bin": "runs its tool from /usr/libexec/valgrind; trace: binaries: [/usr/libexec/valgrind/memcheck-amd64-linux]",
}

// corpusNeedsDataUnder are the same for every program whose real path is
// below a directory.
var corpusNeedsDataUnder = map[string]string{
	"/usr/lib/jvm/": "a JVM finds libjava.so, libjvm.so and its modules beside itself; trace: files: [/usr/lib/jvm/java-17-openjdk-amd64/lib/libjava.so], then the whole JDK directory",
}

// Reasons shared by several programs.
const (
	aptData   = "reads its configuration and dpkg's database; trace: binaries: [/usr/bin/dpkg], files: [/etc/apt/apt.conf.d, /etc/debian_version, /var/lib/dpkg/status]"
	gccPlugin = "loads GCC's LTO plugin; trace: files: [/usr/lib/gcc/x86_64-linux-gnu/12/liblto_plugin.so]"
)

// needsData returns why the program p is known to need runtime data, or "".
func needsData(p string) string {
	if why, ok := corpusNeedsData[filepath.Base(p)]; ok {
		return why
	}
	real, _ := filepath.EvalSymlinks(p)
	for dir, why := range corpusNeedsDataUnder {
		if strings.HasPrefix(real, dir) {
			return why
		}
	}
	return ""
}

// corpusLines is how many first lines of output must equal the host's.
const corpusLines = 3

// corpusProbe is one run of `PROG --version`: its exit status and first lines.
type corpusProbe struct {
	code int
	out  string
}

func (p corpusProbe) String() string { return fmt.Sprintf("exit %d: %q", p.code, p.out) }

// TestCorpus builds every dynamically linked program in /usr/bin and
// /usr/sbin whose `--version` is deterministic on the host into one flat
// and one preserve jail, runs each through `jailer enter`, and compares
// the first lines of its output and its exit status with the host's.
// A program that differs in preserve must be in corpusNeedsData; flat
// must run every program preserve runs.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the corpus takes a minute or more")
	}
	requireRootCLI(t)
	progs := corpusPrograms(t)
	host := probeAll(progs, hostProbe)
	var stable []string
	for _, p := range progs {
		if h := host[p]; h.code == 0 && h.out != "" && hostProbe(p) == h {
			stable = append(stable, p)
		}
	}
	t.Logf("%d dynamically linked programs, %d with a deterministic --version", len(progs), len(stable))
	if len(stable) < 50 {
		t.Fatalf("only %d programs with a deterministic --version: the corpus is too small to mean anything", len(stable))
	}
	dir := t.TempDir()
	results := map[string]map[string]corpusProbe{}
	for _, layout := range []string{"preserve", "flat"} {
		jailDir := filepath.Join(dir, layout)
		man := filepath.Join(dir, layout+".yaml")
		var b strings.Builder
		fmt.Fprintf(&b, "version: 1\nname: corpus\nlayout: %s\noutput: %s\nbinaries:\n", layout, jailDir)
		for _, p := range stable {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
		if err := os.WriteFile(man, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := jailerCmd("build", "-q", man).CombinedOutput(); err != nil {
			t.Fatalf("jailer build (%s layout): %v\n%s", layout, err, out)
		}
		results[layout] = probeAll(stable, func(p string) corpusProbe { return jailProbe(jailDir, p) })
	}
	ran := 0
	for _, p := range stable {
		name := filepath.Base(p)
		pres, flat := results["preserve"][p], results["flat"][p]
		why := needsData(p)
		known := why != ""
		switch {
		case pres == host[p] && flat == host[p]:
			ran++
			if _, listed := corpusNeedsData[name]; listed {
				t.Errorf("%s runs in a jail now: remove it from corpusNeedsData (%s)", name, why)
			}
		case pres == host[p]:
			t.Errorf("%s: flat layout breaks what preserve runs:\n\thost:     %s\n\tflat:     %s", p, host[p], flat)
		case !known:
			t.Errorf("%s: differs in a jail and is not in corpusNeedsData:\n\thost:     %s\n\tpreserve: %s\n\tflat:     %s", p, host[p], pres, flat)
		}
	}
	t.Logf("%d of %d run as on the host in both layouts; %d need runtime data", ran, len(stable), len(stable)-ran)
}

// requireRootCLI skips a test that needs root under -short, and when not
// root fails it under CI=true and skips it elsewhere: jail/internal/testutil's
// RequireRoot, which cmd cannot import.
func requireRootCLI(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs root")
	}
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root, and CI=true")
	}
	t.Skip("needs root")
}

// corpusPrograms lists the dynamically linked programs of corpusDirs, one
// path per file (a name that is a link to another listed program is left
// out: the jail runs it under its own name, but once is enough).
func corpusPrograms(t *testing.T) []string {
	seen := map[string]bool{}
	names := map[string]bool{}
	var out []string
	for _, dir := range corpusDirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			real, err := filepath.EvalSymlinks(p)
			if err != nil || seen[real] || names[e.Name()] || corpusNeverRun[e.Name()] || !dynamicELF(real) {
				continue
			}
			seen[real], names[e.Name()] = true, true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// dynamicELF reports whether p is an executable ELF program with an interpreter.
func dynamicELF(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return false
	}
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// probeAll runs probe on every program, a few at once.
func probeAll(progs []string, probe func(string) corpusProbe) map[string]corpusProbe {
	out := make(map[string]corpusProbe, len(progs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2*runtime.NumCPU())
	for _, p := range progs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := probe(p)
			mu.Lock()
			out[p] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// corpusEnv is the environment of every probe, on the host and in the
// jail alike (the jail's default PATH, nothing else).
var corpusEnv = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}

// hostProbe runs `p --version` on the host, in new PID, mount, network,
// IPC and UTS namespaces (a program that mistakes --version for something
// else reaches nothing), with the jail's environment and hostname.
func hostProbe(p string) corpusProbe {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, "--version")
	cmd.Env, cmd.Dir = corpusEnv, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		Setsid:     true,
	}
	return runProbe(cmd)
}

// jailProbe runs `p --version` in the jail through `jailer enter`.
func jailProbe(jail, p string) corpusProbe {
	cmd := jailerCmd("enter", "--no-tty", "--timeout", "30s", jail, p, "--version")
	return runProbe(cmd)
}

// runProbe runs cmd with stdin from /dev/null and returns its status and
// the first corpusLines lines of its standard output.
func runProbe(cmd *exec.Cmd) corpusProbe {
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	lines := strings.SplitN(stdout.String(), "\n", corpusLines+1)
	if len(lines) > corpusLines {
		lines = lines[:corpusLines]
	}
	return corpusProbe{code: code, out: strings.TrimRight(strings.Join(lines, "\n"), "\n")}
}

// jailerCmd runs this test binary as the real jailer command.
func jailerCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(slices.Clone(corpusEnv), "JAILER_TEST_MAIN=1")
	if c := os.Getenv("JAILER_CACHE_DIR"); c != "" {
		cmd.Env = append(cmd.Env, "JAILER_CACHE_DIR="+c)
	}
	cmd.Args[0] = "jailer"
	return cmd
}
