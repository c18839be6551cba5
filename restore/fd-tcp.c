/*
 * TCP connections, made again with TCP_REPAIR (tcp(7);
 * net/ipv4/tcp.c do_tcp_setsockopt): ckpt makes a socket in repair mode,
 * gives both queues their sequence numbers (TCP_QUEUE_SEQ, only before
 * the connect), binds it to its address and connects it to its peer (in
 * repair mode connect sends nothing: the socket is ESTABLISHED at once;
 * repair mode lets the bind share the port: sk_reuse = SK_FORCE_REUSE),
 * then sets the options the handshake had agreed (TCP_REPAIR_OPTIONS),
 * the timestamp clock (TCP_TIMESTAMP, so that the peer's PAWS check takes
 * our next segments) and the window (TCP_REPAIR_WINDOW), and fills the
 * queues: the receive queue with what had come in (a send on
 * TCP_RECV_QUEUE puts bytes there), the send queue with what had been
 * sent and not acknowledged (a send on TCP_SEND_QUEUE counts as sent,
 * nothing goes out: it is retransmitted when the peer does not
 * acknowledge it).
 *
 * The socket stays in repair mode, sending nothing, until the process
 * itself, in its plan once all its fds are in place, turns repair off
 * (which sends a window probe: the peer answers with where it is) and
 * writes what had not been sent yet.  A restore that fails before closes
 * sockets still in repair mode: the peer sees nothing.
 *
 * A connection after a FIN is made as an established one with the bytes
 * before the FINs (the image counts bytes only, dump/fd-tcp.c), then
 * given its FINs: the peer's by a segment made to come from the peer
 * (fin_in), the process's own as sent and acknowledged (fin_acked,
 * FIN_WAIT2) or, not acknowledged, sent again by the process after its
 * unsent bytes (tcp_resume).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/netlock.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

/* TCPOPT_* (include/net/tcp.h), the codes of TCP_REPAIR_OPTIONS */
#define OPT_MSS		2
#define OPT_WINDOW	3
#define OPT_SACK_PERM	4
#define OPT_TIMESTAMP	8

static void state_of(const struct img_file *f, struct ckpt_fd_inet *s, struct ckpt_fd_tcp *t)
{
	fd_state(f, s, sizeof(*s));
	memcpy(t, f->state + sizeof(*s), sizeof(*t));
}

static int tcpopt(int fd, int name, const void *v, socklen_t len)
{
	return setsockopt(fd, IPPROTO_TCP, name, v, len) < 0 ? -errno : 0;
}

static int intopt(int fd, int name, int v)
{
	return tcpopt(fd, name, &v, sizeof(v));
}

/* Bytes into queue q (in repair mode), a piece at a time. */
static int fill(int fd, int q, const uint8_t *p, uint32_t len)
{
	int ret = intopt(fd, TCP_REPAIR_QUEUE, q);

	for (uint32_t off = 0; ret == 0 && off < len;) {
		ssize_t n = send(fd, p + off, MIN(len - off, 65536u), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint32_t)n;
	}
	return ret;
}

/* Buffers the queues fit in: the kernel's defaults may be smaller than
 * what the connection had grown to (autotuning). */
static void room(int fd, const struct ckpt_fd_tcp *t)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 && (uint32_t)v / 2 < t->outq_len)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE,
			   &(int){ (int)MIN(t->outq_len * 2ull, 1u << 30) }, sizeof(int));
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && (uint32_t)v / 2 < t->inq_len)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE,
			   &(int){ (int)MIN(t->inq_len * 2ull, 1u << 30) }, sizeof(int));
}

/* Bound to its address and connected to its peer again (in repair mode:
 * nothing sent; out of it, with connecting: the SYN goes, EINPROGRESS):
 * 0 or -errno after a message. */
