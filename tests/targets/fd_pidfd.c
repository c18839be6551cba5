/*
 * pidfds, at fixed descriptor numbers:
 *   10  of itself, PIDFD_NONBLOCK
 *   11  of itself, blocking
 *   12  of a child that has exited and been reaped
 * With "tree", also a child that waits, and
 *   13  (the parent's) of that child
 *   14  (the child's) of its parent
 * After GO: each names the right process (fdinfo Pid: its PID now, -1
 * for 12) with its flags; pidfd_send_signal(10) delivers SIGUSR1 to
 * itself; 10 and 11 do not poll readable (alive), 12 does, and signals
 * through it give ESRCH.  Tree: the child checks 14 and signals its
 * parent (SIGUSR2) through it; the parent then kills the child through 13,
 * which polls readable, and waitid(P_PIDFD) on it gives "killed by
 * SIGTERM".
 * With "outside", also
 *   15  of its parent, outside the image (dump refuses it)
 * With a second argument "pidns" (restored with --pid-ns), signals through
 * 12 may give EINVAL: the exited process restore makes is outside the
 * namespace (docs/image-format.md 5.23).
 * Output: "fd_pidfd: ok".  Usage: fd_pidfd [tree|outside] [pidns]
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "pidfd.h"
#include "target.h"

#ifndef P_PIDFD
#define P_PIDFD	3
#endif

static volatile sig_atomic_t got_usr1, got_usr2;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_usr2 = 1;
}

/* The tree's child: checks its pidfd of its parent and signals it. */
static void child(void)
{
	if (at(pidfd_open(getppid(), 0), 14) != 14)
		_exit(2);
	while (!target_go())
		target_sleep_ms(5);
	if (pid_of(14) != getppid()) {
		fprintf(stderr, "child: fd 14 names %ld, its parent is %d\n", pid_of(14), getppid());
		_exit(3);
	}
	if (send_signal(14, SIGUSR2) < 0)
		_exit(4);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int tree = argc > 1 && !strcmp(argv[1], "tree");
	int pidns = argc > 2 && !strcmp(argv[2], "pidns");
	pid_t kid = 0, gone;
	siginfo_t si;

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if ((gone = fork()) == 0)
		_exit(0);
	if (at(pidfd_open(getpid(), O_NONBLOCK), 10) != 10 || at(pidfd_open(getpid(), 0), 11) != 11 ||
	    at(pidfd_open(gone, 0), 12) != 12 || waitpid(gone, NULL, 0) != gone) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	if (argc > 1 && !strcmp(argv[1], "outside") && at(pidfd_open(getppid(), 0), 15) != 15) {
		target_fail("cannot open a pidfd of its parent: %s", strerror(errno));
		return target_exit();
	}
	if (tree) {
		if ((kid = fork()) == 0)
			child();
		if (kid < 0 || at(pidfd_open(kid, 0), 13) != 13) {
			target_fail("cannot set up the child: %s", strerror(errno));
			return target_exit();
		}
		/* its pidfd of us made before we say ready */
		for (int i = 0; i < 2000; i++) {
			char path[64], link[64] = "";

			snprintf(path, sizeof(path), "/proc/%d/fd/14", kid);
			if (readlink(path, link, sizeof(link) - 1) > 0)
				break;
			target_sleep_ms(5);
		}
	}
	target_wait();

	CHECK(pid_of(10) == getpid(), "fd 10 names %ld, want itself (%d)", pid_of(10), getpid());
	CHECK(pid_of(11) == getpid(), "fd 11 names %ld, want itself (%d)", pid_of(11), getpid());
	CHECK(pid_of(12) == -1, "fd 12 names %ld, want -1 (exited)", pid_of(12));
	CHECK(fcntl(10, F_GETFL) & O_NONBLOCK, "fd 10 is no longer PIDFD_NONBLOCK");
	CHECK(!(fcntl(11, F_GETFL) & O_NONBLOCK), "fd 11 is non-blocking");
	CHECK(!readable(10, 0) && !readable(11, 0), "a pidfd of itself polls readable");
	CHECK(readable(12, 0), "fd 12 (exited) does not poll readable");
	CHECK(send_signal(12, SIGUSR1) < 0 && (errno == ESRCH || (pidns && errno == EINVAL)),
	      "fd 12: a signal did not give ESRCH");
	CHECK(send_signal(10, SIGUSR1) == 0, "fd 10: pidfd_send_signal: %s", strerror(errno));
	for (int i = 0; i < 2000 && !got_usr1; i++)
		target_sleep_ms(5);
	CHECK(got_usr1, "SIGUSR1 sent through fd 10 did not come");
	if (tree) {
		CHECK(pid_of(13) == kid, "fd 13 names %ld, want the child %d", pid_of(13), kid);
		for (int i = 0; i < 2000 && !got_usr2; i++)
			target_sleep_ms(5);
		CHECK(got_usr2, "the child's SIGUSR2 through its pidfd of us did not come");
		CHECK(!readable(13, 0), "fd 13 polls readable before the child ends");
		CHECK(send_signal(13, SIGTERM) == 0, "fd 13: pidfd_send_signal: %s", strerror(errno));
		CHECK(readable(13, 10000), "fd 13 does not poll readable once the child is killed");
		memset(&si, 0, sizeof(si));
		CHECK(waitid(P_PIDFD, 13, &si, WEXITED) == 0 && si.si_pid == kid &&
		      si.si_code == CLD_KILLED && si.si_status == SIGTERM,
		      "waitid(P_PIDFD, 13): pid %d code %d status %d, want %d killed by SIGTERM",
		      si.si_pid, si.si_code, si.si_status, kid);
	}
	if (!target_failures)
		printf("fd_pidfd: ok\n");
	return target_exit();
}
