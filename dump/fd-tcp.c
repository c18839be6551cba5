/*
 * TCP connections, established or half closed (after a FIN one way or
 * both: CLOSE_WAIT, FIN_WAIT1/2, LAST_ACK, CLOSING), read with TCP_REPAIR
 * (tcp(7), Linux 3.5; net/ipv4/tcp.c): on ckpt's copy of the socket (the
 * same socket), repair mode lets ckpt read the sequence numbers of both
 * queues (TCP_QUEUE_SEQ), peek at their bytes (recv MSG_PEEK with
 * TCP_REPAIR_QUEUE: the receive queue, or the send queue, written and not
 * acknowledged), the window
 * (TCP_REPAIR_WINDOW) and the timestamp clock, without sending anything.
 * The process is frozen meanwhile; repair mode is left at once
 * (TCP_REPAIR_OFF_NO_WP: no window probe), so a dump that does not kill
 * changes nothing.
 *
 * A dump with --kill puts the connections back into repair mode right
 * before the kill (fd_tcp_before_kill): a socket closed in repair mode
 * is dropped silently (tcp_close -> tcp_disconnect sends no FIN and no
 * RST), so the peer sees a pause, not an end, and restore connects a new
 * socket in repair mode to the same four addresses.  Before that the
 * network lock (common/netlock.h) holds the segments of connections to
 * peers outside and the SYNs of new clients of the job's listeners.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/netlock.h"
#include "common/util.h"
#include "dump/fd.h"
#include "dump/guard.h"
#include "image/fdkind.h"

#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD	0x894B	/* linux/sockios.h: output queue, not sent */
#endif

/* Copies of the connections a --kill closes, to repair first, and the
 * receive sequence number the image has for each. */
static struct {
	int fd;
	uint32_t rcv_seq;
	pid_t pid;
	int pfd;
	uint32_t file;
	uint8_t state;
} *to_repair;
static size_t nrepair;

/* The listeners read, and how many connections waited on each then. */
static struct {
	struct ckpt_fd_inet s;
	ino_t ino;
	uint32_t pending;
	pid_t pid;
	int pfd;
	char what[256];		/* dfile's */
} *lsn;
static size_t nlsn;

void fd_tcp_note_listener(const struct fd_dump *c, const struct dfile *d,
			  const struct ckpt_fd_inet *s, uint32_t pending)
{
	lsn = xrealloc(lsn, (nlsn + 1) * sizeof(*lsn));
	lsn[nlsn].s = *s;
	lsn[nlsn].ino = d->st.st_ino;
	lsn[nlsn].pending = pending;
	lsn[nlsn].pid = c->pid;
	lsn[nlsn].pfd = d->fd;
	snprintf(lsn[nlsn].what, sizeof(lsn[nlsn].what), "%s", d->what);
	nlsn++;
}

static int repair(int fd, int on)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0 ? -errno : 0;
}

static int getint(int fd, int name, uint32_t *v)
{
	int x = 0;
	socklen_t len = sizeof(x);

	if (getsockopt(fd, IPPROTO_TCP, name, &x, &len) < 0)
		return -errno;
	*v = (uint32_t)x;
	return 0;
}

static int queue_seq(int fd, int q, uint32_t *seq)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0)
		return -errno;
	return getint(fd, TCP_QUEUE_SEQ, seq);
}

/*
 * Queue q's bytes, peeked into buf (at most *len: the queue only shrinks
 * or grows as said below), their number in *len, and its sequence number.
 * The kernel goes on taking the peer's packets: the receive queue grows
 * (its sequence number, the next byte expected, with it: read until it
 * holds still across the peek) and the send queue loses what the peer
 * acknowledges (the sequence number of the send queue is the next byte
 * the process writes, which holds still: the peek returns what is left).
 */
