/*
 * dump/snapstop.c: a --snapshot page worker raised to SCHED_FIFO for a
 * stop of the process (snap_stop_begin) gets its own scheduling back at
 * the end (snap_stop_end); but a SCHED_IDLE one whose writing's grace
 * ended during the stop (dump.c leave_idle calls snap_stop_idle_over,
 * then moves the SCHED_IDLE threads it sees, not this one: it was
 * SCHED_FIFO then) ends at SCHED_OTHER and that nice, not idle for the
 * rest of the dump (the reviewer's MED-LOW of stop 25).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dump/snapshot.h"
#include "harness.h"

struct stop_run {
	int over;		/* the nice the grace ends with during the stop, or -1 */
	int idle, boosted;	/* SCHED_IDLE before; SCHED_FIFO in the stop */
	int policy, nice;	/* after the stop */
};

/* A worker's stop of our own thread (the process stopped is us: only its
 * run time is read). */
static void *worker(void *arg)
{
	struct stop_run *r = arg;
	struct snap_stop st = { 0 };
	pid_t tid = gettid();

	r->idle = pthread_setschedparam(pthread_self(), SCHED_IDLE, &(struct sched_param){ 0 }) == 0;
	snap_stop_idle_over(-1);
	snap_stop_begin(&st, getpid(), tid);
	r->boosted = st.boosted && sched_getscheduler(0) == SCHED_FIFO;
	if (r->over >= 0)
		snap_stop_idle_over(r->over);
	snap_stop_end(&st, getpid(), tid);
	r->policy = sched_getscheduler(0);
	errno = 0;
	r->nice = getpriority(PRIO_PROCESS, (id_t)tid);
	return NULL;
}

/* 0, or 1 when this machine gives us no SCHED_FIFO (said, skipped). */
static int stop_once(struct stop_run *r)
{
	pthread_t th;

	if (pthread_create(&th, NULL, worker, r) || pthread_join(th, NULL))
		return -1;
	if (!r->idle || !r->boosted) {
		printf("# no SCHED_IDLE or SCHED_FIFO here (idle %d, fifo %d): skipped\n", r->idle,
		       r->boosted);
		return 1;
	}
	return 0;
}

TEST(a_stop_within_the_grace_ends_idle_again)
{
	struct stop_run r = { .over = -1 };

	int ret = stop_once(&r);

	ASSERT_EQ(0, ret < 0);
	if (ret)
		return;
	ASSERT_EQ(SCHED_IDLE, r.policy);
}

TEST(a_stop_the_grace_ended_during_ends_at_the_late_nice_not_idle)
{
	struct stop_run r = { .over = 7 };

	int ret = stop_once(&r);

	ASSERT_EQ(0, ret < 0);
	if (ret)
		return;
	ASSERT_EQ(SCHED_OTHER, r.policy);
	ASSERT_EQ(7, r.nice);
}

TEST_HARNESS_MAIN
