/*
 * A job that measures its own pause: MIB MiB of text-like memory (argv[1],
 * default 64), and a tight CLOCK_MONOTONIC loop that keeps the largest gap
 * between two readings, whatever froze it (bench/target.c's way, in
 * small).  SIGUSR1 makes it print "gap_us N" on stdout and start again.
 * Meanwhile it rewrites a page now and then with what it holds (a fork
 * copy's pages are copied on write), and after GO it checks every page.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "target.h"

#define PAGE 4096

static volatile sig_atomic_t want_gap;

static void on_usr1(int sig)
{
	(void)sig;
	want_gap = 1;
}

/* Page i's bytes: words of a small dictionary, picked by an LCG seeded
 * with i (compressible like text, different on every page). */
static void fill(char *pg, uint64_t i)
{
	static const char *const words[] = { "the ", "job ", "runs ", "on, ", "42 ", "while ",
					     "its ", "image ", "is ", "written.\n" };
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
	size_t k = 0;

	while (k < PAGE) {
		const char *w;
		size_t len;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		w = words[(x >> 33) % 10];
		len = strlen(w);
		if (len > PAGE - k)
			len = PAGE - k;
		memcpy(pg + k, w, len);
		k += len;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t npages = (argc > 1 ? strtoull(argv[1], NULL, 10) : 64) << 20 >> 12;
	char *mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	uint64_t last, gap = 0, next_check, next_write, w = 0, bad = 0;
	char want[PAGE];

	if (mem == MAP_FAILED || !npages)
		return 2;
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	for (uint64_t i = 0; i < npages; i++)
		fill(mem + i * PAGE, i);
	signal(SIGUSR1, on_usr1);
	target_ready();
	last = now_ns();
	next_check = next_write = last;
	for (;;) {
		uint64_t t = now_ns();

		if (t - last > gap)
			gap = t - last;
		last = t;
		if (want_gap) {
			want_gap = 0;
			printf("gap_us %llu\n", (unsigned long long)(gap / 1000));
			fflush(stdout);
			gap = 0;
			last = now_ns();
		}
		if (t >= next_write) {
			fill(mem + (w % npages) * PAGE, w % npages);
			w += 97;
			next_write = t + 1000000;
		}
		if (t >= next_check) {
			if (target_go())
				break;
			next_check = t + 5000000;
			last = now_ns();	/* the check's own time is no pause */
		}
	}
	for (uint64_t i = 0; i < npages; i++) {
		fill(want, i);
		if (memcmp(mem + i * PAGE, want, PAGE))
			bad++;
	}
	CHECK(!bad, "%llu of %llu pages differ", (unsigned long long)bad,
	      (unsigned long long)npages);
	return target_exit();
}
