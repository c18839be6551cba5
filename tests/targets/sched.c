/*
 * Scheduling state is per thread: CPU affinity, nice value, policy.  A
 * long job pinned to its CPUs (or niced to stay out of the way) must be
 * so again after restore.  The main thread is pinned to the last CPU with
 * nice 7, a second thread to CPU 0 with nice 3 and SCHED_BATCH.  Needs
 * two CPUs to tell the pinnings apart (on one, both masks are the same).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "target.h"

static atomic_int ready, go;

static void setup(int cpu, int nice, int policy, cpu_set_t *set)
{
	struct sched_param sp = { 0 };

	CPU_ZERO(set);
	CPU_SET(cpu, set);
	if (sched_setaffinity(0, sizeof(*set), set) < 0 ||
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) < 0 ||
	    sched_setscheduler(0, policy, &sp) < 0)
		target_fail("cannot set up cpu %d nice %d policy %d: %s", cpu, nice, policy,
			    strerror(errno));
}

static void check(const char *who, const cpu_set_t *set, int nice, int policy)
{
	cpu_set_t now;
	int n;

	sched_getaffinity(0, sizeof(now), &now);
	CHECK(CPU_EQUAL(&now, set), "%s: CPU affinity is %d CPUs, was 1", who, CPU_COUNT(&now));
	errno = 0;
	n = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	CHECK(n == nice, "%s: nice %d, was %d", who, n, nice);
	n = sched_getscheduler(0);
	CHECK(n == policy, "%s: scheduling policy %d, was %d", who, n, policy);
}

static void *worker(void *arg)
{
	cpu_set_t set;

	(void)arg;
	setup(0, 3, SCHED_BATCH, &set);
	atomic_store(&ready, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	check("thread", &set, 3, SCHED_BATCH);
	return NULL;
}

int main(void)
{
	int last = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	cpu_set_t set;
	pthread_t t;

	pthread_create(&t, NULL, worker, NULL);
	setup(last, 7, SCHED_OTHER, &set);
	while (!atomic_load(&ready))
		target_sleep_ms(1);
	target_wait();
	atomic_store(&go, 1);
	check("main thread", &set, 7, SCHED_OTHER);
	pthread_join(t, NULL);
	printf("sched: ok\n");
	return target_exit();
}
