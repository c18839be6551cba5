/*
 * Unix sockets (unix(7)): what getsockopt says of ckpt's copy, what only
 * sock_diag says (the peer's inode, a listener's pending connections),
 * the bytes queued for reading (peeked at with SO_PEEK_OFF, so the
 * socket keeps them), and where the peer is: in the process, in another
 * process of the image, closed, or in a process outside the image; for a
 * connection made through a listener, which end was accepted (5.24).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"
#include "image/sockopt.h"
#include "dump/sockdiag.h"
#include "image/fdkind.h"

#define TCP_ESTABLISHED	1	/* include/net/tcp_states.h */
#define TCP_CLOSE	7
#define TCP_LISTEN	10
#define QUEUE_MAX	(1u << 20)	/* one message peeked at a time */

static struct ckpt_fd_unix ustate(const struct dfile *d)
{
	struct ckpt_fd_unix s;

	fd_state(d->f, &s, sizeof(s));
	return s;
}

static int opt(int fd, int name, int dflt)
{
	int v = dflt;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, name, &v, &len) < 0 ? dflt : v;
}

static const char *type_name(uint32_t type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" : "seqpacket";
}

/* The socket's file, for a path name: its owner and mode, or deleted. */
static void name_file(struct dfile *d, struct ckpt_fd_unix *s, const uint8_t *name,
		      const struct unix_diag_vfs *vfs)
{
	char path[112];
	struct stat st;

	memcpy(path, name, s->name_len);
	path[s->name_len] = 0;
	if (path[0] != '/') {
		d->cannot = "it is bound to a relative path, which ckpt cannot resolve";
		return;
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || (vfs && st.st_ino != vfs->udiag_vfs_ino)) {
		if (lstat(path, &st) == 0) {
			d->cannot = "its socket file was replaced by another file";
			return;
		}
		s->uflags |= CKPT_UNIX_DELETED;
		return;
	}
	s->file_mode = st.st_mode & 07777;
	s->file_uid = st.st_uid;
	s->file_gid = st.st_gid;
}

/* What the kernel's unix_diag says of the socket. */
static int ask_kernel(struct dfile *d, struct ckpt_fd_unix *s, uint8_t *name, uint32_t *pending)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)d->st.st_ino,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN,
		.udiag_cookie = { ~0u, ~0u },	/* INET_DIAG_NOCOOKIE: any */
	};
	const struct unix_diag_msg *m;
	const struct unix_diag_rqlen *rq;
	const struct unix_diag_vfs *vfs;
	struct sock_diag_reply r;
	const uint8_t *sd;
	const void *a;
	size_t len;
	int ret = sock_diag_get(&req, sizeof(req), &r);

	if (ret < 0)
		return ret;
	m = r.msg;
	if (r.len < sizeof(*m) || m->udiag_ino != req.udiag_ino) {
		free(r.buf);
		return -EIO;
	}
	s->type = m->udiag_type;
	s->state = m->udiag_state;
	if ((a = sock_diag_attr(&r, sizeof(*m), UNIX_DIAG_NAME, &len)) && len <= 108) {
		memcpy(name, a, len);
		s->name_len = (uint32_t)len;
	}
	if ((a = sock_diag_attr(&r, sizeof(*m), UNIX_DIAG_PEER, &len)) && len == 4)
		s->peer = *(const uint32_t *)a;
	if ((rq = sock_diag_attr(&r, sizeof(*m), UNIX_DIAG_RQLEN, &len)) && len == sizeof(*rq) &&
	    s->state == TCP_LISTEN) {
		*pending = rq->udiag_rqueue;
		s->backlog = rq->udiag_wqueue;
	}
	if ((sd = sock_diag_attr(&r, sizeof(*m), UNIX_DIAG_SHUTDOWN, &len)) && len == 1)
		s->shutdown = *sd;
	vfs = sock_diag_attr(&r, sizeof(*m), UNIX_DIAG_VFS, &len);
	if (s->name_len && name[0])
		name_file(d, s, name, vfs && len == sizeof(*vfs) ? vfs : NULL);
	free(r.buf);
	return 0;
}

/* Control messages of a peeked message: fds in flight are not restored
 * (the peek gave ckpt duplicates of them: closed at once). */
static void check_cmsgs(struct dfile *d, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(cm);
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++)
				close(fds[i]);
			d->cannot = "file descriptors in flight (SCM_RIGHTS) are queued on it";
		}
	if (mh->msg_flags & MSG_CTRUNC)
		d->cannot = "file descriptors in flight (SCM_RIGHTS) are queued on it";
}

