/*
 * The demo's "long job": sums i*i mod 2^64 over 1..N in steps, printing
 * progress twice a second, and checks the result against the closed form
 * n(n+1)(2n+1)/6 at the end.  Prints "result OK" and exits 0 when right.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "target.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 36000000000ull;
	unsigned __int128 want = (unsigned __int128)n * (n + 1) * (2 * n + 1) / 6;
	uint64_t sum = 0;
	double last = now();

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("longjob %d: summing squares up to %llu\n", (int)getpid(), (unsigned long long)n);
	target_ready();
	for (uint64_t i = 1; i <= n; i++) {
		sum += i * i;
		if ((i & 0xffffff) == 0 && now() - last > 0.5) {
			last = now();
			printf("longjob %d: %5.1f%%\n", (int)getpid(), 100.0 * (double)i / (double)n);
		}
	}
	CHECK(sum == (uint64_t)want, "sum %llu, want %llu", (unsigned long long)sum,
	      (unsigned long long)(uint64_t)want);
	printf("longjob %d: result %llu %s\n", (int)getpid(), (unsigned long long)sum,
	       target_failures ? "WRONG" : "OK");
	return target_exit();
}
