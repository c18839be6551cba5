/*
 * Unix sockets.  A connected socket is made as one end of a socketpair:
 * with its peer, when the image holds the peer too, else with a helper
 * end that fills its queue and is closed (a peer that was closed is
 * closed again; a datagram socket is then bound and connected to its
 * peer's name, or disconnected).  The queued bytes go back through the
 * other end, message by message.  A listener is bound to its name again
 * (a stale socket file nobody listens on is replaced) and listens.  A
 * connection made through a listener is made again through it (5.24):
 * ckpt connects the one end to the listener of the image and accepts the
 * other there, so each has the names it had.  A named datagram socket's
 * queue is sent to its name again, each datagram from its sender's name.
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
	} *s, *kept;		/* kept: a copy of each listener made, to accept
				   on, and of each named datagram socket, to
				   send its datagrams from (5.24) */
	size_t n, nkept;
};

static struct ckpt_fd_unix ustate(const struct img_file *f)
{
	struct ckpt_fd_unix s;

	fd_state(f, &s, sizeof(s));
	return s;
}

static struct fd_socks *socks(struct fd_restore *r)
{
	return r->socks ? r->socks : (r->socks = xzalloc(sizeof(*r->socks)));
}

/* fd: made, to be handed out; -1: handed out, or being made (a datagram
 * socket connected to a name whose owner connects to its own) */
static void stash(struct fd_restore *r, uint64_t sock, int fd)
{
	struct fd_socks *t = socks(r);

	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].sock == sock && t->s[i].fd < 0) {
			t->s[i].fd = fd;
			return;
		}
	t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
	t->s[t->n].sock = sock;
	t->s[t->n++].fd = fd;
}

static int keep(struct fd_restore *r, uint64_t sock, int fd, int fd0)
{
	struct fd_socks *t = socks(r);
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (copy < 0)
		return error_errno(errno, "fd %d: cannot duplicate a unix socket", fd0);
	t->kept = xrealloc(t->kept, (t->nkept + 1) * sizeof(*t->kept));
	t->kept[t->nkept].sock = sock;
	t->kept[t->nkept++].fd = copy;
	return 0;
}

