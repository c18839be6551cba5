/*
 * x86-64: CRC32C with the SSE4.2 crc32 instruction (Intel SDM, CRC32).
 * One crc32 has a latency of 3 cycles but a throughput of 1, so long
 * buffers are done as three interleaved streams over consecutive thirds
 * (STRIPE bytes each), joined with the CRC's linearity: for the raw
 * register, crc(A || B) = shift(crc(A), |B|) ^ crc_from_0(B), where
 * shift(c, n) is c times x^(8n) mod P, a 32x32 matrix over GF(2) that is
 * applied here as four 256-entry tables built at first use.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arch/arch.h"

#define STRIPE 4096u	/* bytes per stream, per round of three */

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

/* shift by STRIPE and by 2 * STRIPE bytes, byte-sliced */
static uint32_t shift1[4][256], shift2[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* c * x^(8n) mod P: feed n zero bytes (only to build the tables). */
static uint32_t shift_slow(uint32_t c, size_t n)
{
	static const uint8_t zeros[STRIPE];

	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);

		c = crc32c_sse42(c, zeros, k);
		n -= k;
	}
	return c;
}

/*
 * Linear: a table entry is the sum (xor) of its bits' images, so only the
 * 32 single bits are shifted the slow way (64 runs over 4 and 8 KiB of
 * zeros), and each entry is the entry without its lowest bit plus that
 * bit's image.  Shifting every entry's bits instead fed ~50 MB of zeros,
 * 5-10 ms of CPU on the first long checksum of every ckpt process: on a
 * lazy restore's path to running (its first block written before the
 * release).
 */
static void build_shifts(void)
{
	uint32_t img1[32], img2[32];

	for (int bit = 0; bit < 32; bit++) {
		img1[bit] = shift_slow(1u << bit, STRIPE);
		img2[bit] = shift_slow(1u << bit, 2 * STRIPE);
	}
	for (int byte = 0; byte < 4; byte++) {
		shift1[byte][0] = shift2[byte][0] = 0;
		for (uint32_t v = 1; v < 256; v++) {
			int low = __builtin_ctz(v);

			shift1[byte][v] = shift1[byte][v & (v - 1)] ^ img1[8 * byte + low];
			shift2[byte][v] = shift2[byte][v & (v - 1)] ^ img2[8 * byte + low];
		}
	}
}

static uint32_t apply(uint32_t t[4][256], uint32_t c)
{
	return t[0][c & 255] ^ t[1][(c >> 8) & 255] ^ t[2][(c >> 16) & 255] ^ t[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_3way(uint32_t crc, const uint8_t *p, size_t len)
{
	pthread_once(&shift_once, build_shifts);
	while (len >= 3 * STRIPE) {
		uint64_t a = crc, b = 0, c = 0;

		for (size_t i = 0; i < STRIPE; i += 8) {
			uint64_t x, y, z;

			memcpy(&x, p + i, 8);
			memcpy(&y, p + STRIPE + i, 8);
			memcpy(&z, p + 2 * STRIPE + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			c = __builtin_ia32_crc32di(c, z);
		}
		crc = apply(shift2, (uint32_t)a) ^ apply(shift1, (uint32_t)b) ^ (uint32_t)c;
		p += 3 * STRIPE;
		len -= 3 * STRIPE;
	}
	return crc32c_sse42(crc, p, len);
}

int arch_crc32c_hw(uint32_t *crc, const void *buf, size_t len)
{
	static int have = -1;

	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("sse4.2");
	}
	if (!have)
		return -ENOSYS;
	*crc = len >= 3 * STRIPE ? crc32c_3way(*crc, buf, len) : crc32c_sse42(*crc, buf, len);
	return 0;
}
