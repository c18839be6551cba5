/*
 * A TCP listener with a connection waiting to be accepted:
 *
 *   fd_tcp_backlog listen PORTFILE kept|lost
 *     10 a listener on 127.0.0.1 (its port in PORTFILE); ready once a
 *     client (fd_tcp_backlog client) has connected and nobody accepted
 *     it.  After GO, kept: the connection is accepted, its "hi" read, and
 *     closed.  lost: nothing waits any more (accept gives EAGAIN) and the
 *     listener takes a new connection of the process's own.
 *
 *   fd_tcp_backlog client PORT RESULT
 *     not dumped: connects to 127.0.0.1:PORT, writes "hi", waits for what
 *     comes back and writes in RESULT "end" (the connection closed),
 *     "reset" (ECONNRESET) or what else happened.
 */
#include <signal.h>

#include "tcp_stream.h"

static int listen_(const char *portfile, int kept)
{
	struct sockaddr_storage a;
	socklen_t len = listen_loopback(AF_INET, &a);
	char tmp[4200], buf[8];
	FILE *f;
	int c;

	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%u\n", ntohs(((struct sockaddr_in *)&a)->sin_port)) < 0 ||
	    fclose(f) || rename(tmp, portfile) < 0) {
		target_fail("%s: %s", portfile, strerror(errno));
		return target_exit();
	}
	/* a listener polls readable while its accept queue holds one */
	if (poll(&(struct pollfd){ 10, POLLIN, 0 }, 1, 120000) != 1)
		target_fail("no client came");
	target_wait();
	if (kept) {
		c = accept(10, NULL, NULL);
		CHECK(c >= 0 && recv(c, buf, 2, MSG_WAITALL) == 2 && !memcmp(buf, "hi", 2),
		      "the waiting connection is not there as it was: %s", strerror(errno));
		close(c);
		return target_exit();
	}
	fcntl(10, F_SETFL, O_NONBLOCK);
	c = accept(10, NULL, NULL);
	CHECK(c < 0 && errno == EAGAIN, "accept after restore gives %d (%s), not EAGAIN", c,
	      c < 0 ? strerror(errno) : "a connection");
	fcntl(10, F_SETFL, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, len) == 0 && accept(10, NULL, NULL) >= 0,
	      "the listener does not take a new connection: %s", strerror(errno));
	fprintf(stderr, "fd_tcp_backlog: serving\n");
	return target_exit();
}

static int client(int port, const char *result)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	const char *what = "nothing came";
	char buf[8], tmp[4200];
	ssize_t r;
	FILE *f;
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	signal(SIGPIPE, SIG_IGN);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 || send(c, "hi", 2, 0) != 2)
		what = "cannot connect";
	else if (poll(&(struct pollfd){ c, POLLIN, 0 }, 1, 300000) == 1)
		what = (r = recv(c, buf, sizeof(buf), 0)) == 0 ? "end" :
		       r < 0 && errno == ECONNRESET ? "reset" : r < 0 ? strerror(errno) : "data";
	snprintf(tmp, sizeof(tmp), "%s.tmp", result);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", what) < 0 || fclose(f) || rename(tmp, result) < 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "listen"))
		return listen_(argv[2], !strcmp(argv[3], "kept"));
	if (argc == 4 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: fd_tcp_backlog listen PORTFILE kept|lost | client PORT RESULT\n");
	return 2;
}
