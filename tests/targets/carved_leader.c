/*
 * The first thread running on a stack carved right above another kernel
 * thread's live stack, as an M:N runtime's main thread running user-level
 * threads (Go's m0 on goroutine stacks) may: both stacks in one mapping.
 * The second thread (the worker) runs on its own carved stack below; the
 * PAT bytes between its stack and the leader's stand for the outermost
 * frames of its live stack, which it writes and reads back all the time:
 * a round's value into every word, then the words compared with it many
 * times over.  The leader's stack pointer is less than one borrow's bytes
 * (ptrace/borrow.c: red zone, frame, scratch) above them, while the
 * worker's is farther below than any borrow writes: the freeze's check
 * (tracee_roomy) lets the dump go on, and a borrow of the leader alone,
 * the worker running (after the release: --fork's reaping, --snapshot's
 * freeing behind and end), would write its frame over them and put back
 * stale bytes (docs/kill-safety.md 1).  After GO the worker must have
 * found every word as it wrote it.  argv[1]: MiB of memory besides, for
 * --snapshot's freeing behind (16 by default).
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "target.h"

#define MAP	(128 * 1024)	/* under --snapshot's smallest shadow */
#define WSTACK	(48 * 1024)	/* the worker's stack, at the mapping's start */
#define PAT	(32 * 1024)	/* its outermost frames, right above */
#define LSTACK	2048		/* the leader's stack, right above those */

static volatile uint64_t *pat;
static int stop, started;
static uint64_t rounds;
static long bad, bad_at;
static uint64_t bad_was, bad_want;
static ucontext_t main_ctx, lead_ctx, wmain_ctx, work_ctx;
/* Static: main's locals would not survive its getcontext/swapcontext. */
static char *map, *mem;
static size_t mib = 16;

static void work(void)
{
	const size_t n = PAT / sizeof(*pat);

	for (uint64_t v = 1; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); v++) {
		for (size_t i = 0; i < n; i++)
			pat[i] = v;
		for (int k = 0; k < 64; k++)
			for (size_t i = 0; i < n; i++)
				if (pat[i] != v && !bad++) {
					bad_at = (long)i;
					bad_was = pat[i];
					bad_want = v;
				}
		__atomic_store_n(&rounds, v, __ATOMIC_RELEASE);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	swapcontext(&wmain_ctx, &work_ctx);
	return NULL;
}

/* On the carved stack: ready, then wait for GO (nanosleep, access). */
static void lead(void)
{
	__atomic_store_n(&started, 1, __ATOMIC_RELEASE);
	target_wait();
}

int main(int argc, char **argv)
{
	pthread_t th;
	uint64_t before;
	int fd;

	if (argc > 1)
		mib = (size_t)atol(argv[1]);
	mem = malloc(mib << 20);
	/* A page of PROT_NONE either side: the stacks' mapping merges with
	 * no other (it stays one of its own, under --snapshot's smallest). */
	map = mmap(NULL, MAP + 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || !mem || mprotect(map, 4096, PROT_NONE) < 0 ||
	    mprotect(map + 4096 + MAP, 4096, PROT_NONE) < 0)
		return 2;
	map += 4096;
	for (size_t i = 0; i < (mib << 20); i += 4096)
		mem[i] = (char)(i >> 12);
	pat = (volatile uint64_t *)(map + WSTACK);
	/* Bound now: lazy binding's resolver would save the vector state on
	 * the 2 KiB stack, over the worker's bytes. */
	target_go();
	target_sleep_ms(1);
	if ((fd = open("/dev/null", O_WRONLY | O_CREAT, 0644)) >= 0)
		close(fd);
	getcontext(&work_ctx);
	work_ctx.uc_stack = (stack_t){ .ss_sp = map, .ss_size = WSTACK };
	work_ctx.uc_link = &wmain_ctx;
	makecontext(&work_ctx, work, 0);
	if (pthread_create(&th, NULL, worker, NULL) != 0)
		return 2;
	while (__atomic_load_n(&rounds, __ATOMIC_ACQUIRE) == 0)
		target_sleep_ms(1);
	getcontext(&lead_ctx);
	lead_ctx.uc_stack = (stack_t){ .ss_sp = map + WSTACK + PAT, .ss_size = LSTACK };
	lead_ctx.uc_link = &main_ctx;
	makecontext(&lead_ctx, lead, 0);
	swapcontext(&main_ctx, &lead_ctx);
	CHECK(started, "the leader did not run on its carved stack");
	before = __atomic_load_n(&rounds, __ATOMIC_ACQUIRE);
	target_sleep_ms(50);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CHECK(bad == 0, "the worker's stack bytes changed under it %ld times: word %ld was %#llx, "
	      "not %#llx", bad, bad_at, (unsigned long long)bad_was, (unsigned long long)bad_want);
	CHECK(rounds > before, "the worker stopped (%llu rounds)", (unsigned long long)rounds);
	for (size_t i = 0; i < (mib << 20); i += 4096)
		CHECK(mem[i] == (char)(i >> 12), "memory changed at %zu", i);
	if (!target_failures)
		printf("carved_leader: ok\n");
	return target_exit();
}
