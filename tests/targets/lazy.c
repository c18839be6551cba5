/*
 * Memory that a lazy restore fills while the process already runs: right
 * after GO, while pages are still coming in, the process moves a region
 * (mremap), drops one (MADV_DONTNEED: it must then read zero), unmaps one,
 * forks a child that checks every page it still has, and starts threads
 * that read every page at once, each in its own order, and check it.
 * Page i of the region holds pattern(i): a page restored from the wrong
 * place, late, or as zeros shows.
 * argv[1]: MiB, a power of two (default 32); argv[2]: threads (default 8).
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

#define PAGE 4096
#define WORDS (PAGE / 8)

static uint8_t *mem;
static size_t npages, nthreads;
static volatile int bad;

static uint64_t pattern(size_t page, size_t w)
{
	return (page + 1) * 0x9e3779b97f4a7c15ull ^ (w * 0xc2b2ae3d27d4eb4full);
}

static int page_ok(const uint8_t *p, size_t page)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t w = 0; w < WORDS; w++)
		if (q[w] != pattern(page, w))
			return 0;
	return 1;
}

static int page_zero(const uint8_t *p)
{
	for (size_t i = 0; i < PAGE; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The regions the main thread changes (page ranges of mem). */
#define MOVED_AT(n)	((n) / 8)		/* 1/16 of the pages, moved */
#define MOVED_LEN(n)	((n) / 16)
#define DROPPED_AT(n)	((n) / 4)		/* 1/16, MADV_DONTNEED */
#define DROPPED_LEN(n)	((n) / 16)
#define UNMAPPED_AT(n)	((n) / 2)		/* 1/16, unmapped */
#define UNMAPPED_LEN(n)	((n) / 16)

static uint8_t *moved;

static int in(size_t i, size_t at, size_t len)
{
	return i >= at && i < at + len;
}

/* Where page i is now, or NULL when it is gone; *zero if it must read 0. */
static const uint8_t *where(size_t i, int *zero)
{
	*zero = in(i, DROPPED_AT(npages), DROPPED_LEN(npages));
	if (in(i, UNMAPPED_AT(npages), UNMAPPED_LEN(npages)))
		return NULL;
	if (in(i, MOVED_AT(npages), MOVED_LEN(npages)))
		return moved + (i - MOVED_AT(npages)) * PAGE;
	return mem + i * PAGE;
}

static void check_all(size_t start, size_t step)
{
	for (size_t k = 0; k < npages; k++) {
		size_t i = (start + k * step) % npages;
		int zero;
		const uint8_t *p = where(i, &zero);

		if (!p)
			continue;
		if (zero ? !page_zero(p) : !page_ok(p, i)) {
			if (bad++ < 5)
				target_fail("page %zu (%s) is wrong: first word %#lx", i,
					    zero ? "dropped, must be zero" : "data",
					    (unsigned long)*(const uint64_t *)p);
		}
	}
}

static void *reader(void *arg)
{
	size_t t = (size_t)arg;

	/* Each thread its own order: strides coprime to npages. */
	check_all(t * 7919, 2 * t + 1);
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
	pthread_t th[64];
	pid_t child;
	int st;

	nthreads = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
	if (nthreads > 64)
		nthreads = 64;
	npages = (mib << 20) / PAGE;
	/* a power of two: every odd stride visits every page */
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i++)
		for (size_t w = 0; w < WORDS; w++)
			((uint64_t *)(mem + i * PAGE))[w] = pattern(i, w);
	target_wait();

	/* Right away: the lazy fill has hardly begun. */
	moved = mmap(NULL, MOVED_LEN(npages) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(moved != MAP_FAILED, "mmap failed");
	moved = mremap(mem + MOVED_AT(npages) * PAGE, MOVED_LEN(npages) * PAGE,
		       MOVED_LEN(npages) * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, moved);
	CHECK(moved != MAP_FAILED, "mremap failed");
	CHECK(madvise(mem + DROPPED_AT(npages) * PAGE, DROPPED_LEN(npages) * PAGE, MADV_DONTNEED) == 0,
	      "madvise failed");
	CHECK(munmap(mem + UNMAPPED_AT(npages) * PAGE, UNMAPPED_LEN(npages) * PAGE) == 0,
	      "munmap failed");
	child = fork();
	if (child == 0) {
		check_all(0, 1);
		_exit(bad ? 1 : 0);
	}
	CHECK(child > 0, "fork failed");
	for (size_t t = 0; t < nthreads; t++)
		CHECK(pthread_create(&th[t], NULL, reader, (void *)t) == 0, "pthread_create failed");
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	CHECK(child <= 0 || (waitpid(child, &st, 0) == child && WIFEXITED(st) && !WEXITSTATUS(st)),
	      "the forked child found wrong pages");
	CHECK(!bad, "%d pages wrong", bad);
	return target_exit();
}
