/*
 * bench/floor.sh's C front end: clone3 into new mount, PID, UTS and IPC
 * namespaces, exec the init (floor-init), wait for it; as bwrap does
 * before its own init work.
 *
 *   floor-cfront INIT ROOT SCRATCH CMD [ARGS...]
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>
int main(int argc, char **argv) {
	struct clone_args ca = {.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_VFORK, .exit_signal = SIGCHLD};
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[1], argv + 1);
		_exit(125);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 125;
}
