/*
 * A job that keeps running and checks itself all the time, for
 * tests/killsafe.bats: ckpt is killed at random points of dumps of it, and
 * it must run on exactly as before.  Its threads:
 *  - two sleepers: a nanosleep loop (EINTR resumed with the time left)
 *    that must sleep at least what it asked, and a clock_nanosleep
 *    without a remainder that must never return early with 0;
 *  - a pipe writer and a reader that must see every number once, in order;
 *  - a computer that keeps 4 MiB of memory and a generation per chunk up
 *    to date, and checks every chunk it rewrites;
 *  - a waiter in sigsuspend() with SIGUSR1 blocked outside it, woken by
 *    the main thread, whose handler must run once per wakeup;
 *  - a poller in ppoll() with SIGUSR2 let in only there;
 *  - with an argument N, N more sleepers on small stacks (half of them in
 *    nanosleep, half in select).
 * With a second argument K, K children forked first do all the same: a
 * tree of K + 1 such processes (the parent also waits for each child to
 * exit 0 after $CKPT_GO).
 * Every thread checks its signal mask and a canary on its stack at every
 * turn; the main thread watches that each one keeps making progress.
 * After $CKPT_READY it makes no mapping, fd, thread or child, so that the
 * test can compare /proc/PID; after $CKPT_GO all stop and it exits 0 if
 * everything held, 1 (saying what) if not.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

#define FIXED		7	/* threads besides the main one and the extra sleepers */
#define MAXT		(FIXED + 2000)
#define CHUNKS		1024
#define CHUNK_WORDS	512	/* 4 KiB */
#define STUCK_S		60	/* no progress for this long: stuck */

static atomic_int stop;
static atomic_ulong progress[MAXT];
static pid_t tids[MAXT];
static int pfd[2], quiet[2];
static uint64_t mem[CHUNKS][CHUNK_WORDS];
static uint32_t gen[CHUNKS];
static atomic_ulong usr1_handled, usr2_handled;

static uint64_t word(unsigned chunk, unsigned i, uint32_t g)
{
	uint64_t x = ((uint64_t)chunk << 40 | (uint64_t)i << 20 | g) * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 31);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Every thread's own mask: SIGUSR2 blocked, and what it adds. */
static void set_mask(int also)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	if (also)
		sigaddset(&s, also);
	pthread_sigmask(SIG_SETMASK, &s, NULL);
}

static void check_mask(int id, int also)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	CHECK(sigismember(&cur, SIGUSR2) && (!also || sigismember(&cur, also)) &&
	      !sigismember(&cur, SIGTERM), "thread %d: signal mask changed", id);
}

/* The stack canary and the turn's checks every thread makes. */
#define CANARY_WORDS 32
static void canary_fill(volatile uint64_t *c, int id)
{
	for (int i = 0; i < CANARY_WORDS; i++)
		c[i] = word((unsigned)id, (unsigned)i, 7);
}

static void turn(volatile uint64_t *c, int id, int also)
{
	for (int i = 0; i < CANARY_WORDS; i++)
		if (c[i] != word((unsigned)id, (unsigned)i, 7)) {
			target_fail("thread %d: its stack changed", id);
			break;
		}
	check_mask(id, also);
	atomic_fetch_add(&progress[id], 1);
}

static void start(int id, int also)
{
	tids[id] = (pid_t)syscall(SYS_gettid);
	set_mask(also);
}

static void *sleeper(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];
	long ms = id < FIXED ? 3 : 20 + id % 60;

	start(id, 0);
	canary_fill(c, id);
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, ms * 1000000 };
		uint64_t t = now_ns();

		struct timeval tv = { 0, ms * 1000 };

		/* Every other extra sleeper in select(), which writes the
		 * time left back and restarts without restart_syscall: ckpt
		 * asks those in one trip each (ptrace/trip.c), and borrows
		 * the ones in nanosleep (which need their restart_block). */
		if (id >= FIXED && id % 2)
			while (select(0, NULL, NULL, NULL, &tv) < 0)
				CHECK(errno == EINTR, "thread %d: select: %s", id, strerror(errno));
		else
			while (nanosleep(&ts, &ts) < 0)
				CHECK(errno == EINTR, "thread %d: nanosleep: %s", id, strerror(errno));
		CHECK(now_ns() - t >= (uint64_t)ms * 1000000, "thread %d: slept %llu ns of %ld ms", id,
		      (unsigned long long)(now_ns() - t), ms);
		turn(c, id, 0);
	}
	return NULL;
}

