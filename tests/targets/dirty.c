/*
 * Memory that keeps changing: NSLOTS slots of two pages each; the loop
 * writes a new generation into a slot's inactive page, then flips the
 * slot's word (generation << 1 | active page) in one store, so at any
 * instant every slot's active page must hold exactly its generation.
 * After restore every slot is checked: a page restored from an image
 * older than its slot word (a wrong "unchanged since the parent") fails.
 * argv[1]: MiB of slots (default 16); argv[2]: writes per ms (default 20);
 * argv[3]: MiB of slots written to (default all): a test that compares an
 * incremental image's size with the full one's bounds what can change, so
 * that a slow (busy) machine's longer dumps do not make it larger.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "target.h"

#define PAGE 4096

static void body(uint64_t *pg, uint64_t gen, uint64_t slot)
{
	pg[0] = gen;
	for (size_t i = 1; i < PAGE / 8; i++)
		pg[i] = gen * 0x9e3779b97f4a7c15ull + slot * 1000003 + i;
}

static int check_page(const uint64_t *pg, uint64_t gen, uint64_t slot)
{
	uint64_t want[PAGE / 8];

	body(want, gen, slot);
	return !memcmp(pg, want, PAGE);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
	long rate = argc > 2 ? strtol(argv[2], NULL, 10) : 20;
	size_t nslots = (mib << 20) / (2 * PAGE);
	size_t nhot = argc > 3 ? (strtoul(argv[3], NULL, 10) << 20) / (2 * PAGE) : nslots;
	uint64_t *pages = mmap(NULL, nslots * 2 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t *word = calloc(nslots, sizeof(*word));
	uint64_t gen = 0, s = 0, bad = 0;

	if (pages == MAP_FAILED || !word || !nhot || nhot > nslots)
		return 2;
	for (s = 0; s < nslots; s++) {
		body(pages + (2 * s) * (PAGE / 8), ++gen, s);
		word[s] = gen << 1;
	}
	target_ready();
	while (!target_go()) {
		for (long k = 0; k < rate * 5; k++) {
			uint64_t w, idx;

			s = (s * 7 + 13) % nhot;
			w = word[s];
			idx = 1 - (w & 1);
			body(pages + (2 * s + idx) * (PAGE / 8), ++gen, s);
			__atomic_store_n(&word[s], (gen << 1) | idx, __ATOMIC_RELEASE);
		}
		target_sleep_ms(5);
	}
	for (s = 0; s < nslots; s++) {
		uint64_t w = word[s];

		if (!check_page(pages + (2 * s + (w & 1)) * (PAGE / 8), w >> 1, s) && bad++ < 5)
			target_fail("slot %lu: page does not hold generation %lu (holds %lu)",
				    (unsigned long)s, (unsigned long)(w >> 1),
				    (unsigned long)pages[(2 * s + (w & 1)) * (PAGE / 8)]);
	}
	CHECK(!bad, "%lu of %zu slots wrong", (unsigned long)bad, nslots);
	return target_exit();
}
