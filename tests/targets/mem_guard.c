/*
 * Guard regions (madvise MADV_GUARD_INSTALL, Linux 6.13): pages that fault
 * on any access, with no memory behind them.  A 16-page private anonymous
 * mapping filled with a pattern gets guards on pages 4-5 and 10; after
 * restore the guards fault again (read and write), the other pages hold
 * the pattern, and the page map says guard for exactly those pages (bit 58,
 * Linux 6.15).  Dumping used to fail on them (EIO reading the pages).
 * Usage: mem_guard [--probe]   (--probe: exit 0 if this kernel has them)
 */
#include <fcntl.h>
#include <stdint.h>

#include "target.h"
#include "mem.h"

#define MADV_GUARD_INSTALL	102
#define NPAGES			16
#define PM_GUARD		(1ull << 58)

static int read_pagemap(int fd, const void *m, long ps, uint64_t *pm)
{
	return pread(fd, pm, NPAGES * sizeof(*pm), (off_t)((uintptr_t)m / ps * sizeof(*pm))) ==
	       (ssize_t)(NPAGES * sizeof(*pm));
}

static int guarded(int i)
{
	return i == 4 || i == 5 || i == 10;
}

int main(int argc, char **argv)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char *m = mmap(NULL, NPAGES * ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t pm[NPAGES];
	int fd, reports;

	if (m == MAP_FAILED) {
		target_fail("mmap: %s", strerror(errno));
		return target_exit();
	}
	if (argc > 1 && !strcmp(argv[1], "--probe"))
		return madvise(m, ps, MADV_GUARD_INSTALL) < 0;
	for (int i = 0; i < NPAGES; i++)
		pat_fill(m + i * ps, ps, 70 + i);
	if (madvise(m + 4 * ps, 2 * ps, MADV_GUARD_INSTALL) < 0 ||
	    madvise(m + 10 * ps, ps, MADV_GUARD_INSTALL) < 0) {
		target_fail("MADV_GUARD_INSTALL: %s", strerror(errno));
		return target_exit();
	}
	fd = open("/proc/self/pagemap", O_RDONLY);
	reports = fd >= 0 && read_pagemap(fd, m, ps, pm) && (pm[4] & PM_GUARD);
	if (fd >= 0)
		close(fd);	/* /proc/PID of this PID: not for the restored one */
	target_wait();

	for (int i = 0; i < NPAGES; i++) {
		if (guarded(i)) {
			CHECK(!probe(m + i * ps, 0) && !probe(m + i * ps + ps - 1, 1),
			      "page %d: its guard is gone (it can be accessed)", i);
			continue;
		}
		CHECK(probe(m + i * ps, 1), "page %d cannot be written", i);
		CHECK(pat_check(m + i * ps, ps, 70 + i) < 0, "page %d: pattern differs", i);
	}
	/* The page map shows guards since Linux 6.15 (bit 58, 0 before). */
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd >= 0 && read_pagemap(fd, m, ps, pm))
		for (int i = 0; i < NPAGES; i++)
			CHECK(!!(pm[i] & PM_GUARD) == (reports && guarded(i)),
			      "page %d: the page map says %sguard", i, pm[i] & PM_GUARD ? "" : "no ");
	if (fd >= 0)
		close(fd);
	printf("mem_guard: ok\n");
	return target_exit();
}
