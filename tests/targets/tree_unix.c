/*
 * Unix sockets connected through a listener between two processes of a
 * tree (issue 12): the parent is a server listening on a path (stream)
 * and on an abstract name (seqpacket), with a named datagram socket; its
 * child is a client that connected to each (the seqpacket one from a
 * name of its own) and connect()ed a datagram socket to the server's.
 * The server holds the accepted sockets.  Bytes are in flight both ways
 * (40000 and 20000 on the stream, two messages each way on the
 * seqpacket connection, two datagrams to the server) when the tree is
 * dumped.  Two more stream connections through the path listener have
 * one end closed: the client's (the server has "bye" to read, then the
 * end) and the server's ("closing" for the client).  And two named
 * datagram sockets, one in each process, are connected to each other,
 * a datagram queued on each from the other; the server's named datagram
 * socket also has datagrams queued from a named socket of the client's
 * and from one the client closed since (their names come back with
 * them).
 * After GO each side reads exactly what was in flight, checks the names
 * each socket sees (getsockname/getpeername: an accepted socket has its
 * listener's name), talks once more over every connection, and the
 * client connects again to both listeners: they still listen.  With
 * "thread", the client is a thread of the server's process: every
 * connection is between two sockets of one process.
 * Output: "tree_unix: ok".  Usage: tree_unix DIR [thread]
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "target.h"

#define TO_SERVER	40000
#define TO_CLIENT	20000

static struct sockaddr_un srv_path, srv_abs, cli_abs, dg_path, srv_dg, cli_dg, cli_n, cli_gone;
static socklen_t srv_path_len, srv_abs_len, cli_abs_len, dg_path_len, srv_dg_len, cli_dg_len,
	cli_n_len, cli_gone_len;

static socklen_t set_name(struct sockaddr_un *sa, const char *name, size_t len)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

static unsigned char pattern(size_t i, int salt)
{
	return (unsigned char)((i * 13 + (size_t)salt) % 251);
}

static void fill(int fd, size_t n, int salt)
{
	unsigned char buf[4096];

	for (size_t at = 0; at < n;) {
		size_t len = n - at < sizeof(buf) ? n - at : sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = pattern(at + i, salt);
		if (send(fd, buf, len, 0) != (ssize_t)len)
			target_fail("stream send: %s", strerror(errno));
		at += len;
	}
}

/* Exactly n bytes of the pattern. */
static void drain(int fd, size_t n, int salt, const char *who)
{
	unsigned char buf[4096];
	size_t at = 0, bad = 0;
	ssize_t r = 1;

	while (at < n && (r = recv(fd, buf, n - at < sizeof(buf) ? n - at : sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			bad += buf[i] != pattern(at + (size_t)i, salt);
		at += (size_t)r;
	}
	CHECK(at == n && !bad, "%s: %zu bytes (want %zu), %zu wrong (%s)", who, at, n, bad,
	      r < 0 ? strerror(errno) : "");
}

static void expect(int fd, const char *want, const char *who)
{
	char buf[64] = "";
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);

	CHECK(r == (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)),
	      "%s: got \"%.*s\", want \"%s\"", who, r > 0 ? (int)r : 0, buf, want);
}

/* getsockname (peer 0) or getpeername (1) of fd is the name want. */
static void name_is(int fd, int peer, const struct sockaddr_un *want, socklen_t wlen,
		    const char *who)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len) :
		       getsockname(fd, (struct sockaddr *)&sa, &len);

	CHECK(r == 0 && len == wlen && !memcmp(&sa, want, wlen), "%s: %s is not the one it had "
	      "(%s, length %u, want %u)", who, peer ? "its peer's name" : "its name",
	      r ? strerror(errno) : "", (unsigned)len, (unsigned)wlen);
}

/* A datagram want from the socket named from. */
static void expect_from(int fd, const char *want, const struct sockaddr_un *from, socklen_t flen,
			const char *who)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char buf[64] = "";
	ssize_t r = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&sa, &len);

	CHECK(r == (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)),
	      "%s: got \"%.*s\", want \"%s\"", who, r > 0 ? (int)r : 0, buf, want);
	CHECK(len == flen && !memcmp(&sa, from, flen), "%s: not from the name it was sent from", who);
}

