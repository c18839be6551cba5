/*
 * Holds the descriptors it was given (a pipe to a process outside, say).
 * After GO it writes "fd_hold: fd N" to each fd N named: 0 if every write
 * went through (whatever is behind the fd now), 1 if one failed.
 * Usage: fd_hold FD...
 */
#include "target.h"

int main(int argc, char **argv)
{
	target_wait();
	for (int i = 1; i < argc; i++) {
		int fd = atoi(argv[i]);
		char line[64];
		int len = snprintf(line, sizeof(line), "fd_hold: fd %d\n", fd);

		CHECK(write(fd, line, (size_t)len) == len, "cannot write to fd %d: %s", fd, strerror(errno));
	}
	return target_exit();
}
