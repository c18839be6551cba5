/*
 * A tree's smaps, read ahead.  smaps is the one source of VmFlags
 * (MADV_DONTDUMP, MADV_WIPEONFORK, mlock...: fs/proc/task_mmu.c
 * show_smap_vma_flags(); PROCMAP_QUERY gives only r/w/x/s), and the
 * kernel walks every page table to print it.  While the tree is frozen,
 * one thread reads the smaps of every process in turn, ahead of the
 * main thread, which meanwhile runs ptrace requests (they must come from
 * the thread that seized) and the page map of the processes before:
 * two processes' page tables walked at once, on two CPUs.  A single
 * process's is read from its injected brk(2) on (which takes the mmap
 * lock for writing and would wait for the walk of a whole mapping),
 * while the main thread runs the other injected syscalls and scans its
 * page map.
 *
 * smaps read before a process's injected syscalls may not be its layout
 * after them (a scratch mapping the old way, a stack grown by a signal
 * frame): it is used only if /proc/PID/maps read after them names the
 * same mappings, else smaps is read again, as without read-ahead.  The
 * caller may hand that maps in (a single process's: read anyway for its
 * page map scan), else it is read here.  Nothing those syscalls run
 * changes a mapping's VmFlags (remote.c: they only read).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

struct ahead_one {
	struct map_entry *maps;
	size_t n;
	int ret;
};

struct smaps_ahead {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pid_t *pids;
	size_t n, done;		/* results ready for [0, done) */
	int stop;
	int how;		/* PROC_SMAPS, or PROC_MAPS (maps_ahead_start) */
	int given;		/* smaps_ahead_given: no thread */
	struct ahead_one *r;
};

static void *reader(void *arg)
{
	struct smaps_ahead *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		struct ahead_one one = { 0 };
		int stop;

		pthread_mutex_lock(&a->lock);
		stop = a->stop;
		pthread_mutex_unlock(&a->lock);
		if (stop)
			break;
		one.ret = proc_read_maps_how(a->pids[i], &one.maps, &one.n, a->how);
		pthread_mutex_lock(&a->lock);
		a->r[i] = one;
		a->done = i + 1;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->lock);
	}
	pthread_mutex_lock(&a->lock);
	a->done = a->n;		/* what was not read stays ret 0, no maps: not used */
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static struct smaps_ahead *start(const pid_t *pids, size_t n, int how)
{
	struct smaps_ahead *a = xzalloc(sizeof(*a));

	a->how = how;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->pids = xmemdup(pids, n * sizeof(*pids));
	a->n = n;
	a->r = xzalloc(n * sizeof(*a->r));
	if (pthread_create(&a->thread, NULL, reader, a)) {
		free(a->pids);
		free(a->r);
		free(a);
		return NULL;
	}
	return a;
}

struct smaps_ahead *smaps_ahead_start(const pid_t *pids, size_t n)
{
	return start(pids, n, PROC_SMAPS);
}

struct smaps_ahead *maps_ahead_start(pid_t pid)
{
	return start(&pid, 1, PROC_MAPS);
}

int maps_ahead_take(struct smaps_ahead *a, struct map_entry **out, size_t *n)
{
	int ret;

	pthread_mutex_lock(&a->lock);
	while (a->done < 1)
		pthread_cond_wait(&a->cv, &a->lock);
	pthread_mutex_unlock(&a->lock);
	*out = a->r[0].maps;
	*n = a->r[0].n;
	ret = a->r[0].ret;
	a->r[0] = (struct ahead_one){ 0 };
	smaps_ahead_end(a);
	return ret;
}

const struct map_entry *smaps_ahead_peek(const struct smaps_ahead *a, size_t *n)
{
	if (!a || !a->given || !a->r[0].maps)
		return NULL;
	*n = a->r[0].n;
	return a->r[0].maps;
}

struct smaps_ahead *smaps_ahead_given(struct map_entry *maps, size_t n)
{
	struct smaps_ahead *a = xzalloc(sizeof(*a));

	a->n = a->done = 1;
	a->given = 1;
	a->r = xzalloc(sizeof(*a->r));
	a->r[0] = (struct ahead_one){ .maps = maps, .n = n };
	return a;
}

/* The same mappings, in the same order (VmFlags aside). */
static int same_layout(const struct map_entry *a, size_t na, const struct map_entry *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end || a[i].prot != b[i].prot ||
		    a[i].shared != b[i].shared || a[i].pgoff != b[i].pgoff || a[i].ino != b[i].ino ||
		    a[i].dev_major != b[i].dev_major || a[i].dev_minor != b[i].dev_minor ||
		    strcmp(a[i].path, b[i].path))
			return 0;
	return 1;
}

int smaps_ahead_take(struct smaps_ahead *a, size_t i, pid_t pid, const struct map_entry *now,
		     size_t nnow, struct map_entry **out, size_t *n)
{
	struct ahead_one one;
	struct map_entry *read = NULL;
	int same = 0;

	if (a && i < a->n) {
		if (!a->given)
			pthread_mutex_lock(&a->lock);
		while (a->done <= i)
			pthread_cond_wait(&a->cv, &a->lock);
		one = a->r[i];
		a->r[i] = (struct ahead_one){ 0 };
		if (!a->given)
			pthread_mutex_unlock(&a->lock);
		if (one.ret == 0 && one.maps && !now &&
		    proc_read_maps_how(pid, &read, &nnow, PROC_MAPS) == 0)
			now = read;
		same = one.ret == 0 && one.maps && now && same_layout(one.maps, one.n, now, nnow);
		if (read)
			proc_free_maps(read, nnow);
		if (same) {
			*out = one.maps;
			*n = one.n;
			return 0;
		}
		if (a->given && one.maps)
			debug("the mappings changed since smaps was read: VmFlags read while the process is frozen");
		proc_free_maps(one.maps, one.n);
	}
	return proc_read_maps_how(pid, out, n, PROC_SMAPS);
}

void smaps_ahead_end(struct smaps_ahead *a)
{
	if (!a)
		return;
	if (!a->given) {
		pthread_mutex_lock(&a->lock);
		a->stop = 1;
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->cv);
	}
	for (size_t i = 0; i < a->n; i++)
		proc_free_maps(a->r[i].maps, a->r[i].n);
	free(a->pids);
	free(a->r);
	free(a);
}