static int read_queue(int fd, int q, uint32_t *seq, uint8_t **buf, uint32_t *len)
{
	for (int tries = 0; tries < 100; tries++) {
		uint32_t again = 0;
		int avail = 0, ret;
		ssize_t n = 0;

		if ((ret = queue_seq(fd, q, seq)) < 0)
			return ret;
		if (ioctl(fd, q == TCP_RECV_QUEUE ? FIONREAD : TIOCOUTQ, &avail) < 0)
			return -errno;
		*buf = xrealloc(*buf, (size_t)avail + 1);
		/* One peek from the start of the queue returns all that fits. */
		if (avail && (n = recv(fd, *buf, (size_t)avail, MSG_PEEK | MSG_DONTWAIT)) < 0)
			return -errno;
		if ((ret = queue_seq(fd, q, &again)) < 0)
			return ret;
		if (again == *seq && (q == TCP_SEND_QUEUE || n == avail)) {
			*len = (uint32_t)n;
			return 0;
		}
	}
	return -EAGAIN;
}

/* tcp_info's state, 0 if unknown. */
static uint32_t state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_state : 0;
}

/* Everything but the queues' bytes, in repair mode: 0 or -errno. */
static int read_state(int fd, struct ckpt_fd_tcp *t)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getint(fd, TCP_MAXSEG, &t->mss) < 0 ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	t->topts = ti.tcpi_options & (CKPT_TCP_TIMESTAMPS | CKPT_TCP_SACK | CKPT_TCP_WSCALE);
	t->snd_wscale = ti.tcpi_snd_wscale;
	t->rcv_wscale = ti.tcpi_rcv_wscale;
	if ((t->topts & CKPT_TCP_TIMESTAMPS) && getint(fd, TCP_TIMESTAMP, &t->timestamp) < 0)
		return -errno;
	len = sizeof(w);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) < 0)
		return -errno;
	t->snd_wl1 = w.snd_wl1;
	t->snd_wnd = w.snd_wnd;
	t->max_window = w.max_window;
	t->rcv_wnd = w.rcv_wnd;
	t->rcv_wup = w.rcv_wup;
	return 0;
}

