/*
 * TCP connections half closed, in the states after a FIN (RFC 793 3.5):
 *
 *   fd_tcp_fin loop | loop6 | mapped
 *     10 a listener on 127.0.0.1 (loop6: ::1; mapped: IPv6 sockets on
 *     ::ffff:127.0.0.1, which talk IPv4); 11 a client that wrote 3000 bytes and
 *     shut its side (FIN_WAIT2), 12 its server end, which has not read
 *     them (CLOSE_WAIT) and wrote 2000 the client has not read; 13 a
 *     client that wrote until the kernel took no more (the server's
 *     receive queue full, the rest not sent) and then shut its side: its
 *     FIN waits behind the unsent bytes (FIN_WAIT1), 14 its server end,
 *     which has read nothing.  After GO: the states are the same; 12
 *     reads the 3000 bytes then the end, writes 1000 more, which 11 reads
 *     after the 2000; 11's write fails with EPIPE; 12 closes: 11 reads
 *     the end; 14 reads every byte 13 wrote, then the end; 13 (FIN_WAIT2
 *     now) reads 500 bytes 14 writes.  15 and 16: as 12 and 11 (1500
 *     bytes), the end in CLOSE_WAIT at the lower fd, made first by
 *     restore; after GO 15 reads them and the end, 16 reads 100 bytes.
 *     17 the server end of 18, which wrote 700 bytes and shut its side;
 *     17 then wrote until 18's receive queue was full and shut its own:
 *     its FIN behind bytes not sent (LAST_ACK).  19 wrote so until 20's
 *     queue was full and shut its side (FIN_WAIT1), then 20 shut its own:
 *     19 had the FIN of 20 before its own was sent (CLOSING).  After GO:
 *     17 and 19 read the end, their writes fail, 18 and 20 read every
 *     byte and the end, and 17 and 19 get to CLOSE.  (CLOSING comes back
 *     as LAST_ACK: the FIN of the peer first, its own after; to the
 *     process the two are one.)
 *
 *   fd_tcp_fin ended
 *     11 a client that wrote 100 bytes and shut its side, 12 its server
 *     end, which then shut its own without reading: both CLOSE, the
 *     connection over, the fds held.  After GO: 12 reads the 100 bytes
 *     and the end, 11 the end; writes fail with EPIPE.
 *
 *   fd_tcp_fin closewait PORT
 *     10 a connection to a peer outside (fd_tcp_fin peer) that sent 5000
 *     bytes and shut its side: CLOSE_WAIT, nothing read.  After GO: the
 *     5000 bytes, the end, then 7000 bytes written and the connection
 *     closed (the peer checks them).
 *
 *   fd_tcp_fin finwait PORT GOFILE
 *     10 a connection to that peer: 4000 bytes written, then its side
 *     shut (FIN_WAIT2 once the peer acknowledged).  After GO: GOFILE made
 *     (the peer then sends 6000 bytes and closes); the 6000 bytes read,
 *     then the end; a write fails with EPIPE.
 *
 *   fd_tcp_fin peer PORTFILE closewait|finwait GOFILE
 *     not dumped: the peer outside.  Listens on 127.0.0.1, its port in
 *     PORTFILE; closewait: sends 5000 bytes, shuts its side, reads to the
 *     end; finwait: reads to the end (4000 bytes), waits for GOFILE, sends
 *     6000 bytes, closes.  Prints "N ok" (N bytes read, each right) or
 *     what was wrong.
 *
 * The streams are tcp_stream.h's.
 */
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include "tcp_stream.h"

static int state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -1 : ti.tcpi_state;
}

static int outq_unsent(int fd)
{
	int n = 0;

	ioctl(fd, SIOCOUTQNSD, &n);
	return n;
}

/* A write on a connection whose sending side is shut fails with EPIPE
 * (tcp_sendmsg_locked: SEND_SHUTDOWN). */
static void write_fails(int fd)
{
	ssize_t w = send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);

	CHECK(w < 0 && errno == EPIPE, "fd %d: a write after shutdown gives %zd (%s), not EPIPE", fd,
	      w, w < 0 ? strerror(errno) : "written");
}

/* Write on fd (made nonblocking for it) until its peer, which reads
 * nothing, takes no more: the rest of what it wrote is not sent. */
static void fill(int fd, uint64_t *off)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0, prev = -1; i < 50 || outq_unsent(fd) != prev; i++) {
		prev = outq_unsent(fd);
		put(fd, off, ~0ull, 0);
		target_sleep_ms(20);
	}
	fcntl(fd, F_SETFL, fl);
}

static void wait_state(int fd, int want, const char *name)
{
	for (int i = 0; i < 24000 && state(fd) != want; i++)
		target_sleep_ms(5);
	CHECK(state(fd) == want, "fd %d: state %d, not %s", fd, state(fd), name);
}

