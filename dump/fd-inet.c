/*
 * TCP and UDP sockets: the address bound and connected to, the options
 * programs set (getsockopt on ckpt's copy), a listener's backlog and
 * pending connections (inet_diag: getsockopt has neither).  Listening
 * and unconnected TCP sockets and UDP sockets with nothing queued are
 * restored; a TCP connection (established, closing, or being opened) is
 * read by fd-tcp.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "dump/fd.h"
#include "dump/sockdiag.h"
#include "image/fdkind.h"
#include "image/sockopt.h"

#define TCP_LISTEN	10	/* include/net/tcp_states.h */
#define TCP_CLOSE	7

static int opt(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, name, &v, &len) < 0 ? 0 : v;
}

/* An address as the image keeps it: 16 bytes and a port. */
static int name_of(int fd, int peer, struct ckpt_fd_inet *s, uint8_t *a, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
		    getsockname(fd, (struct sockaddr *)&ss, &len)) < 0)
		return -errno;
	if (s->family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		memcpy(a, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		memcpy(a, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	}
	return 0;
}

/*
 * The peer a connect(2) in progress goes to: getpeername(2) says ENOTCONN
 * in SYN_SENT (inet_getname), so from /proc/net/tcp or tcp6 (proc(5)),
 * the line of its inode: "sl local rem st ... inode", an address as the
 * hex of each 32-bit word in host order, the port in hex.
 */
static int connecting_to(const struct dfile *d, struct ckpt_fd_inet *s)
{
	char *buf, *line, *save;
	int v6 = s->family == AF_INET6, ret = -ENOENT;

	if (read_file(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", &buf, NULL) < 0)
		return -errno;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char rem[40];
		unsigned port, st;
		unsigned long long ino;

		if (sscanf(line, "%*s %*s %39[0-9A-Fa-f]:%x %x %*s %*s %*s %*s %*s %llu", rem, &port,
			   &st, &ino) != 4 || ino != (unsigned long long)d->st.st_ino)
			continue;
		for (int w = 0; w < (v6 ? 4 : 1); w++) {
			char word[9];
			uint32_t x;

			memcpy(word, rem + 8 * w, 8);
			word[8] = 0;
			x = (uint32_t)strtoul(word, NULL, 16);
			memcpy(s->peer_addr + 4 * w, &x, 4);	/* host order: the bytes as in memory */
		}
		s->peer_port = (uint16_t)port;
		ret = 0;
		break;
	}
	free(buf);
	return ret;
}

int fd_inet_accept_queue(const struct ckpt_fd_inet *s, ino_t ino, uint32_t *pending,
			 uint32_t *max)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = (uint8_t)s->family, .sdiag_protocol = IPPROTO_TCP,
		.idiag_states = 1u << TCP_LISTEN,
		.id = { .idiag_sport = htons(s->port), .idiag_cookie = { INET_DIAG_NOCOOKIE,
									 INET_DIAG_NOCOOKIE } },
	};
	const struct inet_diag_msg *m;
	struct sock_diag_reply r;
	int ret;

	memcpy(req.id.idiag_src, s->addr, s->family == AF_INET6 ? 16 : 4);
	if ((ret = sock_diag_get(&req, sizeof(req), &r)) < 0)
		return ret;
	m = r.msg;
	if (r.len < sizeof(*m) || m->idiag_inode != ino) {
		free(r.buf);
		return -ENOENT;
	}
	*pending = m->idiag_rqueue;
	*max = m->idiag_wqueue;
	free(r.buf);
	return 0;
}

/* SO_RCVBUF/SO_SNDBUF only if the program set them: a new socket's
 * defaults otherwise (setting them turns TCP's autotuning off). */
static void buffers(const struct dfile *d, int fresh, struct ckpt_fd_inet *s)
{
	int rcv = opt(d->copy, SOL_SOCKET, SO_RCVBUF), snd = opt(d->copy, SOL_SOCKET, SO_SNDBUF);

	if (rcv != opt(fresh, SOL_SOCKET, SO_RCVBUF))
		s->rcvbuf = (uint32_t)rcv;
	if (snd != opt(fresh, SOL_SOCKET, SO_SNDBUF))
		s->sndbuf = (uint32_t)snd;
}

/* One listed option as getsockopt gives it: its length, or -1 when the
 * socket has no such option (an IPv6 one on an IPv4 socket). */
