/*
 * Threads on small stacks carved next to each other from one mapping, as
 * user-level threads or goroutines have them: each pthread switches
 * (makecontext/swapcontext) to a SLOT-byte stack of the mapping, so that
 * the stack pointers of neighbours are SLOT bytes apart, less than the
 * signal frames ckpt writes below a thread's stack pointer to ask it
 * what only it can answer (ptrace/trip.c, ptrace/borrow.c).
 *
 * Each thread keeps its identity in general and vector registers (an asm
 * loop that checks them each round and counts the rounds) and in bytes
 * of its stack.  A few spin in user code; the others wait in read() on a
 * pipe, once a round.  After GO each checks its registers, its stack
 * bytes, that it still runs on its own stack in its own kernel thread,
 * and that it went on counting.  argv[1]: the number of threads (80 by
 * default: more than one trip chunk of 64); argv[2]: the bytes of stack
 * per thread (SLOT by default; a multiple of 64, at least SLOT); argv[3]
 * "blocked": the threads block every signal, so that ckpt cannot send
 * them on a trip (ptrace/trip.c) and borrows each of them instead.
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "target.h"

#define SLOT	1024		/* bytes of stack per thread, by default */
#define GUARD	(256 * 1024)	/* writable room below the lowest */
#define NMARK	16
#define MAXT	256

struct slot {
	uint64_t count;		/* rounds */
	int fd, spin;
	char buf[8];
	long bad;		/* 1: registers, 2: stack bytes, 4: thread, 8: stack */
	pid_t tid;
	uint64_t before;
	ucontext_t home, away;
} __attribute__((aligned(64)));

static struct slot slots[MAXT];
static int stop;
static char *stacks;
static size_t slot = SLOT;
static int blocked;

static uint64_t ident(int i)
{
	uint64_t x = (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 31);
}

/* Rounds until stop: 0, or 1 when a register lost its value. */
static long rounds(uint64_t id, struct slot *s)
{
	long bad;

#if defined(__x86_64__)
	asm volatile(
		"mov %[id], %%r12\n\t"
		"mov %[id], %%r13\n\tnot %%r13\n\t"
		"mov %[id], %%r14\n\trol $17, %%r14\n\t"
		"mov %[id], %%r15\n\txor $0x5a5a, %%r15\n\t"
		"movq %%r13, %%xmm8\n\t"
		"movq %%r14, %%xmm9\n"
		"1:\n\t"
		"cmp %[id], %%r12\n\tjne 9f\n\t"
		"mov %[id], %%rax\n\tnot %%rax\n\tcmp %%rax, %%r13\n\tjne 9f\n\t"
		"mov %[id], %%rax\n\trol $17, %%rax\n\tcmp %%rax, %%r14\n\tjne 9f\n\t"
		"mov %[id], %%rax\n\txor $0x5a5a, %%rax\n\tcmp %%rax, %%r15\n\tjne 9f\n\t"
		"movq %%xmm8, %%rax\n\tcmp %%rax, %%r13\n\tjne 9f\n\t"
		"movq %%xmm9, %%rax\n\tcmp %%rax, %%r14\n\tjne 9f\n\t"
		"incq %c[o_count](%[s])\n\t"
		"cmpl $0, %[stop]\n\tjne 8f\n\t"
		"cmpl $0, %c[o_spin](%[s])\n\tjne 1b\n\t"
		"xor %%eax, %%eax\n\t"
		"mov %c[o_fd](%[s]), %%edi\n\t"
		"lea %c[o_buf](%[s]), %%rsi\n\t"
		"mov $1, %%edx\n\t"
		"syscall\n\t"
		"jmp 1b\n"
		"8:\n\txor %[bad], %[bad]\n\tjmp 7f\n"
		"9:\n\tmov $1, %[bad]\n"
		"7:\n"
		: [bad] "=&r"(bad)
		: [id] "r"(id), [s] "r"(s), [stop] "m"(stop),
		  [o_count] "i"(offsetof(struct slot, count)), [o_spin] "i"(offsetof(struct slot, spin)),
		  [o_fd] "i"(offsetof(struct slot, fd)), [o_buf] "i"(offsetof(struct slot, buf))
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "r12", "r13", "r14", "r15", "xmm8", "xmm9",
		  "memory", "cc");
#elif defined(__aarch64__)
	asm volatile(
		"mov x19, %[id]\n\t"
		"mvn x20, %[id]\n\t"
		"ror x21, %[id], #17\n\t"
		"add x22, %[id], #0x5a5\n\t"
		"fmov d8, x20\n\t"
		"fmov d9, x21\n"
		"1:\n\t"
		"cmp x19, %[id]\n\tb.ne 9f\n\t"
		"mvn x9, %[id]\n\tcmp x20, x9\n\tb.ne 9f\n\t"
		"ror x9, %[id], #17\n\tcmp x21, x9\n\tb.ne 9f\n\t"
		"add x9, %[id], #0x5a5\n\tcmp x22, x9\n\tb.ne 9f\n\t"
		"fmov x9, d8\n\tcmp x9, x20\n\tb.ne 9f\n\t"
		"fmov x9, d9\n\tcmp x9, x21\n\tb.ne 9f\n\t"
		"ldr x9, [%[count]]\n\tadd x9, x9, #1\n\tstr x9, [%[count]]\n\t"
		"ldr w9, [%[stop]]\n\tcbnz w9, 8f\n\t"
		"ldr w9, [%[spin]]\n\tcbnz w9, 1b\n\t"
		"ldr w0, [%[fd]]\n\t"
		"mov x1, %[buf]\n\t"
		"mov x2, #1\n\t"
		"mov x8, #63\n\t"
		"svc #0\n\t"
		"b 1b\n"
		"8:\n\tmov %[bad], #0\n\tb 7f\n"
		"9:\n\tmov %[bad], #1\n"
		"7:\n"
		: [bad] "=&r"(bad)
		: [id] "r"(id), [count] "r"(&s->count), [stop] "r"(&stop), [spin] "r"(&s->spin),
		  [fd] "r"(&s->fd), [buf] "r"(s->buf)
		: "x0", "x1", "x2", "x8", "x9", "x19", "x20", "x21", "x22", "v8", "v9", "memory", "cc");
#else
#error "adjacent_stacks: x86-64 and aarch64 only"
#endif
	return bad;
}

