/* The XSAVE layout of this CPU as the kernel gives it to ptrace and core
 * dumps (the standard, non-compacted format of the features XCR0 enables):
 * "size N", then "feature OFFSET SIZE" per user feature from 2 on, from
 * CPUID leaf 0xD.  tests/core.bats compares ckpt's core notes with it:
 * gdb 13's gcore assumes Intel's offsets, which AMD's Zen 4 (AVX-512, no
 * MPX: opmask at 832, not 1088) does not have.  Not x86-64: exit 2. */
#include <stdint.h>
#include <stdio.h>

#if defined(__x86_64__)
#include <cpuid.h>

int main(void)
{
	unsigned a, b, c, d;
	uint32_t lo, hi;
	uint64_t xcr0;

	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE))
		return 2;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = (uint64_t)hi << 32 | lo;
	__cpuid_count(0xd, 0, a, b, c, d);
	printf("size %u\n", b);
	for (unsigned i = 2; i < 64; i++) {
		if (!(xcr0 >> i & 1))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		printf("%u %u %u\n", i, b, a);
	}
	return 0;
}
#else
int main(void)
{
	return 2;
}
#endif
