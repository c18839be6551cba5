/*
 * glibc registers an rseq area for every thread and sched_getcpu() reads
 * the CPU number the kernel keeps in it.  Four threads call it in a loop
 * while dumped.  After GO each thread checks that its area is still
 * registered with the kernel (registering it again must fail with EBUSY)
 * and that the kernel still updates it: pinned to each allowed CPU in
 * turn, sched_getcpu(), the getcpu syscall and the area's cpu_id field
 * must all name that CPU.  A stale, unregistered area would keep
 * showing the CPU of the dump.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/rseq.h>
#include <sys/syscall.h>

#include "target.h"

#define NTHREADS 4

static atomic_int go;
static atomic_int running;
static int ncpus;

static struct rseq *my_rseq(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static int sys_getcpu(void)
{
	unsigned cpu = ~0u;

	if (syscall(SYS_getcpu, &cpu, NULL, NULL) < 0)
		return -1;
	return (int)cpu;
}

/* 0 = registered (EBUSY), or the errno / "0" of the re-registration. */
static int reregister(void)
{
	unsigned len = __rseq_size < 32 ? 32 : __rseq_size;

	if (syscall(SYS_rseq, my_rseq(), len, 0, RSEQ_SIG) == 0)
		return -1;	/* it was not registered: now it is */
	return errno == EBUSY ? 0 : errno;
}

static void check_cpus(int id, const cpu_set_t *allowed)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		cpu_set_t one;

		if (!CPU_ISSET(cpu, allowed))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		/* sched_setaffinity migrates us before it returns. */
		if (sched_setaffinity(0, sizeof(one), &one) < 0) {
			target_fail("thread %d: cannot pin to cpu %d: %s", id, cpu, strerror(errno));
			continue;
		}
		for (int k = 0; k < 100; k++) {
			int a = sched_getcpu(), b = sys_getcpu(), c = (int)my_rseq()->cpu_id;

			if (a != cpu || b != cpu || c != cpu) {
				target_fail("thread %d pinned to cpu %d: sched_getcpu %d, getcpu %d, rseq cpu_id %d",
					    id, cpu, a, b, c);
				break;
			}
		}
	}
	sched_setaffinity(0, sizeof(*allowed), allowed);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg, err;
	unsigned long calls = 0;
	cpu_set_t allowed;

	sched_getaffinity(0, sizeof(allowed), &allowed);
	CHECK((err = reregister()) == 0, "thread %d: rseq not registered before the dump (%d)", id, err);
	atomic_fetch_add(&running, 1);
	while (!atomic_load(&go)) {
		int cpu = sched_getcpu();

		if (cpu < 0 || cpu >= ncpus) {
			target_fail("thread %d: sched_getcpu returned %d", id, cpu);
			break;
		}
		calls++;
	}
	err = reregister();
	CHECK(err == 0, "thread %d: %s", id, err < 0 ? "rseq area was not registered after restore" :
	      strerror(err));
	check_cpus(id, &allowed);
	CHECK(calls > 0, "thread %d never ran", id);
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS];

	ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (__rseq_size == 0) {
		/* glibc.pthread.rseq=0: nothing to test, and nothing broken. */
		fprintf(stderr, "rseq: glibc did not register rseq\n");
		return 1;
	}
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	while (atomic_load(&running) < NTHREADS)
		target_sleep_ms(1);
	target_wait();
	atomic_store(&go, 1);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	/* The main thread's area too. */
	CHECK(reregister() == 0, "main thread: rseq area not registered after restore");
	{
		cpu_set_t allowed;

		sched_getaffinity(0, sizeof(allowed), &allowed);
		check_cpus(-1, &allowed);
	}
	printf("rseq: ok\n");
	return target_exit();
}
