/*
 * A client of a unix socket outside the image: a socket of TYPE
 * ("stream" or "dgram") connected to PATH at each FD.  After GO it sends
 * "after restore" on each and prints "fd N: sent" or "fd N: send: <why>"
 * (whatever is behind the fd now: the test judges); exits 0.
 * Usage: fd_unix_client TYPE PATH FD...
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "target.h"

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int type;

	if (argc < 4)
		return 2;
	type = !strcmp(argv[1], "stream") ? SOCK_STREAM : SOCK_DGRAM;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 3; i < argc; i++) {
		int s = socket(AF_UNIX, type, 0), fd = atoi(argv[i]);

		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || dup2(s, fd) != fd) {
			target_fail("cannot connect to \"%s\" at fd %d: %s", argv[2], fd, strerror(errno));
			return target_exit();
		}
		close(s);
	}
	target_wait();
	for (int i = 3; i < argc; i++) {
		int fd = atoi(argv[i]);

		if (send(fd, "after restore", 13, 0) == 13)
			printf("fd %d: sent\n", fd);
		else
			printf("fd %d: send: %s\n", fd, strerror(errno));
	}
	return target_exit();
}
