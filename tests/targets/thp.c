/*
 * Transparent huge pages through a dump and a restore (restore/thp.h):
 * 64 MiB advised MADV_HUGEPAGE and written whole, which the kernel backs
 * with huge pages; 8 MiB that had huge pages when it was advised
 * MADV_NOHUGEPAGE (they stay until split); 8 MiB written with no advice.
 * Before READY it prints each one's AnonHugePages ("huge before: ...",
 * stderr; "no huge pages here" when the 64 MiB got none: the test skips).
 * After GO (argument "wait": polling up to 60 s, for a lazy restore that
 * collapses once every page is in) the 64 MiB has huge pages again, the
 * NOHUGEPAGE one has none, the unadvised one has none if it had none, and
 * every byte of the three is as written.
 */
#include "target.h"
#include "mem.h"

enum { HUGE, NOHUGE, PLAIN, NREG };

static const struct {
	const char *name;
	unsigned long mib;
} reg[NREG] = { { "MADV_HUGEPAGE", 64 }, { "MADV_NOHUGEPAGE", 8 }, { "no advice", 8 } };

static long huge_kib(const void *addr)
{
	return smaps_kib(addr, "AnonHugePages");
}

/* len bytes at an address aligned to 2 MiB (a huge page on x86-64 and
 * arm64 with 4 KiB pages); NULL on failure. */
static unsigned char *map_aligned(unsigned long len)
{
	const unsigned long hs = 2ul << 20;
	unsigned char *m = mmap(NULL, len + hs, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long a;

	if (m == MAP_FAILED)
		return NULL;
	a = ((unsigned long)m + hs - 1) & ~(hs - 1);
	if (a > (unsigned long)m)
		munmap(m, a - (unsigned long)m);
	munmap((unsigned char *)a + len, (unsigned long)m + hs - a);
	return (unsigned char *)a;
}

int main(int argc, char **argv)
{
	unsigned char *r[NREG];
	long before[NREG], after[NREG];
	int wait = argc > 1 && !strcmp(argv[1], "wait");

	for (int i = 0; i < NREG; i++) {
		unsigned long len = reg[i].mib << 20;

		if (!(r[i] = map_aligned(len))) {
			target_fail("%s: mmap: %s", reg[i].name, strerror(errno));
			return target_exit();
		}
		if (i != PLAIN && madvise(r[i], len, MADV_HUGEPAGE) < 0)
			fprintf(stderr, "%s: madvise: %s\n", reg[i].name, strerror(errno));
		pat_fill(r[i], len, 1000 + (uint64_t)i);
		if (i == NOHUGE)
			madvise(r[i], len, MADV_NOHUGEPAGE);
		before[i] = huge_kib(r[i]);
	}
	fprintf(stderr, "huge before: %ld %ld %ld KiB\n", before[HUGE], before[NOHUGE], before[PLAIN]);
	if (before[HUGE] <= 0)
		fprintf(stderr, "no huge pages here\n");
	target_wait();

	for (int t = 0; wait && t < 1200 && huge_kib(r[HUGE]) <= 0; t++)
		target_sleep_ms(50);
	for (int i = 0; i < NREG; i++)
		after[i] = huge_kib(r[i]);
	fprintf(stderr, "huge after: %ld %ld %ld KiB\n", after[HUGE], after[NOHUGE], after[PLAIN]);
	CHECK(before[HUGE] <= 0 || after[HUGE] > 0,
	      "%s: %ld KiB of huge pages before the dump, none after restore", reg[HUGE].name,
	      before[HUGE]);
	CHECK(after[NOHUGE] == 0, "%s: %ld KiB of huge pages after restore", reg[NOHUGE].name,
	      after[NOHUGE]);
	CHECK(before[PLAIN] != 0 || after[PLAIN] == 0,
	      "%s: no huge pages before the dump, %ld KiB after restore", reg[PLAIN].name,
	      after[PLAIN]);
	for (int i = 0; i < NREG; i++) {
		long bad = pat_check(r[i], reg[i].mib << 20, 1000 + (uint64_t)i);

		CHECK(bad < 0, "%s: word %ld differs after restore", reg[i].name, bad);
	}
	return target_exit();
}
