/*
 * Established TCP connections with bytes in flight, two ways:
 *
 *   fd_tcp loop | loop6 | mixed | small
 *     10  a listener on 127.0.0.1 (loop6: ::1; mixed: an IPv6 socket on
 *     ::ffff:127.0.0.1 taking an IPv4 client, as a JVM does; small: 3000 and
 *     1000 bytes only, for a fuzz seed), 11 a client connected to it (O_NONBLOCK,
 *     TCP_NODELAY), 12 the connection accepted: the client writes until
 *     the kernel takes no more (the server's receive queue full, its own
 *     send queue full, part of it not sent), the server up to 100000
 *     bytes the client does not read.  After GO each end reads every byte
 *     the other wrote, in order, then they talk both ways, and the
 *     listener takes a new client.
 *
 *   fd_tcp peer PORT
 *     10  a connection to 127.0.0.1:PORT, a peer outside that echoes what
 *     it gets; 65536 bytes written and their echo waiting to be read at
 *     READY.  After GO: the echo read and checked, 3 x 65536 more written
 *     and their echo checked, then the connection is closed (the peer
 *     checks the whole stream, in tests/fds-tcp.bats).
 *
 * The streams are tcp_stream.h's.
 */
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "tcp_stream.h"

/* mixed: the listener is IPv6 on ::ffff:127.0.0.1, its clients IPv4 */
static int loop(int family, int small, int mixed)
{
	struct sockaddr_storage a;
	struct sockaddr_in ca = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = mixed ? listen_on(AF_INET6, "::ffff:127.0.0.1", &a) : listen_loopback(family, &a);
	uint64_t c_out = 0, s_out = 0, c_in = 0, s_in = 0, sent;
	int one = 1, c, cfamily = mixed ? AF_INET : family;
	struct sockaddr *cto = mixed ? (struct sockaddr *)&ca : (struct sockaddr *)&a;
	socklen_t clen = mixed ? sizeof(ca) : len;

	ca.sin_port = ((struct sockaddr_in6 *)&a)->sin6_port;
	at(socket(cfamily, SOCK_STREAM | SOCK_NONBLOCK, 0), 11);
	setsockopt(11, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	connect(11, cto, clen);
	at(accept(10, NULL, NULL), 12);
	poll(&(struct pollfd){ 11, POLLOUT, 0 }, 1, 10000);
	fcntl(12, F_SETFL, O_NONBLOCK);
	/* until the kernel takes no more: then some is not even sent */
	for (int i = 0; i < 50; i++) {
		put(11, &c_out, small ? 3000 - c_out : ~0ull, 0);
		if (s_out < (small ? 1000u : 100000u))
			put(12, &s_out, (small ? 1000u : 100000u) - s_out, 0);
		target_sleep_ms(small ? 1 : 20);
	}
	/* and nothing moves any more */
	for (int prev = -1; inq(11) + inq(12) != prev;) {
		prev = inq(11) + inq(12);
		target_sleep_ms(100);
	}
	fcntl(12, F_SETFL, 0);
	sent = c_out;
	target_wait();
	get(12, &s_in, sent, 0);
	get(11, &c_in, s_out, 0);
	CHECK(s_in == sent && c_in == s_out, "read %llu of %llu and %llu of %llu",
	      (unsigned long long)s_in, (unsigned long long)sent, (unsigned long long)c_in,
	      (unsigned long long)s_out);
	/* and on, both ways */
	put(11, &c_out, 5000, 1);
	put(12, &s_out, 7000, 1);
	get(12, &s_in, 5000, 0);
	get(11, &c_in, 7000, 0);
	c = socket(cfamily, SOCK_STREAM, 0);
	CHECK(connect(c, cto, clen) == 0 && accept(10, NULL, NULL) >= 0,
	      "the listener does not take a new client: %s", strerror(errno));
	fprintf(stderr, "fd_tcp: %llu bytes client to server, %llu back\n", (unsigned long long)s_in,
		(unsigned long long)c_in);
	return target_exit();
}

static int peer(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	uint64_t out = 0, in = 0;

	at(socket(AF_INET, SOCK_STREAM, 0), 10);
	if (connect(10, (struct sockaddr *)&a, sizeof(a)) < 0)
		target_fail("cannot connect to port %d: %s", port, strerror(errno));
	put(10, &out, 65536, 1);
	/* the echo all in: nothing moves while the process is away */
	while (inq(10) < 65536)
		target_sleep_ms(5);
	target_wait();
	get(10, &in, 65536, 0);
	for (int i = 0; i < 3; i++) {
		put(10, &out, 65536, 1);
		get(10, &in, 65536, 0);
	}
	printf("%llu\n", (unsigned long long)out);
	fflush(stdout);
	close(10);
	return target_exit();
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "loop"))
		return loop(AF_INET, 0, 0);
	if (argc == 2 && !strcmp(argv[1], "loop6"))
		return loop(AF_INET6, 0, 0);
	if (argc == 2 && !strcmp(argv[1], "mixed"))
		return loop(AF_INET6, 0, 1);
	if (argc == 2 && !strcmp(argv[1], "small"))
		return loop(AF_INET, 1, 0);
	if (argc == 3 && !strcmp(argv[1], "peer"))
		return peer(atoi(argv[2]));
	fprintf(stderr, "usage: fd_tcp loop | loop6 | mixed | small | peer PORT\n");
	return 2;
}
