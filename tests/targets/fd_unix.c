/*
 * Unix sockets, each with state to keep, at fixed descriptor numbers:
 *   10/11  stream socketpair: "hello, stream" queued on 10, "back" on 11,
 *          which peeks with SO_PEEK_OFF (2 bytes peeked: offset 2)
 *   12/13  datagram socketpair: datagrams of 5, 100 and 3000 bytes queued
 *          on 12, which has SO_PASSCRED
 *   14/15  seqpacket socketpair: packets "one", "two" queued on 15; 14
 *          shut down for writing (15 reads them, then end of file)
 *   16     stream socket whose peer is closed: "tail", then end of file
 *   17     stream listener on an abstract name, backlog 7
 *   18     stream listener on a path (argv[1]/listen.sock)
 *   19     datagram socket bound to argv[1]/dgram.sock, two datagrams
 *          queued from an unbound sender
 *   20     datagram socket connected (one way) to 19
 *   21/22  stream socketpair, 21 O_NONBLOCK and empty, 22 SO_SNDBUF 64 KiB
 * After GO each behaves as before: the same bytes in the same order (and
 * messages), names, options, and both ways still work.
 * Usage: fd_unix DIR
 */
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "target.h"

static char dir[80], abstract[64];

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want) {
		target_fail("cannot make fd %d: %s", want, strerror(errno));
		exit(target_exit());
	}
	close(fd);
}

static void pair_at(int type, int a, int b)
{
	int sv[2];

	if (socketpair(AF_UNIX, type, 0, sv) < 0)
		sv[0] = sv[1] = -1;
	at(sv[0], a);
	at(sv[1], b);
}

static socklen_t path_addr(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (name[0] == '@') {
		memcpy(sa->sun_path + 1, name + 1, strlen(name) - 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	}
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa->sun_path) + 1);
}

static int bound(int type, const char *name, int fd)
{
	struct sockaddr_un sa;
	socklen_t len = path_addr(&sa, name);
	int s = socket(AF_UNIX, type, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&sa, len) < 0)
		target_fail("cannot bind \"%s\": %s", name, strerror(errno));
	at(s, fd);
	return fd;
}

static int intopt(int fd, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(fd, SOL_SOCKET, name, &v, &len);
	return v;
}

static void setup(void)
{
	static char big[3000];
	struct sockaddr_un sa;
	int off = 0, s, one = 1;
	char tmp[8];

	pair_at(SOCK_STREAM, 10, 11);
	write(11, "hello, stream", 13);
	write(10, "back", 4);
	setsockopt(11, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
	recv(11, tmp, 2, MSG_PEEK);

	pair_at(SOCK_DGRAM, 12, 13);
	setsockopt(12, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	memset(big, 'x', sizeof(big));
	send(13, "12345", 5, 0);
	send(13, big, 100, 0);
	send(13, big, 3000, 0);

	pair_at(SOCK_SEQPACKET, 14, 15);
	send(14, "one", 3, 0);
	send(14, "two", 3, 0);
	shutdown(14, SHUT_WR);

	pair_at(SOCK_STREAM, 16, 23);
	write(23, "tail", 4);
	close(23);

	bound(SOCK_STREAM, abstract, 17);
	listen(17, 7);
	bound(SOCK_STREAM, "listen.sock", 18);
	listen(18, SOMAXCONN);

	bound(SOCK_DGRAM, "dgram.sock", 19);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	sendto(s, "first", 5, 0, (struct sockaddr *)&sa, path_addr(&sa, "dgram.sock"));
	sendto(s, "second", 6, 0, (struct sockaddr *)&sa, path_addr(&sa, "dgram.sock"));
	close(s);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (connect(s, (struct sockaddr *)&sa, path_addr(&sa, "dgram.sock")) < 0)
		target_fail("cannot connect to dgram.sock: %s", strerror(errno));
	at(s, 20);

	pair_at(SOCK_STREAM | SOCK_NONBLOCK, 21, 22);
	s = 32768;
	setsockopt(22, SOL_SOCKET, SO_SNDBUF, &s, sizeof(s));
}

static void expect(int fd, int flags, const char *want, size_t len, const char *what)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), flags | MSG_DONTWAIT);

	CHECK(n == (ssize_t)len && !memcmp(buf, want, len), "%s: got %zd bytes \"%.*s\", want \"%.*s\"",
	      what, n, n > 0 ? (int)(n < 40 ? n : 40) : 0, buf, (int)len, want);
}

