/*
 * A stand-in for a --snapshot lock's holder (dump/snaplock.c): a stream
 * socket bound to the abstract name "\0ckpt-snapshot PID START" and
 * listening.  argv[1]: "PID START"; argv[2]: "full" for listen(0) and one
 * connection never accepted, so that the queue is full (checked: a further
 * connect fails with EAGAIN).  Creates $CKPT_READY once it listens, then
 * waits for $CKPT_GO (or a signal).
 */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "target.h"

static socklen_t name(const char *s, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "ckpt-snapshot %s", s);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	socklen_t len;
	int full = argc > 2 && !strcmp(argv[2], "full"), s, c, d;

	if (argc < 2) {
		fprintf(stderr, "usage: lockname \"PID START\" [full]\n");
		return 2;
	}
	len = name(argv[1], &a);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, len) < 0 || listen(s, full ? 0 : 8) < 0) {
		perror("lockname: bind and listen");
		return 1;
	}
	if (full) {
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		d = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, len) < 0) {
			perror("lockname: connect");
			return 1;
		}
		if (d < 0 || connect(d, (struct sockaddr *)&a, len) == 0 || errno != EAGAIN) {
			fprintf(stderr, "lockname: its queue is not full\n");
			return 1;
		}
	}
	target_wait();
	return 0;
}
