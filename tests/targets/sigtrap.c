/*
 * A SIGTRAP pending while blocked, process-wide (sigqueue, value 55) and
 * for one thread (pthread_sigqueue to the worker, value 66): the restore
 * stub stops with SIGTRAP of its own, which must not take their place.
 * After restore both are still pending, and sigwaitinfo() takes each once
 * where it was sent (a thread's own before the process's), SI_QUEUE, with
 * its value.  SIGTRAP's handler (SA_SIGINFO) is kept too: each stub trap,
 * taken with SIGTRAP blocked, resets it to SIG_DFL (kernel/signal.c
 * force_sig_info_to_task).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "target.h"

static atomic_int ready, go;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
}

/* One SIGTRAP, as sigwaitinfo() gives it, checked against value. */
static void take(const char *who, int value)
{
	struct timespec ts = { 5, 0 };
	siginfo_t si;
	sigset_t s;
	int sig;

	sigemptyset(&s);
	sigaddset(&s, SIGTRAP);
	sig = sigtimedwait(&s, &si, &ts);
	CHECK(sig == SIGTRAP, "%s: no SIGTRAP pending (%s)", who, strerror(errno));
	if (sig == SIGTRAP)
		CHECK(si.si_code == SI_QUEUE && si.si_value.sival_int == value,
		      "%s: SIGTRAP with code %d, value %d; want SI_QUEUE, %d", who, si.si_code,
		      si.si_value.sival_int, value);
}

static void *worker(void *arg)
{
	(void)arg;
	atomic_store(&ready, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	take("worker", 66);
	atomic_store(&go, 2);
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO };
	sigset_t s;
	pthread_t t;

	sigaction(SIGTRAP, &sa, NULL);
	sigemptyset(&s);
	sigaddset(&s, SIGTRAP);
	sigprocmask(SIG_BLOCK, &s, NULL);	/* the worker inherits it */
	if (pthread_create(&t, NULL, worker, NULL)) {
		target_fail("pthread_create");
		return target_exit();
	}
	while (!atomic_load(&ready))
		target_sleep_ms(1);
	if (sigqueue(getpid(), SIGTRAP, (union sigval){ .sival_int = 55 }) < 0 ||
	    pthread_sigqueue(t, SIGTRAP, (union sigval){ .sival_int = 66 }) != 0) {
		target_fail("cannot queue SIGTRAP: %s", strerror(errno));
		return target_exit();
	}
	target_wait();

	atomic_store(&go, 1);
	pthread_join(t, NULL);
	take("main", 55);
	sigaction(SIGTRAP, NULL, &sa);
	CHECK(sa.sa_sigaction == on_trap && (sa.sa_flags & SA_SIGINFO),
	      "SIGTRAP's action: handler %p flags %#x; want %p with SA_SIGINFO",
	      (void *)sa.sa_sigaction, (unsigned)sa.sa_flags, (void *)on_trap);
	printf("sigtrap: ok\n");
	return target_exit();
}