static void expect_eof(int fd, const char *what)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	CHECK(n == 0, "%s: want end of file, got %zd (%s)", what, n, n < 0 ? strerror(errno) : "data");
}

/* A new client of listener fd at name gets accepted. */
static void serves(int fd, const char *name)
{
	struct sockaddr_un sa, got;
	socklen_t len = path_addr(&sa, name), glen = sizeof(got);
	int c = socket(AF_UNIX, SOCK_STREAM, 0), a;

	CHECK(intopt(fd, SO_ACCEPTCONN) == 1, "%s: not listening", name);
	CHECK(getsockname(fd, (struct sockaddr *)&got, &glen) == 0 && glen == len &&
	      !memcmp(&got, &sa, len), "%s: getsockname differs", name);
	CHECK(connect(c, (struct sockaddr *)&sa, len) == 0, "%s: cannot connect: %s", name,
	      strerror(errno));
	a = accept(fd, NULL, NULL);
	CHECK(a >= 0 && write(c, "hi", 2) == 2, "%s: accept: %s", name, strerror(errno));
	expect(a, 0, "hi", 2, name);
	close(a);
	close(c);
}

static void check(void)
{
	static char big[3000];
	char peer[4];

	memset(big, 'x', sizeof(big));
	CHECK(intopt(11, SO_PEEK_OFF) == 2, "fd 11: SO_PEEK_OFF %d, want 2", intopt(11, SO_PEEK_OFF));
	expect(11, MSG_PEEK, "ck", 2, "fd 11 peeked from offset 2");
	expect(10, 0, "hello, stream", 13, "fd 10");
	expect(11, 0, "back", 4, "fd 11");
	CHECK(write(10, "again", 5) == 5, "fd 10: cannot write");
	expect(11, 0, "again", 5, "fd 11 after restore");

	CHECK(intopt(12, SO_PASSCRED) == 1, "fd 12: SO_PASSCRED lost");
	CHECK(intopt(12, SO_TYPE) == SOCK_DGRAM, "fd 12: not a datagram socket");
	expect(12, 0, "12345", 5, "fd 12 datagram 1");
	expect(12, 0, big, 100, "fd 12 datagram 2");
	expect(12, 0, big, 3000, "fd 12 datagram 3");
	CHECK(send(12, "ping", 4, 0) == 4, "fd 12: cannot send");
	expect(13, 0, "ping", 4, "fd 13 after restore");

	expect(15, 0, "one", 3, "fd 15 packet 1");
	expect(15, 0, "two", 3, "fd 15 packet 2");
	expect_eof(15, "fd 15 (peer shut down for writing)");
	CHECK(send(15, "up", 2, 0) == 2, "fd 15: cannot send the other way");
	expect(14, 0, "up", 2, "fd 14");

	expect(16, 0, "tail", 4, "fd 16");
	expect_eof(16, "fd 16 (peer closed)");

	serves(17, abstract);
	serves(18, "listen.sock");

	expect(19, 0, "first", 5, "fd 19 datagram 1");
	expect(19, 0, "second", 6, "fd 19 datagram 2");
	CHECK(send(20, "via 20", 6, 0) == 6, "fd 20: cannot send to its peer: %s", strerror(errno));
	expect(19, 0, "via 20", 6, "fd 19 from fd 20");

	CHECK(fcntl(21, F_GETFL) & O_NONBLOCK, "fd 21: O_NONBLOCK lost");
	CHECK(recv(21, peer, 1, 0) < 0 && errno == EAGAIN, "fd 21: want EAGAIN");
	CHECK(intopt(22, SO_SNDBUF) == 65536, "fd 22: SO_SNDBUF %d, want 65536", intopt(22, SO_SNDBUF));
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	snprintf(abstract, sizeof(abstract), "@ckpt-fd-unix-%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	setup();
	target_wait();
	check();
	return target_exit();
}
