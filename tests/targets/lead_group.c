/*
 * A process that leads its own process group (setpgid(0, 0)), or with
 * "session" its own session (setsid()).  After GO it must lead one
 * again, of the PID it has now (restored under another PID: the new
 * one), and kill(0, SIGUSR1) must reach it, alone: its group is only
 * itself.  The kill is sent only once the group is known to be its own,
 * so that a broken restore (the process left in ckpt restore's group,
 * which is the test's) fails here instead of signalling the test.
 * Prints "lead_group: ok".
 * Usage: lead_group [session]
 */
#include <signal.h>

#include "target.h"

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

int main(int argc, char **argv)
{
	int session = argc > 1 && !strcmp(argv[1], "session");
	sigset_t usr1;

	signal(SIGUSR1, on_usr1);
	if ((session ? setsid() : setpgid(0, 0)) < 0)
		target_fail("%s: %s", session ? "setsid" : "setpgid", strerror(errno));
	target_wait();

	CHECK(getpgrp() == getpid(), "process group %d, not its own (%d)", (int)getpgrp(),
	      (int)getpid());
	if (session)
		CHECK(getsid(0) == getpid(), "session %d, not its own (%d)", (int)getsid(0),
		      (int)getpid());
	if (!target_failures) {
		/* blocked while sent: pending, then taken at the unblock */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		if (kill(0, SIGUSR1) < 0)
			target_fail("kill(0, SIGUSR1): %s", strerror(errno));
		sigprocmask(SIG_UNBLOCK, &usr1, NULL);
		CHECK(got_usr1 == 1, "SIGUSR1 to its own group: came %d times, not once",
		      (int)got_usr1);
	}
	if (!target_failures)
		printf("lead_group: ok\n");
	return target_exit();
}
