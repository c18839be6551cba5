/*
 * Unix sockets.  A connected socket is made as one end of a socketpair:
 * with its peer, when the process holds the peer too, else with a helper
 * end that fills its queue and is closed (a peer that was closed is
 * closed again; a datagram socket is then bound and connected to its
 * peer's name, or disconnected).  The queued bytes go back through the
 * other end, message by message.  A listener is bound to its name again
 * (a stale socket file nobody listens on is replaced) and listens.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

#define TCP_ESTABLISHED	1	/* include/net/tcp_states.h */
#define TCP_LISTEN	10

struct fd_socks {
	struct {
		uint64_t sock;
		int fd;		/* made with its peer, not handed out yet */
	} *s;
	size_t n;
};

static struct ckpt_fd_unix ustate(const struct img_file *f)
{
	struct ckpt_fd_unix s;

	fd_state(f, &s, sizeof(s));
	return s;
}

static void stash(struct fd_restore *r, uint64_t sock, int fd)
{
	struct fd_socks *t = r->socks ? r->socks : (r->socks = xzalloc(sizeof(*t)));

	t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
	t->s[t->n].sock = sock;
	t->s[t->n++].fd = fd;
}

static int unstash(struct fd_restore *r, uint64_t sock)
{
	for (size_t i = 0; r->socks && i < r->socks->n; i++)
		if (r->socks->s[i].sock == sock && r->socks->s[i].fd >= 0) {
			int fd = r->socks->s[i].fd;

			r->socks->s[i].fd = -1;
			return fd;
		}
	return -1;
}

/* Made already (handed out, or waiting to be). */
static int made(const struct fd_restore *r, uint64_t sock)
{
	for (size_t i = 0; r->socks && i < r->socks->n; i++)
		if (r->socks->s[i].sock == sock)
			return 1;
	return 0;
}

static const struct img_file *by_sock(const struct fd_restore *r, uint64_t sock)
{
	for (uint32_t i = 0; i < r->img->nfiles; i++) {
		const struct img_file *f = &r->img->files[i];

		if (f->d.kind == CKPT_FD_UNIX && f->d.policy == CKPT_FPOL_EXACT &&
		    ustate(f).sock == sock)
			return f;
	}
	return NULL;
}

static socklen_t addr(struct sockaddr_un *sa, const uint8_t *name, uint32_t len)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, MIN(len, sizeof(sa->sun_path)));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

static int setopt(int fd, int name, int v)
{
	return setsockopt(fd, SOL_SOCKET, name, &v, sizeof(v));
}

/* SO_SNDBUF/SO_RCVBUF to what getsockopt read (the kernel doubles what
 * it is given: socket(7)); past the sysctl maximum as root. */
static void set_buf(int fd, int force, int name, uint32_t v)
{
	if (v && setopt(fd, force, (int)(v / 2)) < 0)
		setopt(fd, name, (int)(v / 2));
}

/*
 * The queued bytes of f, sent through `from`: the other end of its
 * socketpair, or (to) a socket sending to its name.  Non-blocking, the
 * send buffer made room for them: unix sockets charge queued bytes to
 * the sender (af_unix.c).
 */
static int fill(int from, const struct img_file *f, const struct sockaddr_un *to, socklen_t tolen,
		int fd0)
{
	struct ckpt_fd_unix s = ustate(f);
	const uint8_t *lens = f->state + sizeof(s) + s.name_len + s.peer_name_len;
	uint64_t at = 0;

	if (!f->d.data_len)
		return 0;
	set_buf(from, SO_SNDBUFFORCE, SO_SNDBUF, (uint32_t)MIN(f->d.data_len * 4 + 65536, 1u << 30));
	for (uint32_t i = 0; at < f->d.data_len; i++) {
		uint32_t len = (uint32_t)MIN(f->d.data_len - at, 65536);
		ssize_t n;

		if (s.nmsgs)
			memcpy(&len, lens + 4 * i, sizeof(len));
		n = sendto(from, f->data + at, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to, tolen);
		if (n < 0 || (s.nmsgs && n != (ssize_t)len))
			return error_errno(n < 0 ? errno : EIO, "fd %d (%s): cannot queue its %llu bytes "
					   "again", fd0, f->path, (unsigned long long)f->d.data_len);
		at += (uint64_t)n;
	}
	return 0;
}

