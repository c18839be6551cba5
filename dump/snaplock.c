/*
 * One --snapshot at a time per process, and no other dump of it while a
 * --snapshot's memory is being given back.  Released, the process runs
 * with its memory moved aside (shadows, originals registered with a
 * userfaultfd ckpt holds) until every page is back: by ckpt, or by its
 * guardian if ckpt died.  A dump meanwhile would find the shadows as
 * mappings of the process (and put them in its image), a --snapshot its
 * registration refused (EBUSY), and while it held the process frozen the
 * guardian could not stop a thread to unmap the shadows (left mapped for
 * good).
 *
 * The lock is an abstract unix socket named after the process (PID and
 * start time), bound and listening from before a --snapshot dump freezes
 * it, kept by its guardian (guardian_keep): the kernel frees the name when
 * both are gone, however they die.  Only a --snapshot binds it; any other
 * dump looks whether something listens there (a connect: refused at once
 * when nothing does) before it freezes the process, and again once it has
 * it frozen: a --snapshot that froze, moved and released it in between
 * listened before it froze.  Taken, the dump is refused by name.
 *
 * A name anyone may bind: a holder counts only if its socket is root's or
 * ckpt's user's, which the kernel's unix_diag says without a connection
 * (UNIX_DIAG_UID, Linux 5.3): a connection would tell who listens only if
 * the listener's queue had room, and another user could fill a queue of
 * its own.  Without unix_diag, SO_PEERCRED of a connection says it, and a
 * full queue counts as a holder (the one case another user can block a
 * dump, on such kernels).  Per network namespace: a ckpt in another one
 * does not see it.
 */
#include <errno.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/log.h"
#include "dump/snapshot.h"
#include "dump/sockdiag.h"
#include "ptrace/proc.h"

static int held = -1;

struct lock_name {
	struct sockaddr_un a;
	socklen_t len;
};

/* Its name: "\0ckpt-snapshot PID START"; -ESRCH without the process
 * (check_target says why, or will). */
static int lock_name(pid_t pid, struct lock_name *n)
{
	struct proc_stat st;
	int k;

	if (proc_read_stat(pid, &st) < 0)
		return -ESRCH;
	memset(n, 0, sizeof(*n));
	n->a.sun_family = AF_UNIX;
	k = snprintf(n->a.sun_path + 1, sizeof(n->a.sun_path) - 1, "ckpt-snapshot %d %llu",
		     (int)pid, (unsigned long long)st.start_time);
	n->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)k);
	return 0;
}

/* Who has the name: what unix_diag and a connection said. */
struct holder {
	int bound;		/* a stream socket has the name (unix_diag) */
	int uid_known;
	uid_t uid;
	pid_t pid;		/* SO_PEERCRED's, 0 if not known */
};

struct diag_lookup {
	const struct lock_name *n;
	struct holder *h;
};

static int one_socket(const struct sock_diag_reply *r, void *arg)
{
	struct diag_lookup *l = arg;
	const struct unix_diag_msg *m = r->msg;
	size_t nlen = l->n->len - offsetof(struct sockaddr_un, sun_path), len;
	const void *a;

	if (r->len < sizeof(*m) || m->udiag_type != SOCK_STREAM)
		return 0;
	a = sock_diag_attr(r, sizeof(*m), UNIX_DIAG_NAME, &len);
	if (!a || len != nlen || memcmp(a, l->n->a.sun_path, len))
		return 0;
	l->h->bound = 1;
	if ((a = sock_diag_attr(r, sizeof(*m), UNIX_DIAG_UID, &len)) && len == sizeof(uint32_t)) {
		l->h->uid = *(const uint32_t *)a;
		l->h->uid_known = 1;
	}
	return 1;
}

/* The owner of the stream socket bound to the name in one of states
 * (TCP_LISTEN, TCP_CLOSE: bound, not listening yet), from unix_diag:
 * 0 (h->bound 0: none), or -errno when the kernel cannot say (no
 * unix_diag; no UNIX_DIAG_UID before 5.3). */
static int owner(const struct lock_name *n, unsigned states, struct holder *h)
{
	struct unix_diag_req req = { .sdiag_family = AF_UNIX, .udiag_states = states,
				     .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_UID };
	struct diag_lookup l = { n, h };
	int ret = sock_diag_each(&req, sizeof(req), one_socket, &l);

	if (ret < 0)
		return ret;
	return h->bound && !h->uid_known ? -EOPNOTSUPP : 0;
}