static int bind_connect(int fd, const struct ckpt_fd_inet *s, const struct img_file *f, int fd0,
			int connecting)
{
	struct sockaddr_storage ss;
	char a[64], p[64];
	int ret = 0;

	fd_inet_addr(s->family, s->addr, s->port, a, sizeof(a));
	fd_inet_addr(s->family, s->peer_addr, s->peer_port, p, sizeof(p));
	if (bind(fd, (struct sockaddr *)&ss, fd_inet_sockaddr(s, s->addr, s->port, &ss)) < 0)
		return error_errno(errno, "fd %d (%s): cannot bind it to %s again%s", fd0, f->path, a,
				   errno == EADDRNOTAVAIL ? " (the address is not on this machine)" : "");
	if (connecting && (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
			   (ret = intopt(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)) < 0))
		return error_errno(ret < 0 ? -ret : errno, "fd %d (%s): cannot leave repair mode to "
				   "connect it", fd0, f->path);
	if (connect(fd, (struct sockaddr *)&ss, fd_inet_sockaddr(s, s->peer_addr, s->peer_port, &ss)) < 0 &&
	    (!connecting || errno != EINPROGRESS))
		return error_errno(errno, "fd %d (%s): cannot connect it from %s to %s again%s", fd0,
				   f->path, a, p, errno == EADDRNOTAVAIL ?
				   " (that connection exists: does the dumped process still run?)" : "");
	return 0;
}

