/*
 * Memory exclusion: a region the program marks MADV_DONTDUMP and a region
 * the user excludes (its address is printed to stdout as "exclude A-B")
 * come back mapped, writable and zero-filled; everything else keeps its
 * data.  argv[1] = "dontdump-only" skips the user-excluded check.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "target.h"

#define LEN (4u << 20)

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	int user = !(argc > 1 && !strcmp(argv[1], "dontdump-only"));
	uint8_t *keep = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *dd = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *ex = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (keep == MAP_FAILED || dd == MAP_FAILED || ex == MAP_FAILED)
		return 2;
	memset(keep, 0x5a, LEN);
	memset(dd, 0xa5, LEN);
	memset(ex, 0x3c, LEN);
	if (madvise(dd, LEN, MADV_DONTDUMP) < 0)
		return 2;
	printf("exclude %lx-%lx\n", (unsigned long)ex, (unsigned long)(ex + LEN));
	fflush(stdout);
	target_wait();
	for (size_t i = 0; i < LEN; i++)
		if (keep[i] != 0x5a) {
			target_fail("kept region differs at +%zu", i);
			break;
		}
	CHECK(all_zero(dd, LEN), "MADV_DONTDUMP region is not zero-filled");
	if (user)
		CHECK(all_zero(ex, LEN), "--exclude region is not zero-filled");
	/* still mapped and writable */
	dd[0] = ex[0] = 1;
	return target_exit();
}