/*
 * The queue, message by message, with MSG_PEEK from offset 0 on
 * (SO_PEEK_OFF: each peek moves it on; socket(7)); the socket's own
 * offset is put back after.  A stream's bytes are one run.
 */
static int read_queue(struct dfile *d, struct ckpt_fd_unix *s)
{
	int zero = 0, ret = 0;
	uint8_t *buf = xmalloc(QUEUE_MAX);
	char cbuf[CMSG_SPACE(sizeof(int) * 253)];	/* SCM_MAX_FD */
	uint32_t *lens = NULL, *slens = NULL;
	uint8_t *snames = NULL;	/* datagrams: their senders' names (5.24) */
	size_t got = 0, sgot = 0;

	if (setsockopt(d->copy, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		free(buf);
		return error_errno(errno, "fd %d (%s): cannot peek at its queue (SO_PEEK_OFF)", d->fd,
				   d->link);
	}
	for (;;) {
		struct iovec iov = { buf, QUEUE_MAX };
		struct sockaddr_un from;
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(d->copy, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno != EAGAIN)
			ret = error_errno(errno, "fd %d (%s): cannot peek at its queue", d->fd, d->link);
		if (n <= 0)	/* empty; a stream's end of file */
			break;
		check_cmsgs(d, &mh);
		if (mh.msg_flags & MSG_TRUNC)
			d->cannot = "a message of more than 1 MiB is queued on it";
		if (d->cannot || got + (size_t)n > (64u << 20))
			break;
		if (s->type == SOCK_DGRAM) {
			uint32_t sl = mh.msg_namelen > sizeof(sa_family_t) && mh.msg_namelen <= sizeof(from) ?
				      (uint32_t)(mh.msg_namelen - sizeof(sa_family_t)) : 0;

			slens = xrealloc(slens, (s->nmsgs + 1) * sizeof(*slens));
			slens[s->nmsgs] = sl;
			snames = xrealloc(snames, sgot + sl + 1);
			memcpy(snames + sgot, from.sun_path, sl);
			sgot += sl;
		}
		d->f->data = xrealloc(d->f->data, got + (size_t)n);
		memcpy(d->f->data + got, buf, (size_t)n);
		got += (size_t)n;
		if (s->type != SOCK_STREAM) {
			lens = xrealloc(lens, (s->nmsgs + 1) * sizeof(*lens));
			lens[s->nmsgs++] = (uint32_t)n;
		}
	}
	setsockopt(d->copy, SOL_SOCKET, SO_PEEK_OFF, &s->peek_off, sizeof(s->peek_off));
	d->f->d.data_len = got;
	dfile_add_state(d, lens, s->nmsgs * sizeof(*lens));
	if (sgot) {
		/* a named sender: each datagram's sender's name follows */
		d->f->d.fflags |= CKPT_FILEF_SENDERS;
		dfile_add_state(d, slens, s->nmsgs * sizeof(*slens));
		dfile_add_state(d, snames, sgot);
	}
	memcpy(d->f->state, s, sizeof(*s));
	free(lens);
	free(slens);
	free(snames);
	free(buf);
	return ret;
}

/* The options of image/sockopt.c's list it had set (its timeouts, say):
 * the records and their count, last in the state (CKPT_UNIX_SOCKOPTS);
 * read_queue has added its parts and filled s. */
static int options(struct dfile *d, struct ckpt_fd_unix *s)
{
	struct ckpt_sockopt so[SOCKOPT_MAX];
	int fresh = socket(AF_UNIX, (int)s->type | SOCK_CLOEXEC, 0);
	uint32_t n;

	if (fresh < 0)
		return 0;
	n = fd_sockopts_changed(d->copy, fresh, 0, so);
	close(fresh);
	if (!n)
		return 0;
	s->uflags |= CKPT_UNIX_SOCKOPTS;
	memcpy(d->f->state, s, sizeof(*s));
	dfile_add_state(d, so, n * sizeof(so[0]));
	dfile_add_state(d, &n, sizeof(n));
	return 0;
}

static int unix_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_unix s = { .sock = d->st.st_ino };
	uint8_t name[108], peer[sizeof(struct sockaddr_un)];
	struct sockaddr_un pa;
	socklen_t plen = sizeof(pa);
	uint32_t pending = 0;
	int ret;

	(void)c;
	dfile_what(d, "a unix socket");
	if ((ret = ask_kernel(d, &s, name, &pending)) < 0) {
		d->cannot = "the kernel does not describe it (unix_diag: CONFIG_UNIX_DIAG)";
		return 0;
	}
	s.rcvbuf = (uint32_t)opt(d->copy, SO_RCVBUF, 0);
	s.sndbuf = (uint32_t)opt(d->copy, SO_SNDBUF, 0);
	s.peek_off = opt(d->copy, SO_PEEK_OFF, -1);
	s.uflags |= opt(d->copy, SO_PASSCRED, 0) ? CKPT_UNIX_PASSCRED : 0;
	s.uflags |= opt(d->copy, SO_PASSSEC, 0) ? CKPT_UNIX_PASSSEC : 0;
	if (getpeername(d->copy, (struct sockaddr *)&pa, &plen) == 0) {
		/* a datagram socket others connected to reads ESTABLISHED
		 * too (unix_dgram_connect): its own peer says */
		if (s.type == SOCK_DGRAM)
			s.state = TCP_ESTABLISHED;
		if (plen > sizeof(sa_family_t) && plen <= sizeof(pa)) {
			s.peer_name_len = (uint32_t)(plen - sizeof(sa_family_t));
			memcpy(peer, pa.sun_path, s.peer_name_len);
		}
	} else if (s.type == SOCK_DGRAM) {
		s.state = TCP_CLOSE;
	}
	dfile_set_state(d, &s, sizeof(s));
	dfile_add_state(d, name, s.name_len);
	dfile_add_state(d, peer, s.peer_name_len);
	if (s.type != SOCK_STREAM && s.type != SOCK_DGRAM && s.type != SOCK_SEQPACKET)
		d->cannot = "unix sockets of this type are not supported";
	else if (pending)
		d->cannot = "connections wait to be accepted on it (they would be lost)";
	else if (s.state != TCP_LISTEN && (ret = read_queue(d, &s)) < 0)
		return ret;
	return options(d, &s);
}

