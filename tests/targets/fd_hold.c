/*
 * Holds the descriptors it was given (a pipe to a process outside, say)
 * and, with -s, a unix socketpair at fds 5 and 6.  After GO it writes
 * "fd_hold: fd N" to each fd N named: 0 if every write went through
 * (whatever is behind the fd now), 1 if one failed.
 * Usage: fd_hold [-s] FD...
 */
#include <sys/socket.h>

#include "target.h"

int main(int argc, char **argv)
{
	int sv[2];

	if (argc > 1 && !strcmp(argv[1], "-s")) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || dup2(sv[0], 5) != 5 ||
		    dup2(sv[1], 6) != 6) {
			target_fail("cannot make a socketpair: %s", strerror(errno));
			return target_exit();
		}
		close(sv[0]);
		close(sv[1]);
		argv++;
		argc--;
	}
	target_wait();
	for (int i = 1; i < argc; i++) {
		int fd = atoi(argv[i]);
		char line[64];
		int len = snprintf(line, sizeof(line), "fd_hold: fd %d\n", fd);

		CHECK(write(fd, line, (size_t)len) == len, "cannot write to fd %d: %s", fd, strerror(errno));
	}
	return target_exit();
}