/* No remainder: EINTR may come (a syscall a killed ckpt leaves restarts as
 * after a signal, docs/kill-safety.md), an early 0 never. */
static void *sleeper_norem(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];

	start(id, 0);
	canary_fill(c, id);
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, 4 * 1000000 };
		uint64_t t = now_ns();
		int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);

		CHECK(r == 0 || r == EINTR, "thread %d: clock_nanosleep: %s", id, strerror(r));
		CHECK(r || now_ns() - t >= 4000000, "thread %d: woke early without EINTR", id);
		turn(c, id, 0);
	}
	return NULL;
}

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];

	start(id, 0);
	canary_fill(c, id);
	for (uint64_t seq = 1; !atomic_load(&stop); seq++) {
		CHECK(write(pfd[1], &seq, sizeof(seq)) == sizeof(seq), "writer: %s", strerror(errno));
		target_sleep_ms(1);
		turn(c, id, 0);
	}
	close(pfd[1]);
	return NULL;
}

static void *reader(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];
	uint64_t seq, want = 1;

	start(id, 0);
	canary_fill(c, id);
	for (;;) {
		size_t got = 0;

		while (got < sizeof(seq)) {
			ssize_t n = read(pfd[0], (char *)&seq + got, sizeof(seq) - got);

			if (n == 0)
				return NULL;	/* the writer is done */
			if (n < 0) {
				target_fail("reader: read: %s", strerror(errno));
				return NULL;
			}
			got += (size_t)n;
		}
		CHECK(seq == want, "reader: got %llu, want %llu", (unsigned long long)seq,
		      (unsigned long long)want);
		want = seq + 1;
		turn(c, id, 0);
	}
}

static void *computer(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];
	uint32_t k = 1;

	start(id, 0);
	canary_fill(c, id);
	while (!atomic_load(&stop)) {
		for (int n = 0; n < 64; n++) {
			unsigned ch = (k = k * 1103515245 + 12345) % CHUNKS;

			for (unsigned i = 0; i < CHUNK_WORDS; i++)
				if (mem[ch][i] != word(ch, i, gen[ch])) {
					target_fail("computer: chunk %u word %u changed", ch, i);
					break;
				}
			gen[ch]++;
			for (unsigned i = 0; i < CHUNK_WORDS; i++)
				mem[ch][i] = word(ch, i, gen[ch]);
		}
		turn(c, id, 0);
		target_sleep_ms(1);
	}
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr1_handled, 1);
}

static void on_usr2(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr2_handled, 1);
}

static void *waiter(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];
	sigset_t in;

	start(id, SIGUSR1);
	canary_fill(c, id);
	pthread_sigmask(SIG_BLOCK, NULL, &in);
	sigdelset(&in, SIGUSR1);
	while (!atomic_load(&stop)) {
		unsigned long before = atomic_load(&usr1_handled);

		CHECK(sigsuspend(&in) < 0 && errno == EINTR, "waiter: sigsuspend did not return EINTR");
		CHECK(atomic_load(&usr1_handled) > before, "waiter: sigsuspend returned, no handler ran");
		turn(c, id, SIGUSR1);
	}
	return NULL;
}

static void *poller(void *arg)
{
	int id = (int)(intptr_t)arg;
	volatile uint64_t c[CANARY_WORDS];
	struct pollfd p = { .fd = quiet[0], .events = POLLIN };
	sigset_t in;

	start(id, 0);
	canary_fill(c, id);
	sigemptyset(&in);
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, 3 * 1000000 };
		int r = ppoll(&p, 1, &ts, &in);

		CHECK(r == 0 || (r < 0 && errno == EINTR), "poller: ppoll: %d %s", r, strerror(errno));
		turn(c, id, 0);
	}
	return NULL;
}

