//go:build linux

package enter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

// tracerC traces a child of its own (PTRACE_TRACEME, a stop, PTRACE_CONT,
// PEEKDATA and process_vm_readv of its memory), then tries to attach to
// the jail's init, PID 1.
const tracerC = `#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static long secret = 0x5eed;

int main(void) {
	pid_t c = fork();
	if (c == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) { printf("TRACEME: %s\n", strerror(errno)); _exit(1); }
		raise(SIGSTOP);
		_exit(7);
	}
	int st;
	waitpid(c, &st, 0);
	if (!WIFSTOPPED(st)) { printf("child not stopped\n"); return 1; }
	errno = 0;
	long v = ptrace(PTRACE_PEEKDATA, c, &secret, 0);
	long w = 0;
	struct iovec local = {&w, sizeof w}, remote = {&secret, sizeof secret};
	ssize_t n = process_vm_readv(c, &local, 1, &remote, 1, 0);
	printf("peek %lx, process_vm_readv %zd %lx\n", v, n, w);
	ptrace(PTRACE_CONT, c, 0, 0);
	waitpid(c, &st, 0);
	printf("child exited %d\n", WEXITSTATUS(st));
	if (ptrace(PTRACE_ATTACH, 1, 0, 0) < 0) printf("attach to init: %s\n", strerror(errno));
	else printf("attach to init: succeeded\n");
	return 0;
}
`

// leakC leaks, for LeakSanitizer, whose leak check stops the world by
// tracing the process's threads.
const leakC = `#include <stdlib.h>
#include <stdio.h>
void *keep;
int main(void) { keep = malloc(100); keep = 0; printf("leaked\n"); return 0; }
`

// TestPtraceInJail: programs in a jail with a PID namespace may trace
// each other (gdb, strace, LeakSanitizer); the init stays out of reach;
// without a PID namespace, where the host's processes are visible, ptrace
// stays denied.
func TestPtraceInJail(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	for name, src := range map[string]string{"tracer.c": tracerC, "leak.c": leakC} {
		os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644)
	}
	testutil.Gcc(t, "-o", filepath.Join(dir, "tracer"), filepath.Join(dir, "tracer.c"))
	testutil.Gcc(t, "-fsanitize=address", "-g", "-o", filepath.Join(dir, "leak"), filepath.Join(dir, "leak.c"))
	strace := testutil.RequireTool(t, "strace")
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [./tracer, ./leak, "+strace+", /bin/true]\n")
	mustBuild(t, m, build.Options{})
	jailDir := filepath.Join(dir, "jail")

	code, out, err := runIn(t, jailDir, nil, "/bin/tracer")
	if err != nil || code != 0 || !strings.Contains(out, "peek 5eed, process_vm_readv 8 5eed\n") ||
		!strings.Contains(out, "child exited 7\n") || !strings.Contains(out, "attach to init: Operation not permitted\n") {
		t.Errorf("tracer in a jail = %d, %v:\n%s\nwant the child traced and read, and the init out of reach", code, err, out)
	}
	code, out, err = runIn(t, jailDir, nil, "/bin/strace", "-f", "-e", "trace=execve", "/bin/true")
	if err != nil || code != 0 || !strings.Contains(out, `execve("/bin/true"`) {
		t.Errorf("strace in a jail = %d, %v:\n%s", code, err, out)
	}
	code, out, err = runIn(t, jailDir, nil, "/bin/leak")
	if err != nil || code == 0 || !strings.Contains(out, "ERROR: LeakSanitizer: detected memory leaks") {
		t.Errorf("an ASan build that leaks = %d, %v:\n%s\nwant LeakSanitizer's report", code, err, out)
	}

}
