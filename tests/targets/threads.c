/*
 * Eight threads passing counters through a bounded queue guarded by one
 * mutex and two condition variables: four producers, four consumers.
 * They keep running while the process is dumped (it is frozen in the
 * middle of futex waits, mutex hand-offs and plain user code).  After GO
 * every producer adds exactly EXTRA more items and stops; the consumers
 * must have seen every item of every producer exactly once, in order.
 * Each thread also checks its own name (pthread_setname_np) and that its
 * private counters agree with each other.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "target.h"

#define NPROD	4
#define NCONS	4
#define QLEN	64
#define EXTRA	200000u

struct item {
	uint32_t prod;		/* NPROD: poison pill */
	uint32_t seq;		/* 1, 2, 3... per producer */
	uint64_t check;		/* mix(prod, seq): catches torn or stale items */
};

static struct item queue[QLEN];
static unsigned qhead, qlen;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static atomic_int go;
static atomic_ulong consumed;

/* Per producer: last seq produced.  Per consumer and producer: count and
 * sum of the seqs it got. */
static uint32_t produced[NPROD];
static uint64_t got_n[NCONS][NPROD], got_sum[NCONS][NPROD];

static uint64_t mix(uint32_t prod, uint32_t seq)
{
	uint64_t x = ((uint64_t)prod << 32 | seq) * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29);
}

static void put(struct item it)
{
	pthread_mutex_lock(&lock);
	while (qlen == QLEN)
		pthread_cond_wait(&not_full, &lock);
	queue[(qhead + qlen++) % QLEN] = it;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

static struct item get(void)
{
	struct item it;

	pthread_mutex_lock(&lock);
	while (qlen == 0)
		pthread_cond_wait(&not_empty, &lock);
	it = queue[qhead];
	qhead = (qhead + 1) % QLEN;
	qlen--;
	pthread_cond_signal(&not_full);
	pthread_mutex_unlock(&lock);
	return it;
}

static void check_name(const char *want)
{
	char name[16] = "", path[64], comm[32] = "";
	FILE *f;

	pthread_getname_np(pthread_self(), name, sizeof(name));
	CHECK(!strcmp(name, want), "thread %s: pthread_getname_np says \"%s\"", want, name);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	CHECK(!strcmp(comm, want), "thread %s: %s says \"%s\"", want, path, comm);
}

static void *producer(void *arg)
{
	uint32_t p = (uint32_t)(uintptr_t)arg, seq = 0, stop = 0;
	volatile uint64_t shadow = 0;	/* a second, memory-resident count */
	char name[16];

	snprintf(name, sizeof(name), "prod-%u", p);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		if (!stop && atomic_load(&go))
			stop = seq + EXTRA;
		if (stop && seq == stop)
			break;
		seq++;
		shadow += seq;
		put((struct item){ p, seq, mix(p, seq) });
	}
	CHECK(shadow == (uint64_t)seq * (seq + 1) / 2, "%s: shadow sum %llu for %u items", name,
	      (unsigned long long)shadow, seq);
	produced[p] = seq;
	check_name(name);
	return NULL;
}

static void *consumer(void *arg)
{
	uint32_t c = (uint32_t)(uintptr_t)arg, last[NPROD] = { 0 };
	char name[16];

	snprintf(name, sizeof(name), "cons-%u", c);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		struct item it = get();

		if (it.prod == NPROD)
			break;
		if (it.prod > NPROD || it.check != mix(it.prod, it.seq)) {
			target_fail("%s: corrupt item prod %u seq %u", name, it.prod, it.seq);
			continue;
		}
		/* The queue is FIFO: one producer's items come in order. */
		CHECK(it.seq > last[it.prod], "%s: producer %u: seq %u after %u", name, it.prod,
		      it.seq, last[it.prod]);
		last[it.prod] = it.seq;
		got_n[c][it.prod]++;
		got_sum[c][it.prod] += it.seq;
		atomic_fetch_add(&consumed, 1);
	}
	check_name(name);
	return NULL;
}

int main(void)
{
	pthread_t pt[NPROD], ct[NCONS];
	uint64_t total = 0;

	for (uintptr_t i = 0; i < NCONS; i++)
		pthread_create(&ct[i], NULL, consumer, (void *)i);
	for (uintptr_t i = 0; i < NPROD; i++)
		pthread_create(&pt[i], NULL, producer, (void *)i);
	/* Ready once items are flowing: the dump catches them at work. */
	while (atomic_load(&consumed) < 100000)
		target_sleep_ms(1);
	target_wait();
	atomic_store(&go, 1);
	for (int i = 0; i < NPROD; i++)
		pthread_join(pt[i], NULL);
	for (int i = 0; i < NCONS; i++)
		put((struct item){ NPROD, 0, 0 });
	for (int i = 0; i < NCONS; i++)
		pthread_join(ct[i], NULL);

	for (int p = 0; p < NPROD; p++) {
		uint64_t n = 0, sum = 0, want = (uint64_t)produced[p] * (produced[p] + 1) / 2;

		for (int c = 0; c < NCONS; c++) {
			n += got_n[c][p];
			sum += got_sum[c][p];
		}
		CHECK(produced[p] > EXTRA, "producer %d made only %u items", p, produced[p]);
		CHECK(n == produced[p], "producer %d made %u items, consumers got %llu", p,
		      produced[p], (unsigned long long)n);
		CHECK(sum == want, "producer %d: seq sum %llu, want %llu", p,
		      (unsigned long long)sum, (unsigned long long)want);
		total += n;
	}
	CHECK(total == atomic_load(&consumed), "total %llu, consumed %lu", (unsigned long long)total,
	      atomic_load(&consumed));
	printf("threads: %llu items\n", (unsigned long long)total);
	return target_exit();
}
