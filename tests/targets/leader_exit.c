/*
 * The main thread has ended with pthread_exit() and the process goes on
 * in its other threads (a pattern of programs whose main() only starts
 * workers).  /proc shows the leader as a zombie, but the process is
 * alive: it must dump and restore, and after GO the two workers finish
 * their counts; the last one out exits the process with status 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "target.h"

static atomic_int started, finished;

static void *worker(void *arg)
{
	uint64_t sum = 0, i, n = 20000000;

	(void)arg;
	if (atomic_fetch_add(&started, 1) == 0)
		target_wait();
	else
		while (!target_go())
			target_sleep_ms(5);
	for (i = 1; i <= n; i++)
		sum += i;
	CHECK(sum == n * (n + 1) / 2, "sum %llu", (unsigned long long)sum);
	if (atomic_fetch_add(&finished, 1) == 1) {
		printf("leader_exit: ok\n");
		fflush(stdout);
		exit(target_exit());
	}
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	pthread_exit(NULL);
}