static struct dfile *by_sock(struct fd_dump *c, uint64_t sock)
{
	for_each_dfile(c, d, CKPT_FD_UNIX)
		if (ustate(d).sock == sock)
			return d;
	return NULL;
}

static void names(const struct dfile *d, char *name, char *peer, size_t size)
{
	fd_unix_names(d->f, name, peer, size);
}

/* A connected socket: its peer in the process, closed, or outside. */
static void connected(struct fd_dump *c, struct dfile *d, pid_t holder)
{
	struct ckpt_fd_unix s = ustate(d);
	struct dfile *p = s.peer ? by_sock(c, s.peer) : NULL;
	char name[512], peer[512], who[64];

	names(d, name, peer, sizeof(name));
	if (!s.peer) {
		dfile_what(d, "a unix %s socket whose peer is closed", type_name(s.type));
		if (name[0] || peer[0])
			d->cannot = "it was connected through a listener (names of connections are not "
				    "restored yet)";
		return;
	}
	if (p) {
		struct ckpt_fd_unix ps = ustate(p);

		dfile_what(d, "a unix %s socket connected to fd %d of the process", type_name(s.type),
			   p->fd);
		if (ps.peer == s.sock && !name[0] != !peer[0])
			d->cannot = "it is connected to a socket without a name and has one itself, "
				    "or the other way round (not restored)";
		else if (ps.peer != s.sock && !peer[0])
			d->cannot = "it is connected one way to a socket of the process";
		return;
	}
	if (holder)
		fd_proc_name(holder, who, sizeof(who));
	else
		snprintf(who, sizeof(who), "no process ckpt can see");
	dfile_what(d, "a unix %s socket connected to %s%s%s of %s, outside the image",
		   type_name(s.type), peer[0] ? "\"" : "a socket without a name", peer,
		   peer[0] ? "\"" : "", who);
	if (s.type == SOCK_DGRAM && peer[0]) {
		/* a datagram socket sends to a name: connected again to it */
		d->f->d.policy = CKPT_FPOL_OUTSIDE;
		return;
	}
	d->cannot = "its peer is outside the image";
	d->outside = 1;
}

/* A connection between sockets with names: through a listener. */
static int via_names(const struct ckpt_fd_unix *s)
{
	return s->state == TCP_ESTABLISHED && s->type != SOCK_DGRAM &&
	       (s->name_len || s->peer_name_len);
}

struct listener_lookup {
	const uint8_t *name;
	uint32_t len, type;
	uint64_t vfs;		/* a path: the inode of its socket file now */
	uint64_t found;
	int n;
};