static int sockopt_read(int fd, const struct sockopt_def *o, uint8_t *val)
{
	socklen_t len = o->len;

	memset(val, 0, 16);
	return getsockopt(fd, o->level, o->name, val, &len) < 0 ? -1 : (int)len;
}

/*
 * The listed options (image/sockopt.c) whose value differs from a new
 * socket's of the same family, type and protocol: the program set them
 * (or the listener it was accepted from had).  Keepalive timers, a
 * linger, timeouts, TOS and TTL, a congestion control... a restored
 * socket would otherwise have the defaults, silently.
 */
uint32_t fd_sockopts_changed(int copy, int fresh, uint32_t skip, struct ckpt_sockopt *out)
{
	uint32_t n = 0;

	for (size_t i = 0; i < sockopt_ndefs; i++) {
		const struct sockopt_def *o = &sockopt_defs[i];
		uint8_t mine[16], def[16];
		int len, dlen;

		if (o->flags & skip)
			continue;
		if ((len = sockopt_read(copy, o, mine)) <= 0 ||
		    (dlen = sockopt_read(fresh, o, def)) < 0 ||
		    (len == dlen && !memcmp(mine, def, (size_t)len)))
			continue;
		if (o->flags & SOCKOPT_NAME)
			len = (int)strnlen((const char *)mine, (size_t)len) + 1;
		out[n] = (struct ckpt_sockopt){ .level = (uint32_t)o->level, .name = (uint32_t)o->name,
						.len = (uint32_t)MIN((size_t)len, o->len) };
		memcpy(out[n].val, mine, out[n].len);
		n++;
	}
	return n;
}

/* A socket filter (SO_ATTACH_FILTER, SO_ATTACH_BPF): SO_GET_FILTER with
 * no room gives its length in instructions, or EACCES for an eBPF
 * program it cannot give back (sk_get_filter). */
static int filtered(int fd)
{
	socklen_t len = 0;

	return getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len) < 0 ? errno == EACCES : len > 0;
}

/*
 * A TCP socket in CLOSE whose connection ended (the process still holds
 * it), not one never connected: the end of a connection shuts both ways
 * (tcp_done: sk_shutdown = SHUTDOWN_MASK) or leaves an error, and
 * tcp_poll says so with POLLRDHUP or POLLERR; a socket never connected
 * has neither (POLLHUP and POLLOUT only).  Asked without reading: a read
 * or SO_ERROR would take the error from the process (sock_error).
 */
static int ended(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLERR));
}

static void options(const struct dfile *d, struct ckpt_fd_inet *s)
{
	int ip = s->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;

	s->opts |= opt(d->copy, SOL_SOCKET, SO_REUSEADDR) ? CKPT_INET_REUSEADDR : 0;
	s->opts |= opt(d->copy, SOL_SOCKET, SO_REUSEPORT) ? CKPT_INET_REUSEPORT : 0;
	s->opts |= opt(d->copy, SOL_SOCKET, SO_KEEPALIVE) ? CKPT_INET_KEEPALIVE : 0;
	s->opts |= opt(d->copy, SOL_SOCKET, SO_BROADCAST) ? CKPT_INET_BROADCAST : 0;
	if (s->protocol == IPPROTO_TCP)
		s->opts |= opt(d->copy, IPPROTO_TCP, TCP_NODELAY) ? CKPT_INET_NODELAY : 0;
	if (s->family == AF_INET6)
		s->opts |= opt(d->copy, IPPROTO_IPV6, IPV6_V6ONLY) ? CKPT_INET_V6ONLY : 0;
	s->opts |= opt(d->copy, ip, s->family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND) ?
		   CKPT_INET_FREEBIND : 0;
}

static void describe(struct dfile *d, const struct ckpt_fd_inet *s)
{
	const char *fam = s->family == AF_INET6 ? "IPv6" : "IPv4";
	char a[64], p[64];

	fd_inet_addr(s->family, s->addr, s->port, a, sizeof(a));
	fd_inet_addr(s->family, s->peer_addr, s->peer_port, p, sizeof(p));
	if (s->protocol == IPPROTO_UDP)
		dfile_what(d, "a %s UDP socket%s%s%s%s", fam, s->port ? " bound to " : "",
			   s->port ? a : "", s->peer_port ? " connected to " : "",
			   s->peer_port ? p : "");
	else if (s->state == TCP_LISTEN)
		dfile_what(d, "a %s TCP socket listening on %s", fam, a);
	else if (s->state == TCP_CLOSE)
		dfile_what(d, "a %s TCP socket%s%s", fam, s->port ? " bound to " : "", s->port ? a : "");
	else if (s->state == TCP_SYN_SENT)
		dfile_what(d, "a %s TCP connection %s to %s, being opened (SYN_SENT)", fam, a, p);
	else
		dfile_what(d, "a %s TCP connection %s to %s", fam, a, p);
}

