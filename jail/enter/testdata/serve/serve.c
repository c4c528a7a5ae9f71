/*
 * serve: the user-mode network tests' server in a jail (static, so that
 * a jail needs nothing else). `serve PORT LINE` listens on TCP PORT of
 * every address of the jail, prints "listening" on stdout once it does,
 * and answers the first connection with LINE and a newline, then exits 0
 * once the client has closed it. `serve -u PORT LINE` does the same on
 * UDP: it answers each datagram with LINE and a newline, and exits 0 once
 * two seconds pass without one after the first. Any failure prints why
 * and exits 1.
 *
 * Neither exits as soon as it has sent: the jail's network goes with its
 * last process, and with it what slirp4netns had not yet read from the
 * jail's tap device (on a loaded machine, the answer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("serve: %s: %s\n", what, strerror(errno));
	return 1;
}

static int serve_udp(int port, const char *line)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return fail("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
		return fail("bind");
	printf("listening\n");
	fflush(stdout);
	char buf[512], out[512];
	int len = snprintf(out, sizeof out, "%s\n", line);
	for (int answered = 0;; answered++) {
		struct sockaddr_in from;
		socklen_t n = sizeof from;
		if (recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &n) < 0) {
			if (answered && (errno == EAGAIN || errno == EWOULDBLOCK))
				return 0; /* two seconds without a datagram after an answer */
			return fail("recvfrom");
		}
		if (sendto(s, out, len, 0, (struct sockaddr *)&from, n) < 0)
			return fail("sendto");
		struct timeval two = {.tv_sec = 2};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &two, sizeof two);
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "-u"))
		return serve_udp(atoi(argv[2]), argv[3]);
	if (argc != 3)
		return fail("usage: serve [-u] PORT LINE");
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return fail("socket");
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
		return fail("bind");
	if (listen(s, 4) < 0)
		return fail("listen");
	printf("listening\n");
	fflush(stdout);
	int c = accept(s, NULL, NULL);
	if (c < 0)
		return fail("accept");
	dprintf(c, "%s\n", argv[2]);
	/* Wait for the client to close (it has read the line), a minute at most. */
	shutdown(c, SHUT_WR);
	struct timeval minute = {.tv_sec = 60};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &minute, sizeof minute);
	char buf[64];
	while (read(c, buf, sizeof buf) > 0)
		;
	close(c);
	return 0;
}
