/*
 * The simplest job: a loop that counts and keeps a running checksum of its
 * counts in registers and on the stack and heap.  After GO it runs to a
 * fixed number of iterations and checks the checksum against the formula.
 */
#include <stdint.h>

#include "target.h"

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 3000000;
	volatile uint64_t *heap = malloc(4096 * sizeof(*heap));
	uint64_t sum = 0, i;
	int ready = 0;

	for (i = 0; i < 4096; i++)
		heap[i] = i * 7;
	for (i = 1; i <= n; i++) {
		sum += i ^ heap[i & 4095];
		heap[i & 4095] += 1;
		if (!ready && i == n / 2) {
			target_ready();
			ready = 1;
			while (!target_go())
				target_sleep_ms(5);
		}
	}
	{
		/* Recompute the expected value without the heap. */
		uint64_t want = 0, h[4096];

		for (i = 0; i < 4096; i++)
			h[i] = i * 7;
		for (i = 1; i <= n; i++) {
			want += i ^ h[i & 4095];
			h[i & 4095] += 1;
		}
		CHECK(sum == want, "sum %llu != %llu", (unsigned long long)sum, (unsigned long long)want);
	}
	printf("counter: %llu\n", (unsigned long long)sum);
	return target_exit();
}
