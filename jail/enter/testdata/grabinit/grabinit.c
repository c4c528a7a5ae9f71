/*
 * grabinit: run in a jail (as its command, or by jailer exec), tries to
 * get hold of the listening socket jailer exec connects to, which the
 * jail's init (PID 1) holds: among its own descriptors (inherited), with
 * pidfd_getfd(2) on PID 1 (which ptrace rights among jail processes
 * would allow, were the init dumpable), and by opening /proc/1/fd/N.
 * Prints one line and exits like the probe: 10 "ESCAPED: ..." when it
 * holds a listening socket, 0 "contained: ..." with what each way said.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int listening(int fd)
{
	int acc = 0;
	socklen_t len = sizeof acc;
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc;
}

int main(void)
{
	char notes[512] = "";
	for (int fd = 0; fd < 1024; fd++)
		if (listening(fd)) {
			printf("ESCAPED: its own descriptor %d is a listening socket\n", fd);
			return 10;
		}
	int pidfd = syscall(SYS_pidfd_open, 1, 0);
	if (pidfd < 0) {
		snprintf(notes, sizeof notes, "pidfd_open(1): %s", strerror(errno));
	} else {
		int tried = 0, err = 0;
		for (int fd = 0; fd < 1024; fd++) {
			int got = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
			if (got < 0) {
				if (errno != EBADF) {
					tried++;
					err = errno;
				}
				continue;
			}
			if (listening(got)) {
				printf("ESCAPED: pidfd_getfd took the init's listening socket (its descriptor %d)\n", fd);
				return 10;
			}
			close(got);
		}
		snprintf(notes, sizeof notes, "pidfd_getfd on %d of the init's descriptors: %s", tried, tried ? strerror(err) : "none open");
	}
	int opened = 0, err = 0;
	for (int fd = 0; fd < 1024; fd++) {
		char p[32];
		snprintf(p, sizeof p, "/proc/1/fd/%d", fd);
		int f = open(p, O_RDWR);
		if (f < 0) {
			if (errno != ENOENT)
				err = errno;
			continue;
		}
		opened++;
		if (listening(f)) {
			printf("ESCAPED: opened the init's listening socket as %s\n", p);
			return 10;
		}
		close(f);
	}
	printf("contained: %s; /proc/1/fd: %d opened, %s\n", notes, opened, err ? strerror(err) : "none refused");
	return 0;
}
