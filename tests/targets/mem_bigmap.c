/*
 * Large anonymous mappings: 64 MiB touched sparsely (one page in every
 * 256 KiB gets a pattern, the rest stays untouched) and 16 MiB never
 * touched at all.  After restore the touched pages hold their pattern,
 * every other byte of both reads as zero, and both are still writable.
 * The bats test also checks that the untouched memory did not go into
 * the image.
 */
#include "target.h"
#include "mem.h"

#define BIG	(64ul << 20)
#define EMPTY	(16ul << 20)
#define STRIDE	(256ul << 10)
#define PAGE	4096ul

int main(void)
{
	unsigned char *big, *empty;
	long bad;

	big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	empty = mmap(NULL, EMPTY, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED || empty == MAP_FAILED) {
		target_fail("mmap: %s", strerror(errno));
		return target_exit();
	}
	/* Pages at odd offsets in each stride, so runs are not aligned. */
	for (unsigned long off = 0; off < BIG; off += STRIDE)
		pat_fill(big + off + (off / STRIDE % 7) * PAGE, PAGE, off);
	target_wait();

	for (unsigned long off = 0; off < BIG; off += STRIDE) {
		unsigned long pg = off + (off / STRIDE % 7) * PAGE;
		long z1, z2;

		bad = pat_check(big + pg, PAGE, off);
		/* The rest of the stride was never touched: zero. */
		z1 = first_nonzero(big + off, pg - off);
		z2 = first_nonzero(big + pg + PAGE, off + STRIDE - pg - PAGE);
		if (bad >= 0 || z1 >= 0 || z2 >= 0) {
			/* One report is enough; the next strides are likely the same. */
			CHECK(bad < 0, "big mapping: page at +%#lx, word %ld differs", pg, bad);
			CHECK(z1 < 0, "big mapping: byte at +%#lx is not zero", off + z1);
			CHECK(z2 < 0, "big mapping: byte at +%#lx is not zero", pg + PAGE + z2);
			break;
		}
	}
	bad = first_nonzero(empty, EMPTY);
	CHECK(bad < 0, "untouched mapping: byte at +%#lx is not zero", bad);
	CHECK(!strcmp(map_perms(big), "rw-p"), "big mapping is %s, want rw-p", map_perms(big));
	CHECK(!strcmp(map_perms(empty), "rw-p"), "untouched mapping is %s, want rw-p",
	      map_perms(empty));
	/* Writable everywhere, and what is written stays. */
	for (unsigned long off = 0; off < EMPTY; off += PAGE)
		empty[off + off / PAGE % PAGE] = (unsigned char)(off / PAGE | 1);
	for (unsigned long off = 0; off < EMPTY; off += PAGE)
		if (empty[off + off / PAGE % PAGE] != (unsigned char)(off / PAGE | 1)) {
			target_fail("untouched mapping: write at +%#lx did not stick", off);
			break;
		}
	for (unsigned long off = 0; off < BIG; off += 16 * PAGE)
		big[off + 8] ^= 0xff;
	for (unsigned long off = 0; off < BIG; off += 16 * PAGE)
		big[off + 8] ^= 0xff;
	for (unsigned long off = 0; off < BIG; off += STRIDE) {
		unsigned long pg = off + (off / STRIDE % 7) * PAGE;

		if (pat_check(big + pg, PAGE, off) >= 0) {
			target_fail("big mapping: page +%#lx changed by writes", pg);
			break;
		}
	}
	return target_exit();
}
