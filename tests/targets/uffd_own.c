/*
 * A program with a write-protect async userfaultfd of its own over a
 * mapping (as one that tracks its own writes would have): it writes a
 * page there and then protects it again, so PAGEMAP_SCAN's "written" for
 * that mapping is the program's word, not ckpt's.  The pages are slots
 * as in dirty.c: a new generation goes into a slot's inactive page, the
 * page is protected again, then the slot's word (outside the mapping)
 * flips to it.  After restore every slot's active page must hold its
 * generation: one left to the parent image because the scan said
 * "unchanged" fails.  argv[1]: slots (default 64).  Exits 3 when the
 * kernel has no async write-protect userfaultfd (the test skips).
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "target.h"

#define PAGE 4096
#define FEATURE_WP_ASYNC	(1ull << 15)	/* Linux 6.7 */
#define FEATURE_WP_UNPOPULATED	(1ull << 13)

static int protect(int uffd, void *p, size_t len)
{
	struct uffdio_writeprotect wp = {
		.range = { (uintptr_t)p, len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

static void body(uint64_t *pg, uint64_t gen, uint64_t slot)
{
	for (size_t i = 0; i < PAGE / 8; i++)
		pg[i] = gen * 0x9e3779b97f4a7c15ull + slot * 1000003 + i;
}

int main(int argc, char **argv)
{
	size_t nslots = argc > 1 ? strtoul(argv[1], NULL, 10) : 64, len = nslots * 2 * PAGE;
	uint64_t *pages = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t *word = calloc(nslots, sizeof(*word));
	struct uffdio_api api = { .api = UFFD_API, .features = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED };
	struct uffdio_register reg = {
		.range = { (uintptr_t)pages, len }, .mode = UFFDIO_REGISTER_MODE_WP,
	};
	uint64_t gen = 0, s = 0, bad = 0, want[PAGE / 8];
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (pages == MAP_FAILED || !word || !nslots)
		return 2;
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return 3;
	for (s = 0; s < nslots; s++) {
		body(pages + 2 * s * (PAGE / 8), ++gen, s);
		word[s] = gen << 1;
	}
	if (protect(uffd, pages, len) < 0)
		return 3;
	target_ready();
	while (!target_go()) {
		uint64_t w, idx;

		s = (s * 7 + 13) % nslots;
		w = word[s];
		idx = 1 - (w & 1);
		body(pages + (2 * s + idx) * (PAGE / 8), ++gen, s);
		/* The write hidden from the scan (fails once restored: the
		 * uffd is not given back, and nothing needs it then). */
		protect(uffd, pages + (2 * s + idx) * (PAGE / 8), PAGE);
		__atomic_store_n(&word[s], (gen << 1) | idx, __ATOMIC_RELEASE);
		target_sleep_ms(2);
	}
	for (s = 0; s < nslots; s++) {
		uint64_t w = word[s];

		body(want, w >> 1, s);
		if (memcmp(pages + (2 * s + (w & 1)) * (PAGE / 8), want, PAGE) && bad++ < 5)
			target_fail("slot %lu: page does not hold generation %lu", (unsigned long)s,
				    (unsigned long)(w >> 1));
	}
	CHECK(!bad, "%lu of %zu slots wrong", (unsigned long)bad, nslots);
	return target_exit();
}