/* A path name whose socket file nobody listens on any more: gone. */
static int stale(const struct sockaddr_un *sa, socklen_t len, int type)
{
	struct stat st;
	int probe, ret;

	if (sa->sun_path[0] == 0 || lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if ((probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ret = connect(probe, (const struct sockaddr *)sa, len) < 0 && errno == ECONNREFUSED;
	close(probe);
	return ret && unlink(sa->sun_path) == 0;
}

static int bind_name(int fd, const struct img_file *f, int fd0)
{
	struct ckpt_fd_unix s = ustate(f);
	struct sockaddr_un sa;
	socklen_t len;
	char name[512], peer[512];

	if (!s.name_len)
		return 0;
	len = addr(&sa, f->state + sizeof(s), s.name_len);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 &&
	    (errno != EADDRINUSE || !stale(&sa, len, (int)s.type) ||
	     bind(fd, (struct sockaddr *)&sa, len) < 0)) {
		fd_unix_names(f, name, peer, sizeof(name));
		return error_errno(errno, "fd %d (%s): cannot bind it to \"%s\" again%s", fd0, f->path,
				   name, errno == EADDRINUSE ? " (a live socket has the name)" : "");
	}
	if (sa.sun_path[0] == 0)
		return 0;
	if (s.uflags & CKPT_UNIX_DELETED)
		return unlink(sa.sun_path) < 0 ? error_errno(errno, "cannot unlink \"%s\"", sa.sun_path) : 0;
	/* the socket file as it was (bind made it with ckpt's umask) */
	if (chmod(sa.sun_path, s.file_mode) < 0 ||
	    (lchown(sa.sun_path, s.file_uid, s.file_gid) < 0 && errno != EPERM))
		return error_errno(errno, "fd %d: cannot give \"%s\" its mode and owner", fd0,
				   sa.sun_path);
	return 0;
}

/* Options and shutdowns once its queue is back. */
static int finish(int fd, const struct img_file *f, int fd0)
{
	struct ckpt_fd_unix s = ustate(f);

	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, s.sndbuf);
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, s.rcvbuf);
	if ((s.uflags & CKPT_UNIX_PASSCRED) && setopt(fd, SO_PASSCRED, 1) < 0)
		return error_errno(errno, "fd %d (%s): cannot set SO_PASSCRED", fd0, f->path);
	if ((s.uflags & CKPT_UNIX_PASSSEC) && setopt(fd, SO_PASSSEC, 1) < 0)
		return error_errno(errno, "fd %d (%s): cannot set SO_PASSSEC", fd0, f->path);
	if (s.peek_off >= 0 && setopt(fd, SO_PEEK_OFF, s.peek_off) < 0)
		return error_errno(errno, "fd %d (%s): cannot set SO_PEEK_OFF", fd0, f->path);
	/* SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2: the kernel's mask minus one */
	if ((s.shutdown & 3) && shutdown(fd, (int)(s.shutdown & 3) - 1) < 0 && errno != ENOTCONN)
		return error_errno(errno, "fd %d (%s): cannot shut it down again", fd0, f->path);
	return 0;
}

static int make(struct fd_restore *r, const struct img_file *f, int fd0, int depth);

/* The socket of the process a datagram socket is connected to (one
 * way), made first so that its name exists. */
static int make_peer(struct fd_restore *r, const struct img_file *pf, int fd0, int depth)
{
	int pfd;

	if (made(r, ustate(pf).sock))
		return 0;
	if (depth > 16)
		return error("fd %d: too long a chain of unix sockets connected one way", fd0);
	if ((pfd = make(r, pf, fd0, depth + 1)) < 0)
		return pfd;
	stash(r, ustate(pf).sock, pfd);
	return 0;
}

/* A datagram socket connected to a name: its peer in the process, or
 * outside (then it may be gone: said, and left unconnected).  Its queue
 * is empty (only the peer, named, could have sent to it: dump refuses
 * datagrams from named senders). */
static int connect_peer(struct fd_restore *r, int fd, const struct img_file *f, int fd0, int depth)
{
	struct ckpt_fd_unix s = ustate(f);
	const struct img_file *pf = by_sock(r, s.peer);
	struct sockaddr_un sa;
	socklen_t len = addr(&sa, f->state + sizeof(s) + s.name_len, s.peer_name_len);
	char name[512], peer[512];
	int ret;

	if (pf && (ret = make_peer(r, pf, fd0, depth)) < 0)
		return ret;
	if (connect(fd, (struct sockaddr *)&sa, len) == 0)
		return 0;
	fd_unix_names(f, name, peer, sizeof(name));
	if (f->d.policy == CKPT_FPOL_OUTSIDE) {
		warn("fd %d (%s, %s): cannot connect it to \"%s\" again: %s; it is left unconnected",
		     fd0, f->path, fd_file_what(f), peer, strerror(errno));
		return 0;
	}
	return error_errno(errno, "fd %d (%s): cannot connect it to \"%s\" again", fd0, f->path, peer);
}

