/*
 * Alternate signal stacks are per thread.  Threads 1 and 3 have one,
 * threads 2 and 4 one with SS_AUTODISARM, the main thread none; threads 3
 * and 4 are dumped while they run an SA_ONSTACK handler on theirs (it
 * waits there for GO; an autodisarmed stack reads as disabled meanwhile
 * and comes back when the handler returns).  After restore sigaltstack()
 * must report the same in each, and an SA_ONSTACK handler raised in each
 * must run on that thread's own stack (the address of a local variable
 * in the handler tells), or on the normal stack in the main thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "target.h"

#define ALT_SIZE (64 * 1024)
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1u << 31)	/* linux/signal.h; glibc lacks it */
#endif

static atomic_int ready, go;
static __thread volatile uintptr_t handler_sp;

static void on_usr1(int sig)
{
	volatile char here;

	(void)sig;
	handler_sp = (uintptr_t)&here;
}

/* Waits for GO on the alternate stack; notes what sigaltstack says then. */
static __thread int flags_in_handler;

static void on_usr2(int sig)
{
	volatile char here;
	stack_t now;

	(void)sig;
	handler_sp = (uintptr_t)&here;
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	memset(&now, 0, sizeof(now));
	sigaltstack(NULL, &now);
	flags_in_handler = now.ss_flags;
}

static int on(const stack_t *ss, uintptr_t sp)
{
	return sp >= (uintptr_t)ss->ss_sp && sp < (uintptr_t)ss->ss_sp + ss->ss_size;
}

static void check_stack(const char *who, const stack_t *want)
{
	stack_t now;

	memset(&now, 0, sizeof(now));
	sigaltstack(NULL, &now);
	if (want->ss_flags & SS_DISABLE) {
		CHECK(now.ss_flags & SS_DISABLE, "%s: has an alternate stack %p+%zu, had none", who,
		      now.ss_sp, now.ss_size);
	} else {
		CHECK(now.ss_sp == want->ss_sp && now.ss_size == want->ss_size &&
		      now.ss_flags == want->ss_flags,
		      "%s: alternate stack %p+%zu flags %#x, was %p+%zu flags %#x", who, now.ss_sp,
		      now.ss_size, now.ss_flags, want->ss_sp, want->ss_size, want->ss_flags);
	}
	handler_sp = 0;
	raise(SIGUSR1);
	if (want->ss_flags & SS_DISABLE)
		CHECK(handler_sp && !on(&now, handler_sp), "%s: handler ran at %#lx", who,
		      (unsigned long)handler_sp);
	else
		CHECK(on(want, handler_sp), "%s: SA_ONSTACK handler ran at %#lx, not on %p+%zu", who,
		      (unsigned long)handler_sp, want->ss_sp, want->ss_size);
}

static void *worker(void *arg)
{
	int autodisarm = (int)(intptr_t)arg & 1, in_handler = (int)(intptr_t)arg & 2;
	char who[32];
	stack_t ss = { .ss_sp = malloc(ALT_SIZE), .ss_size = ALT_SIZE,
		       .ss_flags = autodisarm ? (int)SS_AUTODISARM : 0 };

	snprintf(who, sizeof(who), "thread %d", 1 + (int)(intptr_t)arg);
	memset(ss.ss_sp, 0x5a, ALT_SIZE);
	if (sigaltstack(&ss, NULL) < 0)
		target_fail("%s: sigaltstack: %s", who, strerror(errno));
	memset(&ss, 0, sizeof(ss));
	sigaltstack(NULL, &ss);		/* as the kernel reports it */
	/* It works before the dump. */
	raise(SIGUSR1);
	CHECK(on(&ss, handler_sp), "%s: handler not on the alternate stack before the dump", who);
	if (in_handler) {
		raise(SIGUSR2);		/* returns after GO */
		CHECK(on(&ss, handler_sp), "%s: waiting handler ran at %#lx, not on %p+%zu", who,
		      (unsigned long)handler_sp, ss.ss_sp, ss.ss_size);
		CHECK(flags_in_handler == (autodisarm ? SS_DISABLE : SS_ONSTACK),
		      "%s: in the handler sigaltstack said flags %#x", who, flags_in_handler);
	} else {
		atomic_fetch_add(&ready, 1);
		while (!atomic_load(&go))
			target_sleep_ms(2);
	}
	check_stack(who, &ss);
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	stack_t none;
	pthread_t t[4];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	while (atomic_load(&ready) < 4)
		target_sleep_ms(1);
	memset(&none, 0, sizeof(none));
	sigaltstack(NULL, &none);
	CHECK(none.ss_flags & SS_DISABLE, "main thread has an alternate stack before the dump");
	target_wait();
	atomic_store(&go, 1);
	check_stack("main thread", &none);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("altstack: ok\n");
	return target_exit();
}