static int one_listener(const struct sock_diag_reply *r, void *arg)
{
	struct listener_lookup *l = arg;
	const struct unix_diag_msg *m = r->msg;
	const struct unix_diag_vfs *vfs;
	const void *a;
	size_t len;

	if (r->len < sizeof(*m) || m->udiag_type != l->type)
		return 0;
	a = sock_diag_attr(r, sizeof(*m), UNIX_DIAG_NAME, &len);
	if (!a || len != l->len || memcmp(a, l->name, len))
		return 0;
	vfs = sock_diag_attr(r, sizeof(*m), UNIX_DIAG_VFS, &len);
	/* udiag_vfs_ino is the low 32 bits of the inode (unix_diag.h) */
	if (l->vfs && (!vfs || len != sizeof(*vfs) || vfs->udiag_vfs_ino != (uint32_t)l->vfs))
		return 0;
	l->found = m->udiag_ino;
	l->n++;
	return 0;
}

/*
 * The listening socket of that type bound to name (a path: to the socket
 * file at the path now, not to one deleted since), by its inode; 0: none
 * (or more than one, which no restore could tell apart).
 */
static uint64_t listener_named(const uint8_t *name, uint32_t len, uint32_t type)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX, .udiag_states = 1u << TCP_LISTEN,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS,
	};
	struct listener_lookup l = { .name = name, .len = len, .type = type };
	char path[112];
	struct stat st;

	if (!len || len > 108)
		return 0;
	if (name[0]) {
		memcpy(path, name, len);
		path[len] = 0;
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
			return 0;
		l.vfs = st.st_ino;
	}
	if (sock_diag_each(&req, sizeof(req), one_listener, &l) < 0)
		return 0;
	return l.n == 1 ? l.found : 0;
}

/* The listener restore would connect d's connection through: the one
 * bound to its own name (it was accepted there: *acc), or, its peer
 * closed, to its peer's (it connected there). */
static uint64_t listener_of(const struct dfile *d, int *acc)
{
	struct ckpt_fd_unix s = ustate(d);
	const uint8_t *name = d->f->state + sizeof(s);
	uint64_t l;

	*acc = 0;
	if (!via_names(&s))
		return 0;
	if ((l = listener_named(name, s.name_len, s.type)) || s.peer) {
		*acc = l != 0;
		return l;
	}
	return listener_named(name + s.name_len, s.peer_name_len, s.type);
}

/* The peer of another socket, as the kernel says (0: none, or unknown). */
static uint64_t peer_of(uint64_t sock)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)sock,
		.udiag_show = UDIAG_SHOW_PEER, .udiag_cookie = { ~0u, ~0u },
	};
	struct sock_diag_reply r;
	const void *a;
	uint64_t peer = 0;
	size_t len;

	if (sock_diag_get(&req, sizeof(req), &r) < 0)
		return 0;
	if (r.len >= sizeof(struct unix_diag_msg) &&
	    (a = sock_diag_attr(&r, sizeof(struct unix_diag_msg), UNIX_DIAG_PEER, &len)) && len == 4)
		peer = *(const uint32_t *)a;
	free(r.buf);
	return peer;
}

/*
 * A stream or seqpacket connection whose ends have names was made
 * through a listener: connect(2) to its name, accept(2) on it.  The
 * accepted end has the listener's name (unix_stream_connect() hands the
 * new socket the listener's address), the connecting end has it as its
 * peer's, and a name of its own if it bound one.  Restore connects them
 * again through the listener of the image (5.24), so that each end has
 * the names it had; the end that was accepted says so (ACCEPTED), and a
 * connecting end whose accepted peer is closed too (CONNECTED).  peer_in:
 * where its peer is, for messages; lis: the listener bound to its name
 * (acc) or, its peer closed, to its peer's; lis_in: 1 if in the image.
 */
static void via_listener(struct dfile *d, const char *peer_in, uint64_t lis, int acc, int lis_in)
{
	struct ckpt_fd_unix s = ustate(d);
	char name[512], peer[512];

	names(d, name, peer, sizeof(name));
	if (acc) {
		dfile_what(d, "a unix %s socket accepted from the listener \"%s\", connected to %s",
			   type_name(s.type), name, peer_in);
		if (!lis_in)
			d->cannot = "the listener it was accepted from is not in the image";
		else if (!s.peer && s.peer_name_len)
			d->cannot = "its peer, closed now, had a name of its own (not restored)";
		else
			d->f->d.fflags |= CKPT_FILEF_ACCEPTED;
		return;
	}
	dfile_what(d, "a unix %s socket connected to \"%s\", %s", type_name(s.type), peer,
		   peer_in);
	if (!s.peer_name_len)
		d->cannot = "it has a name no listener of the image has (its listener is closed, or "
			    "its socket file deleted), and its peer has none (not restored)";
	else if (s.peer)	/* its peer, accepted, says how (it is in the image) */
		return;
	else if (!lis || !lis_in)
		d->cannot = "its peer is closed, and no listener of the image has its peer's name "
			    "(the listener it connected to is closed, or not in the image)";
	else
		d->f->d.fflags |= CKPT_FILEF_CONNECTED;
}

