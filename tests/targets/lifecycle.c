/*
 * How a restored process ends, for the tests of ckpt restore as its
 * parent.  Usage: lifecycle MODE [ARG] RESUMED; after GO the target
 * creates the file RESUMED (so the test knows it runs again), then:
 *   record      waits (30 s at most) for SIGTERM, SIGUSR1, SIGUSR2, SIGHUP
 *               and SIGINT, which the test sends to ckpt restore, and
 *               prints each signal it got with the PID that sent it;
 *               exit 0 if it got each exactly once
 *   ping        sends SIGUSR1 to its parent (ckpt restore) the moment it
 *               runs again, and waits (10 s at most) for it to come back
 *               forwarded; exit 0 if it did, once.  It spins until GO and
 *               has 64 idle threads, so that ckpt has more to do after the
 *               main thread runs.
 *   exit N      exits with status N
 *   raise N     kills itself with signal N (default action)
 *   hang        waits (60 s at most) to be killed; exit 1 if never
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "target.h"

static const int recorded[] = { SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGINT };
static atomic_int count[NSIG];
static atomic_int sender[NSIG];

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	atomic_store(&sender[sig], si->si_pid);
	atomic_fetch_add(&count[sig], 1);
}

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "", *resumed = argv[argc - 1];
	int arg = argc > 3 ? atoi(argv[2]) : 0, fd;

	for (size_t i = 0; i < sizeof(recorded) / sizeof(recorded[0]); i++) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigaction(recorded[i], &sa, NULL);
	}
	if (!strcmp(mode, "ping")) {
		for (int i = 0; i < 64; i++) {
			pthread_t t;

			pthread_create(&t, NULL, idle, NULL);
		}
		/* Spinning, not sleeping: the ping goes the moment it runs. */
		target_ready();
		while (!target_go())
			;
		kill(getppid(), SIGUSR1);
	} else {
		target_wait();
	}
	fd = open(resumed, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);

	if (!strcmp(mode, "record")) {
		const size_t n = sizeof(recorded) / sizeof(recorded[0]);
		size_t got = 0;

		for (int i = 0; i < 3000 && got < n; i++) {
			target_sleep_ms(10);
			for (got = 0; got < n && atomic_load(&count[recorded[got]]); got++)
				;
		}
		target_sleep_ms(100);	/* anything more on its way */
		for (size_t i = 0; i < n; i++) {
			int s = recorded[i];

			if (atomic_load(&count[s]))
				printf("got %s %d from %d\n", sigabbrev_np(s), atomic_load(&count[s]),
				       atomic_load(&sender[s]));
			CHECK(atomic_load(&count[s]) == 1, "SIG%s received %d times", sigabbrev_np(s),
			      atomic_load(&count[s]));
		}
		return target_exit();
	}
	if (!strcmp(mode, "ping")) {
		for (int i = 0; i < 1000 && !atomic_load(&count[SIGUSR1]); i++)
			target_sleep_ms(10);
		target_sleep_ms(50);
		CHECK(atomic_load(&count[SIGUSR1]) == 1, "SIGUSR1 sent to ckpt restore came back %d times",
		      atomic_load(&count[SIGUSR1]));
		return target_exit();
	}
	if (!strcmp(mode, "exit"))
		return arg;
	if (!strcmp(mode, "raise")) {
		signal(arg, SIG_DFL);
		raise(arg);
		fprintf(stderr, "lifecycle: still alive after signal %d\n", arg);
		return 1;
	}
	if (!strcmp(mode, "hang")) {
		for (int i = 0; i < 6000; i++)
			target_sleep_ms(10);
		fprintf(stderr, "lifecycle: not killed\n");
		return 1;
	}
	fprintf(stderr, "usage: lifecycle record|ping|exit N|raise N|hang RESUMED\n");
	return 2;
}