/* A socket of its own: a listener, a stream or seqpacket socket never
 * connected, a datagram socket not connected or connected to a name
 * (its queue sent to its name from a socket of ckpt's). */
static int make_bound(struct fd_restore *r, const struct img_file *f, int fd0, int depth)
{
	struct ckpt_fd_unix s = ustate(f);
	int fd = socket(AF_UNIX, (int)s.type | SOCK_CLOEXEC, 0), ret, tmp;
	struct sockaddr_un sa;
	socklen_t len = addr(&sa, f->state + sizeof(s), s.name_len);

	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make a unix socket", fd0, f->path);
	ret = bind_name(fd, f, fd0);
	if (ret == 0 && s.state == TCP_LISTEN && listen(fd, (int)s.backlog) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot listen again", fd0, f->path);
	if (ret == 0 && f->d.data_len && s.type == SOCK_DGRAM && s.name_len && !(s.uflags & CKPT_UNIX_DELETED)) {
		if ((tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			ret = error_errno(errno, "cannot make a unix socket");
		else
			ret = fill(tmp, f, &sa, len, fd0);
		if (tmp >= 0)
			close(tmp);
	} else if (ret == 0 && f->d.data_len) {
		ret = error("fd %d (%s): its queued bytes have no way back in", fd0, f->path);
	}
	if (ret == 0 && s.type == SOCK_DGRAM && s.state == TCP_ESTABLISHED)
		ret = connect_peer(r, fd, f, fd0, depth);
	if (ret == 0)
		ret = finish(fd, f, fd0);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A connection: a socketpair with its peer when the process holds it,
 * else with an end that queues its bytes and is closed (its peer had
 * been closed). */
static int make_pair(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_unix s = ustate(f);
	const struct img_file *pf = s.peer ? by_sock(r, s.peer) : NULL;
	int sv[2], ret;

	if (socketpair(AF_UNIX, (int)s.type | SOCK_CLOEXEC, 0, sv) < 0)
		return error_errno(errno, "fd %d (%s): cannot make a unix socket pair", fd0, f->path);
	ret = fill(sv[1], f, NULL, 0, fd0);
	if (ret == 0 && pf && (ret = fill(sv[0], pf, NULL, 0, fd0)) == 0)
		ret = finish(sv[1], pf, fd0);
	if (ret == 0 && !pf) {
		close(sv[1]);
		sv[1] = -1;
	}
	if (ret == 0)
		ret = finish(sv[0], f, fd0);
	if (ret == 0 && pf)
		stash(r, ustate(pf).sock, sv[1]);
	if (ret < 0) {
		close(sv[0]);
		if (sv[1] >= 0)
			close(sv[1]);
		return ret;
	}
	return sv[0];
}

static int make(struct fd_restore *r, const struct img_file *f, int fd0, int depth)
{
	struct ckpt_fd_unix s = ustate(f);
	const struct img_file *pf = s.peer ? by_sock(r, s.peer) : NULL;
	int pair = s.state == TCP_ESTABLISHED &&
		   (s.type != SOCK_DGRAM || (pf && ustate(pf).peer == s.sock) ||
		    (!s.peer && f->d.policy == CKPT_FPOL_EXACT));

	return pair ? make_pair(r, f, fd0) : make_bound(r, f, fd0, depth);
}

static int unix_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	int fd = unstash(r, ustate(f).sock);

	if (fd < 0 && (fd = make(r, f, fd0, 0)) < 0)
		return fd;
	if (!made(r, ustate(f).sock))
		stash(r, ustate(f).sock, -1);
	return fd_set_status(fd, f, fd0);
}

static void unix_done(struct fd_restore *r)
{
	for (size_t i = 0; r->socks && i < r->socks->n; i++)
		if (r->socks->s[i].fd >= 0)
			close(r->socks->s[i].fd);
	if (r->socks)
		free(r->socks->s);
	free(r->socks);
	r->socks = NULL;
}

const struct fd_kind_restore fd_restore_unix = { .open = unix_open, .done = unix_done };
