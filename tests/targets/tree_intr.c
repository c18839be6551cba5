/*
 * A shell job's ^C: the root leads its own process group, as a job
 * control shell makes a job, with a child in it.  Both wait for SIGINT
 * (after GO); the child exits 0 when it gets one, the root then reaps it
 * and exits 0.  After restore, a SIGINT to ckpt restore must reach the
 * whole group, as a terminal's ^C would: the child too, not the root alone
 * (the root gives up after 20 s: exit 1).
 */
#include <signal.h>
#include <sys/wait.h>

#include "target.h"

static volatile sig_atomic_t got;

static void on_int(int sig)
{
	(void)sig;
	got = 1;
}

int main(void)
{
	pid_t kid;
	int st;

	setpgid(0, 0);
	signal(SIGINT, on_int);
	if (!(kid = fork())) {
		while (!got)
			pause();
		_exit(0);
	}
	target_wait();
	alarm(20);
	while (!got)
		pause();
	CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "child: status %#x", st);
	if (!target_failures)
		printf("tree_intr: ok\n");
	return target_exit();
}
