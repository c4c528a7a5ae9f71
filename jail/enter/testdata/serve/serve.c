/*
 * serve: the user-mode network tests' server in a jail (static, so that
 * a jail needs nothing else). `serve PORT LINE` listens on TCP PORT of
 * every address of the jail, prints "listening" on stdout once it does,
 * and answers the first connection with LINE and a newline, then exits 0.
 * Any failure prints why and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("serve: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fail("usage: serve PORT LINE");
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
	close(c);
	return 0;
}
