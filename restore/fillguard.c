/*
 * The process under ckpt's wing while a lazy restore fills it (fillguard.h).
 *
 * Its threads were attached for the restore by PTRACE_TRACEME and
 * PTRACE_O_TRACECLONE (spawn.c), not PTRACE_SEIZE, so a stop is told by
 * PTRACE_GETSIGINFO: a group stop has no siginfo (EINVAL), a signal about
 * to be delivered has one (ptrace(2), "Group-stop").  To let go of a
 * running tracee it is sent SIGSTOP and detached at that stop, the
 * SIGSTOP dropped.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "ptrace/tracee.h"
#include "restore/fillguard.h"
#include "restore/lazy.h"

#define GUARD_OPTS (PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | \
		    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)

static ssize_t find(const struct guard *g, pid_t tid)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->tids[i] == tid)
			return (ssize_t)i;
	return -1;
}

static size_t add(struct guard *g, pid_t tid, int fresh)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->tids = xrealloc(g->tids, g->cap * sizeof(*g->tids));
		g->stopped = xrealloc(g->stopped, g->cap);
		g->fresh = xrealloc(g->fresh, g->cap);
	}
	g->tids[g->n] = tid;
	g->stopped[g->n] = 0;
	g->fresh[g->n] = (unsigned char)fresh;
	return g->n++;
}

static void drop(struct guard *g, size_t i)
{
	g->n--;
	g->tids[i] = g->tids[g->n];
	g->stopped[i] = g->stopped[g->n];
	g->fresh[i] = g->fresh[g->n];
}

int guard_begin(struct guard *g, pid_t leader, const pid_t *tids, size_t n)
{
	sigset_t chld;

	memset(g, 0, sizeof(*g));
	g->leader = leader;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, NULL);
	g->sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	for (size_t i = 0; i < n; i++) {
		add(g, tids[i], 0);
		long ret = tracee_call(PTRACE_SETOPTIONS, tids[i], 0, (void *)(long)GUARD_OPTS);

		if (ret < 0)
			return error_errno((int)-ret, "thread %d: cannot keep it traced", tids[i]);
	}
	return 0;
}

/* One stop or exit of a tracee (waitpid's tid, st); left stopped only in
 * a group stop, or when it is `want`'s SIGSTOP (guard_end), then 1. */
static int on_stop(struct guard *g, pid_t tid, int st, int want_stop)
{
	ssize_t i = find(g, tid);
	siginfo_t si;
	int sig, ev;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		if (tid == g->leader) {
			g->exited = 1;
			g->status = st;
		}
		if (i >= 0)
			drop(g, (size_t)i);
		return 0;
	}
	if (!WIFSTOPPED(st))
		return 0;
	if (i < 0)	/* a child or thread whose creation event is yet to come */
		i = (ssize_t)add(g, tid, 1);
	sig = WSTOPSIG(st);
	ev = st >> 16;
	if (ev) {	/* fork, vfork, clone, exec: the new one is traced already */
		unsigned long msg = 0;

		if (ev != PTRACE_EVENT_EXEC && tracee_call(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0 &&
		    find(g, (pid_t)msg) < 0)
			add(g, (pid_t)msg, 1);
		tracee_call(PTRACE_CONT, tid, 0, 0);
		return 0;
	}
	if (g->fresh[i] && sig == SIGSTOP) {	/* its attach stop */
		g->fresh[i] = 0;
		tracee_call(PTRACE_CONT, tid, 0, 0);
		return 0;
	}
	g->fresh[i] = 0;
	if (tracee_call(PTRACE_GETSIGINFO, tid, 0, &si) == -EINVAL) {
		g->stopped[i] = 1;	/* a group stop: stays stopped */
		return 0;
	}
	if (want_stop && sig == SIGSTOP && si.si_code == SI_TKILL && si.si_pid == getpid())
		return 1;
	tracee_call(PTRACE_CONT, tid, 0, (void *)(long)sig);
	return 0;
}

/* Every stop and exit waiting; 1 if one was tid's own SIGSTOP (want). */
static int reap(struct guard *g, pid_t want)
{
	int st, got = 0;
	pid_t tid;

	while ((tid = tracee_wait(-1, &st, __WALL | WNOHANG)) > 0)
		if (on_stop(g, tid, st, tid == want) == 1)
			got = 1;
	return got;
}

