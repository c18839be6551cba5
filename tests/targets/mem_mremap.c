/*
 * mremap: a 1 MiB region with a pattern moved with MREMAP_MAYMOVE |
 * MREMAP_FIXED into the middle of a PROT_NONE reservation and grown to
 * 3 MiB there (the grown part gets a second pattern in places); a second
 * region shrunk in place.  After restore the data is at the new address,
 * the old one is unmapped, and the rest of the reservation is still
 * PROT_NONE around it.
 */
#include "target.h"
#include "mem.h"

#define MIB	(1ul << 20)
#define PAGE	4096ul

int main(void)
{
	unsigned char *old, *resv, *dst, *moved, *shrunk, *again;
	struct map_line ml;
	long bad;

	old = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	resv = mmap(NULL, 8 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shrunk = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (old == MAP_FAILED || resv == MAP_FAILED || shrunk == MAP_FAILED) {
		target_fail("mmap: %s", strerror(errno));
		return target_exit();
	}
	pat_fill(old, MIB, 1);
	pat_fill(shrunk, 4 * MIB, 3);
	dst = resv + 2 * MIB + 5 * PAGE;
	moved = mremap(old, MIB, 3 * MIB, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (moved != dst) {
		target_fail("mremap to %p: %s", (void *)dst, strerror(errno));
		return target_exit();
	}
	for (unsigned long off = MIB; off < 3 * MIB; off += 64 * PAGE)
		pat_fill(moved + off, PAGE, 1000 + off);
	if (mremap(shrunk, 4 * MIB, MIB + 3 * PAGE, 0) != shrunk) {
		target_fail("mremap shrink: %s", strerror(errno));
		return target_exit();
	}
	target_wait();

	bad = pat_check(moved, MIB, 1);
	CHECK(bad < 0, "moved region: word %ld of the first MiB differs", bad);
	for (unsigned long off = MIB; off < 3 * MIB; off += 64 * PAGE) {
		bad = pat_check(moved + off, PAGE, 1000 + off);
		if (bad < 0)
			bad = first_nonzero(moved + off + PAGE, 63 * PAGE);
		if (bad >= 0) {
			target_fail("moved region: grown part at +%#lx differs", off);
			break;
		}
	}
	if (map_find(moved, &ml) < 0)
		target_fail("moved region %p is not mapped", (void *)moved);
	else
		CHECK(ml.start == (unsigned long)moved && ml.end == (unsigned long)moved + 3 * MIB &&
		      !strcmp(ml.perms, "rw-p"), "moved region is %lx-%lx %s, want %p-%p rw-p",
		      ml.start, ml.end, ml.perms, (void *)moved, (void *)(moved + 3 * MIB));
	CHECK(map_find(old, &ml) < 0 || (ml.start >= (unsigned long)old + MIB ||
					 ml.end <= (unsigned long)old),
	      "the old address %p is mapped again (%lx-%lx)", (void *)old, ml.start, ml.end);
	CHECK(!strcmp(map_perms(resv), "---p") && !strcmp(map_perms(moved - 1), "---p") &&
	      !strcmp(map_perms(moved + 3 * MIB), "---p") &&
	      !strcmp(map_perms(resv + 8 * MIB - 1), "---p"),
	      "the reservation around the moved region is not PROT_NONE any more");
	CHECK(!probe(moved - 1, 0) && !probe(moved + 3 * MIB, 0),
	      "the reservation around the moved region is readable");
	bad = pat_check(shrunk, MIB + 3 * PAGE, 3);
	CHECK(bad < 0, "shrunk region: word %ld differs", bad);
	if (map_find(shrunk, &ml) == 0)
		CHECK(ml.end == (unsigned long)shrunk + MIB + 3 * PAGE,
		      "shrunk region ends at %#lx, want %p", ml.end, (void *)(shrunk + MIB + 3 * PAGE));
	/* Growing it again works too (it has to move: the reservation is
	 * in the way). */
	again = mremap(moved, 3 * MIB, 4 * MIB, MREMAP_MAYMOVE);
	if (again == MAP_FAILED)
		target_fail("cannot grow the moved region after restore: %s", strerror(errno));
	else
		CHECK(pat_check(again, MIB, 1) < 0, "the region grown after restore lost its data");
	return target_exit();
}
