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
 * start time), bound by the --snapshot dump before its guardian is forked,
 * which keeps it (guardian_keep): the kernel frees the name when both are
 * gone, however they die.  Every dump binds the name first; taken, it refuses
 * by name.  A name anyone may bind: a holder counts only if it is root or
 * runs as ckpt does (SO_PEERCRED of the listening socket), so another
 * user cannot keep a process from being dumped.  Per network namespace:
 * a ckpt in another one does not see it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/log.h"
#include "dump/snapshot.h"
#include "ptrace/proc.h"

static int held = -1;

/* Its name: "\0ckpt-snapshot PID START"; its length in the address. */
static socklen_t lock_addr(pid_t pid, uint64_t start, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "ckpt-snapshot %d %llu", (int)pid,
		     (unsigned long long)start);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The holder of the name: 1 if it counts (root, or our user), 0 if not
 * (or gone since); the PID that took it in *pid (0: not known).  A
 * connection is never accepted: it waits in the listener's queue until
 * the lock goes, so connect() must not block on a full one (then: as if
 * it counted). */
static int holder_counts(const struct sockaddr_un *a, socklen_t len, pid_t *pid)
{
	struct ucred cr = { 0 };
	socklen_t cl = sizeof(cr);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), ok = 1;

	if (fd < 0)
		return 1;
	if (connect(fd, (const struct sockaddr *)a, len) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
			ok = cr.uid == 0 || cr.uid == geteuid();
	} else if (errno == ECONNREFUSED) {
		ok = 0;		/* bound but not listening: not ours */
	}
	close(fd);
	*pid = cr.pid;
	return ok;
}

int snap_lock(pid_t pid, int hold)
{
	struct sockaddr_un a;
	struct proc_stat st;
	socklen_t len;
	pid_t by = 0;
	int fd, ret;

	if (held >= 0)
		return 0;	/* ours already */
	if ((ret = proc_read_stat(pid, &st)) < 0)
		return 0;	/* check_target said why not, or will */
	len = lock_addr(pid, st.start_time, &a);
	/* Only a --snapshot needs the lock: another dump that cannot look
	 * goes on as before. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return hold ? error_errno(errno, "--snapshot: cannot make a socket for its lock") : 0;
	if (bind(fd, (const struct sockaddr *)&a, len) == 0) {
		if (hold && listen(fd, SOMAXCONN) == 0) {
			held = fd;
			guardian_keep(fd);
			return 0;
		}
		ret = -errno;
		close(fd);
		return hold ? error_errno(ret, "--snapshot: cannot listen on its lock's socket") : 0;
	}
	ret = -errno;
	close(fd);
	if (ret != -EADDRINUSE)
		return hold ? error_errno(ret, "--snapshot: cannot bind its lock's socket") : 0;
	if (!holder_counts(&a, len, &by)) {
		warn("the name of this process's --snapshot lock is taken by something else than a ckpt of this user or root (PID %d): not counted",
		     (int)by);
		return 0;
	}
	if (by > 0)
		return error("a ckpt dump --snapshot of this process is under way, or its guardian (the dump was killed) is still giving the process its memory back (its lock taken by ckpt PID %d): dump again once it is done",
			     (int)by);
	return error("a ckpt dump --snapshot of this process is under way, or its guardian (the dump was killed) is still giving the process its memory back: dump again once it is done");
}

void snap_unlock(void)
{
	if (held >= 0)
		close(held);
	held = -1;
	guardian_keep(-1);
}
