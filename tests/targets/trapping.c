/*
 * A thread that raises a signal of its own all the time (tests/state-threads.bats,
 * ptrace/trip.c): a breakpoint instruction in a loop (x86-64 int3, aarch64
 * brk), each SIGTRAP handled (the handler steps over it on aarch64), and
 * counted before and in the handler.  A freeze that lands between the trap
 * and its delivery leaves the SIGTRAP pending in the thread: it must reach
 * the handler after the dump, not be taken for ckpt's or dropped (one lost:
 * the counts differ).  After $CKPT_GO: "trapping: ok".
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <ucontext.h>

#include "target.h"

static atomic_long raised, handled;
static atomic_int stop;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
#if defined(__aarch64__)
	((ucontext_t *)uc)->uc_mcontext.pc += 4;	/* past the brk */
#else
	(void)uc;				/* int3: past it already */
#endif
	atomic_fetch_add(&handled, 1);
}

static void *trap_run(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&raised, 1);
#if defined(__aarch64__)
		__asm__ volatile("brk #0x7" ::: "memory");
#else
		__asm__ volatile("int3" ::: "memory");
#endif
		CHECK(atomic_load(&handled) == atomic_load(&raised),
		      "SIGTRAP %ld raised, %ld handled", atomic_load(&raised), atomic_load(&handled));
		if (target_failures)
			break;
	}
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO };
	pthread_t t;

	sigaction(SIGTRAP, &sa, NULL);
	pthread_create(&t, NULL, trap_run, NULL);
	target_wait();
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	CHECK(atomic_load(&raised) > 0 && atomic_load(&handled) == atomic_load(&raised),
	      "SIGTRAP %ld raised, %ld handled", atomic_load(&raised), atomic_load(&handled));
	if (!target_failures)
		printf("trapping: ok\n");
	return target_exit();
}