static int inet_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_inet s = { .family = (uint32_t)opt(d->copy, SOL_SOCKET, SO_DOMAIN),
				  .type = (uint32_t)opt(d->copy, SOL_SOCKET, SO_TYPE),
				  .protocol = (uint32_t)opt(d->copy, SOL_SOCKET, SO_PROTOCOL) };
	uint32_t pending = 0;
	char byte;

	name_of(d->copy, 0, &s, s.addr, &s.port);
	if (name_of(d->copy, 1, &s, s.peer_addr, &s.peer_port) < 0)
		s.peer_port = 0;
	if (s.protocol == IPPROTO_TCP) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		s.state = getsockopt(d->copy, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_state : 0;
		if (s.state == TCP_SYN_SENT && connecting_to(d, &s) < 0)
			s.state = 0;	/* no peer to name: refused as a state not restored */
	} else {
		s.state = s.peer_port ? 1 : TCP_CLOSE;
	}
	struct ckpt_sockopt so[SOCKOPT_MAX];
	int fresh = socket((int)s.family, (int)s.type | SOCK_CLOEXEC, (int)s.protocol), ret = 0;

	options(d, &s);
	if (fresh >= 0) {
		buffers(d, fresh, &s);
		/* on a connection its MSS and clamp are the connection's; a
		 * multicast option only on datagram sockets (SOCKOPT_DGRAM) */
		s.nsockopts = fd_sockopts_changed(d->copy, fresh,
			(s.protocol == IPPROTO_TCP && s.state != TCP_LISTEN && s.state != TCP_CLOSE ?
			 SOCKOPT_UNCONNECTED : 0) | (s.type != SOCK_DGRAM ? SOCKOPT_DGRAM : 0), so);
		close(fresh);
	}
	describe(d, &s);
	dfile_set_state(d, &s, sizeof(s));
	if (s.protocol == IPPROTO_TCP && s.state == TCP_LISTEN &&
	    fd_inet_accept_queue(&s, d->st.st_ino, &pending, &s.backlog) < 0)
		d->cannot = "the kernel does not describe the listener (inet_diag: CONFIG_INET_DIAG)";
	else if (pending) {
		/* There is no way to put a connection back into an accept
		 * queue (no TCP_REPAIR for listeners: tcp_can_repair_sock),
		 * and ckpt cannot accept it for the process, which would
		 * never see it.  With --allow-lost-fds the listener comes
		 * back without them: the kill resets them (closing a listener
		 * disconnects its queue: inet_csk_listen_stop). */
		d->lossy = "connections wait to be accepted on it (they would be lost)";
		d->lossy_what = "the connections waiting (their clients get a reset)";
	}
	else if (s.protocol == IPPROTO_TCP && s.state == TCP_CLOSE && ended(d->copy))
		/* restore would make an unconnected socket: reads giving
		 * ENOTCONN (tcp_recvmsg) where they gave the bytes left and
		 * then the end, or the error */
		d->cannot = "its connection has ended (its reads give the bytes left, then the end "
			    "or an error), and ckpt would restore it as a socket never connected";
	else if (s.protocol == IPPROTO_UDP && recv(d->copy, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
		d->cannot = "datagrams are queued on it (their senders' addresses would be lost)";
	else if (filtered(d->copy))
		d->cannot = "a socket filter is attached to it (SO_ATTACH_FILTER or SO_ATTACH_BPF), "
			    "which ckpt does not restore";
	memcpy(d->f->state, &s, sizeof(s));
	if (s.protocol == IPPROTO_TCP && s.state == TCP_LISTEN && !d->cannot)
		fd_tcp_note_listener(c, d, &s, pending);
	if (s.protocol == IPPROTO_TCP && s.state != TCP_LISTEN && s.state != TCP_CLOSE) {
		/* its peer may be outside: on fds 0-2 it goes to ckpt restore's own */
		d->outside = 1;
		ret = fd_tcp_collect(c, d, &s);
	}
	/* last in the state, after a connection's ckpt_fd_tcp (format.h) */
	dfile_add_state(d, so, s.nsockopts * sizeof(so[0]));
	return ret;
}

const struct fd_kind_dump fd_dump_inet = { .collect = inet_collect };
