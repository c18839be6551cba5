/*
 * dump --snapshot must be invisible, and its image the cut.  This job
 * writes a generation number into the first and last word of every page
 * of MIB MiB (argv[1], 64), page after page, pass after pass, and checks
 * before each write that the page holds what it wrote there last: a page
 * given back wrong, or a zero page where its data was not back yet, is
 * counted.  Meanwhile (CHURN, argv[2] != 0) it changes its own memory map
 * every few ms: of NREG regions filled with their number, one at a time
 * it drops half (MADV_DONTNEED: zeros there from then on, never its old
 * data), moves one (mremap), unmaps one, or forks a child that checks the
 * region and all the pages, and exits.
 *
 * After GO, as the original or restored from the image, it checks that
 * its memory is one instant: the pages before the one it was at hold the
 * generation it was writing, those after it the one before (the page it
 * was at may hold either), and each region is as its last change left it.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

#include "target.h"

#define PAGE	4096
#define W	(PAGE / 8)
#define NREG	96
#define REG	(512u << 10)

static uint64_t *mem;
static volatile uint64_t npages, gen, idx, bad, firstbad = ~0ull;
static uint64_t *reg[NREG];
static volatile int done;	/* regions changed so far */

/* The test says the dump is under way. */
static int churn_now(void)
{
	const char *go = getenv("CKPT_GO");
	char path[4096];

	snprintf(path, sizeof(path), "%s.churn", go ? go : "");
	return go && access(path, F_OK) == 0;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Region r holds its number in every word of [from, to) bytes. */
static int reg_is(int r, size_t from, size_t to, uint64_t v)
{
	for (size_t o = from / 8; o < to / 8; o += W / 2)
		if (reg[r][o] != v)
			return 0;
	return 1;
}

/* Every page holds g or g-1 as the cursor says (the page at it either). */
static uint64_t check_pages(uint64_t g, uint64_t at)
{
	uint64_t wrong = 0;

	for (uint64_t i = 0; i < npages; i++) {
		uint64_t *pg = mem + i * W, want = i < at ? g : g - 1;

		if (i == at && pg[0] == pg[W - 1] && (pg[0] == g || pg[0] == g - 1))
			continue;
		if (pg[0] != want || pg[W - 1] != want)
			wrong++;
	}
	return wrong;
}

/* What changing region r left (op r % 4), checked. */
static int reg_ok(int r)
{
	switch (r % 4) {
	case 0:
		return reg_is(r, 0, REG / 2, 0) && reg_is(r, REG / 2, REG, (uint64_t)r + 1);
	case 2:
		return 1;	/* unmapped */
	default:
		return reg_is(r, 0, REG, (uint64_t)r + 1);
	}
}

static void change(int r)
{
	pid_t c;
	int st;

	switch (r % 4) {
	case 0:
		madvise(reg[r], REG / 2, MADV_DONTNEED);
		break;
	case 1: {
		void *to = mremap(reg[r], REG, REG, MREMAP_MAYMOVE);

		if (to != MAP_FAILED)
			reg[r] = to;
		break;
	}
	case 2:
		munmap(reg[r], REG);
		break;
	case 3:
		c = fork();
		if (c == 0) {
			/* the child's memory: the parent's now, all of it */
			_exit(reg_is(r, 0, REG, (uint64_t)r + 1) && !check_pages(gen, idx) ? 0 : 1);
		}
		/* Restored from an image made while it waited (dump --single),
		 * it has no child: ECHILD. */
		if (c < 0 || (waitpid(c, &st, 0) != c ? errno != ECHILD : !WIFEXITED(st) || WEXITSTATUS(st))) {
			bad++;
			fprintf(stderr, "snapcheck: the child forked at region %d saw wrong memory\n", r);
		}
		break;
	}
	if (!reg_ok(r)) {
		bad++;
		fprintf(stderr, "snapcheck: region %d is not as changed (op %d)\n", r, r % 4);
	}
	done = r + 1;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64, next = 0;
	int churn = argc > 2 && atoi(argv[2]), churning = 0;

	npages = mib * 256;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	gen = 1;
	for (uint64_t i = 0; i < npages; i++)
		mem[i * W] = mem[i * W + W - 1] = gen;
	gen = 2;
	for (int r = 0; churn && r < NREG; r++) {
		/* a mapping each: no merging, one shadow each */
		reg[r] = mmap(NULL, REG, PROT_READ | PROT_WRITE | (r & 1 ? PROT_EXEC : 0),
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (reg[r] == MAP_FAILED)
			return 2;
		for (size_t o = 0; o < REG / 8; o++)
			reg[r][o] = (uint64_t)r + 1;
	}
	target_ready();
	for (;;) {
		for (int k = 0; k < 4096; k++) {
			uint64_t *pg = mem + idx * W;

			if (pg[0] != gen - 1 || pg[W - 1] != gen - 1) {
				if (firstbad == ~0ull)
					firstbad = idx;
				bad++;
			}
			pg[0] = gen;
			pg[W - 1] = gen;
			if (++idx == npages) {
				idx = 0;
				gen++;
			}
		}
		if (churn && !churning && (churning = churn_now()))
			next = now_ms();
		if (churning && done < NREG && now_ms() >= next) {
			change(done);
			next = now_ms() + 1;
		}
		if (target_go())
			break;
	}
	/* Stopped between pages: the cursor is idx, all before it written. */
	CHECK(!bad, "%lu wrong pages read while it ran (the first at page %lu)", (unsigned long)bad,
	      (unsigned long)firstbad);
	{
		uint64_t wrong = check_pages(gen, idx);

		CHECK(!wrong, "%lu of %lu pages are not one instant (generation %lu, at page %lu)",
		      (unsigned long)wrong, (unsigned long)npages, (unsigned long)gen, (unsigned long)idx);
	}
	for (int r = 0; r < done; r++)
		CHECK(reg_ok(r), "region %d is not as its change (op %d) left it", r, r % 4);
	for (int r = done; churn && r < NREG; r++)
		CHECK(reg_is(r, 0, REG, (uint64_t)r + 1), "region %d (unchanged) lost its data", r);
	return target_exit();
}
