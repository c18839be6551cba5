/*
 * See guardian.h.  The guardian lives in a session of its own (a Ctrl-C
 * for ckpt's process group does not reach it), ignores the signals a
 * terminal sends, passes no kill point (it is not a subject of the test,
 * killpoint.h), and holds none of ckpt's descriptors but stderr: a reader
 * of ckpt's stdout (`dump -o -`, the PID `restore --detach` prints) sees
 * its end with ckpt.  It waits for end of file on a pipe, which comes
 * however ckpt ends (do_exit() closes its files).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/killpoint.h"
#include "common/util.h"

static void wait_for_ckpt(int rfd)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGTSTP };
	int null;
	char c;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	if (rfd > 3)
		syscall(SYS_close_range, 3, rfd - 1, 0);
	syscall(SYS_close_range, rfd + 1, ~0u, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_IGN);
	killpoints_off();
	setsid();
	prctl(PR_SET_NAME, "ckpt-guardian");
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	close(rfd);
}

pid_t guardian_fork(int *wfd)
{
	int p[2], err;
	pid_t child;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	child = fork();
	if (child == 0) {
		int rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 3);

		close(p[1]);
		wait_for_ckpt(rfd);
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
