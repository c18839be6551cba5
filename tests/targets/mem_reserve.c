/*
 * A huge reservation with little touched, as big jobs make them (a JVM
 * heap, an arena reserved up front): N GiB (argument, 16 by default)
 * mapped MAP_NORESERVE, one page written in every 64 MiB plus 1 MiB in
 * one piece.  After restore the written pages hold their pattern, pages
 * around them read as zero, the reservation is whole and writable, and
 * the process's resident memory is no more than before the dump: restore
 * did not fill in what was never touched.
 */
#include "target.h"
#include "mem.h"

#define PAGE	4096ul
#define STRIDE	(64ul << 20)
#define BLOCK	(1ul << 20)

/* VmRSS in KiB, from /proc/self/status. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	unsigned long gib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16, len = gib << 30;
	unsigned char *r;
	struct map_line m;
	long bad, rss, before;

	r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (r == MAP_FAILED) {
		target_fail("mmap of %lu GiB: %s", gib, strerror(errno));
		return target_exit();
	}
	/* Pages at odd offsets in each stride, so nothing is aligned. */
	for (unsigned long off = 0; off < len; off += STRIDE)
		pat_fill(r + off + (off / STRIDE % 13) * PAGE, PAGE, off);
	pat_fill(r + len / 2 + STRIDE / 2, BLOCK, 1);
	/* As resident as before the dump, which is little, unless the kernel
	 * gives huge pages unasked (THP "always", as Debian's): then each page
	 * written took 2 MiB, before as after (mem_thp.c tests the advice). */
	before = rss_kib();
	target_wait();

	rss = rss_kib();
	CHECK(rss >= 0 && rss < before + (16l << 10),
	      "resident memory after restore is %ld KiB, %ld KiB before the dump", rss, before);
	CHECK(rss < (256l << 10) || before >= (256l << 10),
	      "resident memory after restore is %ld KiB", rss);
	for (unsigned long off = 0; off < len; off += STRIDE) {
		unsigned long pg = off + (off / STRIDE % 13) * PAGE;

		bad = pat_check(r + pg, PAGE, off);
		if (bad >= 0) {
			target_fail("page at +%#lx, word %ld differs", pg, bad);
			break;
		}
		/* Its neighbours were never touched. */
		if (pg >= PAGE && (bad = first_nonzero(r + pg - PAGE, PAGE)) >= 0) {
			target_fail("byte at +%#lx is not zero", pg - PAGE + bad);
			break;
		}
		if ((bad = first_nonzero(r + pg + PAGE, PAGE)) >= 0) {
			target_fail("byte at +%#lx is not zero", pg + PAGE + bad);
			break;
		}
	}
	bad = pat_check(r + len / 2 + STRIDE / 2, BLOCK, 1);
	CHECK(bad < 0, "the 1 MiB block: word %ld differs", bad);
	CHECK(map_find(r, &m) == 0 && m.start == (unsigned long)r && m.end - m.start == len,
	      "the reservation is not one mapping of %lu GiB any more", gib);
	CHECK(!strcmp(map_perms(r), "rw-p"), "reservation is %s, want rw-p", map_perms(r));
	r[len - 1] = 1;
	r[0] = 2;
	CHECK(r[len - 1] == 1 && r[0] == 2, "writes to the reservation did not stick");
	return target_exit();
}