int guard_wait(struct guard *g, struct lazy *lz)
{
	int ret;

	/* After "restore: running": CKPT_KILLPOINT reaches it by name only. */
	killpoint("restore: lazily filling, the process running");
	while ((ret = lazy_status(lz)) == 0 && g->n) {
		struct pollfd pfd[2] = {
			{ .fd = g->sigfd, .events = POLLIN },
			{ .fd = lazy_done_fd(lz), .events = POLLIN },
		};
		struct signalfd_siginfo ssi;

		/* A SIGCHLD a thread of ours took is lost: look anyway. */
		poll(pfd, 2, 100);
		while (read(g->sigfd, &ssi, sizeof(ssi)) > 0)
			;
		reap(g, 0);
	}
	return ret;
}

void guard_end(struct guard *g)
{
	while (g->n) {
		size_t i = g->n - 1;
		pid_t tid = g->tids[i];

		if (!g->stopped[i] && syscall(SYS_tkill, tid, SIGSTOP) < 0) {
			drop(g, i);
			continue;
		}
		/* Its SIGSTOP, or a group stop; pass on everything else.  From
		 * any tracee: a zombie leader is reported only once every
		 * other thread is reaped, and one we never saw may be left. */
		while (!g->stopped[i]) {
			int st;
			pid_t t = tracee_wait(-1, &st, __WALL);

			if (t == -EINTR)
				continue;
			if (t < 0 || on_stop(g, t, st, t == tid) == 1 || find(g, tid) < 0)
				break;
			i = (size_t)find(g, tid);
		}
		if ((i = (size_t)find(g, tid)) < g->n) {
			tracee_call(PTRACE_DETACH, tid, 0, 0);
			drop(g, i);
		}
	}
	reap(g, 0);
	if (g->sigfd >= 0)
		close(g->sigfd);
	g->sigfd = -1;
	free(g->tids);
	free(g->stopped);
	free(g->fresh);
	g->tids = NULL;
	g->stopped = g->fresh = NULL;
}

void guard_kill(struct guard *g)
{
	for (size_t i = 0; i < g->n; i++)
		syscall(SYS_tkill, g->tids[i], SIGKILL);
}

/* The keeper: hold what comes over sock, forever (ckpt gone: still). */
static __attribute__((noreturn)) void keep(int sock)
{
	for (;;) {
		char byte, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { &byte, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };

		if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) <= 0 && errno != EINTR)
			for (;;)
				pause();
	}
}

int guard_keeper(struct keeper *k, int uffd)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	k->pidfd = k->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_errno(errno, "cannot make a socket pair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return error_errno(errno, "cannot fork");
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		/* Nothing but the uffd and its end of the socket (close_range(2),
		 * Linux 5.9). */
		int lo = MIN(uffd, sv[1]), hi = MAX(uffd, sv[1]);

		if (lo > 0)
			syscall(SYS_close_range, 0u, (unsigned)lo - 1, 0);
		if (hi > lo + 1)
			syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0);
		syscall(SYS_close_range, (unsigned)hi + 1, ~0u, 0);
		keep(sv[1]);
	}
	close(sv[1]);
	k->sock = sv[0];
	k->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (k->pidfd < 0) {
		int err = errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
		close(k->sock);
		k->sock = -1;
		return error_errno(err, "cannot open a pidfd");
	}
	return 0;
}

int guard_keeper_add(const struct keeper *k, int fd)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	if (k->sock < 0)
		return 0;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	while (sendmsg(k->sock, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void guard_keeper_end(struct keeper *k)
{
	siginfo_t si;

	if (k->sock >= 0)
		close(k->sock);
	if (k->pidfd >= 0) {
		/* By pidfd: guard_wait may have reaped it, its PID be reused. */
		syscall(SYS_pidfd_send_signal, k->pidfd, SIGKILL, NULL, 0);
		while (waitid((idtype_t)3 /* P_PIDFD, Linux 5.4 */, (id_t)k->pidfd, &si,
			      WEXITED | __WALL) < 0 && errno == EINTR)
			;
		close(k->pidfd);
	}
	k->pidfd = k->sock = -1;
}
