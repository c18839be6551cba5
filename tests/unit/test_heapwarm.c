/*
 * common/heapwarm.c: the block heap_warm() touches is heap (not an mmap
 * that free() unmaps), and heap_cool() leaves glibc's dynamic mmap
 * threshold working, as a `ckpt run` supervisor goes on allocating for
 * the rest of its life.  Each test runs in its own child, a fresh heap.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "harness.h"

/* Blocks that are mmaps of their own, now. */
static size_t mmapped(void)
{
	return mallinfo2().hblks;
}

TEST(warmed_block_stays_in_the_heap)
{
	size_t before;
	char *p;

	heap_warm(8 << 20);
	/* The dump's allocations in the pause: heap, the warm pages. */
	before = mmapped();
	p = malloc(6 << 20);
	ASSERT_TRUE(p != NULL);
	memset(p, 1, 6 << 20);
	ASSERT_EQ(before, mmapped());
	ASSERT_TRUE(mallinfo2().arena >= (size_t)(8 << 20));
	free(p);
	heap_cool();
}

TEST(threshold_stays_dynamic_after_cool)
{
	size_t before;
	char *p;

	heap_warm(8 << 20);
	heap_cool();
	/* Above the warm size: an mmap of its own, whose free raises the
	 * threshold (malloc(3))... */
	before = mmapped();
	p = malloc(16 << 20);
	ASSERT_TRUE(p != NULL);
	ASSERT_EQ(before + 1, mmapped());
	free(p);
	/* ...so the same size comes from the heap next: unless a mallopt
	 * of a threshold switched the adjustment off. */
	p = malloc(16 << 20);
	ASSERT_TRUE(p != NULL);
	ASSERT_EQ(before, mmapped());
	free(p);
}

TEST_HARNESS_MAIN
