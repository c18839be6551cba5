/*
 * For tests/core.bats: two threads sitting in known functions, for gdb to
 * find in a core made from a checkpoint.  The main thread waits for GO in
 * wait_in_main_loop() (mostly inside nanosleep, so gdb must unwind through
 * libc); a second thread spins in worker_spin() (its PC is there) and
 * rounds toward zero, so its floating-point control state differs from the
 * main thread's.  Some memory holds known values: a global and a heap
 * string, for gdb to print.
 */
#include <fenv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "target.h"

#define NOINLINE __attribute__((noinline, noclone))

volatile uint64_t core_magic;		/* set at run time: stored in the image */
char *core_heap;
static atomic_int spinning, stop;

NOINLINE static void worker_spin(void)
{
	volatile unsigned long spins = 0;

	fesetround(FE_TOWARDZERO);
	atomic_store(&spinning, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		spins++;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_spin();
	return NULL;
}

NOINLINE static void wait_in_main_loop(void)
{
	target_ready();
	while (!target_go())
		target_sleep_ms(5);
}

int main(void)
{
	pthread_t t;

	core_magic = 0xc0ffee0ddba11ull;
	core_heap = strdup("a string on the heap");
	if (!core_heap || pthread_create(&t, NULL, worker, NULL))
		return 1;
	while (!atomic_load(&spinning))
		target_sleep_ms(1);
	wait_in_main_loop();
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	free(core_heap);
	return target_exit();
}
