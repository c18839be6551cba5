/*
 * A heap whose pages are in memory before a dump freezes the job.
 *
 * What a dump allocates while the job is frozen grows with its threads
 * (each one's register sets, a trip's frames and the stack bytes they
 * cover, its part of the image's metadata): with 1,000 threads some 3,800
 * page faults of fresh heap, each a zeroed page, in the pause.  Where the
 * host hands memory back lazily (a VM with free page reporting, as here)
 * a first touch costs some 10 us; the faults were a third of the pause.
 * So the heap is made to keep what it is given (one arena for every
 * thread of ours, the block warmed not an mmap of its own, nor trimmed),
 * and that much is touched before the freeze, when it costs the job
 * nothing.
 *
 * The thresholds are glibc's own dynamic ones (mallopt(3)): a block of
 * up to 32 MiB freed after an mmap of its own raises the mmap threshold
 * to its size and the trim threshold to twice that.  So the block is
 * allocated and freed once first, and the second one is heap.  Setting
 * M_MMAP_THRESHOLD or M_TRIM_THRESHOLD would switch that adjustment off
 * for good: a `ckpt run` supervisor would keep a fixed threshold for the
 * rest of its life.  What stays after the dump is what glibc would have
 * after any program's free of such a block: both thresholds raised.
 *
 * M_ARENA_MAX cannot be put back: glibc (2.36, arena.c arena_get2) takes
 * the limit once, at the first thread that looks for an arena of its
 * own, and keeps it; mallopt ignores 0.  So later dumps' threads share
 * the one arena too (performance only; what they do in the pause is warm).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/uapi-compat.h"
#include "common/util.h"

#define MMAP_MAX	(32 << 20)	/* DEFAULT_MMAP_THRESHOLD_MAX, 64-bit */
/* What a huge job gets at most: under MMAP_MAX, as a bigger block never
 * raises the threshold: it stays an mmap that free() unmaps, leaving
 * nothing warm. */
#define WARM_MAX	((size_t)MMAP_MAX - (1u << 20))

static int warm;

void heap_warm(size_t bytes)
{
	uintptr_t lo, hi, ps = (uintptr_t)getpagesize();
	void *volatile once;
	char *p;

	bytes = MIN(bytes, (size_t)WARM_MAX);
	if (!bytes)
		return;
	/* Set before our other threads start: they share this arena. */
	mallopt(M_ARENA_MAX, 1);
	warm = 1;
	/* An mmap of its own, untouched, whose free raises the thresholds
	 * (or heap already, when an earlier free raised them); volatile, as
	 * the compiler may drop a malloc whose block nothing uses. */
	once = malloc(bytes);
	free(once);
	if (!(p = malloc(bytes)))
		return;
	/* One call for every page (Linux 5.14), else a write to each. */
	lo = ((uintptr_t)p + ps - 1) & ~(ps - 1);
	hi = ((uintptr_t)p + bytes) & ~(ps - 1);
	if (hi <= lo || madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) < 0)
		memset(p, 0, bytes);
	free(p);
}

void heap_cool(void)
{
	if (!warm)
		return;
	/* The pages back: the trim threshold, twice the block, would keep
	 * them otherwise. */
	malloc_trim(0);
	warm = 0;
}
