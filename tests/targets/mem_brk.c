/*
 * The program break: the heap grown with sbrk by several MiB in steps and
 * filled with a pattern.  After restore the pattern must be there, the
 * break must be where it was (the kernel's mm->brk, not just a mapping
 * of the right size), and brk must still work: grow, use, shrink.
 */
#include "target.h"
#include "mem.h"

#define STEP	(1ul << 20)
#define STEPS	6

int main(void)
{
	char *base, *top, *now;
	long bad;

	base = sbrk(0);
	for (int i = 0; i < STEPS; i++) {
		char *p = sbrk(STEP);

		if (p == (void *)-1) {
			target_fail("sbrk(%lu): %s", STEP, strerror(errno));
			return target_exit();
		}
		pat_fill(p, STEP, 100 + i);
	}
	top = sbrk(0);
	target_wait();

	/* First thing: nothing below may move the break (stdio may malloc). */
	now = sbrk(0);
	for (int i = 0; i < STEPS; i++) {
		bad = pat_check(base + i * STEP, STEP, 100 + i);
		CHECK(bad < 0, "heap step %d: word %ld differs (%#llx)", i, bad,
		      bad < 0 ? 0ull : (unsigned long long)((uint64_t *)(base + i * STEP))[bad]);
	}
	CHECK(now == top, "the break is at %p, it was at %p", (void *)now, (void *)top);
	if (now == top) {
		char *more = sbrk(STEP);

		CHECK(more == top, "sbrk(%lu) after restore returned %p, want %p", STEP,
		      (void *)more, (void *)top);
		if (more == top) {
			pat_fill(more, STEP, 999);
			CHECK(pat_check(more, STEP, 999) < 0, "memory from sbrk after restore is wrong");
			CHECK(sbrk(-(long)STEP) == more + STEP, "cannot shrink the heap after restore");
			CHECK(sbrk(0) == top, "the break did not come back to %p", (void *)top);
		}
	}
	return target_exit();
}
