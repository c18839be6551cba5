/*
 * A region that keeps moving while a lazy restore fills it: right after
 * GO the process moves its two halves (mremap, to a new place each time)
 * again and again, ~1 ms apart, so that moves land while the fill is
 * copying into the region; then it forks, and the process and its child
 * each check every byte of the region where it is now.  Page i holds
 * pattern(i): a page that reads zero, or that came from elsewhere, shows.
 * The halves are split off the block grid (dump writes blocks of 256
 * pages), so a block straddles them.  Before the moves, one page in each
 * block of a second region is made read-only (mprotect: no event tells
 * the restore), so that each of those blocks now spans three mappings.
 * argv[1]: MiB (default 64); argv[2]: rounds of moves (default 16);
 * argv[3]: 1 to split the second region (default 0).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

#define PAGE 4096
#define WORDS (PAGE / 8)

static uint64_t pattern(size_t page, size_t w)
{
	return (page + 1) * 0x9e3779b97f4a7c15ull ^ (w * 0xc2b2ae3d27d4eb4full) ^ 0x5a5a;
}

/* Where each part is now: the two halves, and the region split by
 * mprotect (after them in page numbers). */
static uint8_t *half[3];
static size_t hpages[3];

#define SPLIT_PAGES	2048	/* 8 blocks */
#define SPLIT_AT(k)	((k) * 256 + 100)

/* Half h moved to a new place (a PROT_NONE reservation it replaces). */
static int move_half(int h)
{
	size_t len = hpages[h] * PAGE;
	void *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *p;

	if (to == MAP_FAILED)
		return -1;
	p = mremap(half[h], len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (p == MAP_FAILED)
		return -1;
	half[h] = p;
	return 0;
}

/* Every byte of every page; the first few wrong ones said.  The number
 * of wrong pages. */
static size_t check_all(void)
{
	size_t bad = 0;

	size_t first = 0;

	for (int h = 0; h < 3; first += hpages[h++])
		for (size_t k = 0; k < hpages[h]; k++) {
			size_t i = first + k, w;
			const uint64_t *q = (const uint64_t *)(half[h] + k * PAGE);

			for (w = 0; w < WORDS && q[w] == pattern(i, w); w++)
				;
			if (w < WORDS && bad++ < 5)
				target_fail("page %zu (half %d, page %zu there) is wrong at byte %zu: %#llx",
					    i, h, k, w * 8, (unsigned long long)q[w]);
		}
	return bad;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	int rounds = argc > 2 ? atoi(argv[2]) : 16, split = argc > 3 && atoi(argv[3]), st;
	size_t npages = (mib << 20) / PAGE, bad, first = 0;
	uint8_t *mem;
	pid_t child;

	/* mapped first: higher, so filled after the halves (in address
	 * order), and still to do when it is split */
	half[2] = mmap(NULL, SPLIT_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (half[2] == MAP_FAILED)
		return 2;
	hpages[2] = SPLIT_PAGES;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	hpages[0] = npages / 2 + 37;
	hpages[1] = npages - hpages[0];
	half[0] = mem;
	half[1] = mem + hpages[0] * PAGE;
	for (int h = 0; h < 3; first += hpages[h++]) {
		madvise(half[h], hpages[h] * PAGE, MADV_NOHUGEPAGE);
		for (size_t k = 0; k < hpages[h]; k++)
			for (size_t w = 0; w < WORDS; w++)
				((uint64_t *)(half[h] + k * PAGE))[w] = pattern(first + k, w);
	}
	target_wait();

	for (int k = 0; split && k < SPLIT_PAGES / 256; k++)
		CHECK(mprotect(half[2] + SPLIT_AT(k) * PAGE, PAGE, PROT_READ) == 0,
		      "mprotect failed: %s", strerror(errno));

	for (int r = 0; r < rounds; r++) {
		CHECK(move_half(r & 1) == 0 && move_half(!(r & 1)) == 0, "mremap failed: %s",
		      strerror(errno));
		target_sleep_ms(1);
	}
	child = fork();
	if (child == 0)
		_exit(check_all() ? 1 : 0);
	CHECK(child > 0, "fork failed");
	bad = check_all();
	CHECK(!bad, "%zu pages wrong in the process", bad);
	CHECK(child <= 0 || (waitpid(child, &st, 0) == child && WIFEXITED(st) && !WEXITSTATUS(st)),
	      "its forked child found wrong pages");
	return target_exit();
}