int fd_tcp_collect(struct fd_dump *c, struct dfile *d, const struct ckpt_fd_inet *s)
{
	struct ckpt_fd_tcp t = { 0 };
	uint8_t *rq = NULL, *sq = NULL;
	uint32_t fins = fd_tcp_fins(s->state), rcv_nxt;
	int ret, q, unsent = 0;

	if (fins == ~0u) {
		d->cannot = s->state == TCP_SYN_RECV ?
			    "a TCP connection opened by both ends at once (SYN_RECV) is not restored" :
			    "a TCP connection in this state is not restored";
		return 0;
	}
	/* the guardian takes it out of repair mode if ckpt dies meanwhile */
	if (guard_note_tcp(c->pid, d->fd, 1) < 0) {
		d->cannot = "the process has more TCP connections than ckpt's guardian keeps track of";
		return 0;
	}
	if ((ret = repair(d->copy, TCP_REPAIR_ON)) < 0) {
		guard_note_tcp(c->pid, d->fd, 0);
		d->cannot = ret == -EPERM ? "TCP connections are restored with TCP_REPAIR, which needs "
					    "CAP_NET_ADMIN: dump and restore as root" :
					    "TCP_REPAIR failed on it";
		return 0;
	}
	killpoint("tcp: in repair mode");
	ret = read_state(d->copy, &t);
	if (ret == 0)
		ret = read_queue(d->copy, TCP_RECV_QUEUE, &t.rcv_seq, &rq, &t.inq_len);
	if (ret == 0)
		ret = read_queue(d->copy, TCP_SEND_QUEUE, &t.snd_seq, &sq, &t.outq_len);
	/* What is not sent yet, after the peek: some may have gone out
	 * meanwhile; restore sends what the image calls unsent again, with
	 * its sequence numbers (a peer drops what it has already). */
	if (ret == 0 && ioctl(d->copy, SIOCOUTQNSD, &unsent) < 0)
		ret = -errno;
	/*
	 * A FIN takes a sequence number (RFC 793 3.3): the peer's is in
	 * rcv_nxt (TCP_QUEUE_SEQ of the receive queue; not in FIONREAD:
	 * tcp_inq), the process's own in write_seq (TCP_QUEUE_SEQ of the
	 * send queue) and, until acknowledged or sent, in TIOCOUTQ and
	 * SIOCOUTQNSD (write_seq - snd_una, - snd_nxt), where it is the last
	 * (tcp_send_fin).  The image counts bytes only: restore makes the
	 * FINs again (restore/fd-tcp.c).
	 */
	rcv_nxt = t.rcv_seq;
	if (fins & CKPT_FILEF_FIN_IN)
		t.rcv_seq--;
	if (fins & CKPT_FILEF_FIN_OUT) {
		t.snd_seq--;
		unsent -= unsent > 0;
	}
	t.unsent_len = MIN((uint32_t)unsent, t.outq_len);
	q = TCP_NO_QUEUE;
	setsockopt(d->copy, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	if (repair(d->copy, TCP_REPAIR_OFF_NO_WP) < 0)
		warn("fd %d (%s): cannot leave TCP repair mode: %s", d->fd, d->link, strerror(errno));
	else
		guard_note_tcp(c->pid, d->fd, 0);
	if (ret < 0) {
		free(rq);
		free(sq);
		return error_errno(-ret, "fd %d (%s, %s): cannot read the connection's state "
				   "(TCP_REPAIR)", d->fd, d->link, d->what);
	}
	dfile_add_state(d, &t, sizeof(t));
	d->f->d.kind = CKPT_FD_TCP;
	d->f->d.fflags |= fins;
	d->f->data = xmalloc((size_t)t.inq_len + t.outq_len + 1);
	memcpy(d->f->data, rq, t.inq_len);
	memcpy(d->f->data + t.inq_len, sq, t.outq_len);
	d->f->d.data_len = (uint64_t)t.inq_len + t.outq_len;
	free(rq);
	free(sq);
	to_repair = xrealloc(to_repair, (nrepair + 1) * sizeof(*to_repair));
	to_repair[nrepair].rcv_seq = rcv_nxt;
	to_repair[nrepair].pid = c->pid;
	to_repair[nrepair].pfd = d->fd;
	to_repair[nrepair].file = d->f->d.id;
	to_repair[nrepair].state = (uint8_t)s->state;
	if ((to_repair[nrepair].fd = fcntl(d->copy, F_DUPFD_CLOEXEC, 0)) >= 0)
		nrepair++;
	return 0;
}

/* The connections about to be closed whose peer is outside the image,
 * into c (room for nrepair); how many; the first's index in *first. */
static size_t outside(const struct img *img, struct netlock_conn *c, size_t *first)
{
	size_t n = 0;

	for (size_t i = 0; i < nrepair; i++) {
		const struct img_file *f = img_file(img, to_repair[i].file);
		struct ckpt_fd_inet s;

		if (!f || fd_tcp_peer(img, f))
			continue;
		fd_state(f, &s, sizeof(s));
		if (!n)
			*first = i;
		c[n] = (struct netlock_conn){ .family = (int)s.family, .port = s.port,
					      .peer_port = s.peer_port };
		memcpy(c[n].addr, s.addr, sizeof(s.addr));
		memcpy(c[n].peer, s.peer_addr, sizeof(s.peer_addr));
		n++;
	}
	return n;
}

/* The TCP listeners restore makes again, into c from n on, each address
 * and port once (a listener the processes of a tree share is one file);
 * the new count. */
static size_t listeners(const struct img *img, struct netlock_conn *c, size_t n)
{
	for (uint32_t i = 0; i < img->nfiles; i++) {
		const struct img_file *f = &img->files[i];
		struct ckpt_fd_inet s;
		size_t k;

		if (!fd_tcp_listener(f, &s))
			continue;
		for (k = 0; k < n; k++)
			if (c[k].listener && c[k].family == (int)s.family && c[k].port == s.port &&
			    !memcmp(c[k].addr, s.addr, sizeof(s.addr)))
				break;
		if (k < n)
			continue;
		c[n] = (struct netlock_conn){ .family = (int)s.family, .port = s.port, .listener = 1,
					      .v6only = !!(s.opts & CKPT_INET_V6ONLY) };
		memcpy(c[n].addr, s.addr, sizeof(s.addr));
		n++;
	}
	return n;
}

/* "0.0.0.0:8080" for listener l */
static const char *listen_addr(const struct netlock_conn *l, char *buf, size_t len)
{
	fd_inet_addr((uint32_t)l->family, l->addr, l->port, buf, len);
	return buf;
}

/* The lock netlock.h describes, named in the guardian's journal first: a
 * ckpt that dies before the kill leaves the process running and its
 * connections free (guard.c). */
static char locked[NETLOCK_NAME_MAX];
static int listeners_locked;

/*
 * Before the kill, connections to a peer outside are locked (their
 * segments dropped both ways until the restore removes the lock), or with
 * skip left as they are: a peer that sends meanwhile gets a reset.  As
 * CRIU does (--network-lock), a dump that cannot lock them refuses.
 * Listeners are locked too (the SYNs of new clients dropped), but where
 * that cannot be done (no nft, not CAP_NET_ADMIN) the dump goes on: a
 * client that connects meanwhile is refused, as without the lock.
 */
static int lock(const struct img *img, int skip)
{
	struct netlock_conn *c = xmalloc((nrepair + img->nfiles + 1) * sizeof(*c));
	size_t first = 0, n = outside(img, c, &first), all = listeners(img, c, n);
	const struct img_file *f = n ? img_file(img, to_repair[first].file) : NULL;
	char why[256], a[64];
	int ret = 0;

	for (size_t i = 0; skip && i < nrepair; i++) {
		const struct img_file *g = img_file(img, to_repair[i].file);

		if (g && !fd_tcp_peer(img, g))
			info("fd %d of process %d (%s): its peer is outside the image and the network is "
			     "not locked (--network-lock=skip): until the restore it sees a pause if it "
			     "sends nothing, and a reset if it sends", to_repair[i].pfd,
			     to_repair[i].pid, g->what);
	}
	for (size_t i = n; skip && i < all; i++)
		debug("the TCP listener on %s is not locked (--network-lock=skip): a client that "
		      "connects before the restore is refused", listen_addr(&c[i], a, sizeof(a)));
	if (!all || skip)
		goto out;
	netlock_name(img->h.image_id, locked);
	guard_note_netlock(locked);
	/* a dump by its owner, not root: no nft run for nothing */
	ret = n || netlock_capable() ? netlock_install(locked, c, all, why, sizeof(why)) : -EPERM;
	if (ret < 0 && !n) {
		/* listeners only: not worth refusing the dump for */
		for (size_t i = 0; i < all; i++) {
			listen_addr(&c[i], a, sizeof(a));
			if (ret == -ENOENT || ret == -EPERM)
				debug("the TCP listener on %s is not locked (%s): a client that connects "
				      "before the restore is refused", a, ret == -EPERM ?
				      "the network lock needs CAP_NET_ADMIN" :
				      "nft not found: the network lock needs Debian's nftables");
			else
				info("the TCP listener on %s is not locked (%s): a client that connects "
				     "before the restore is refused", a, ret == -EIO ? why : strerror(-ret));
		}
		guard_note_netlock(NULL);
		locked[0] = 0;
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		guard_note_netlock(NULL);
		locked[0] = 0;
		ret = error("fd %d of process %d (%s): its peer is outside the image, and its segments "
			    "cannot be held back until the restore (%s): a peer that sent meanwhile "
			    "would get a reset; not killed (--network-lock=skip kills it anyway)",
			    to_repair[first].pfd, to_repair[first].pid, f ? f->what : "TCP",
			    ret == -ENOENT ? "nft not found: the network lock needs Debian's nftables" :
			    ret == -EIO ? why : strerror(-ret));
		goto out;
	}
	listeners_locked = all > n;
	killpoint("netlock: locked");
	for (size_t i = 0; i < nrepair; i++) {
		const struct img_file *g = img_file(img, to_repair[i].file);

		if (g && !fd_tcp_peer(img, g))
			info("fd %d of process %d (%s): its peer is outside the image: its segments are "
			     "held back until the restore (nftables table inet %s): it sees a pause",
			     to_repair[i].pfd, to_repair[i].pid, g->what, locked);
	}
	for (size_t i = n; i < all; i++)
		debug("the TCP listener on %s is locked until the restore (nftables table inet %s): "
		      "a client that connects meanwhile waits (its SYNs are dropped, and it sends "
		      "them again)", listen_addr(&c[i], a, sizeof(a)), locked);
out:
	free(c);
	return ret;
}

/* The dump failed after the lock: the process runs on, its peers too. */
static void unlock(void)
{
	char why[256];

	if (!locked[0])
		return;
	if (netlock_remove(locked, why, sizeof(why)) < 0)
		warn("cannot remove the network lock (nftables table inet %s): %s: `ckpt unlock` the "
		     "image's path, or nft delete table inet %s", locked, why[0] ? why : "nft failed",
		     locked);
	guard_note_netlock(NULL);
	locked[0] = 0;
	listeners_locked = 0;
}

void fd_tcp_lock_kept(void)
{
	if (locked[0])
		guard_note_netlock(NULL);
	locked[0] = 0;
	listeners_locked = 0;
}

/*
 * Locked, no new client reaches a listener; one that connected after the
 * image read it waits in its accept queue, and the kill would reset it
 * (inet_csk_listen_stop).  Refused as a connection that received bytes
 * is: the process runs on and accepts it, a new dump takes the rest.
 * (A handshake under way at the lock still completes: its last ACK is
 * no SYN.)
 */
static int listeners_still(void)
{
	for (size_t i = 0; i < nlsn; i++) {
		uint32_t pending = 0, max = 0;
		int ret = fd_inet_accept_queue(&lsn[i].s, lsn[i].ino, &pending, &max);

		if (ret < 0)
			return error_errno(-ret, "fd %d of process %d (%s): cannot read its accept queue "
					   "again (inet_diag)", lsn[i].pfd, lsn[i].pid, lsn[i].what);
		if (pending > lsn[i].pending)
			return error("fd %d of process %d (%s): a client connected while the image was "
				     "written, which the image does not hold (the kill would reset it): "
				     "not killed, dump again", lsn[i].pfd, lsn[i].pid, lsn[i].what);
	}
	return 0;
}

int fd_tcp_before_kill(const struct img *img, int killing, int skip_lock)
{
	size_t i = 0;
	uint32_t seq = 0, now;
	int ret = 0;

	/* Locked first: then nothing comes in after the check below. */
	if (killing && img)
		ret = lock(img, skip_lock);
	for (i = 0; killing && i < nrepair && ret == 0; i++) {
		/* In repair mode the kernel still takes the peer's bytes
		 * (and acknowledges them): bytes that came after the image
		 * read the queue would be lost.  Refused: the process runs
		 * on, a new dump takes them. */
		if (guard_note_tcp(to_repair[i].pid, to_repair[i].pfd, 1) < 0)
			ret = error("cannot keep track of the TCP connections to put into repair mode");
		else if ((ret = repair(to_repair[i].fd, TCP_REPAIR_ON)) < 0)
			ret = error_errno(-ret, "cannot put a TCP connection into repair mode before "
					  "the kill");
		else if ((ret = queue_seq(to_repair[i].fd, TCP_RECV_QUEUE, &seq)) < 0)
			ret = error_errno(-ret, "cannot read a TCP connection's sequence number");
		else if ((now = state(to_repair[i].fd)) != to_repair[i].state)
			ret = error("a TCP connection went from %s to %s while the image was written: "
				    "not killed, dump again", fd_tcp_state_name(to_repair[i].state),
				    fd_tcp_state_name(now));
		else if (seq != to_repair[i].rcv_seq)
			ret = error("a TCP connection received %u more bytes while the image was "
				    "written, which it does not hold: not killed, dump again",
				    seq - to_repair[i].rcv_seq);
	}
	if (ret == 0 && killing && listeners_locked)
		ret = listeners_still();
	if (ret == 0 && killing && nrepair)
		killpoint("tcp: repaired for the kill");
	for (size_t k = 0; k < nrepair; k++) {
		int q = TCP_NO_QUEUE;

		setsockopt(to_repair[k].fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
		if (ret < 0 && k < i && repair(to_repair[k].fd, TCP_REPAIR_OFF_NO_WP) == 0)
			guard_note_tcp(to_repair[k].pid, to_repair[k].pfd, 0);
		close(to_repair[k].fd);
	}
	if (ret < 0)
		unlock();
	free(to_repair);
	to_repair = NULL;
	nrepair = 0;
	free(lsn);
	lsn = NULL;
	nlsn = 0;
	return ret;
}
