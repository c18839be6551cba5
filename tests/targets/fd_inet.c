/*
 * TCP and UDP sockets, each with state to keep, at fixed numbers:
 *   10  TCP listener on 127.0.0.1 (a port of the kernel's choosing),
 *       backlog 5, SO_REUSEADDR
 *   11  TCP listener on [::1], IPV6_V6ONLY (when the host has IPv6)
 *   12  UDP socket bound to 127.0.0.1
 *   13  UDP socket connected to 12
 *   14  TCP socket not bound, TCP_NODELAY and SO_KEEPALIVE set
 *   15  TCP socket bound to 127.0.0.1, not listening
 * After GO each behaves as before: the same addresses and ports, the
 * listeners accept new clients (14 connects to 10), 13 sends to 12, and
 * the options read back the same.
 * Usage: fd_inet
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "target.h"

static struct sockaddr_storage names[16];
static int have6;

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want) {
		target_fail("cannot make fd %d: %s", want, strerror(errno));
		exit(target_exit());
	}
	close(fd);
}

static int intopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(fd, level, name, &v, &len);
	return v;
}

static int bound(int family, int type, int fd)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int s = socket(family, type, 0), one = 1;

	if (family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	} else {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (s < 0 || bind(s, (struct sockaddr *)&ss, len) < 0)
		return -1;
	at(s, fd);
	len = sizeof(names[fd]);
	getsockname(fd, (struct sockaddr *)&names[fd], &len);
	return fd;
}

static void setup(void)
{
	socklen_t len;
	int one = 1, s;

	if (bound(AF_INET, SOCK_STREAM, 10) < 0)
		target_fail("cannot bind fd 10: %s", strerror(errno));
	setsockopt(10, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	listen(10, 5);
	have6 = bound(AF_INET6, SOCK_STREAM, 11) == 11;
	if (have6)
		listen(11, SOMAXCONN);
	if (bound(AF_INET, SOCK_DGRAM, 12) < 0)
		target_fail("cannot bind fd 12: %s", strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (connect(s, (struct sockaddr *)&names[12], sizeof(struct sockaddr_in)) < 0)
		target_fail("cannot connect fd 13: %s", strerror(errno));
	at(s, 13);
	len = sizeof(names[13]);
	getsockname(13, (struct sockaddr *)&names[13], &len);
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	at(s, 14);
	if (bound(AF_INET, SOCK_STREAM, 15) < 0)
		target_fail("cannot bind fd 15: %s", strerror(errno));
}

static void same_name(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	      !memcmp(&ss, &names[fd], len), "fd %d: bound to another address or port", fd);
}

static void accepts(int lfd, int client, socklen_t len)
{
	int a, c = client >= 0 ? client : socket(names[lfd].ss_family, SOCK_STREAM, 0);
	char buf[8] = "";

	CHECK(intopt(lfd, SOL_SOCKET, SO_ACCEPTCONN) == 1, "fd %d: not listening", lfd);
	CHECK(connect(c, (struct sockaddr *)&names[lfd], len) == 0, "fd %d: cannot connect: %s", lfd,
	      strerror(errno));
	a = accept(lfd, NULL, NULL);
	CHECK(a >= 0 && write(c, "hi", 2) == 2 && read(a, buf, sizeof(buf)) == 2 && !strcmp(buf, "hi"),
	      "fd %d: accept and talk: %s", lfd, strerror(errno));
	close(a);
}

static void check(void)
{
	char buf[16] = "";

	for (int fd = 10; fd <= 15; fd++)
		if (fd != 14 && (fd != 11 || have6))
			same_name(fd);
	CHECK(intopt(10, SOL_SOCKET, SO_REUSEADDR) == 1, "fd 10: SO_REUSEADDR lost");
	CHECK(intopt(15, SOL_SOCKET, SO_REUSEADDR) == 0, "fd 15: SO_REUSEADDR set");
	CHECK(intopt(14, IPPROTO_TCP, TCP_NODELAY) == 1, "fd 14: TCP_NODELAY lost");
	CHECK(intopt(14, SOL_SOCKET, SO_KEEPALIVE) == 1, "fd 14: SO_KEEPALIVE lost");
	accepts(10, 14, sizeof(struct sockaddr_in));
	if (have6) {
		CHECK(intopt(11, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "fd 11: IPV6_V6ONLY lost");
		accepts(11, -1, sizeof(struct sockaddr_in6));
	}
	CHECK(send(13, "datagram", 8, 0) == 8, "fd 13: cannot send: %s", strerror(errno));
	CHECK(recv(12, buf, sizeof(buf), 0) == 8 && !strcmp(buf, "datagram"), "fd 12: got \"%s\"", buf);
	CHECK(intopt(15, SOL_SOCKET, SO_ACCEPTCONN) == 0, "fd 15: listening");
}

int main(void)
{
	setup();
	target_wait();
	check();
	return target_exit();
}
