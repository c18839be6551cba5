/*
 * Transparent huge pages and the advice about them, where little is
 * written: two mappings of 16 huge pages' worth, aligned to a huge page,
 * one advised MADV_NOHUGEPAGE and one MADV_HUGEPAGE, one small page
 * written in every huge page's worth of each.  After restore the data is
 * there and the pages around it read as zero; the NOHUGEPAGE mapping has
 * no huge page and only the pages written resident (on a kernel with THP
 * "always" a fill before the advice gives it 2 MiB for each page
 * written); the HUGEPAGE one, if it had huge pages, has them again (a
 * fill before the advice leaves it small pages).  Both print their
 * AnonHugePages before and after (stderr).
 */
#include "target.h"
#include "mem.h"

#define NHUGE	16

struct region {
	const char *name;
	int advice;
	unsigned char *addr;
	long huge_kib, rss_kib;	/* before the dump */
};

/* The PMD huge page size, 0 without THP (CONFIG_TRANSPARENT_HUGEPAGE). */
static unsigned long huge_size(void)
{
	unsigned long sz = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");

	if (f && fscanf(f, "%lu", &sz) != 1)
		sz = 0;
	if (f)
		fclose(f);
	return sz;
}

int main(void)
{
	struct region r[] = {
		{ "MADV_NOHUGEPAGE", MADV_NOHUGEPAGE, NULL, 0, 0 },
		{ "MADV_HUGEPAGE", MADV_HUGEPAGE, NULL, 0, 0 },
	};
	const unsigned long ps = (unsigned long)sysconf(_SC_PAGESIZE);
	unsigned long hs = huge_size(), len;

	if (!hs) {
		fprintf(stderr, "no transparent huge pages here: data only\n");
		hs = 2ul << 20;
	}
	len = NHUGE * hs;
	for (int i = 0; i < 2; i++) {
		/* Aligned to a huge page: map one more and cut. */
		unsigned char *m = mmap(NULL, len + hs, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned long a;

		if (m == MAP_FAILED) {
			target_fail("%s: mmap: %s", r[i].name, strerror(errno));
			return target_exit();
		}
		a = ((unsigned long)m + hs - 1) & ~(hs - 1);
		if (a > (unsigned long)m)
			munmap(m, a - (unsigned long)m);
		munmap((unsigned char *)a + len, (unsigned long)m + hs - a);
		r[i].addr = (unsigned char *)a;
		if (madvise(r[i].addr, len, r[i].advice) < 0) {
			target_fail("%s: %s", r[i].name, strerror(errno));
			return target_exit();
		}
		/* One page at an odd offset in each huge page's worth. */
		for (unsigned long k = 0; k < NHUGE; k++)
			pat_fill(r[i].addr + k * hs + (k % 7 + 1) * ps, ps, k + 100 * (unsigned long)i);
		r[i].huge_kib = smaps_kib(r[i].addr, "AnonHugePages");
		r[i].rss_kib = smaps_kib(r[i].addr, "Rss");
	}
	target_wait();

	for (int i = 0; i < 2; i++) {
		long huge = smaps_kib(r[i].addr, "AnonHugePages"), rss = smaps_kib(r[i].addr, "Rss");

		fprintf(stderr, "%s: AnonHugePages %ld KiB before, %ld after; Rss %ld KiB before, %ld after\n",
			r[i].name, r[i].huge_kib, huge, r[i].rss_kib, rss);
		for (unsigned long k = 0; k < NHUGE; k++) {
			unsigned char *pg = r[i].addr + k * hs + (k % 7 + 1) * ps;
			long bad = pat_check(pg, ps, k + 100 * (unsigned long)i);

			if (bad >= 0 || (bad = first_nonzero(pg - ps, ps)) >= 0 ||
			    (bad = first_nonzero(pg + ps, ps)) >= 0) {
				target_fail("%s: page at +%#lx or a neighbour: word or byte %ld differs",
					    r[i].name, (unsigned long)(pg - r[i].addr), bad);
				break;
			}
		}
		if (r[i].advice == MADV_NOHUGEPAGE) {
			CHECK(huge == 0, "%s: %ld KiB of huge pages after restore", r[i].name, huge);
			/* Only the pages written (and read back above: their
			 * neighbours read as the zero page). */
			CHECK(rss >= 0 && (unsigned long)rss <= NHUGE * ps / 1024,
			      "%s: %ld KiB resident after restore, %lu KiB written", r[i].name, rss,
			      NHUGE * ps / 1024);
		} else {
			CHECK(r[i].huge_kib <= 0 || huge > 0,
			      "%s: %ld KiB of huge pages before the dump, none after restore", r[i].name,
			      r[i].huge_kib);
		}
	}
	return target_exit();
}
