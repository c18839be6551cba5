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

/* Bind pid's name: 0 with *fd bound (free), else -errno; < 0 not EADDRINUSE
 * said nothing. */
static int try_bind(pid_t pid, struct sockaddr_un *a, socklen_t *len, int *fd)
{
	struct proc_stat st;
	int ret;

	*fd = -1;
	if (proc_read_stat(pid, &st) < 0)
		return -ESRCH;	/* (check_target says why, or will) */
	*len = lock_addr(pid, st.start_time, a);
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (bind(*fd, (const struct sockaddr *)a, *len) == 0)
		return 0;
	ret = -errno;
	close(*fd);
	*fd = -1;
	return ret;
}

/* The name taken (-EADDRINUSE): whether the holder counts, said by name. */
static int taken(pid_t pid, int root, const struct sockaddr_un *a, socklen_t len)
{
	char who[32];
	pid_t by = 0;

	/* (the dump's line names the process it was asked for) */
	snprintf(who, sizeof(who), root ? "this process" : "process %d", (int)pid);

	if (!holder_counts(a, len, &by)) {
		warn("the name of %s's --snapshot lock is taken by something else than a ckpt of this user or root (PID %d): not counted",
		     who, (int)by);
		return 0;
	}
	if (by > 0)
		return error("a ckpt dump --snapshot of %s is under way, or its guardian (the dump was killed) is still giving the process its memory back (its lock taken by ckpt PID %d): dump again once it is done",
			     who, (int)by);
	return error("a ckpt dump --snapshot of %s is under way, or its guardian (the dump was killed) is still giving the process its memory back: dump again once it is done",
		     who);
}

int snap_lock(pid_t pid, int hold)
{
	struct sockaddr_un a;
	socklen_t len;
	int fd, ret;

	if (held >= 0)
		return 0;	/* ours already */
	/* Only a --snapshot needs the lock: another dump that cannot look
	 * goes on as before (no process: check_target says why not). */
	ret = try_bind(pid, &a, &len, &fd);
	if (ret == 0) {
		if (hold && listen(fd, SOMAXCONN) == 0) {
			held = fd;
			guardian_keep(fd);
			return 0;
		}
		ret = hold ? -errno : 0;
		close(fd);
		return ret < 0 ? error_errno(ret, "--snapshot: cannot listen on its lock's socket") : 0;
	}
	if (ret == -EADDRINUSE)
		return taken(pid, 1, &a, len);
	if (ret == -ESRCH || ret == -ENOENT || !hold)
		return 0;
	return error_errno(ret, "--snapshot: cannot bind its lock's socket");
}

int snap_check(pid_t pid)
{
	struct sockaddr_un a;
	socklen_t len;
	int fd, ret = try_bind(pid, &a, &len, &fd);

	if (ret == 0)
		close(fd);
	return ret == -EADDRINUSE ? taken(pid, 0, &a, len) : 0;
}

void snap_unlock(void)
{
	if (held >= 0)
		close(held);
	held = -1;
	guardian_keep(-1);
}
