/*
 * Threads caught in known code, for ckpt inspect: three workers spin in
 * spin_here() (plain user code: no calls, no syscalls, no globals), so a
 * dump finds their PCs inside it; a fourth runs a copy of spin_here() in
 * an anonymous executable mapping (as a JIT would), whose code is only in
 * the image's page data; the main thread waits for GO in nanosleep.
 * After GO every worker must still be counting, then stop.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "target.h"

#define NSPIN	4		/* the last one runs the copy */
#define COPY	256		/* bytes of code copied: spin_here() and beyond */

static atomic_int stop;
static volatile unsigned long counts[NSPIN];
static void (*copy)(volatile unsigned long *, atomic_int *);

void spin_here(volatile unsigned long *count, atomic_int *stop_);

/* Position-independent: everything through its arguments, so that a
 * copy of its bytes runs anywhere. */
__attribute__((noinline)) void spin_here(volatile unsigned long *count, atomic_int *stop_)
{
	while (!atomic_load_explicit(stop_, memory_order_relaxed))
		(*count)++;
}

static void *worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	if (i == NSPIN - 1)
		copy(&counts[i], &stop);
	else
		spin_here(&counts[i], &stop);
	return NULL;
}

int main(void)
{
	pthread_t t[NSPIN];
	unsigned long before[NSPIN];
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (code == MAP_FAILED)
		return 2;
	memcpy(code, (const void *)(uintptr_t)spin_here, COPY);
	__builtin___clear_cache((char *)code, (char *)code + COPY);
	if (mprotect(code, 4096, PROT_READ | PROT_EXEC) < 0)
		return 2;
	copy = (void (*)(volatile unsigned long *, atomic_int *))(uintptr_t)code;
	for (uintptr_t i = 0; i < NSPIN; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	/* Ready once every worker is inside its loop. */
	for (int i = 0; i < NSPIN; i++)
		while (!counts[i])
			target_sleep_ms(1);
	/* Long sleeps: four spinning threads keep the CPUs busy, and a main
	 * thread woken every few ms is often caught runnable, outside its
	 * syscall (inspect.bats expects it inside). */
	target_ready();
	while (!target_go())
		target_sleep_ms(100);
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