/* The end of a stream: nothing more, then EOF. */
static void at_end(int fd, const char *who)
{
	char c;

	CHECK(recv(fd, &c, 1, 0) == 0, "%s: not at its end", who);
}

static void unnamed(int fd, int peer, const char *who)
{
	struct sockaddr_un none = { .sun_family = AF_UNIX };

	name_is(fd, peer, &none, sizeof(sa_family_t), who);
}

static int sock(int type)
{
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0)
		target_fail("socket: %s", strerror(errno));
	return fd;
}

static int dial(int type, const struct sockaddr_un *to, socklen_t len, const char *who)
{
	int fd = sock(type);

	if (connect(fd, (const struct sockaddr *)to, len) < 0)
		target_fail("%s: connect: %s", who, strerror(errno));
	return fd;
}

static int client(int hs)
{
	int cs = dial(SOCK_STREAM, &srv_path, srv_path_len, "client stream");
	int cq = sock(SOCK_SEQPACKET), cd, cd2 = sock(SOCK_DGRAM), cn = sock(SOCK_DGRAM);
	int cg = sock(SOCK_DGRAM), gone, cs3, n1, n2;

	if (bind(cq, (struct sockaddr *)&cli_abs, cli_abs_len) < 0 ||
	    connect(cq, (struct sockaddr *)&srv_abs, srv_abs_len) < 0)
		target_fail("client seqpacket: %s", strerror(errno));
	cd = dial(SOCK_DGRAM, &dg_path, dg_path_len, "client dgram");
	if (bind(cd2, (struct sockaddr *)&cli_dg, cli_dg_len) < 0 ||
	    connect(cd2, (struct sockaddr *)&srv_dg, srv_dg_len) < 0)
		target_fail("client named dgram: %s", strerror(errno));
	gone = dial(SOCK_STREAM, &srv_path, srv_path_len, "client stream 2");
	cs3 = dial(SOCK_STREAM, &srv_path, srv_path_len, "client stream 3");
	send(gone, "bye", 3, 0);
	close(gone);
	fill(cs, TO_SERVER, 1);
	send(cq, "c2s msg 1", 9, 0);
	send(cq, "c2s msg 2", 9, 0);
	send(cd, "dg 1", 4, 0);
	send(cd, "dg 2", 4, 0);
	if (bind(cn, (struct sockaddr *)&cli_n, cli_n_len) < 0 ||
	    bind(cg, (struct sockaddr *)&cli_gone, cli_gone_len) < 0 ||
	    sendto(cn, "named 1", 7, 0, (struct sockaddr *)&dg_path, dg_path_len) != 7 ||
	    sendto(cg, "gone 1", 6, 0, (struct sockaddr *)&dg_path, dg_path_len) != 6 ||
	    send(cd2, "c-dg 0", 6, 0) != 6)
		target_fail("client, named senders: %s", strerror(errno));
	close(cg);
	CHECK(write(hs, "x", 1) == 1, "client: handshake");
	close(hs);
	while (!target_go())
		target_sleep_ms(5);
	drain(cs, TO_CLIENT, 2, "client stream");
	expect(cq, "s2c msg 1", "client seqpacket");
	expect(cq, "s2c msg 2", "client seqpacket");
	unnamed(cs, 0, "client stream");
	name_is(cs, 1, &srv_path, srv_path_len, "client stream");
	name_is(cq, 0, &cli_abs, cli_abs_len, "client seqpacket");
	name_is(cq, 1, &srv_abs, srv_abs_len, "client seqpacket");
	name_is(cd, 1, &dg_path, dg_path_len, "client dgram");
	expect(cs3, "closing", "client stream 3");
	at_end(cs3, "client stream 3");
	name_is(cs3, 1, &srv_path, srv_path_len, "client stream 3");
	name_is(cd2, 0, &cli_dg, cli_dg_len, "client named dgram");
	name_is(cd2, 1, &srv_dg, srv_dg_len, "client named dgram");
	/* each connection still leads to the server */
	send(cs, "ping", 4, 0);
	expect(cs, "pong", "client stream");
	send(cq, "ping", 4, 0);
	expect(cq, "pong", "client seqpacket");
	CHECK(send(cd, "dg 3", 4, 0) == 4, "client dgram: send: %s", strerror(errno));
	expect_from(cd2, "s-dg 0", &srv_dg, srv_dg_len, "client named dgram");
	expect_from(cd2, "s-dg", &srv_dg, srv_dg_len, "client named dgram");
	CHECK(send(cd2, "c-dg", 4, 0) == 4, "client named dgram: send: %s", strerror(errno));
	/* the listeners still listen */
	n1 = dial(SOCK_STREAM, &srv_path, srv_path_len, "client, new stream");
	n2 = dial(SOCK_SEQPACKET, &srv_abs, srv_abs_len, "client, new seqpacket");
	send(n1, "new", 3, 0);
	send(n2, "new", 3, 0);
	expect(n1, "welcome", "client, new stream");
	expect(n2, "welcome", "client, new seqpacket");
	return target_failures ? 1 : 0;
}

