/*
 * dump --snapshot moves each mapping aside to a shadow at the same offset
 * in its page tables' blocks (a PMD, 2 MiB; a PUD, 1 GiB: the kernel then
 * moves whole tables, not entry by entry).  The mappings here start and
 * end anywhere in those blocks: one off a PMD boundary with nothing below
 * it in its PMD (the kernel may move its first, partial PMD whole), one
 * with a small mapping below it in the same PMD (it may not), one smaller
 * than a PMD across a boundary, one inside a PMD, one on PMD boundaries,
 * and one 1 GiB + 12 MiB long, off a PMD boundary, that covers a whole
 * PUD (sparsely written: one page in every 256 KiB but its first and last
 * 8 MiB, which are written whole).  Each written page holds its own
 * pattern.
 *
 * It prints "region NAME START END" for each (hex) on stdout, then READY;
 * until GO it reads every written page again and again (during a
 * --snapshot dump: faults served from the shadows), counting the wrong
 * ones; after GO it checks every written page and, one word every
 * 64 KiB, that the pages never written read as zeros: the verdict is its
 * exit status (after GO it writes nothing: its output is in the image).
 */
#include <stdint.h>
#include <sys/mman.h>

#include "target.h"
#include "mem.h"

struct region {
	const char *name;
	uint64_t off, len;	/* from the 1 GiB boundary picked */
	int sparse;
	uint8_t *p;
};

static size_t ps;
static uint64_t pmd;

/* Is page i of r written (sparse: the first and last 8 MiB, and one
 * page in every 256 KiB)? */
static int written(const struct region *r, uint64_t i)
{
	uint64_t o = i * ps;

	return !r->sparse || o < (8u << 20) || o >= r->len - (8u << 20) || o % (256u << 10) == 0;
}

static uint64_t seed(const struct region *r, uint64_t i)
{
	return (uint64_t)(uintptr_t)r->p + i;
}

/* The wrong pages of r: written ones not their pattern (quick: its first
 * and last word only); all: also a word every 64 KiB of the others not
 * zero. */
static uint64_t check(const struct region *r, int all)
{
	uint64_t wrong = 0, w = ps / 8;

	for (uint64_t i = 0; i < r->len / ps; i++) {
		const volatile uint64_t *pg = (const volatile uint64_t *)(r->p + i * ps);

		if (written(r, i)) {
			if (all ? pat_check((const void *)pg, ps, seed(r, i)) >= 0 :
				  pg[0] != pat64(seed(r, i), 0) || pg[w - 1] != pat64(seed(r, i), w - 1))
				wrong++;
		} else if (all && (i * ps) % (64u << 10) == 0 && pg[0]) {
			wrong++;
		}
	}
	return wrong;
}

int main(void)
{
	struct region r[] = {
		{ "misaligned", 3, 1280 + 5, 0, NULL },
		{ "neighbour-below", 0, 0, 0, NULL },	/* set below: PMD-relative */
		{ "small-across", 0, 0, 0, NULL },
		{ "small-inside", 0, 0, 0, NULL },
		{ "pmd-aligned", 0, 0, 0, NULL },
		{ "covers-a-pud", 0, 0, 1, NULL },
		{ "below-neighbour", 0, 0, 0, NULL },	/* the small one under neighbour-below */
	};
	size_t n = sizeof(r) / sizeof(r[0]);
	uint64_t pud, base, bad = 0;
	uint8_t *res;

	ps = (size_t)sysconf(_SC_PAGESIZE);
	pmd = ps * (ps / 8);
	pud = pmd * (ps / 8);
	/* In pages: 3 pages into the block, 5 PMDs and 5 pages long. */
	r[0].off = 3 * ps;
	r[0].len = 5 * pmd + 5 * ps;
	/* A 16-page mapping at a PMD's start, then one from its 32nd page
	 * across 1.5 PMDs. */
	r[6].off = 8 * pmd;
	r[6].len = 16 * ps;
	r[1].off = 8 * pmd + 32 * ps;
	r[1].len = pmd + pmd / 2;
	r[2].off = 16 * pmd - pmd / 4;
	r[2].len = pmd / 2;
	r[3].off = 20 * pmd + 16 * ps;
	r[3].len = pmd / 4;
	r[4].off = 24 * pmd;
	r[4].len = 3 * pmd;
	r[5].off = pud - 3 * pmd - 3 * ps;
	r[5].len = pud + 6 * pmd + 7 * ps;
	/* A 1 GiB boundary with room above for all of it, then each mapped
	 * there alone (nothing else near: the reservation is given back). */
	res = mmap(NULL, 3 * pud, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) {
		target_fail("mmap of the reservation: %s", strerror(errno));
		return target_exit();
	}
	base = ((uint64_t)(uintptr_t)res + pud - 1) & ~(pud - 1);
	munmap(res, 3 * pud);
	for (size_t k = 0; k < n; k++) {
		void *want = (void *)(uintptr_t)(base + r[k].off);

		r[k].p = mmap(want, r[k].len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (r[k].p != want) {
			target_fail("mmap of %s at %p: %s", r[k].name, want, strerror(errno));
			return target_exit();
		}
		/* small pages: the moves this checks are of page tables */
		madvise(r[k].p, r[k].len, MADV_NOHUGEPAGE);
		for (uint64_t i = 0; i < r[k].len / ps; i++)
			if (written(&r[k], i))
				pat_fill(r[k].p + i * ps, ps, seed(&r[k], i));
		printf("region %s %#lx %#lx\n", r[k].name, (unsigned long)(uintptr_t)r[k].p,
		       (unsigned long)((uintptr_t)r[k].p + r[k].len));
	}
	fflush(stdout);
	target_ready();
	while (!target_go()) {
		for (size_t k = 0; k < n; k++)
			bad += check(&r[k], 0);
		target_sleep_ms(2);
	}
	CHECK(bad == 0, "%lu wrong pages read while it waited", (unsigned long)bad);
	for (size_t k = 0; k < n; k++) {
		uint64_t w = check(&r[k], 1);

		CHECK(w == 0, "%s (%p, %#lx bytes): %lu wrong pages", r[k].name, (void *)r[k].p,
		      (unsigned long)r[k].len, (unsigned long)w);
	}
	return target_exit();
}
