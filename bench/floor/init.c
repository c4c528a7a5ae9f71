/*
 * The floor of a jail's start, for bench/floor.sh: a static C init that
 * does what jailer's does by default, and nothing else: a fresh overlay
 * root on a tmpfs, /proc with jailer's masks, a minimal /dev, pivot_root,
 * a hostname, a network namespace with loopback up, no dumping, the
 * capability bounding set emptied, no_new_privs, a seccomp filter of the
 * size of jailer's (which allows everything), a session of its own for
 * the command, and PID 1's wait. No cgroup, no register of runs, no exec
 * socket, no error reports worth the name: a measuring stick, not a jail.
 *
 *   floor-init ROOT SCRATCH CMD [ARGS...]   (as PID 1 of new mount, PID,
 *                                            UTS and IPC namespaces)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *w) { fprintf(stderr, "init: %s: %s\n", w, strerror(errno)); _exit(125); }
#define M(src, dst, type, fl, data) if (mount(src, dst, type, fl, data) < 0) die(dst)

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: floor-init ROOT SCRATCH CMD [ARGS...]\n");
		return 125;
	}
	const char *root = argv[1], *scratch = argv[2];
	M(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	M("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "size=1G,mode=0755");
	if (chdir(scratch) < 0) die("chdir scratch");
	mkdir("u", 0755); mkdir("w", 0755); mkdir("m", 0755);
	char opt[4096];
	snprintf(opt, sizeof opt, "lowerdir=%s,upperdir=%s/u,workdir=%s/w", root, scratch, scratch);
	M("overlay", "m", "overlay", 0, opt);
	if (chdir("m") < 0) die("chdir root");
	mkdir("proc", 0555);
	M("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/* proc masks as jailer: ro binds of /proc/sys, bus, fs, irq; /dev/null over keys, timer_list; tmpfs over acpi */
	const char *ro[] = {"proc/sys", "proc/bus", "proc/fs", "proc/irq"};
	for (int i = 0; i < 4; i++) { M(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL); M(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL); }
	mkdir("dev", 0755);
	M("tmpfs", "dev", "tmpfs", MS_NOSUID, "mode=0755");
	const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	for (int i = 0; i < 6; i++) {
		char s[64], d[64];
		snprintf(s, sizeof s, "/dev/%s", nodes[i]);
		snprintf(d, sizeof d, "dev/%s", nodes[i]);
		close(open(d, O_CREAT | O_WRONLY, 0666));
		M(s, d, NULL, MS_BIND, NULL);
	}
	M("/dev/null", "proc/keys", NULL, MS_BIND, NULL);
	M("/dev/null", "proc/timer_list", NULL, MS_BIND, NULL);
	mkdir("dev/pts", 0755); M("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
	mkdir("dev/shm", 01777); M("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	symlink("pts/ptmx", "dev/ptmx");
	if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
	if (umount2(".", MNT_DETACH) < 0) die("umount old");
	chdir("/");
	sethostname("jail", 4);
	if (unshare(CLONE_NEWNET) < 0) die("netns");
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0}; strcpy(ifr.ifr_name, "lo");
	ioctl(fd, SIOCGIFFLAGS, &ifr); ifr.ifr_flags |= IFF_UP | IFF_RUNNING; ioctl(fd, SIOCSIFFLAGS, &ifr); close(fd);
	prctl(PR_SET_DUMPABLE, 0);
	for (int c = 0; c <= 40; c++) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/* a filter of jailer's size: 60 instructions that allow */
	struct sock_filter f[60];
	for (int i = 0; i < 59; i++) f[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
	f[59] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = 60, .filter = f};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) die("seccomp");
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		execv(argv[3], argv + 3);
		_exit(127);
	}
	int st;
	for (;;) {
		pid_t w = wait(&st);
		if (w == pid) break;
		if (w < 0 && errno != EINTR) break;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
