/*
 * TCP and UDP sockets: made with their family, type and protocol, the
 * options the program had set, bound to their address and port again,
 * then listening (a server answers again) or connected (UDP).  ckpt
 * binds with SO_REUSEADDR whatever the program had (a port whose last
 * connections are in TIME_WAIT since the dump's --kill binds only so,
 * ip(7)), then sets the program's own value back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "image/sockopt.h"
#include "restore/fd.h"

#define TCP_LISTEN	10	/* include/net/tcp_states.h */

socklen_t fd_inet_sockaddr(const struct ckpt_fd_inet *s, const uint8_t *a, uint16_t port,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (s->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	memcpy(&s4->sin_addr, a, 4);
	s4->sin_port = htons(port);
	return sizeof(*s4);
}

static int setopt(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

int fd_sockopts_again(int fd, const struct img_file *f, size_t at, uint32_t n, int fd0)
{
	struct ckpt_sockopt r;

	for (uint32_t i = 0; i < n; i++) {
		const struct sockopt_def *o;

		sockopt_get(f->state, at, i, &r);
		o = sockopt_find(r.level, r.name);
		if (o && setsockopt(fd, o->level, o->name, r.val, r.len) < 0)
			return error_errno(errno, "fd %d (%s): cannot set %s", fd0, f->path, o->label);
	}
	return 0;
}

/* The options, each from its bit: 0 or -errno after a message. */
int fd_inet_options(int fd, const struct ckpt_fd_inet *s, const struct img_file *f, int fd0)
{
	static const struct { uint32_t bit; int level, name; const char *what; } o[] = {
		{ CKPT_INET_REUSEPORT, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT" },
		{ CKPT_INET_KEEPALIVE, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE" },
		{ CKPT_INET_BROADCAST, SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST" },
		{ CKPT_INET_NODELAY, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY" },
	};
	int ip = s->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;

	for (size_t i = 0; i < ARRAY_SIZE(o); i++)
		if ((s->opts & o[i].bit) && setopt(fd, o[i].level, o[i].name, 1) < 0)
			return error_errno(errno, "fd %d (%s): cannot set %s", fd0, f->path, o[i].what);
	/* before bind: both decide what the address takes */
	if (s->family == AF_INET6 &&
	    setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, !!(s->opts & CKPT_INET_V6ONLY)) < 0)
		return error_errno(errno, "fd %d (%s): cannot set IPV6_V6ONLY", fd0, f->path);
	if ((s->opts & CKPT_INET_FREEBIND) &&
	    setopt(fd, ip, s->family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, 1) < 0)
		return error_errno(errno, "fd %d (%s): cannot set IP_FREEBIND", fd0, f->path);
	/* the kernel doubles what it is given (socket(7)) */
	if (s->rcvbuf && setopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, (int)s->rcvbuf / 2) < 0)
		setopt(fd, SOL_SOCKET, SO_RCVBUF, (int)s->rcvbuf / 2);
	if (s->sndbuf && setopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, (int)s->sndbuf / 2) < 0)
		setopt(fd, SOL_SOCKET, SO_SNDBUF, (int)s->sndbuf / 2);
	return fd_sockopts_again(fd, f, f->d.state_len - (size_t)s->nsockopts * sizeof(struct ckpt_sockopt),
				 s->nsockopts, fd0);
}

static int bind_again(int fd, const struct ckpt_fd_inet *s, const struct img_file *f, int fd0)
{
	struct sockaddr_storage ss;
	socklen_t len = fd_inet_sockaddr(s, s->addr, s->port, &ss);
	char a[64];

	if (!s->port)
		return 0;
	if (setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0) {
		fd_inet_addr(s->family, s->addr, s->port, a, sizeof(a));
		return error_errno(errno, "fd %d (%s): cannot bind it to %s again%s", fd0, f->path, a,
				   errno == EADDRINUSE ? " (a live socket has the address)" : "");
	}
	if (!(s->opts & CKPT_INET_REUSEADDR) && setopt(fd, SOL_SOCKET, SO_REUSEADDR, 0) < 0)
		return error_errno(errno, "fd %d (%s): cannot clear SO_REUSEADDR", fd0, f->path);
	return 0;
}

static int inet_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_inet s;
	struct sockaddr_storage ss;
	char a[64];
	char fds[64];
	int fd, ret;

	fd_state(f, &s, sizeof(s));
	if (f->d.fflags & CKPT_FILEF_EVENTS_LOST) {
		fd_numbers(r->p, f->d.id, fds, sizeof(fds));
		warn("%s (%s, %s): the connections that waited to be accepted at the dump were not "
		     "saved (--allow-lost-fds): they are lost, their clients got a reset", fds, f->path,
		     fd_file_what(f));
	}
	fd = socket((int)s.family, (int)s.type | SOCK_CLOEXEC, (int)s.protocol);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make %s", fd0, f->path, fd_file_what(f));
	ret = fd_inet_options(fd, &s, f, fd0);
	if (ret == 0)
		ret = bind_again(fd, &s, f, fd0);
	if (ret == 0 && s.state == TCP_LISTEN && listen(fd, (int)s.backlog) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot listen again", fd0, f->path);
	if (ret == 0 && s.protocol == IPPROTO_UDP && s.peer_port &&
	    connect(fd, (struct sockaddr *)&ss, fd_inet_sockaddr(&s, s.peer_addr, s.peer_port, &ss)) < 0) {
		fd_inet_addr(s.family, s.peer_addr, s.peer_port, a, sizeof(a));
		ret = error_errno(errno, "fd %d (%s): cannot connect it to %s again", fd0, f->path, a);
	}
	if (ret == 0 && fcntl(fd, F_SETFL, f->d.flags & ~(uint32_t)O_ACCMODE) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot set its flags %#o", fd0, f->path, f->d.flags);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

const struct fd_kind_restore fd_restore_inet = { .open = inet_open };
