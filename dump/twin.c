/*
 * Per-thread work of a dump done by two threads of ours at once: with
 * 1,000 threads to dump, reading each one's /proc files is some 30-60 ms
 * of the pause (a status file alone 25-50 us), and a machine with two
 * CPUs has one to spare while the job is frozen.  Items are taken in
 * turn from one counter, so whichever thread is free takes the next.
 * ptrace requests work only from the thread that traces: the work given
 * here must make none.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/sigguard.h"
#include "common/util.h"
#include "dump/dump.h"

struct twin {
	int (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next;
	atomic_int err;
	pthread_t helper;
	int started;
};

static void take(struct twin *w)
{
	size_t i;

	while ((i = atomic_fetch_add(&w->next, 1)) < w->n) {
		int ret = w->fn(w->arg, i);
		int none = 0;

		if (ret < 0)
			atomic_compare_exchange_strong(&w->err, &none, ret);
	}
}

static void *helper_run(void *arg)
{
	sigguard_helper_thread();	/* signals are for the main thread */
	take(arg);
	return NULL;
}

struct twin *twin_start(size_t n, int (*fn)(void *arg, size_t i), void *arg)
{
	struct twin *w = xzalloc(sizeof(*w));

	w->fn = fn;
	w->arg = arg;
	w->n = n;
	atomic_init(&w->next, 0);
	atomic_init(&w->err, 0);
	/* Without a second thread, the caller's twin_finish does it all. */
	w->started = n > 1 && pthread_create(&w->helper, NULL, helper_run, w) == 0;
	return w;
}

int twin_finish(struct twin *w)
{
	int ret;

	take(w);
	if (w->started)
		pthread_join(w->helper, NULL);
	ret = atomic_load(&w->err);
	free(w);
	return ret;
}