/* A connection through the listener (fd 10 at a): the client end at
 * fd client, the server end at fd server. */
static void pair(int family, const struct sockaddr_storage *a, socklen_t len, int client, int server)
{
	at(socket(family, SOCK_STREAM, 0), client);
	if (connect(client, (const struct sockaddr *)a, len) < 0)
		target_fail("connect: %s", strerror(errno));
	at(accept(10, NULL, NULL), server);
}

static int loop(int family, int mapped)
{
	struct sockaddr_storage a;
	socklen_t len = mapped ? listen_on(AF_INET6, "::ffff:127.0.0.1", &a) : listen_loopback(family, &a);
	uint64_t c_out = 0, s_out = 0, c_in = 0, s_in = 0, b_out = 0, b_in = 0, b_back = 0, b_got = 0;
	uint64_t d_out = 0, d_in = 0, d_back = 0, d_got = 0, e_out = 0, e_in = 0, f_out = 0, f_in = 0;
	uint64_t g_out = 0, g_in = 0, g_got = 0;

	pair(family, &a, len, 11, 12);
	put(11, &c_out, 3000, 1);
	shutdown(11, SHUT_WR);
	put(12, &s_out, 2000, 1);
	at(socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0), 13);
	connect(13, (struct sockaddr *)&a, len);
	at(accept(10, NULL, NULL), 14);
	poll(&(struct pollfd){ 13, POLLOUT, 0 }, 1, 10000);
	/* until the kernel takes no more: the rest is not even sent */
	for (int i = 0, prev = -1; i < 50 || inq(14) != prev; i++) {
		prev = inq(14);
		put(13, &b_out, ~0ull, 0);
		target_sleep_ms(20);
	}
	shutdown(13, SHUT_WR);
	pair(family, &a, len, 16, 15);
	put(16, &d_out, 1500, 1);
	shutdown(16, SHUT_WR);
	wait_state(15, TCP_CLOSE_WAIT, "CLOSE_WAIT");
	/* LAST_ACK and CLOSING */
	pair(family, &a, len, 18, 17);
	put(18, &e_out, 700, 1);
	shutdown(18, SHUT_WR);
	pair(family, &a, len, 20, 19);
	fill(17, &f_out);
	fill(19, &g_out);
	shutdown(17, SHUT_WR);
	shutdown(19, SHUT_WR);
	shutdown(20, SHUT_WR);
	wait_state(17, TCP_LAST_ACK, "LAST_ACK");
	wait_state(19, TCP_CLOSING, "CLOSING");
	wait_state(12, TCP_CLOSE_WAIT, "CLOSE_WAIT");
	wait_state(11, TCP_FIN_WAIT2, "FIN_WAIT2");
	CHECK(state(13) == TCP_FIN_WAIT1, "fd 13: state %d, not FIN_WAIT1", state(13));
	target_wait();
	CHECK(state(12) == TCP_CLOSE_WAIT, "fd 12: state %d after restore, not CLOSE_WAIT", state(12));
	CHECK(state(11) == TCP_FIN_WAIT2, "fd 11: state %d after restore, not FIN_WAIT2", state(11));
	CHECK(state(13) == TCP_FIN_WAIT1, "fd 13: state %d after restore, not FIN_WAIT1", state(13));
	CHECK(inq(12) == 3000, "fd 12: %d bytes to read, not 3000", inq(12));
	get(12, &s_in, 3000, 1);
	put(12, &s_out, 1000, 1);
	get(11, &c_in, 3000, 0);
	write_fails(11);
	close(12);
	get(11, &c_in, 0, 1);
	fcntl(14, F_SETFL, 0);
	get(14, &b_in, b_out, 1);
	wait_state(13, TCP_FIN_WAIT2, "FIN_WAIT2");
	write_fails(13);
	put(14, &b_back, 500, 1);
	get(13, &b_got, 500, 0);
	CHECK(state(15) == TCP_CLOSE_WAIT, "fd 15: state %d after restore, not CLOSE_WAIT", state(15));
	get(15, &d_in, 1500, 1);
	put(15, &d_back, 100, 1);
	get(16, &d_got, 100, 0);
	CHECK(state(17) == TCP_LAST_ACK, "fd 17: state %d after restore, not LAST_ACK", state(17));
	CHECK(state(19) == TCP_CLOSING || state(19) == TCP_LAST_ACK,
	      "fd 19: state %d after restore, not CLOSING or LAST_ACK", state(19));
	get(17, &e_in, 700, 1);
	get(19, &g_in, 0, 1);
	write_fails(17);
	write_fails(19);
	get(18, &f_in, f_out, 1);
	get(20, &g_got, g_out, 1);
	wait_state(17, TCP_CLOSE, "CLOSE");
	wait_state(19, TCP_CLOSE, "CLOSE");
	fprintf(stderr, "fd_tcp_fin: %llu and %llu bytes read to the end\n",
		(unsigned long long)s_in, (unsigned long long)b_in);
	return target_exit();
}

