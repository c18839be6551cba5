/*
 * Pointer authentication across a dump (arm64 only).  The functions below
 * are built with -mbranch-protection=pac-ret: each signs its return
 * address with the thread's APIA key on entry (paciasp) and checks it
 * before returning (autiasp).  The target waits for GO eight calls deep,
 * in the main thread and in a second one, so after restore eight signed
 * return addresses per thread must still authenticate: the process must
 * have its old keys back (NT_ARM_PACA_KEYS), not the fresh ones the
 * kernel gives every exec.  A key mismatch faults (SIGILL with FEAT_FPAC,
 * else SIGSEGV on the mangled address).  APDB is disabled first
 * (PR_PAC_SET_ENABLED_KEYS), which must also hold after restore.
 * Without PAC (no HWCAP_PACA) it says so on stdout and checks nothing.
 */
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <asm/hwcap.h>

#include "../target.h"

#define DEPTH	8
#define PAC	__attribute__((noinline, target("branch-protection=pac-ret+leaf")))

static volatile int sink, worker_deep;

PAC static int deep(int n, int main_thread)
{
	int r;

	if (n == 0) {
		if (!main_thread) {
			worker_deep = 1;
			while (!target_go())
				target_sleep_ms(5);
			return 1;
		}
		while (!worker_deep)
			target_sleep_ms(1);
		target_wait();
		return 1;
	}
	r = deep(n - 1, main_thread) + 1;
	sink = r;	/* no tail call: this frame's return is checked */
	return r;
}

PAC static void *thread_main(void *arg)
{
	(void)arg;
	CHECK(deep(DEPTH, 0) == DEPTH + 1, "thread: depth %d", DEPTH);
	return NULL;
}

int main(void)
{
	pthread_t th;
	long keys;

	if (!(getauxval(AT_HWCAP) & HWCAP_PACA)) {
		printf("pac: this CPU has no pointer authentication\n");
		target_ready();
		return target_exit();
	}
	if (prctl(PR_PAC_SET_ENABLED_KEYS, PR_PAC_APDBKEY, 0, 0, 0) < 0)
		target_fail("PR_PAC_SET_ENABLED_KEYS: %s", strerror(errno));
	if ((errno = pthread_create(&th, NULL, thread_main, NULL))) {
		target_fail("pthread_create: %s", strerror(errno));
		return target_exit();
	}
	CHECK(deep(DEPTH, 1) == DEPTH + 1, "main: depth %d", DEPTH);
	pthread_join(th, NULL);
	keys = prctl(PR_PAC_GET_ENABLED_KEYS, 0, 0, 0, 0);
	CHECK(keys >= 0 && !(keys & PR_PAC_APDBKEY) && (keys & PR_PAC_APIAKEY),
	      "enabled keys %#lx, want APIA and not APDB", keys);
	printf("pac: %d signed returns per thread authenticated\n", DEPTH + 1);
	return target_exit();
}
