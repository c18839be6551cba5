/*
 * Threads caught in a known function, for ckpt inspect: three workers
 * spin in spin_here() (plain user code: no calls, no syscalls), so a
 * dump finds their PCs inside it, and the main thread waits for GO in
 * nanosleep.  After GO the workers must still be counting, then stop.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "target.h"

#define NSPIN	3

static atomic_int stop;
static volatile unsigned long counts[NSPIN];

void spin_here(volatile unsigned long *count);

__attribute__((noinline)) void spin_here(volatile unsigned long *count)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		(*count)++;
}

static void *worker(void *arg)
{
	spin_here(&counts[(uintptr_t)arg]);
	return NULL;
}

int main(void)
{
	pthread_t t[NSPIN];
	unsigned long before[NSPIN];

	for (uintptr_t i = 0; i < NSPIN; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	/* Ready once every worker is inside its loop. */
	for (int i = 0; i < NSPIN; i++)
		while (!counts[i])
			target_sleep_ms(1);
	target_wait();
	for (int i = 0; i < NSPIN; i++)
		before[i] = counts[i];
	target_sleep_ms(20);
	atomic_store(&stop, 1);
	for (int i = 0; i < NSPIN; i++) {
		pthread_join(t[i], NULL);
		CHECK(counts[i] > before[i], "worker %d stopped counting at %lu", i, counts[i]);
	}
	return target_exit();
}