/* 11 and 12 through the listener: 11 wrote 100 bytes and shut its side,
 * then 12 shut its own without reading: both ends CLOSE (11 by way of
 * TIME_WAIT, 12 of LAST_ACK), the fds held, 12 with the 100 bytes. */
static int ended(void)
{
	struct sockaddr_storage a;
	socklen_t len = listen_loopback(AF_INET, &a);
	uint64_t out = 0, in = 0, in11 = 0;

	pair(AF_INET, &a, len, 11, 12);
	put(11, &out, 100, 1);
	shutdown(11, SHUT_WR);
	wait_state(12, TCP_CLOSE_WAIT, "CLOSE_WAIT");
	shutdown(12, SHUT_WR);
	wait_state(12, TCP_CLOSE, "CLOSE");
	wait_state(11, TCP_CLOSE, "CLOSE");
	target_wait();
	get(12, &in, 100, 1);
	get(11, &in11, 0, 1);
	write_fails(11);
	write_fails(12);
	printf("%llu %llu\n", (unsigned long long)in, (unsigned long long)in11);
	return target_exit();
}

static void dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };

	at(socket(AF_INET, SOCK_STREAM, 0), 10);
	if (connect(10, (struct sockaddr *)&a, sizeof(a)) < 0) {
		target_fail("cannot connect to port %d: %s", port, strerror(errno));
		exit(target_exit());
	}
}

static int closewait(int port)
{
	uint64_t in = 0, out = 0;

	dial(port);
	wait_state(10, TCP_CLOSE_WAIT, "CLOSE_WAIT");
	for (int i = 0; i < 24000 && inq(10) < 5000; i++)
		target_sleep_ms(5);
	target_wait();
	CHECK(state(10) == TCP_CLOSE_WAIT, "fd 10: state %d after restore, not CLOSE_WAIT", state(10));
	get(10, &in, 5000, 1);
	put(10, &out, 7000, 1);
	close(10);
	printf("%llu %llu\n", (unsigned long long)in, (unsigned long long)out);
	return target_exit();
}

static int finwait(int port, const char *go)
{
	uint64_t in = 0, out = 0;
	int fd;

	dial(port);
	put(10, &out, 4000, 1);
	shutdown(10, SHUT_WR);
	wait_state(10, TCP_FIN_WAIT2, "FIN_WAIT2");
	target_wait();
	CHECK(state(10) == TCP_FIN_WAIT2, "fd 10: state %d after restore, not FIN_WAIT2", state(10));
	write_fails(10);
	if ((fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0)
		close(fd);
	get(10, &in, 6000, 1);
	printf("%llu %llu\n", (unsigned long long)in, (unsigned long long)out);
	return target_exit();
}

static int peer(const char *portfile, const char *mode, const char *go)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	uint64_t in = 0, out = 0;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c;

	signal(SIGPIPE, SIG_IGN);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0) {
		target_fail("peer: listener: %s", strerror(errno));
		return target_exit();
	}
	if (put_port(portfile, ntohs(a.sin_port)) < 0)
		return target_exit();
	if ((c = accept(l, NULL, NULL)) < 0) {
		target_fail("peer: accept: %s", strerror(errno));
		return target_exit();
	}
	if (!strcmp(mode, "closewait")) {
		put(c, &out, 5000, 1);
		shutdown(c, SHUT_WR);
		get(c, &in, 7000, 1);
	} else {
		get(c, &in, 4000, 1);
		while (access(go, F_OK) < 0)
			target_sleep_ms(5);
		put(c, &out, 6000, 1);
	}
	close(c);
	printf("%llu %s\n", (unsigned long long)in, target_failures ? "bad" : "ok");
	return target_exit();
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "loop"))
		return loop(AF_INET, 0);
	if (argc == 2 && !strcmp(argv[1], "loop6"))
		return loop(AF_INET6, 0);
	if (argc == 2 && !strcmp(argv[1], "mapped"))
		return loop(AF_INET6, 1);
	if (argc == 2 && !strcmp(argv[1], "ended"))
		return ended();
	if (argc == 3 && !strcmp(argv[1], "closewait"))
		return closewait(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "finwait"))
		return finwait(atoi(argv[2]), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "peer"))
		return peer(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: fd_tcp_fin loop | loop6 | mapped | ended | closewait PORT | finwait PORT GOFILE | "
		"peer PORTFILE closewait|finwait GOFILE\n");
	return 2;
}
