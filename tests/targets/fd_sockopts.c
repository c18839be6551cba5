/*
 * TCP and UDP sockets with options set beyond the usual few: keepalive
 * timers, a linger, timeouts, TOS, TTL, priority, a user timeout, a
 * congestion control, multicast TTL and loop, error queues.  Each is
 * read before READY and again after GO: the same values (a restore that
 * gave a new socket's defaults changes them).  And a timeout at work: a
 * recv on the UDP socket with SO_RCVTIMEO returns EAGAIN (without it the
 * recv would wait for good: alarm ends the target then, a failure).
 *   10  TCP listener on 127.0.0.1
 *   11  UDP socket bound to 127.0.0.1
 *   12  IPv6 UDP socket on [::1] (when the host has IPv6)
 *   15, 16  a unix stream socket pair, a send and a receive timeout
 *   17, 18  a unix datagram pair, a datagram queued on 17, a receive
 *           timeout and a priority on 17 (after the datagram, EAGAIN)
 * With "conn": 13 a client connected to 10, 14 the connection it
 * accepted (its options inherited from the listener), 13 with options of
 * its own (restored with TCP_REPAIR: root).
 * With "filter": 11 also carries a socket filter (dump refuses it).
 * Usage: fd_sockopts [conn|filter]
 */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include "target.h"

struct opt {
	int fd, level, name;
	const char *label;
	unsigned char want[16];	/* set to this (len bytes) */
	socklen_t len;
	unsigned char before[16];
};