/* On the carved stack of slot i. */
static void away(int i)
{
	struct slot *s = &slots[i];
	volatile uint64_t mark[NMARK];
	uint64_t id = ident(i);
	char *at = (char *)&mark[0];

	for (int k = 0; k < NMARK; k++)
		mark[k] = id ^ (uint64_t)k << 56;
	s->tid = (pid_t)syscall(SYS_gettid);
	s->bad = rounds(id, s);
	for (int k = 0; k < NMARK; k++)
		if (mark[k] != (id ^ (uint64_t)k << 56))
			s->bad |= 2;
	if ((pid_t)syscall(SYS_gettid) != s->tid)
		s->bad |= 4;
	if (at < stacks + (size_t)i * slot || at >= stacks + (size_t)(i + 1) * slot)
		s->bad |= 8;
}

static void *thread(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct slot *s = &slots[i];
	sigset_t all;

	sigfillset(&all);
	if (blocked && pthread_sigmask(SIG_BLOCK, &all, NULL) != 0)
		abort();
	if (getcontext(&s->away) < 0)
		abort();
	s->away.uc_stack.ss_sp = stacks + (size_t)i * slot;
	s->away.uc_stack.ss_size = slot;
	s->away.uc_link = &s->home;
	makecontext(&s->away, (void (*)(void))away, 1, i);
	if (swapcontext(&s->home, &s->away) < 0)
		abort();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 80, fds[2];
	pthread_t th[MAXT];
	char *map;

	if (argc > 2)
		slot = (size_t)atol(argv[2]);
	blocked = argc > 3 && !strcmp(argv[3], "blocked");
	if (n < 2 || n > MAXT || slot < SLOT || slot % 64 || pipe(fds) < 0)
		return 2;
	map = mmap(NULL, GUARD + (size_t)n * slot, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 2;
	stacks = map + GUARD;
	/* Bound now: lazy binding's resolver would save the vector state on
	 * a 1 KiB stack (more than fits). */
	slots[0].tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < n; i++) {
		slots[i].fd = fds[0];
		slots[i].spin = i % 40 == 7;	/* two of 80 caught in user code */
		if (pthread_create(&th[i], NULL, thread, (void *)(intptr_t)i) != 0)
			return 2;
	}
	for (int i = 0; i < n; i++)
		while (__atomic_load_n(&slots[i].count, __ATOMIC_RELAXED) == 0)
			target_sleep_ms(1);
	target_wait();
	for (int i = 0; i < n; i++)
		slots[i].before = __atomic_load_n(&slots[i].count, __ATOMIC_RELAXED);
	/* A spinning thread preempted between its count and its look at
	 * stop would see stop at once and count no more: wait for a round
	 * of each first (60 s at most: one left stopped still fails). */
	for (int i = 0; i < n; i++)
		for (int ms = 0; slots[i].spin && ms < 60000 &&
				 __atomic_load_n(&slots[i].count, __ATOMIC_RELAXED) == slots[i].before; ms++)
			target_sleep_ms(1);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < n; i++)
		if (write(fds[1], "x", 1) != 1)
			return 2;
	for (int i = 0; i < n; i++) {
		struct slot *s = &slots[i];

		pthread_join(th[i], NULL);
		CHECK(s->bad == 0, "thread %d (tid %d): %s%s%s%s", i, s->tid,
		      s->bad & 1 ? "registers changed " : "", s->bad & 2 ? "stack bytes changed " : "",
		      s->bad & 4 ? "runs in another thread " : "",
		      s->bad & 8 ? "runs on another stack " : "");
		CHECK(s->count > s->before, "thread %d: stopped counting (%llu rounds)", i,
		      (unsigned long long)s->count);
	}
	if (!target_failures)
		printf("adjacent_stacks: ok\n");
	return target_exit();
}
