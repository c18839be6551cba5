/*
 * A process whose threads come and go all the time, like a program with
 * short-lived worker threads: two spawner threads create four threads at
 * a time, each of which counts itself and ends, and join them.  A dump
 * must freeze it whatever state each thread is in: just created, running,
 * exiting or gone.  After GO the spawners stop and every thread created
 * must have run exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "target.h"

#define NSPAWNERS 2

static atomic_int go;
static atomic_ulong made, ran;

static void *short_lived(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return NULL;
}

static void *spawner(void *arg)
{
	(void)arg;
	while (!atomic_load(&go)) {
		pthread_t t[4];
		int n, r = 0;

		for (n = 0; n < 4; n++) {
			r = pthread_create(&t[n], NULL, short_lived, NULL);
			if (r)
				break;
			atomic_fetch_add(&made, 1);
		}
		while (n--)
			pthread_join(t[n], NULL);
		if (r) {
			target_fail("pthread_create: %s", strerror(r));
			break;
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t s[NSPAWNERS];

	for (int i = 0; i < NSPAWNERS; i++)
		pthread_create(&s[i], NULL, spawner, NULL);
	while (atomic_load(&made) < 1000)
		target_sleep_ms(1);
	target_wait();
	atomic_store(&go, 1);
	for (int i = 0; i < NSPAWNERS; i++)
		pthread_join(s[i], NULL);
	CHECK(atomic_load(&made) == atomic_load(&ran), "%lu threads made, %lu ran",
	      atomic_load(&made), atomic_load(&ran));
	printf("churn: ok\n");
	return target_exit();
}
