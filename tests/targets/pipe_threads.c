/*
 * A job whose two threads talk through a pipe: a producer writes the
 * numbers 1..N in batches, a consumer reads and sums them; the main
 * thread prints "pipe threads: N items, sum S" when both are done.  It
 * says it is ready at once: the test dumps it mid-work, with bytes in
 * the pipe and each thread in a read or a write.  Restored with the
 * pipe's ends on /dev/null (as ckpt once did), it would print a wrong
 * total; the right one is N(N+1)/2.
 * Usage: pipe_threads [N]
 */
#include <pthread.h>
#include <stdint.h>

#include "target.h"

#define BATCH	500

static int p[2];
static uint64_t n_items, got_items, sum;

static void *producer(void *arg)
{
	uint64_t buf[BATCH], next = 1;

	(void)arg;
	while (next <= n_items) {
		size_t k = 0, off = 0;

		while (k < BATCH && next <= n_items)
			buf[k++] = next++;
		while (off < k * sizeof(buf[0])) {
			ssize_t w = write(p[1], (char *)buf + off, k * sizeof(buf[0]) - off);

			if (w < 0 && errno != EINTR)
				return NULL;
			off += w > 0 ? (size_t)w : 0;
		}
	}
	close(p[1]);
	return NULL;
}

static void *consumer(void *arg)
{
	static uint64_t buf[BATCH + 1];
	size_t have = 0;

	(void)arg;
	for (;;) {
		ssize_t r = read(p[0], (char *)buf + have, sizeof(uint64_t) * BATCH - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		for (size_t i = 0; i < have / 8; i++) {
			sum += buf[i];
			got_items++;
		}
		/* a value split between two reads waits for its rest */
		memmove(buf, (char *)buf + have / 8 * 8, have % 8);
		have %= 8;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];

	n_items = argc > 1 ? strtoull(argv[1], NULL, 10) : 150000000;
	if (pipe(p) < 0 || pthread_create(&t[1], NULL, consumer, NULL) ||
	    pthread_create(&t[0], NULL, producer, NULL)) {
		target_fail("cannot start: %s", strerror(errno));
		return target_exit();
	}
	target_ready();
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	printf("pipe threads: %llu items, sum %llu\n", (unsigned long long)got_items,
	       (unsigned long long)sum);
	return 0;
}