static void *client_thread(void *hs)
{
	client(*(int *)hs);
	return NULL;
}

static int listener(int type, const struct sockaddr_un *sa, socklen_t len)
{
	int fd = sock(type);

	if (bind(fd, (const struct sockaddr *)sa, len) < 0 || listen(fd, 8) < 0)
		target_fail("listener: %s", strerror(errno));
	return fd;
}

static void welcome(int l, const char *who)
{
	int fd = accept(l, NULL, NULL);

	CHECK(fd >= 0, "%s: accept after restore: %s", who, strerror(errno));
	expect(fd, "new", who);
	send(fd, "welcome", 7, 0);
	close(fd);
}

int main(int argc, char **argv)
{
	char path[108], abs_name[64];
	int ls, lq, ds, ds2, as, aq, as2, as3, hs[2], status;
	struct sockaddr_un from;
	socklen_t flen = sizeof(from);
	char buf[16] = "";
	int threaded = argc > 2 && !strcmp(argv[2], "thread");
	pthread_t th;
	pid_t kid = 0;

	if (argc < 2 || strlen(argv[1]) + 8 > sizeof(path))
		return 2;
	snprintf(path, sizeof(path), "%s/s.sock", argv[1]);
	srv_path_len = set_name(&srv_path, path, strlen(path) + 1);
	snprintf(path, sizeof(path), "%s/d.sock", argv[1]);
	dg_path_len = set_name(&dg_path, path, strlen(path) + 1);
	snprintf(abs_name, sizeof(abs_name), "%cckpt-tree-unix-%d", 0, (int)getpid());
	srv_abs_len = set_name(&srv_abs, abs_name, 1 + strlen(abs_name + 1));
	snprintf(abs_name, sizeof(abs_name), "%cckpt-tree-unix-cli-%d", 0, (int)getpid());
	cli_abs_len = set_name(&cli_abs, abs_name, 1 + strlen(abs_name + 1));
	snprintf(abs_name, sizeof(abs_name), "%cckpt-tree-unix-sdg-%d", 0, (int)getpid());
	srv_dg_len = set_name(&srv_dg, abs_name, 1 + strlen(abs_name + 1));
	snprintf(abs_name, sizeof(abs_name), "%cckpt-tree-unix-cdg-%d", 0, (int)getpid());
	cli_dg_len = set_name(&cli_dg, abs_name, 1 + strlen(abs_name + 1));
	snprintf(abs_name, sizeof(abs_name), "%cckpt-tree-unix-cn-%d", 0, (int)getpid());
	cli_n_len = set_name(&cli_n, abs_name, 1 + strlen(abs_name + 1));
	snprintf(abs_name, sizeof(abs_name), "%cckpt-tree-unix-cg-%d", 0, (int)getpid());
	cli_gone_len = set_name(&cli_gone, abs_name, 1 + strlen(abs_name + 1));
	ls = listener(SOCK_STREAM, &srv_path, srv_path_len);
	lq = listener(SOCK_SEQPACKET, &srv_abs, srv_abs_len);
	ds = sock(SOCK_DGRAM);
	ds2 = sock(SOCK_DGRAM);
	if (bind(ds, (struct sockaddr *)&dg_path, dg_path_len) < 0 ||
	    bind(ds2, (struct sockaddr *)&srv_dg, srv_dg_len) < 0 || pipe(hs) < 0)
		return 2;
	if (threaded) {
		if (pthread_create(&th, NULL, client_thread, &hs[1]))
			return 2;
	} else if (!(kid = fork())) {
		close(ls);
		close(lq);
		close(ds);
		close(ds2);
		close(hs[0]);
		_exit(client(hs[1]));
	} else {
		close(hs[1]);
	}
	as = accept(ls, NULL, NULL);
	aq = accept(lq, NULL, NULL);
	as2 = accept(ls, NULL, NULL);
	as3 = accept(ls, NULL, NULL);
	CHECK(as >= 0 && aq >= 0 && as2 >= 0 && as3 >= 0, "server: accept: %s", strerror(errno));
	fill(as, TO_CLIENT, 2);
	send(aq, "s2c msg 1", 9, 0);
	send(aq, "s2c msg 2", 9, 0);
	send(as3, "closing", 7, 0);
	close(as3);
	CHECK(read(hs[0], buf, 1) == 1, "server: handshake");
	close(hs[0]);
	/* the client's is bound now */
	CHECK(connect(ds2, (struct sockaddr *)&cli_dg, cli_dg_len) == 0, "server named dgram: "
	      "connect: %s", strerror(errno));
	CHECK(send(ds2, "s-dg 0", 6, 0) == 6, "server named dgram: send: %s", strerror(errno));
	target_wait();
	drain(as, TO_SERVER, 1, "server stream");
	expect(aq, "c2s msg 1", "server seqpacket");
	expect(aq, "c2s msg 2", "server seqpacket");
	expect(ds, "dg 1", "server dgram");
	expect(ds, "dg 2", "server dgram");
	expect_from(ds, "named 1", &cli_n, cli_n_len, "server dgram");
	expect_from(ds, "gone 1", &cli_gone, cli_gone_len, "server dgram");
	expect_from(ds2, "c-dg 0", &cli_dg, cli_dg_len, "server named dgram");
	name_is(as, 0, &srv_path, srv_path_len, "server stream");
	unnamed(as, 1, "server stream");
	name_is(aq, 0, &srv_abs, srv_abs_len, "server seqpacket");
	name_is(aq, 1, &cli_abs, cli_abs_len, "server seqpacket");
	expect(as2, "bye", "server stream 2");
	at_end(as2, "server stream 2");
	name_is(as2, 0, &srv_path, srv_path_len, "server stream 2");
	name_is(ds2, 0, &srv_dg, srv_dg_len, "server named dgram");
	name_is(ds2, 1, &cli_dg, cli_dg_len, "server named dgram");
	CHECK(send(ds2, "s-dg", 4, 0) == 4, "server named dgram: send: %s", strerror(errno));
	expect(as, "ping", "server stream");
	send(as, "pong", 4, 0);
	expect(aq, "ping", "server seqpacket");
	send(aq, "pong", 4, 0);
	memset(buf, 0, sizeof(buf));
	CHECK(recvfrom(ds, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 4 &&
	      !strcmp(buf, "dg 3"), "server dgram: got \"%s\", want \"dg 3\"", buf);
	expect_from(ds2, "c-dg", &cli_dg, cli_dg_len, "server named dgram");
	welcome(ls, "server, new stream");
	welcome(lq, "server, new seqpacket");
	if (threaded)
		pthread_join(th, NULL);
	else
		CHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0, "client: status %#x", status);
	if (!target_failures)
		printf("tree_unix: ok\n");
	return target_exit();
}
