/*
 * See guardian.h.  The guardian lives in a session of its own (a Ctrl-C
 * for ckpt's process group does not reach it), ignores the signals a
 * terminal sends, passes no kill point (it is not a subject of the test,
 * killpoint.h), and holds none of ckpt's descriptors but stderr: a reader
 * of ckpt's stdout (`dump -o -`, the PID `restore --detach` prints) sees
 * its end with ckpt.  It waits for end of file on a socket (ckpt may hand it files there), which comes
 * however ckpt ends (do_exit() closes its files).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"

/* A pidfd of ckpt for guardian_wait_gone(), opened right after the fork:
 * ckpt is alive, or a zombie its parent has not reaped yet, so the PID is
 * still its own (-1 if it is reaped already: nothing to wait for). */
static int ckpt_fd = -1;
static pid_t ckpt_pid;

/* Files ckpt handed over (guardian_send_fd), in the order it sent them. */
static int held[GUARDIAN_FDS_MAX];
static int nheld;

/* One message from ckpt: 'F' with an fd to hold, 'C' to close them all
 * (then 'c' back), or 0 at its end. */
static int take_msg(int rfd)
{
	char c = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	while ((n = recvmsg(rfd, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			if (nheld < GUARDIAN_FDS_MAX)
				held[nheld++] = fd;
			else
				close(fd);
		}
	if (c == 'C') {
		for (int i = 0; i < nheld; i++)
			close(held[i]);
		nheld = 0;
		while (write(rfd, "c", 1) < 0 && errno == EINTR)
			;
	}
	return c;
}

int guardian_fds(const int **fds)
{
	*fds = held;
	return nheld;
}

int guardian_send_fd(int wfd, int fd)
{
	char c = 'F', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	/* Once sent it is held: in flight, the socket's queue holds it. */
	return sendmsg(wfd, &m, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int guardian_drop_fds(int wfd)
{
	char c;

	if (send(wfd, "C", 1, MSG_NOSIGNAL) != 1)
		return -errno;
	while (read(wfd, &c, 1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* A file the next guardian keeps to its end (guardian_keep), or -1. */
static int keep_fd = -1;

void guardian_keep(int fd)
{
	keep_fd = fd;
}

/* Every descriptor from 3 up closed but a and b (-1: none). */
static void close_but(int a, int b)
{
	int keep[2] = { MIN(a, b), MAX(a, b) }, lo = 3;

	for (int i = 0; i < 2; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			syscall(SYS_close_range, lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0u, 0);
}

static void wait_for_ckpt(int rfd, pid_t ckpt)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGTSTP };
	int null;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	close_but(rfd, keep_fd);
	ckpt_pid = ckpt;
	ckpt_fd = (int)syscall(SYS_pidfd_open, ckpt, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_IGN);
	killpoints_off();
	setsid();
	prctl(PR_SET_NAME, "ckpt-guardian");
	while (take_msg(rfd))
		;
	close(rfd);
}

/*
 * The pipe's end of file comes from ckpt's last close (exit_files(), the
 * release itself in exit_task_work()), but its tracees are let go only
 * later, in exit_notify() -> forget_original_parent() -> exit_ptrace()
 * (kernel/exit.c do_exit()): until then a seize of them gets EPERM.  In
 * between, the rest of do_exit() runs, the release of the image among it
 * (the pages of a tmpfs O_TMPFILE freed), at the pace a busy machine gives
 * it: seconds in the emulated arm64 guest.  A pidfd polls readable once
 * the leader has exited and the thread group is empty (kernel/pid.c
 * pidfd_poll()), that is once every thread of ckpt is past its
 * exit_ptrace().  Bounded: a ckpt stuck in D state must not keep the undo
 * from running at all (a seize then fails as before, and says so).
 */
#define GUARDIAN_GONE_S 300

void guardian_wait_gone(void)
{
	struct pollfd p = { .fd = ckpt_fd, .events = POLLIN };
	uint64_t t0 = now_ns();
	int r;

	if (ckpt_fd < 0)
		return;
	while ((r = poll(&p, 1, GUARDIAN_GONE_S * 1000)) < 0 && errno == EINTR)
		;
	if (r == 0)
		warn("guardian: the exit of ckpt (PID %d) is not over after %d s: going on", ckpt_pid,
		     GUARDIAN_GONE_S);
	else if (now_ns() - t0 > 100000000ull)
		debug("guardian: waited %.1f s for ckpt's exit to be over", (now_ns() - t0) / 1e9);
	close(ckpt_fd);
	ckpt_fd = -1;
}

pid_t guardian_fork(int *wfd)
{
	int p[2], err;
	pid_t child, ckpt = getpid();

	/* A socket, not a pipe: ckpt hands files over to it (SCM_RIGHTS). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		return -errno;
	fflush(NULL);
	child = fork();
	if (child == 0) {
		int rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 3);

		close(p[1]);
		wait_for_ckpt(rfd, ckpt);
		return 0;
	}
	err = errno;
	close(p[0]);
	if (child < 0) {
		close(p[1]);
		return -err;
	}
	*wfd = p[1];
	return child;
}
