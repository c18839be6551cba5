/*
 * aarch64 counterpart of tests/targets/tls_threads.c.
 * Thread-local storage: __thread variables (initialised ones in .tdata,
 * zero-initialised in .tbss, and an array) hold distinct values in the
 * main thread and in two others.  After restore each thread checks its
 * own values, reached the compiler's way (tpidr_el0-relative), and that
 * tpidr_el0 and the TCB's first word there (glibc's dtv pointer: TLS
 * variant I, sysdeps/aarch64/nptl/tls.h) are what they were.  The
 * threads report through a counter, not pthread_join, so this checks
 * TLS only; "join" at the end also joins them (which needs the kernel
 * to clear and wake each thread's tid word when it exits).
 * Usage: tls_threads [join]
 */
#include <pthread.h>
#include <stdint.h>

#include "../target.h"

#define NTHREADS 3	/* main + 2 */

static __thread uint64_t tls_init = 0x1234567890abcdefull;
static __thread uint64_t tls_zero;
static __thread char tls_name[32];
static __thread uint32_t tls_arr[64];

static volatile int done;	/* threads that finished checking */
static volatile int ready;	/* threads that set up their TLS */

struct before {
	uint64_t tp, tp0;
	void *addr_init, *addr_arr;
	pthread_t self;
};

/* The thread pointer, as the CPU has it (NT_ARM_TLS to ptrace). */
static uint64_t tp(void)
{
	uint64_t v;

	asm volatile("mrs %0, tpidr_el0" : "=r"(v));
	return v;
}

static uint64_t tp0(void)
{
	return *(volatile uint64_t *)tp();
}

static void setup(int id, struct before *b)
{
	tls_init = 0x1000 + (uint64_t)id * 0x1111;
	tls_zero = (uint64_t)id * 7 + 1;
	snprintf(tls_name, sizeof(tls_name), "thread %d", id);
	for (int i = 0; i < 64; i++)
		tls_arr[i] = (uint32_t)(id << 16 | i);
	b->tp = tp();
	b->tp0 = tp0();
	b->addr_init = &tls_init;
	b->addr_arr = tls_arr;
	b->self = pthread_self();
}

/* Run by each thread for itself after GO. */
static void verify(int id, const struct before *b)
{
	char name[32];

	snprintf(name, sizeof(name), "thread %d", id);
	CHECK(tls_init == 0x1000 + (uint64_t)id * 0x1111, "%s: tls_init is %#llx", name,
	      (unsigned long long)tls_init);
	CHECK(tls_zero == (uint64_t)id * 7 + 1, "%s: tls_zero is %llu", name,
	      (unsigned long long)tls_zero);
	CHECK(!strcmp(tls_name, name), "%s: tls_name is \"%.31s\"", name, tls_name);
	for (int i = 0; i < 64; i++)
		if (tls_arr[i] != (uint32_t)(id << 16 | i)) {
			target_fail("%s: tls_arr[%d] is %#x", name, i, tls_arr[i]);
			break;
		}
	CHECK(tp() == b->tp, "%s: tpidr_el0 is %#llx, was %#llx", name,
	      (unsigned long long)tp(), (unsigned long long)b->tp);
	CHECK(tp0() == b->tp0, "%s: the word at tpidr_el0 is %#llx, was %#llx", name,
	      (unsigned long long)tp0(), (unsigned long long)b->tp0);
	CHECK((void *)&tls_init == b->addr_init && (void *)tls_arr == b->addr_arr,
	      "%s: TLS variables moved (%p, was %p)", name, (void *)&tls_init, b->addr_init);
	CHECK(pthread_equal(pthread_self(), b->self), "%s: pthread_self changed", name);
}

static void *thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct before b;

	setup(id, &b);
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	while (!target_go())
		target_sleep_ms(5);
	verify(id, &b);
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	struct before b;
	int join = argc > 1 && !strcmp(argv[1], "join");

	setup(0, &b);
	for (int i = 1; i < NTHREADS; i++)
		if ((errno = pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i))) {
			target_fail("pthread_create: %s", strerror(errno));
			return target_exit();
		}
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < NTHREADS - 1)
		target_sleep_ms(1);
	target_wait();
	verify(0, &b);
	for (int i = 0; i < 2000 && __atomic_load_n(&done, __ATOMIC_SEQ_CST) < NTHREADS - 1; i++)
		target_sleep_ms(5);
	CHECK(done == NTHREADS - 1, "only %d of %d threads finished their checks", done,
	      NTHREADS - 1);
	for (int i = 1; join && i < NTHREADS; i++) {
		struct timespec t;
		int err;

		/* Bounded: a thread whose exit nobody signals would hang us. */
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 5;
		err = pthread_timedjoin_np(th[i], NULL, &t);
		CHECK(!err, "pthread_join of thread %d: %s", i, strerror(err));
	}
	return target_exit();
}
