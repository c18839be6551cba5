/*
 * Protections: one 8-page mapping split by mprotect into read-only,
 * read-write, PROT_NONE-with-data, read-only and PROT_NONE-never-written
 * parts, plus a separate PROT_NONE reservation and a read+exec page.
 * After restore /proc/self/maps must show the same ranges and perms, the
 * read-only pages must still hold their data and fault on write, the
 * PROT_NONE ones fault on read, and once made readable again the one
 * that had data must show it.
 */
#include "target.h"
#include "mem.h"

#define PAGE	4096ul
#define NPAGES	8

/* Pages of the split mapping: what each becomes and whether it has data. */
static const struct {
	int prot;
	int data;
} layout[NPAGES] = {
	{ PROT_READ, 1 },			/* read-only with data */
	{ PROT_READ, 1 },
	{ PROT_READ | PROT_WRITE, 1 },		/* ordinary */
	{ PROT_NONE, 1 },			/* data, then locked away */
	{ PROT_NONE, 1 },
	{ PROT_READ, 0 },			/* read-only zero page */
	{ PROT_NONE, 0 },			/* never written */
	{ PROT_READ | PROT_WRITE, 0 },
};

struct region {
	const char *name;
	unsigned char *addr;
	struct map_line before;
};

static void just_return(void)
{
}

int main(void)
{
	struct map_line pages_before[NPAGES];
	struct region r[2];
	unsigned char *split, *resv, *rx;
	int nr = 0;

	split = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	resv = mmap(NULL, 32 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rx = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (split == MAP_FAILED || resv == MAP_FAILED || rx == MAP_FAILED) {
		target_fail("mmap: %s", strerror(errno));
		return target_exit();
	}
	for (int i = 0; i < NPAGES; i++)
		if (layout[i].data)
			pat_fill(split + i * PAGE, PAGE, 10 + i);
	for (int i = 0; i < NPAGES; i++)
		if (mprotect(split + i * PAGE, PAGE, layout[i].prot) < 0)
			target_fail("mprotect page %d: %s", i, strerror(errno));
	/* Code the process could run, on any arch: a copy of a function
	 * that returns at once. */
	memcpy(rx, (const void *)just_return, 16);
	__builtin___clear_cache((char *)rx, (char *)rx + 16);
	mprotect(rx, PAGE, PROT_READ | PROT_EXEC);

	/* Remember each VMA's line in /proc/self/maps. */
	r[nr++] = (struct region){ "reservation", resv, { 0 } };
	r[nr++] = (struct region){ "r-x page", rx, { 0 } };
	for (int i = 0; i < NPAGES; i++)
		map_find(split + i * PAGE, &pages_before[i]);
	for (int i = 0; i < nr; i++)
		map_find(r[i].addr, &r[i].before);
	if (target_failures)
		return target_exit();
	target_wait();

	for (int i = 0; i < NPAGES; i++) {
		struct map_line now;
		unsigned char *p = split + i * PAGE;

		if (map_find(p, &now) < 0) {
			target_fail("page %d (%p) is not mapped", i, (void *)p);
			continue;
		}
		CHECK(now.start == pages_before[i].start && now.end == pages_before[i].end &&
		      !strcmp(now.perms, pages_before[i].perms),
		      "page %d: maps has %lx-%lx %s, had %lx-%lx %s", i, now.start, now.end, now.perms,
		      pages_before[i].start, pages_before[i].end, pages_before[i].perms);
		CHECK(probe(p, 0) == !!(layout[i].prot & PROT_READ), "page %d: read %s", i,
		      probe(p, 0) ? "works, should fault" : "faults, should work");
		CHECK(probe(p + 100, 1) == !!(layout[i].prot & PROT_WRITE), "page %d: write %s", i,
		      probe(p + 100, 1) ? "works, should fault" : "faults, should work");
	}
	for (int i = 0; i < NPAGES; i++) {
		unsigned char *p = split + i * PAGE;
		long bad;

		/* Open up to look at the contents. */
		if (mprotect(p, PAGE, PROT_READ) < 0) {
			target_fail("page %d: mprotect after restore: %s", i, strerror(errno));
			continue;
		}
		bad = layout[i].data ? pat_check(p, PAGE, 10 + i) : first_nonzero(p, PAGE);
		CHECK(bad < 0, "page %d: %s at %ld", i, layout[i].data ? "pattern differs" : "not zero",
		      bad);
	}
	for (int i = 0; i < nr; i++) {
		struct map_line now;

		if (map_find(r[i].addr, &now) < 0) {
			target_fail("%s (%p) is not mapped", r[i].name, (void *)r[i].addr);
			continue;
		}
		CHECK(now.start == r[i].before.start && now.end == r[i].before.end &&
		      !strcmp(now.perms, r[i].before.perms),
		      "%s: maps has %lx-%lx %s, had %lx-%lx %s", r[i].name, now.start, now.end,
		      now.perms, r[i].before.start, r[i].before.end, r[i].before.perms);
	}
	CHECK(!probe(resv + 5 * PAGE, 0), "reservation: read works, should fault");
	if (mprotect(resv, 32 * PAGE, PROT_READ | PROT_WRITE) == 0) {
		long bad = first_nonzero(resv, 32 * PAGE);

		CHECK(bad < 0, "reservation: byte %ld is not zero", bad);
		resv[7 * PAGE] = 1;
	} else {
		target_fail("reservation: mprotect after restore: %s", strerror(errno));
	}
	CHECK(!probe(rx, 1), "r-x page: write works, should fault");
	((void (*)(void))rx)();		/* returns at once, or faults */
	return target_exit();
}
