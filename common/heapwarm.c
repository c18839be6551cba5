/*
 * A heap whose pages are in memory before a dump freezes the job.
 *
 * What a dump allocates while the job is frozen grows with its threads
 * (each one's register sets, a trip's frames and the stack bytes they
 * cover, its part of the image's metadata): with 1,000 threads some 3,800
 * page faults of fresh heap, each a zeroed page, in the pause.  Where the
 * host hands memory back lazily (a VM with free page reporting, as here)
 * a first touch costs some 10 us; the faults were a third of the pause.
 * So the heap is made to keep what it is given (no trimming, no mmap for
 * a block under 32 MiB, one arena for every thread of ours), and that
 * much is touched before the freeze, when it costs the job nothing.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/uapi-compat.h"
#include "common/util.h"

#define MMAP_MAX	(32 << 20)	/* glibc's largest M_MMAP_THRESHOLD */
/* What a huge job gets at most: under MMAP_MAX, as a bigger block would
 * be an mmap that free() unmaps, leaving nothing warm. */
#define WARM_MAX	((size_t)MMAP_MAX - (1u << 20))

static int warm;

void heap_warm(size_t bytes)
{
	uintptr_t lo, hi, ps = (uintptr_t)getpagesize();
	char *p;

	bytes = MIN(bytes, (size_t)WARM_MAX);
	if (!bytes)
		return;
	/* Set before our other threads start: they share this arena. */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, MMAP_MAX);
	mallopt(M_TRIM_THRESHOLD, (int)(WARM_MAX * 2));
	warm = 1;
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
	/* glibc's defaults (malloc(3)); trimming gives the pages back.
	 * M_ARENA_MAX stays: mallopt takes no 0 ("as many as CPUs"). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	malloc_trim(0);
	warm = 0;
}
