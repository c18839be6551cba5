/*
 * Memory with a known mix: MiB of compressible text-like data, MiB of
 * random (incompressible) bytes and zero pages; after restore, all of it
 * must read back exactly.  argv[1]: MiB of each kind (default 8).
 */
#include <stdint.h>
#include <sys/mman.h>

#include "target.h"

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(uint8_t *text, uint8_t *noise, size_t len)
{
	static const char *words[] = { "checkpoint ", "restore ", "process ", "memory ",
				       "page ", "thread ", "signal ", "kernel " };
	uint64_t s = 88172645463325252ull;
	size_t i = 0;

	while (i < len) {
		const char *w = words[rnd(&s) % 8];

		for (; *w && i < len; w++)
			text[i++] = (uint8_t)*w;
	}
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = rnd(&s);

		memcpy(noise + i, &v, 8);
	}
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 8, len = mib << 20;
	uint8_t *text = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *noise = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *zero = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *t2 = malloc(len), *n2 = malloc(len);

	if (text == MAP_FAILED || noise == MAP_FAILED || zero == MAP_FAILED || !t2 || !n2)
		return 2;
	fill(text, noise, len);
	for (size_t i = 0; i < len; i += 4096)
		zero[i] = 0;	/* present, all zero */
	target_wait();
	fill(t2, n2, len);
	CHECK(!memcmp(text, t2, len), "text-like data differs");
	CHECK(!memcmp(noise, n2, len), "random data differs");
	for (size_t i = 0; i < len; i++)
		if (zero[i]) {
			target_fail("zero page not zero at +%zu", i);
			break;
		}
	return target_exit();
}