/* holder: of its peer, outside; mate: another process of the image
 * holding it (shared), or its peer (peer_mate) */
static void describe(struct fd_dump *c, struct dfile *d, pid_t holder, pid_t mate, pid_t peer_mate,
		     uint64_t lis, int acc, int lis_in)
{
	struct ckpt_fd_unix s = ustate(d);
	const char *cannot = d->cannot;	/* what collect found comes first */
	char name[512], peer[512], who[64], in[128];
	struct dfile *p = s.peer ? by_sock(c, s.peer) : NULL;

	names(d, name, peer, sizeof(name));
	(void)mate;	/* shared with another process of the tree: one FILE (fd-tree.c) */
	if (peer_mate)
		fd_proc_name(peer_mate, who, sizeof(who));
	if (via_names(&s) && !holder) {	/* (a peer outside: connected() says so) */
		if (p)
			snprintf(in, sizeof(in), "fd %d of the process", p->fd);
		else if (peer_mate)
			snprintf(in, sizeof(in), "%s, another process of the image", who);
		else
			snprintf(in, sizeof(in), "a socket closed since");
		via_listener(d, in, lis, acc, lis_in);
	} else if (s.state == TCP_ESTABLISHED && peer_mate && !holder) {
		/* its peer in another process of the tree: the two are made
		 * as one socketpair (restore/fd-unix.c, one fd_restore); a
		 * datagram socket connected to a name is connected to it again */
		dfile_what(d, "a unix %s socket connected to %s%s%s%s, another process of the image",
			   type_name(s.type), peer[0] ? "\"" : "", peer, peer[0] ? "\" of " : "", who);
		/* both ends named: bound and connected to each other's name
		 * again; neither: a socketpair; one only: neither way */
		if (!name[0] != !peer[0] && (s.type != SOCK_DGRAM || peer_of(s.peer) == s.sock))
			d->cannot = "it is connected to a socket without a name and has one itself, "
				    "or the other way round (not restored)";
	} else if (s.state == TCP_ESTABLISHED)
		connected(c, d, holder);
	else if (s.state == TCP_LISTEN)
		dfile_what(d, "a unix %s socket listening on \"%s\"", type_name(s.type), name);
	else
		dfile_what(d, "a unix %s socket%s%s%s", type_name(s.type), name[0] ? " bound to \"" : "",
			   name, name[0] ? "\"" : "");
	if (cannot) {
		d->cannot = cannot;
		d->f->d.policy = CKPT_FPOL_EXACT;
	}
}

static int unix_link(struct fd_dump *c)
{
	uint64_t *ino = xzalloc((3 * c->nfiles + 1) * sizeof(*ino));
	uint64_t *lis = xzalloc((c->nfiles + 1) * sizeof(*lis));
	int *acc = xzalloc((c->nfiles + 1) * sizeof(*acc));
	pid_t *holder = xzalloc((3 * c->nfiles + 1) * sizeof(*holder));
	pid_t *mate = xzalloc((3 * c->nfiles + 1) * sizeof(*mate));
	size_t n = 0, k = 0;
	int ret;

	/* the sockets, their peers this process does not hold (in another
	 * process of the image, a tree, each would be made apart), and the
	 * listeners of connections made through one (in the image?) */
	for_each_dfile(c, d, CKPT_FD_UNIX) {
		uint64_t p = d->f->state ? ustate(d).peer : 0;

		lis[k] = d->f->state ? listener_of(d, &acc[k]) : 0;
		ino[n++] = d->f->state ? ustate(d).sock : 0;
		ino[n++] = p && !by_sock(c, p) ? p : 0;
		ino[n++] = lis[k] && !by_sock(c, lis[k]) ? lis[k] : 0;
		k++;
	}
	if ((ret = fd_find_holders(c, "socket:[", ino, n, holder, mate)) < 0)
		ret = error_errno(ret, "cannot list the other processes' open files");
	n = k = 0;
	for_each_dfile(c, d, CKPT_FD_UNIX) {
		if (ret == 0 && d->f->state)
			describe(c, d, holder[n + 1], mate[n], mate[n + 1], lis[k], acc[k],
				 lis[k] && (by_sock(c, lis[k]) || mate[n + 2]));
		n += 3;
		k++;
	}
	free(ino);
	free(lis);
	free(acc);
	free(holder);
	free(mate);
	return ret;
}

const struct fd_kind_dump fd_dump_unix = { .collect = unix_collect, .link = unix_link };
