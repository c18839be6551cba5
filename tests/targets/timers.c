/*
 * Timers that send signals: a periodic ITIMER_REAL (SIGALRM, 50 ms), and a
 * periodic POSIX timer (timer_create on CLOCK_MONOTONIC, SIGRTMIN+1 with
 * a sigev_value, 50 ms).  A job that uses them for progress reports or
 * timeouts must find them still armed after restore: after GO both must
 * tick again, and timer_gettime/getitimer must show the same intervals.
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "target.h"

#define PERIOD_NS 50000000L

static atomic_int alrm, rt, bad_value;

static void on_alrm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alrm, 1);
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_int != 4711)
		atomic_store(&bad_value, 1);
	atomic_fetch_add(&rt, 1);
}

int main(void)
{
	struct itimerval itv = { { 0, PERIOD_NS / 1000 }, { 0, PERIOD_NS / 1000 } }, iv_now;
	struct itimerspec its = { { 0, PERIOD_NS }, { 0, PERIOD_NS } }, ts_now;
	struct sigevent sev;
	struct sigaction sa;
	timer_t tid;
	int a0, r0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 1;
	sev.sigev_value.sival_int = 4711;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tid) < 0 || timer_settime(tid, 0, &its, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &itv, NULL) < 0) {
		perror("timers");
		return 1;
	}
	while (atomic_load(&alrm) < 3 || atomic_load(&rt) < 3)
		target_sleep_ms(5);
	target_wait();

	getitimer(ITIMER_REAL, &iv_now);
	CHECK(iv_now.it_interval.tv_usec == PERIOD_NS / 1000 && iv_now.it_interval.tv_sec == 0,
	      "ITIMER_REAL interval is %ld.%06ld s", (long)iv_now.it_interval.tv_sec,
	      (long)iv_now.it_interval.tv_usec);
	memset(&ts_now, 0, sizeof(ts_now));
	if (timer_gettime(tid, &ts_now) < 0)
		target_fail("timer_gettime: %s (the POSIX timer is gone)", strerror(errno));
	else
		CHECK(ts_now.it_interval.tv_nsec == PERIOD_NS, "POSIX timer interval is %ld ns",
		      ts_now.it_interval.tv_nsec);
	a0 = atomic_load(&alrm);
	r0 = atomic_load(&rt);
	target_sleep_ms(600);
	CHECK(atomic_load(&alrm) - a0 >= 3, "ITIMER_REAL: %d SIGALRMs in 600 ms after restore",
	      atomic_load(&alrm) - a0);
	CHECK(atomic_load(&rt) - r0 >= 3, "POSIX timer: %d signals in 600 ms after restore",
	      atomic_load(&rt) - r0);
	CHECK(!atomic_load(&bad_value), "POSIX timer signal without SI_TIMER or its sigev_value");
	printf("timers: ok\n");
	return target_exit();
}