static struct opt opts[] = {
	{ 10, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", { 0 }, 4, { 0 } },
	{ 10, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", { 0 }, 4, { 0 } },
	{ 10, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", { 0 }, 4, { 0 } },
	{ 10, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", { 0 }, 4, { 0 } },
	{ 10, IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", { 0 }, 4, { 0 } },
	{ 10, IPPROTO_IP, IP_TOS, "IP_TOS", { 0 }, 4, { 0 } },
	{ 10, IPPROTO_IP, IP_TTL, "IP_TTL", { 0 }, 4, { 0 } },
	{ 10, SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", { 0 }, 4, { 0 } },
	{ 10, SOL_SOCKET, SO_LINGER, "SO_LINGER", { 0 }, sizeof(struct linger), { 0 } },
	{ 10, SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO", { 0 }, sizeof(struct timeval), { 0 } },
	{ 10, IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", "reno", 16, { 0 } },
	{ 11, IPPROTO_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL", { 0 }, 4, { 0 } },
	{ 11, IPPROTO_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", { 0 }, 4, { 0 } },
	{ 11, IPPROTO_IP, IP_RECVERR, "IP_RECVERR", { 0 }, 4, { 0 } },
	{ 11, IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO", { 0 }, 4, { 0 } },
	{ 11, SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO", { 0 }, sizeof(struct timeval), { 0 } },
	{ 12, IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", { 0 }, 4, { 0 } },
	{ 12, IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", { 0 }, 4, { 0 } },
	{ 12, IPPROTO_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO", { 0 }, 4, { 0 } },
	{ 13, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", { 0 }, 4, { 0 } },
	{ 13, IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", { 0 }, 4, { 0 } },
	{ 13, IPPROTO_IP, IP_TOS, "IP_TOS", { 0 }, 4, { 0 } },
	{ 14, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE (accepted)", { 0 }, 4, { 0 } },
	{ 14, IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION (accepted)", { 0 }, 16, { 0 } },
	{ 14, SOL_SOCKET, SO_LINGER, "SO_LINGER (accepted)", { 0 }, sizeof(struct linger), { 0 } },
	{ 15, SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO (unix)", { 0 }, sizeof(struct timeval), { 0 } },
	{ 16, SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO (unix)", { 0 }, sizeof(struct timeval), { 0 } },
	{ 17, SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO (unix datagrams)", { 0 }, sizeof(struct timeval),
	  { 0 } },
	{ 17, SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY (unix datagrams)", { 0 }, 4, { 0 } },
};
/* the ints, in the order of opts (the rest set below) */
static const int ints[] = { 77, 11, 3, 1234, 5, 0x10, 33, 3, 0, 0, 0, 7, 0, 1, 1, 0, 9, 0x40, 1,
			    99, 4096, 0x20, 0, 0, 0, 0, 0, 0, 2 };

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want) {
		target_fail("cannot make fd %d: %s", want, strerror(errno));
		exit(target_exit());
	}
	close(fd);
}

static int open_fd(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t alen = sizeof(a);
	struct linger lg = { 1, 5 };
	struct timeval tv = { 3, 250000 }, utv = { 0, 200000 };
	char byte;
	int fd;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (opts[i].len == sizeof(int))
			memcpy(opts[i].want, &ints[i], sizeof(int));
	memcpy(opts[8].want, &lg, sizeof(lg));
	memcpy(opts[9].want, &tv, sizeof(tv));
	memcpy(opts[15].want, &utv, sizeof(utv));
	memcpy(opts[25].want, &tv, sizeof(tv));
	memcpy(opts[26].want, &utv, sizeof(utv));
	memcpy(opts[27].want, &utv, sizeof(utv));
	memcpy(opts[12].want, &(int){ 0 }, sizeof(int));	/* loop: 0, not the default 1 */

	at(socket(AF_INET, SOCK_STREAM, 0), 10);
	at(socket(AF_INET, SOCK_DGRAM, 0), 11);
	{
		int sp[2], dp[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 ||
		    socketpair(AF_UNIX, SOCK_DGRAM, 0, dp) < 0)
			target_fail("socketpair: %s", strerror(errno));
		at(sp[0], 15);
		at(sp[1], 16);
		at(dp[0], 17);
		at(dp[1], 18);
		/* a datagram queued: the options come after its length */
		if (write(18, "m", 1) != 1)
			target_fail("write: %s", strerror(errno));
	}
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0)
		at(fd, 12);
	else if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].fd != 13 && opts[i].fd != 14 && open_fd(opts[i].fd) &&
		    setsockopt(opts[i].fd, opts[i].level, opts[i].name, opts[i].want,
			       opts[i].level == IPPROTO_TCP && opts[i].name == TCP_CONGESTION ?
			       4 : opts[i].len) < 0)
			target_fail("fd %d: cannot set %s: %s", opts[i].fd, opts[i].label, strerror(errno));
	if (bind(10, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(10, 5) < 0 ||
	    getsockname(10, (struct sockaddr *)&a, &alen) < 0)
		target_fail("listener: %s", strerror(errno));
	if (bind(11, (struct sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) }, sizeof(a)) < 0)
		target_fail("udp bind: %s", strerror(errno));
	if (!strcmp(mode, "conn")) {
		at(socket(AF_INET, SOCK_STREAM, 0), 13);
		if (connect(13, (struct sockaddr *)&a, sizeof(a)) < 0)
			target_fail("connect: %s", strerror(errno));
		/* TCP_DEFER_ACCEPT: accept waits for data */
		if (write(13, "x", 1) != 1)
			target_fail("write: %s", strerror(errno));
		at(accept(10, NULL, NULL), 14);
		if (read(14, &byte, 1) != 1)
			target_fail("read: %s", strerror(errno));
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (opts[i].fd == 13 &&
			    setsockopt(13, opts[i].level, opts[i].name, opts[i].want, opts[i].len) < 0)
				target_fail("fd 13: cannot set %s: %s", opts[i].label, strerror(errno));
	}
	if (!strcmp(mode, "filter")) {
		struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 0xffff) };
		struct sock_fprog prog = { 1, code };

		if (setsockopt(11, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
			target_fail("SO_ATTACH_FILTER: %s", strerror(errno));
	}
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		socklen_t len = opts[i].len;

		if (open_fd(opts[i].fd))
			getsockopt(opts[i].fd, opts[i].level, opts[i].name, opts[i].before, &len);
	}
	target_wait();

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		unsigned char now[16] = { 0 };
		socklen_t len = opts[i].len;

		if (!open_fd(opts[i].fd))
			continue;
		if (getsockopt(opts[i].fd, opts[i].level, opts[i].name, now, &len) < 0)
			target_fail("fd %d: %s: %s", opts[i].fd, opts[i].label, strerror(errno));
		else if (memcmp(now, opts[i].before, opts[i].len))
			target_fail("fd %d: %s is %d, was %d", opts[i].fd, opts[i].label, *(int *)now,
				    *(int *)opts[i].before);
	}
	/* the timeout at work: EAGAIN after 0.2 s, not a wait for good */
	alarm(30);
	if (recv(11, &byte, 1, 0) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		target_fail("recv with SO_RCVTIMEO: %s", strerror(errno));
	if (recv(16, &byte, 1, 0) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		target_fail("recv on a unix socket with SO_RCVTIMEO: %s", strerror(errno));
	if (recv(17, &byte, 1, 0) != 1 || byte != 'm')
		target_fail("the queued datagram: %s", strerror(errno));
	if (recv(17, &byte, 1, 0) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		target_fail("recv on a unix datagram socket with SO_RCVTIMEO: %s", strerror(errno));
	return target_exit();
}