/* The main thread's own stack, touched deep once: it does not grow later. */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile char deep[128 << 10];

	for (size_t i = 0; i < sizeof(deep); i += 4096)
		deep[i] = 1;
}

/* Each thread keeps making progress (the main thread's watch). */
static void watch(int n, unsigned long *last, uint64_t *since)
{
	uint64_t t = now_ns();

	for (int i = 0; i < n; i++) {
		unsigned long p = atomic_load(&progress[i]);

		if (p != last[i]) {
			last[i] = p;
			since[i] = t;
		} else if (t - since[i] > (uint64_t)STUCK_S * 1000000000ull) {
			target_fail("thread %d (tid %d): no progress for %d s", i, tids[i], STUCK_S);
			since[i] = t;
		}
	}
}

/* The main thread's turn: wake the waiter, now and then the poller. */
static void poke(uint64_t k)
{
	if (tids[5])
		syscall(SYS_tgkill, getpid(), tids[5], SIGUSR1);
	if (k % 8 == 0 && tids[6])
		syscall(SYS_tgkill, getpid(), tids[6], SIGUSR2);
	target_sleep_ms(2);
}

int main(int argc, char **argv)
{
	static void *(*const fixed[FIXED])(void *) = {
		sleeper, sleeper_norem, writer, reader, computer, waiter, poller,
	};
	static unsigned long last[MAXT];
	static uint64_t since[MAXT];
	int extra = argc > 1 ? atoi(argv[1]) : 0, n = FIXED + extra;
	pthread_t th[MAXT];
	pthread_attr_t small;
	struct sigaction sa = { .sa_handler = on_usr1 };

	int kids = argc > 2 ? atoi(argv[2]) : 0, rp[2] = { -1, -1 }, child = 0;
	pid_t kid[64];
	int st = 0;
	char c = 0;

	if (extra < 0 || n > MAXT || kids < 0 || kids > 64 || (kids && pipe(rp) < 0))
		return 2;
	for (int i = 0; i < kids && !child; i++)
		if ((kid[i] = fork()) < 0)
			return 2;
		else if (kid[i] == 0)
			child = 1;
	if (child)
		kids = 0;
	for (unsigned ch = 0; ch < CHUNKS; ch++)
		for (unsigned i = 0; i < CHUNK_WORDS; i++)
			mem[ch][i] = word(ch, i, 0);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	if (pipe(pfd) < 0 || pipe(quiet) < 0)
		return 2;
	set_mask(0);
	touch_stack();
	pthread_attr_init(&small);
	pthread_attr_setstacksize(&small, 64 << 10);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], i < FIXED ? NULL : &small, i < FIXED ? fixed[i] : sleeper,
				   (void *)(intptr_t)i))
			return 2;
	/* Ready once every thread has gone round (the waiter needs poking). */
	for (int i = 0; i < n; i++)
		while (!atomic_load(&progress[i]))
			poke(1);
	/* Children say they are ready through rp; the parent, once all are. */
	if (child && write(rp[1], &c, 1) != 1)
		return 2;
	for (int i = 0; i < kids; i++)
		if (read(rp[0], &c, 1) != 1)
			return 2;
	if (rp[0] >= 0) {
		close(rp[0]);
		close(rp[1]);
	}
	if (!child)
		target_ready();
	for (uint64_t k = 0; !target_go(); k++) {
		poke(k);
		if (k % 16 == 0)
			watch(n, last, since);
		check_mask(-1, 0);
	}
	atomic_store(&stop, 1);
	syscall(SYS_tgkill, getpid(), tids[5], SIGUSR1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (unsigned ch = 0; ch < CHUNKS; ch++)
		for (unsigned i = 0; i < CHUNK_WORDS; i++)
			if (mem[ch][i] != word(ch, i, gen[ch])) {
				target_fail("memory: chunk %u changed", ch);
				break;
			}
	for (int i = 0; i < kids; i++)
		CHECK(waitpid(kid[i], &st, 0) == kid[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child %d did not end well (status %#x)", (int)kid[i], st);
	printf("steady: %d threads; %lu wakeups of the waiter; %lu ppoll handlers\n", n,
	       atomic_load(&usr1_handled), atomic_load(&usr2_handled));
	return target_exit();
}