/* Sequence numbers, address, connection: 0 or -errno after a message. */
static int connect_again(int fd, const struct ckpt_fd_inet *s, const struct ckpt_fd_tcp *t,
			 const struct img_file *f, int fd0)
{
	int ret;

	if ((ret = intopt(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)) < 0 ||
	    (ret = intopt(fd, TCP_QUEUE_SEQ, (int)(t->rcv_seq - t->inq_len))) < 0 ||
	    (ret = intopt(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) < 0 ||
	    (ret = intopt(fd, TCP_QUEUE_SEQ, (int)(t->snd_seq - t->outq_len))) < 0)
		return error_errno(-ret, "fd %d (%s): cannot set its sequence numbers (TCP_QUEUE_SEQ)",
				   fd0, f->path);
	return bind_connect(fd, s, f, fd0, 0);
}

/*
 * A connect(2) in progress (SYN_SENT, 5.28): no handshake agreed on
 * anything yet, so the connection is opened again for real.  In repair
 * mode the send queue's sequence number becomes the one of the SYN
 * (TCP_QUEUE_SEQ sets write_seq, which tcp_v4_connect keeps when it is
 * not 0), the bind takes the port; out of repair mode a non-blocking
 * connect sends the SYN again, with its old number, as a retransmission
 * would (the network lock of the dump drops it until the process runs;
 * the kernel sends it again after its timeout: RFC 6298 5.7, 1 s, then
 * doubled); and back into repair mode until the process takes it out.
 * CRIU's soccr restores SYN_SENT the same way (for the facts).
 */
static int connect_in_progress(int fd, const struct ckpt_fd_inet *s, const struct ckpt_fd_tcp *t,
			       const struct img_file *f, int fd0)
{
	int ret;

	if ((ret = intopt(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) < 0 ||
	    (ret = intopt(fd, TCP_QUEUE_SEQ, (int)(t->snd_seq - 1))) < 0)
		return error_errno(-ret, "fd %d (%s): cannot set the sequence number of its SYN "
				   "(TCP_QUEUE_SEQ)", fd0, f->path);
	intopt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if ((ret = bind_connect(fd, s, f, fd0, 1)) < 0)
		return ret;
	if ((ret = intopt(fd, TCP_REPAIR, TCP_REPAIR_ON)) < 0)
		return error_errno(-ret, "fd %d (%s): cannot put it back into repair mode", fd0, f->path);
	return 0;
}

/* What the handshake agreed, and the timestamp clock. */
static int agreed(int fd, const struct ckpt_fd_tcp *t, const struct img_file *f, int fd0)
{
	struct tcp_repair_opt o[4];
	unsigned n = 0;
	int ret;

	o[n++] = (struct tcp_repair_opt){ OPT_MSS, t->mss };
	if (t->topts & CKPT_TCP_WSCALE)
		o[n++] = (struct tcp_repair_opt){ OPT_WINDOW,
						  t->snd_wscale | (uint32_t)t->rcv_wscale << 16 };
	if (t->topts & CKPT_TCP_SACK)
		o[n++] = (struct tcp_repair_opt){ OPT_SACK_PERM, 0 };
	if (t->topts & CKPT_TCP_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt){ OPT_TIMESTAMP, 0 };
	if ((ret = tcpopt(fd, TCP_REPAIR_OPTIONS, o, n * sizeof(o[0]))) < 0)
		return error_errno(-ret, "fd %d (%s): cannot set its TCP options (TCP_REPAIR_OPTIONS)",
				   fd0, f->path);
	if ((t->topts & CKPT_TCP_TIMESTAMPS) && (ret = intopt(fd, TCP_TIMESTAMP, (int)t->timestamp)) < 0)
		return error_errno(-ret, "fd %d (%s): cannot set its timestamp clock", fd0, f->path);
	return 0;
}

/* Once the receive queue is back (the kernel checks the window against
 * the next byte expected, tcp_repair_set_window).  The peer's FIN is not
 * in yet (fin_in): a window last updated after it starts at the FIN's own
 * number, its right edge where it was. */
static int window(int fd, const struct ckpt_fd_tcp *t, const struct img_file *f, int fd0)
{
	struct tcp_repair_window w = {
		.snd_wl1 = t->snd_wl1, .snd_wnd = t->snd_wnd, .max_window = t->max_window,
		.rcv_wnd = t->rcv_wnd, .rcv_wup = t->rcv_wup,
	};
	int ret;

	if ((int32_t)(w.rcv_wup - t->rcv_seq) > 0) {
		w.rcv_wnd += w.rcv_wup - t->rcv_seq;
		w.rcv_wup = t->rcv_seq;
	}
	ret = tcpopt(fd, TCP_REPAIR_WINDOW, &w, sizeof(w));

	return ret < 0 ? error_errno(-ret, "fd %d (%s): cannot set its window (TCP_REPAIR_WINDOW)",
				     fd0, f->path) : 0;
}

/* The state the kernel gives fd, once it has taken what came in (a
 * segment to a local address is taken in softirq, at once as a rule: a
 * busy machine may leave it to ksoftirqd). */
static int reaches(int fd, uint8_t state, uint8_t *now)
{
	for (int i = 0; i < 2000; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			return 0;
		*now = ti.tcpi_state;
		if (ti.tcpi_state == state)
			return 1;
		usleep(5000);
	}
	return 0;
}

/* The window the peer had offered, as its segments say it (scaled). */
static uint16_t peer_window(const struct ckpt_fd_tcp *t)
{
	uint32_t w = t->snd_wnd >> ((t->topts & CKPT_TCP_WSCALE) ? t->snd_wscale : 0);

	return (uint16_t)MIN(w, 0xffffu);
}

/*
 * FIN_WAIT2: the process had shut its side and the peer had acknowledged
 * the FIN.  shutdown(2) in repair mode on the send queue queues the FIN
 * as sent, not sending it (tcp_write_xmit skips the network for
 * repair_queue TCP_SEND_QUEUE): FIN_WAIT1; then the peer's ACK of it,
 * made here (fd-tcp-segment.c): FIN_WAIT2, and nothing reached the peer.
 * An unacknowledged FIN (FIN_WAIT1, LAST_ACK, CLOSING) is sent again by
 * the process itself once out of repair mode, after its unsent bytes
 * (tcp_resume).
 */
static int fin_acked(int fd, const struct ckpt_fd_inet *s, const struct ckpt_fd_tcp *t,
		     const struct img_file *f, int fd0)
{
	uint8_t now = 0;
	int ret;

	if ((ret = intopt(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) < 0 ||
	    (shutdown(fd, SHUT_WR) < 0 && (ret = -errno)) ||
	    (ret = intopt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE)) < 0)
		return error_errno(-ret, "fd %d (%s): cannot queue the FIN it had sent", fd0, f->path);
	if ((ret = fd_tcp_segment(s, t->rcv_seq, t->snd_seq + 1, 0, peer_window(t))) < 0)
		return error_errno(-ret, "fd %d (%s): cannot give it the acknowledgement of its FIN "
				   "(a raw socket)", fd0, f->path);
	if (!reaches(fd, TCP_FIN_WAIT2, &now))
		return error("fd %d (%s): the acknowledgement of its FIN did not bring it to "
			     "FIN_WAIT2: it is in %s", fd0, f->path, fd_tcp_state_name(now));
	return 0;
}

/*
 * The peer's FIN, which had come (CLOSE_WAIT, LAST_ACK, CLOSING), made to
 * come again from the peer's address (fd-tcp-segment.c) after the bytes
 * queued: the kernel takes it as any FIN (tcp_fin: CLOSE_WAIT, the end
 * after the bytes) and acknowledges it, in repair mode too.  So it waits
 * for the socket at the other end when that is in the image too: an
 * acknowledgement to a connection nobody holds would be answered with a
 * reset.  A peer outside that has forgotten the connection answers so
 * too: the process reads its bytes and the end, and its writes fail
 * (EPIPE), as they would have once it wrote.
 */
static int fin_in(const struct img_file *f, int fd, const char *who)
{
	struct ckpt_fd_inet s;
	struct ckpt_fd_tcp t;
	uint8_t now = 0;
	int ret;

	state_of(f, &s, &t);
	if ((ret = fd_tcp_segment(&s, t.rcv_seq, t.snd_seq - t.outq_len, 1, peer_window(&t))) < 0)
		return error_errno(-ret, "%s: cannot give it the FIN its peer had sent (a raw socket)",
				   who);
	if (!reaches(fd, TCP_CLOSE_WAIT, &now))
		return error("%s: the FIN its peer had sent did not bring it to CLOSE_WAIT: it is in "
			     "%s%s", who, fd_tcp_state_name(now),
			     now == TCP_CLOSE ? " (the peer reset it)" : "");
	return 0;
}

/* After f is made (at fd): the peer FINs that can come now, its own and
 * that of the other end when that was made first and waited for it. */
static int fins_in(const struct fd_restore *r, const struct img_file *f, int fd, int fd0)
{
	const struct img_file *g = fd_tcp_peer(r->img, f);
	int gfd = g ? r->src[g->d.id - 1] : -1, ret = 0;
	char who[160];

	snprintf(who, sizeof(who), "fd %d (%s)", fd0, f->path);
	if ((f->d.fflags & CKPT_FILEF_FIN_IN) && (!g || gfd >= 0) && (ret = fin_in(f, fd, who)) < 0)
		return ret;
	if (g && gfd >= 0 && (g->d.fflags & CKPT_FILEF_FIN_IN)) {
		snprintf(who, sizeof(who), "the other end of fd %d (%s)", fd0, g->path);
		ret = fin_in(g, gfd, who);
	}
	return ret;
}

struct making {
	const struct fd_restore *r;
	const struct img_file *f;
	int fd0;
};

static int make(void *arg)
{
	const struct img_file *f = ((struct making *)arg)->f;
	int fd0 = ((struct making *)arg)->fd0;
	struct ckpt_fd_inet s;
	struct ckpt_fd_tcp t;
	int fd, ret;

	state_of(f, &s, &t);
	if (((f->d.fflags & CKPT_FILEF_FIN_IN) || s.state == TCP_FIN_WAIT2) && !fd_tcp_local(&s)) {
		char a[64];

		fd_inet_addr(s.family, s.addr, s.port, a, sizeof(a));
		return error("fd %d (%s): its address %s is not one of this machine's: restore gives "
			     "its FIN segments from its peer's address only to a local one (a raw "
			     "socket)", fd0, f->path, a);
	}
	fd = socket((int)s.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make %s", fd0, f->path, fd_file_what(f));
	if ((ret = intopt(fd, TCP_REPAIR, TCP_REPAIR_ON)) < 0) {
		ret = error_errno(-ret, "fd %d (%s, %s): cannot restore it: TCP_REPAIR%s", fd0, f->path,
				  fd_file_what(f), ret != -EPERM ? "" : geteuid() ?
				  " needs CAP_NET_ADMIN (restore as root)" :
				  " needs CAP_NET_ADMIN, which ckpt lends only to an image signed by "
				  "this machine's key or restored with --trust");
		goto fail;
	}
	if ((ret = fd_inet_options(fd, &s, f, fd0)) < 0)
		goto fail;
	if (s.state == TCP_SYN_SENT) {
		if ((ret = connect_in_progress(fd, &s, &t, f, fd0)) < 0)
			goto fail;
		goto flags;
	}
	if ((ret = connect_again(fd, &s, &t, f, fd0)) < 0 || (ret = agreed(fd, &t, f, fd0)) < 0)
		goto fail;
	room(fd, &t);
	if ((ret = fill(fd, TCP_RECV_QUEUE, f->data, t.inq_len)) < 0) {
		ret = error_errno(-ret, "fd %d (%s): cannot put back the bytes it had to read", fd0,
				  f->path);
		goto fail;
	}
	if ((ret = window(fd, &t, f, fd0)) < 0)
		goto fail;
	if ((ret = fill(fd, TCP_SEND_QUEUE, f->data + t.inq_len, t.outq_len - t.unsent_len)) < 0) {
		ret = error_errno(-ret, "fd %d (%s): cannot put back the bytes it had sent", fd0,
				  f->path);
		goto fail;
	}
	intopt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if (s.state == TCP_FIN_WAIT2 && (ret = fin_acked(fd, &s, &t, f, fd0)) < 0)
		goto fail;
	if ((ret = fins_in(((struct making *)arg)->r, f, fd, fd0)) < 0)
		goto fail;
flags:
	/* O_NONBLOCK once the process has written its unsent bytes (plan) */
	if (fcntl(fd, F_SETFL, f->d.flags & ~(uint32_t)(O_ACCMODE | O_NONBLOCK)) < 0) {
		ret = error_errno(errno, "fd %d (%s): cannot set its flags %#o", fd0, f->path, f->d.flags);
		goto fail;
	}
	return fd;
fail:
	close(fd);	/* in repair mode: the peer sees nothing */
	return ret;
}

/* With ckpt's capabilities where the image's word is taken: TCP_REPAIR
 * needs CAP_NET_ADMIN, which files_open() drops for a process that is not
 * root. */
static int tcp_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct making m = { r, f, fd0 };

	return files_with_ckpt_creds(make, &m);
}

/* In the process, all its fds in place: the connection goes live. */
static void tcp_resume(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
		       int target)
{
	struct ckpt_fd_inet s;
	struct ckpt_fd_tcp t;
	int off = TCP_REPAIR_OFF;

	(void)r;
	state_of(f, &s, &t);
	plan_syscall(pl, 0, 0, PLAN_R(3), SYS_setsockopt, (uint64_t[6]){ (uint64_t)target, IPPROTO_TCP,
		     TCP_REPAIR, plan_blob(pl, &off, sizeof(off)), sizeof(off) });
	plan_what(pl, 0, "take fd %d (%s) out of TCP repair mode", target, fd_file_what(f));
	if (t.unsent_len) {
		plan_syscall(pl, 0, 0, PLAN_R(1), SYS_sendto, (uint64_t[6]){ (uint64_t)target,
			     plan_blob(pl, f->data + t.inq_len + t.outq_len - t.unsent_len, t.unsent_len),
			     t.unsent_len, MSG_NOSIGNAL });
		plan_what(pl, 0, "send the %u bytes fd %d (%s) had not sent", t.unsent_len, target,
			  fd_file_what(f));
	}
	/* an unacknowledged FIN after them (fin_acked) */
	if ((f->d.fflags & CKPT_FILEF_FIN_OUT) && s.state != TCP_FIN_WAIT2) {
		plan_syscall(pl, 0, 0, 0, SYS_shutdown, (uint64_t[6]){ (uint64_t)target, SHUT_WR });
		plan_what(pl, 0, "send the FIN of fd %d (%s) again", target, fd_file_what(f));
	}
	if (f->d.flags & O_NONBLOCK)
		plan_syscall(pl, 0, 0, 0, SYS_fcntl, (uint64_t[6]){ (uint64_t)target, F_SETFL,
			     f->d.flags & ~(uint32_t)O_ACCMODE });
}

void fd_tcp_unlock(const struct img *img, const char *path)
{
	char name[NETLOCK_NAME_MAX], why[256];
	int outside = 0, listening = 0, ret;
	struct ckpt_fd_inet s;

	for (uint32_t i = 0; i < img->nfiles && !outside; i++) {
		outside = img->files[i].d.kind == CKPT_FD_TCP &&
			  img->files[i].d.policy == CKPT_FPOL_EXACT && !fd_tcp_peer(img, &img->files[i]);
		listening |= fd_tcp_listener(&img->files[i], &s);
	}
	/* a dump without CAP_NET_ADMIN locked no listener (dump/fd-tcp.c) */
	if (!outside && (!listening || !netlock_capable()))
		return;
	netlock_name(img->h.image_id, name);
	ret = netlock_remove(name, why, sizeof(why));
	if (ret == -ENOENT || (ret < 0 && !outside))
		debug("no network lock removed (%s)", ret == -ENOENT ? "no nft here" :
		      ret == -EIO ? why : strerror(-ret));	/* dumped elsewhere, or not locked */
	else if (ret < 0)
		warn("cannot remove the network lock (nftables table inet %s): %s: the connections "
		     "to peers outside stay silent until `ckpt unlock %s`", name,
		     ret == -EIO ? why : strerror(-ret), path);
	else
		debug("network lock %s removed", name);
}

const struct fd_kind_restore fd_restore_tcp = { .open = tcp_open, .plan_after = tcp_resume };
