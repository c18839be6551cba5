/*
 * SCHED_DEADLINE is set with sched_setattr(2) only, with its runtime,
 * deadline and period: the main thread (with SCHED_FLAG_RESET_ON_FORK)
 * and a second thread each run under their own parameters; after
 * restore sched_getattr() gives each its own again, and each still gets
 * CPU time (it runs, and yields with sched_yield, a deadline thread's
 * way to end its runtime early).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "target.h"

/* include/uapi/linux/sched/types.h (its struct sched_param clashes with
 * glibc's): the first 48 bytes. */
struct ckpt_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

#define MS	1000000ull
#define SCHED_FLAG_RESET_ON_FORK	1

static atomic_int ready, go;

static int set_dl(uint64_t runtime, uint64_t deadline, uint64_t period, uint64_t flags)
{
	struct ckpt_sched_attr a = { .size = sizeof(a), .policy = SCHED_DEADLINE, .flags = flags,
				     .runtime = runtime, .deadline = deadline, .period = period };

	return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}

static void check(const char *who, uint64_t runtime, uint64_t deadline, uint64_t period,
		  uint64_t flags)
{
	struct ckpt_sched_attr a = { 0 };

	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) < 0) {
		target_fail("%s: sched_getattr: %s", who, strerror(errno));
		return;
	}
	CHECK(a.policy == SCHED_DEADLINE && a.runtime == runtime && a.deadline == deadline &&
	      a.period == period && a.flags == flags,
	      "%s: policy %u runtime %llu deadline %llu period %llu flags %#llx; want %d %llu %llu %llu %#llx",
	      who, a.policy, (unsigned long long)a.runtime, (unsigned long long)a.deadline,
	      (unsigned long long)a.period, (unsigned long long)a.flags, SCHED_DEADLINE,
	      (unsigned long long)runtime, (unsigned long long)deadline, (unsigned long long)period,
	      (unsigned long long)flags);
	sched_yield();
}

static void *worker(void *arg)
{
	(void)arg;
	if (set_dl(5 * MS, 40 * MS, 200 * MS, 0) < 0)
		target_fail("worker: cannot set SCHED_DEADLINE: %s", strerror(errno));
	atomic_store(&ready, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	check("worker", 5 * MS, 40 * MS, 200 * MS, 0);
	return NULL;
}

int main(void)
{
	pthread_t t;

	/* Threads first: a deadline thread may not fork (sched_fork). */
	if (pthread_create(&t, NULL, worker, NULL)) {
		target_fail("pthread_create");
		return target_exit();
	}
	if (set_dl(10 * MS, 30 * MS, 100 * MS, SCHED_FLAG_RESET_ON_FORK) < 0)
		target_fail("main: cannot set SCHED_DEADLINE: %s", strerror(errno));
	while (!atomic_load(&ready))
		target_sleep_ms(1);
	target_wait();
	atomic_store(&go, 1);
	check("main", 10 * MS, 30 * MS, 100 * MS, SCHED_FLAG_RESET_ON_FORK);
	pthread_join(t, NULL);
	printf("sched_deadline: ok\n");
	return target_exit();
}
