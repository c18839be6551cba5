/* See sigguard.h. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "common/sigguard.h"

static volatile sig_atomic_t fired;
static int left_to_caller;

static void on_signal(int sig)
{
	fired = sig;
}

void sigguard_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	if (left_to_caller)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int sigguard_fired(void)
{
	return fired;
}

void sigguard_reraise(void)
{
	int sig = fired;

	if (!sig)
		return;
	signal(sig, SIG_DFL);
	raise(sig);
}

void sigguard_leave_to_caller(void)
{
	left_to_caller = 1;
}

void sigguard_helper_thread(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}