static int kept_fd(const struct fd_restore *r, uint64_t sock)
{
	for (size_t i = 0; r->socks && i < r->socks->nkept; i++)
		if (r->socks->kept[i].sock == sock)
			return r->socks->kept[i].fd;
	return -1;
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
	/* set either way: an accepted socket inherits its listener's
	 * (unix_sock_inherit_flags) */
	if (setopt(fd, SO_PASSCRED, !!(s.uflags & CKPT_UNIX_PASSCRED)) < 0 &&
	    (s.uflags & CKPT_UNIX_PASSCRED))
		return error_errno(errno, "fd %d (%s): cannot set SO_PASSCRED", fd0, f->path);
	if (setopt(fd, SO_PASSSEC, !!(s.uflags & CKPT_UNIX_PASSSEC)) < 0 &&
	    (s.uflags & CKPT_UNIX_PASSSEC))
		return error_errno(errno, "fd %d (%s): cannot set SO_PASSSEC", fd0, f->path);
	if (s.peek_off >= 0 && setopt(fd, SO_PEEK_OFF, s.peek_off) < 0)
		return error_errno(errno, "fd %d (%s): cannot set SO_PEEK_OFF", fd0, f->path);
	if (s.uflags & CKPT_UNIX_SOCKOPTS) {
		uint32_t n;
		int ret;

		/* the records, then their count: last in the state (checked) */
		memcpy(&n, f->state + f->d.state_len - sizeof(n), sizeof(n));
		if ((ret = fd_sockopts_again(fd, f, f->d.state_len - sizeof(n) -
					     (size_t)n * sizeof(struct ckpt_sockopt), n, fd0)) < 0)
			return ret;
	}
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
/* A datagram socket of the image bound to that name (and not deleted
 * since), or NULL. */
static const struct img_file *dgram_named(const struct fd_restore *r, const uint8_t *name,
					  uint32_t len)
{
	for (uint32_t i = 0; len && i < r->img->nfiles; i++) {
		const struct img_file *f = &r->img->files[i];
		struct ckpt_fd_unix s;

		if (f->d.kind != CKPT_FD_UNIX || f->d.policy != CKPT_FPOL_EXACT)
			continue;
		s = ustate(f);
		if (s.type == SOCK_DGRAM && !(s.uflags & CKPT_UNIX_DELETED) && s.name_len == len &&
		    !memcmp(f->state + sizeof(s), name, len))
			return f;
	}
	return NULL;
}

/* One datagram to `to` from `from` (a socket of the image: its send
 * buffer made room for it, then set back). */
static int send_one(int from, const void *buf, uint32_t len, const struct sockaddr_un *to,
		    socklen_t tolen)
{
	int v = 0;
	socklen_t vl = sizeof(v);
	ssize_t n;

	getsockopt(from, SOL_SOCKET, SO_SNDBUF, &v, &vl);
	set_buf(from, SO_SNDBUFFORCE, SO_SNDBUF, (uint32_t)v + len * 4 + 65536);
	n = sendto(from, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to, tolen);
	set_buf(from, SO_SNDBUFFORCE, SO_SNDBUF, (uint32_t)v);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * The datagrams queued on f (bound to to), each sent to it again from
 * its sender's name (CKPT_FILEF_SENDERS, 5.24): from the socket of the
 * image bound to that name (made first; self: f's own socket), else
 * from one bound to it for the while; unnamed senders' from an unnamed
 * socket.  f is not connected yet: any socket may send to it.
 */
static int fill_dgrams(struct fd_restore *r, const struct img_file *f, int self,
		       const struct sockaddr_un *to, socklen_t tolen, int fd0, int depth)
{
	struct ckpt_fd_unix s = ustate(f);
	const uint8_t *lens = f->state + sizeof(s) + s.name_len + s.peer_name_len;
	const uint8_t *slens = lens + 4ull * s.nmsgs, *sname = slens + 4ull * s.nmsgs;
	int anon = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;
	uint64_t at = 0;

	if (anon < 0)
		return error_errno(errno, "cannot make a unix socket");
	if (!(f->d.fflags & CKPT_FILEF_SENDERS)) {
		ret = fill(anon, f, to, tolen, fd0);
		close(anon);
		return ret;
	}
	for (uint32_t i = 0; ret == 0 && i < s.nmsgs; i++) {
		const struct img_file *sf;
		uint32_t len, slen;
		struct sockaddr_un sa;
		socklen_t salen;
		int from = anon, tmp = -1;

		memcpy(&len, lens + 4 * i, sizeof(len));
		memcpy(&slen, slens + 4 * i, sizeof(slen));
		salen = addr(&sa, sname, slen);
		if (slen && (sf = dgram_named(r, sname, slen)) == f) {
			from = self;
		} else if (slen && sf) {
			if ((ret = make_peer(r, sf, fd0, depth)) < 0)
				break;
			from = kept_fd(r, ustate(sf).sock);
		} else if (slen) {
			/* a sender closed since, or outside the image */
			tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (tmp >= 0 && bind(tmp, (struct sockaddr *)&sa, salen) == 0) {
				from = tmp;
			} else {
				warn("fd %d (%s, %s): a datagram queued from a name that is in use now "
				     "comes back from no name", fd0, f->path, fd_file_what(f));
			}
		}
		ret = from < 0 ? -EBADF : send_one(from, f->data + at, len, to, tolen);
		if (ret < 0)
			error_errno(-ret, "fd %d (%s): cannot queue its %u datagrams again", fd0,
				    f->path, s.nmsgs);
		if (tmp >= 0) {
			if (from == tmp && sa.sun_path[0])
				unlink(sa.sun_path);
			close(tmp);
		}
		at += len;
		sname += slen;
	}
	close(anon);
	return ret;
}

/* A socket of its own: a listener, a stream or seqpacket socket never
 * connected, a datagram socket not connected or connected to a name
 * (its queue sent to its name, from its senders' names). */
static int make_bound(struct fd_restore *r, const struct img_file *f, int fd0, int depth)
{
	struct ckpt_fd_unix s = ustate(f);
	int fd = socket(AF_UNIX, (int)s.type | SOCK_CLOEXEC, 0), ret;
	struct sockaddr_un sa;
	socklen_t len = addr(&sa, f->state + sizeof(s), s.name_len);

	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make a unix socket", fd0, f->path);
	ret = bind_name(fd, f, fd0);
	if (ret == 0 && s.state == TCP_LISTEN && listen(fd, (int)s.backlog) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot listen again", fd0, f->path);
	/* a listener is accepted on, a named datagram socket sent from */
	if (ret == 0 && (s.state == TCP_LISTEN || (s.type == SOCK_DGRAM && s.name_len)))
		ret = keep(r, s.sock, fd, fd0);
	/* bound: a peer connected to it, or sending to it, in turn finds it */
	if (ret == 0 && s.type == SOCK_DGRAM && !made(r, s.sock))
		stash(r, s.sock, -1);
	if (ret == 0 && f->d.data_len && s.type == SOCK_DGRAM && s.name_len &&
	    !(s.uflags & CKPT_UNIX_DELETED))
		ret = fill_dgrams(r, f, fd, &sa, len, fd0, depth);
	else if (ret == 0 && f->d.data_len)
		ret = error("fd %d (%s): its queued bytes have no way back in", fd0, f->path);
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

/* The listener of the image a connection was made through: of its type,
 * listening, bound to that name (and not deleted since: a connect by name
 * would not find it). */
static const struct img_file *listener_named(const struct fd_restore *r, uint32_t type,
					     const uint8_t *name, uint32_t len)
{
	for (uint32_t i = 0; i < r->img->nfiles; i++) {
		const struct img_file *f = &r->img->files[i];
		struct ckpt_fd_unix s;

		if (f->d.kind != CKPT_FD_UNIX || f->d.policy != CKPT_FPOL_EXACT)
			continue;
		s = ustate(f);
		if (s.state == TCP_LISTEN && s.type == type && !(s.uflags & CKPT_UNIX_DELETED) &&
		    s.name_len == len && !memcmp(f->state + sizeof(s), name, len))
			return f;
	}
	return NULL;
}

/* The connection a accepted is ckpt's own, not one a process outside
 * made meanwhile (the listener listens from its bind on). */
static int ours(int a)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(a, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == getpid();
}

/*
 * A connection made through a listener (5.24), made so again: a socket
 * for the connecting end (bound to its own name, if it had one) connects
 * to the listener of the image, and ckpt accepts the other end there:
 * the accepted socket has the listener's name again, the connecting one
 * it as its peer's.  An end closed since is closed again once its queue
 * is in the other.  f: the file to make; pf: its peer (NULL: closed).
 */
static int via_listener(struct fd_restore *r, const struct img_file *f, const struct img_file *pf,
			int fd0, int depth)
{
	const struct img_file *acc = (f->d.fflags & CKPT_FILEF_ACCEPTED) ? f :
				     pf && (pf->d.fflags & CKPT_FILEF_ACCEPTED) ? pf : NULL;
	const struct img_file *cli = acc == f ? pf : f;
	struct ckpt_fd_unix s = ustate(f);
	const uint8_t *name = acc ? acc->state + sizeof(s) :
			      cli->state + sizeof(s) + ustate(cli).name_len;
	uint32_t len = acc ? ustate(acc).name_len : ustate(cli).peer_name_len;
	const struct img_file *lf = listener_named(r, s.type, name, len);
	char lname[512], peer[512];
	struct sockaddr_un sa;
	socklen_t salen = addr(&sa, name, len);
	int c = -1, a = -1, lfd = -1, ret;

	fd_unix_names(acc ? acc : cli, lname, peer, sizeof(lname));
	if (!acc)
		memcpy(lname, peer, sizeof(lname));
	if (!lf) {
		warn("fd %d (%s, %s): the listener \"%s\" it was connected through is not restored: "
		     "made without the names of its ends", fd0, f->path, fd_file_what(f), lname);
		return make_pair(r, f, fd0);
	}
	if ((ret = make_peer(r, lf, fd0, depth)) < 0)
		return ret;
	if ((lfd = kept_fd(r, ustate(lf).sock)) < 0)
		return error("fd %d (%s): its listener \"%s\" was not made", fd0, f->path, lname);
	if ((c = socket(AF_UNIX, (int)s.type | SOCK_CLOEXEC, 0)) < 0)
		return error_errno(errno, "fd %d (%s): cannot make a unix socket", fd0, f->path);
	ret = cli ? bind_name(c, cli, fd0) : 0;
	if (ret == 0 && connect(c, (struct sockaddr *)&sa, salen) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot connect to the listener \"%s\" again", fd0,
				  f->path, lname);
	if (ret == 0 && (a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot accept on the listener \"%s\" again", fd0,
				  f->path, lname);
	if (ret == 0 && !ours(a))
		ret = error("fd %d (%s): another process connected to the listener \"%s\" while it "
			    "was restored", fd0, f->path, lname);
	if (ret == 0 && acc)
		ret = fill(c, acc, NULL, 0, fd0);
	if (ret == 0 && cli)
		ret = fill(a, cli, NULL, 0, fd0);
	if (ret == 0 && !acc) {
		close(a);
		a = -1;
	}
	if (ret == 0 && !cli) {
		close(c);
		c = -1;
	}
	if (ret == 0 && acc)
		ret = finish(a, acc, fd0);
	if (ret == 0 && cli)
		ret = finish(c, cli, fd0);
	if (ret < 0) {
		if (a >= 0)
			close(a);
		if (c >= 0)
			close(c);
		return ret;
	}
	if (f == acc) {
		if (cli)
			stash(r, ustate(cli).sock, c);
		return a;
	}
	if (acc)
		stash(r, ustate(acc).sock, a);
	return c;
}

static int make(struct fd_restore *r, const struct img_file *f, int fd0, int depth)
{
	struct ckpt_fd_unix s = ustate(f);
	const struct img_file *pf = s.peer ? by_sock(r, s.peer) : NULL;
	/* a datagram socket connected to a name is connected to it again,
	 * also when its peer is connected to its own name in turn */
	int pair = s.state == TCP_ESTABLISHED &&
		   (s.type != SOCK_DGRAM || (pf && ustate(pf).peer == s.sock && !s.peer_name_len) ||
		    (!s.peer && f->d.policy == CKPT_FPOL_EXACT));

	if (s.state == TCP_ESTABLISHED && s.type != SOCK_DGRAM &&
	    ((f->d.fflags & (CKPT_FILEF_ACCEPTED | CKPT_FILEF_CONNECTED)) ||
	     (pf && (pf->d.fflags & CKPT_FILEF_ACCEPTED))))
		return via_listener(r, f, pf, fd0, depth);
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
	for (size_t i = 0; r->socks && i < r->socks->nkept; i++)
		close(r->socks->kept[i].fd);
	if (r->socks) {
		free(r->socks->s);
		free(r->socks->kept);
	}
	free(r->socks);
	r->socks = NULL;
}

const struct fd_kind_restore fd_restore_unix = { .open = unix_open, .done = unix_done };