/* Whether something listens on the name: 1, or 0 (refused: nothing, or
 * bound without listening).  Connected, h->pid and (without unix_diag's
 * word) h->uid from SO_PEERCRED.  Never accepted, a connection waits in
 * the listener's queue until the lock goes: not blocking, and a full
 * queue (EAGAIN) is a listener whose credentials it does not give. */
static int knock(const struct lock_name *n, struct holder *h)
{
	struct ucred cr = { 0 };
	socklen_t cl = sizeof(cr);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), ret = 1;

	if (fd < 0)
		return 1;
	if (connect(fd, (const struct sockaddr *)&n->a, n->len) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
			h->pid = cr.pid;
			if (!h->uid_known) {
				h->uid = cr.uid;
				h->uid_known = 1;
			}
		}
	} else if (errno == ECONNREFUSED || errno == ENOENT) {
		ret = 0;
	}
	close(fd);
	return ret;
}

/* A holder that counts: root's or ours; one the kernel would not name (a
 * full queue, no unix_diag) counts, as it may be a ckpt's. */
static int counts(const struct holder *h)
{
	return !h->uid_known || h->uid == 0 || h->uid == geteuid();
}

/* The name taken by h: refused by name if it counts, else warned of. */
static int taken(pid_t pid, int root, const struct holder *h)
{
	char who[32];

	/* (the dump's line names the process it was asked for) */
	snprintf(who, sizeof(who), root ? "this process" : "process %d", (int)pid);
	if (!counts(h)) {
		warn("the name of %s's --snapshot lock is taken by a socket of uid %u, neither root nor ckpt's user: not counted",
		     who, (unsigned)h->uid);
		return 0;
	}
	if (h->pid > 0)
		return error("a ckpt dump --snapshot of %s is under way, or its guardian (the dump was killed) is still giving the process its memory back (its lock taken by ckpt PID %d): dump again once it is done",
			     who, (int)h->pid);
	return error("a ckpt dump --snapshot of %s is under way, or its guardian (the dump was killed) is still giving the process its memory back: dump again once it is done",
		     who);
}

/* Whether pid is under another dump's --snapshot: refused by name (< 0)
 * if a holder that counts listens on its name, else 0. */
static int look(pid_t pid, int root)
{
	struct lock_name n;
	struct holder h = { 0 };

	if (lock_name(pid, &n) < 0 || !knock(&n, &h))
		return 0;
	/* Something listens: whose?  (Gone since: free.) */
	if (owner(&n, 1u << TCP_LISTEN, &h) == 0 && !h.bound)
		return 0;
	return taken(pid, root, &h);
}

/* A --snapshot's: bind and listen on the name, or say who has it. */
static int take(pid_t pid)
{
	struct lock_name n;
	int fd, ret = -EADDRINUSE;

	if (lock_name(pid, &n) < 0)
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return error_errno(errno, "--snapshot: cannot make its lock's socket");
	/* A holder gone between the bind and the look frees the name: again */
	for (int tries = 0; tries < 3 && ret == -EADDRINUSE; tries++) {
		struct holder h = { 0 };

		if (bind(fd, (const struct sockaddr *)&n.a, n.len) == 0) {
			if (listen(fd, SOMAXCONN) < 0) {
				ret = -errno;
				break;
			}
			held = fd;
			guardian_keep(fd);
			return 0;
		}
		if ((ret = -errno) != -EADDRINUSE)
			break;
		/* Bound, listening or not yet (another --snapshot between its
		 * bind and its listen): the kernel says whose. */
		if (owner(&n, (1u << TCP_LISTEN) | (1u << TCP_CLOSE), &h) == 0) {
			if (!h.bound)
				continue;
		} else if (!knock(&n, &h)) {
			/* No unix_diag, and whoever bound it does not listen:
			 * not counted, as a name nobody holds. */
			close(fd);
			warn("the name of this process's --snapshot lock is bound by a socket that does not listen: not counted");
			return 0;
		}
		if (counts(&h) && !h.pid)
			knock(&n, &h);	/* its PID, if it listens */
		close(fd);
		return taken(pid, 1, &h);
	}
	close(fd);
	return error_errno(ret, "--snapshot: cannot bind and listen on its lock's socket");
}

int snap_lock(pid_t pid, int hold)
{
	if (held >= 0)
		return 0;	/* ours already */
	return hold ? take(pid) : look(pid, 1);
}

int snap_check(pid_t pid, int root)
{
	return look(pid, root);
}

void snap_unlock(void)
{
	if (held >= 0)
		close(held);
	held = -1;
	guardian_keep(-1);
}
