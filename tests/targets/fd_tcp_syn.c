/*
 * A TCP connection being opened (SYN_SENT): a non-blocking connect(2) to
 * a listener whose accept queue is full, which drops the SYNs (the kernel
 * retransmits them) until it accepts.
 *
 *   fd_tcp_syn dial PORT
 *     10 a non-blocking socket connecting to 127.0.0.1:PORT, in SYN_SENT.
 *     After GO: still non-blocking, on the same local port; once the
 *     peer accepts, writable with no error (SO_ERROR 0); writes "hello",
 *     reads "world".  Prints "ok".
 *
 *   fd_tcp_syn dialblock PORT
 *     the same with a blocking socket, a thread blocked in connect(2):
 *     after GO the connect returns 0 once the peer accepts (the restored
 *     thread runs the call again: inet_stream_connect waits on a socket
 *     SS_CONNECTING), then the same exchange.
 *
 *   fd_tcp_syn peer PORTFILE ACCEPTFILE
 *     not dumped: the peer.  A listener on 127.0.0.1 with backlog 0 and a
 *     connection of its own to it that fills its accept queue; its port
 *     in PORTFILE.  Once ACCEPTFILE exists, accepts that connection, then
 *     the next one: reads "hello", writes "world".  Prints "ok".
 */
#include <pthread.h>
#include <netinet/tcp.h>

#include "tcp_stream.h"

static int state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -1 : ti.tcpi_state;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) < 0 ? 0 : ntohs(a.sin_port);
}

/* exactly n bytes of want from fd, waiting up to 2 minutes */
static int expect(int fd, const char *want, size_t n)
{
	char buf[16] = { 0 };
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 120000) != 1)
			return -1;
		r = recv(fd, buf + got, n - got, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return memcmp(buf, want, n) ? -1 : 0;
}

static struct sockaddr_in to;
static int connected = -1;

static void *connector(void *arg)
{
	(void)arg;
	connected = connect(10, (struct sockaddr *)&to, sizeof(to)) == 0 ? 0 : errno;
	return NULL;
}

static int dial(int port, int block)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | (block ? 0 : SOCK_NONBLOCK), 0), err = 0;
	socklen_t len = sizeof(err);
	pthread_t th;
	uint16_t lport;

	if (fd < 0 || dup2(fd, 10) != 10) {
		target_fail("socket: %s", strerror(errno));
		return target_exit();
	}
	close(fd);
	to = a;
	if (block && pthread_create(&th, NULL, connector, NULL) != 0) {
		target_fail("pthread_create failed");
		return target_exit();
	}
	if (!block && (connect(10, (struct sockaddr *)&a, sizeof(a)) == 0 || errno != EINPROGRESS)) {
		target_fail("connect: not in progress (%s)", strerror(errno));
		return target_exit();
	}
	for (int i = 0; i < 1000 && state(10) != TCP_SYN_SENT; i++)
		target_sleep_ms(5);
	CHECK(state(10) == TCP_SYN_SENT, "fd 10: state %d, not SYN_SENT", state(10));
	lport = local_port(10);
	target_wait();
	CHECK(state(10) == TCP_SYN_SENT || state(10) == TCP_ESTABLISHED,
	      "fd 10: state %d after restore, not SYN_SENT or ESTABLISHED", state(10));
	CHECK(!!(fcntl(10, F_GETFL) & O_NONBLOCK) == !block, "fd 10: O_NONBLOCK changed by restore");
	CHECK(local_port(10) == lport, "fd 10: local port %u, not %u", local_port(10), lport);
	if (block) {
		pthread_join(th, NULL);
		if (connected)
			target_fail("fd 10: the blocking connect failed: %s", strerror(connected));
		fcntl(10, F_SETFL, O_NONBLOCK);
	}
	if (poll(&(struct pollfd){ 10, POLLOUT, 0 }, 1, 120000) != 1)
		target_fail("fd 10: not connected after 2 minutes (state %d)", state(10));
	else if (getsockopt(10, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		target_fail("fd 10: the connect failed: %s", strerror(err));
	else if (send(10, "hello", 5, MSG_NOSIGNAL) != 5 || expect(10, "world", 5) < 0)
		target_fail("fd 10: no exchange: %s", strerror(errno));
	if (!target_failures)
		printf("ok\n");
	return target_exit();
}

static int peer(const char *portfile, const char *go)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), self, c;

	if (l < 0 || bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 0) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0 ||
	    (self = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(self, (struct sockaddr *)&a, len) < 0) {
		target_fail("peer: listener: %s", strerror(errno));
		return target_exit();
	}
	if (put_port(portfile, ntohs(a.sin_port)) < 0)
		return target_exit();
	while (access(go, F_OK) < 0)
		target_sleep_ms(5);
	if ((c = accept(l, NULL, NULL)) < 0 || close(c) < 0 || (c = accept(l, NULL, NULL)) < 0) {
		target_fail("peer: accept: %s", strerror(errno));
		return target_exit();
	}
	if (expect(c, "hello", 5) < 0 || send(c, "world", 5, MSG_NOSIGNAL) != 5)
		target_fail("peer: no exchange: %s", strerror(errno));
	close(c);
	close(self);
	if (!target_failures)
		printf("ok\n");
	return target_exit();
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "dial"))
		return dial(atoi(argv[2]), 0);
	if (argc == 3 && !strcmp(argv[1], "dialblock"))
		return dial(atoi(argv[2]), 1);
	if (argc == 4 && !strcmp(argv[1], "peer"))
		return peer(argv[2], argv[3]);
	fprintf(stderr, "usage: fd_tcp_syn dial PORT | dialblock PORT | peer PORTFILE ACCEPTFILE\n");
	return 2;
}
