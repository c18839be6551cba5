/*
 * x86-64: CRC32C with the SSE4.2 crc32 instruction (Intel SDM, CRC32).
 * One crc32 has a latency of 3 cycles but a throughput of 1, so long
 * buffers are done as three interleaved streams over consecutive thirds
 * (STRIPE bytes each), joined with the CRC's linearity: for the raw
 * register, crc(A || B) = shift(crc(A), |B|) ^ crc_from_0(B), where
 * shift(c, n) is c times x^(8n) mod P, a 32x32 matrix over GF(2) that is
 * applied here as four 256-entry tables built at first use.
 *
 * With VPCLMULQDQ and AVX-512 (crc32c_fold), buffers of 256 bytes and
 * more are folded instead, 64 bytes per carry-less multiply pair: the
 * three streams run ~19 GB/s on the bench's EPYC, a fifth of a plain
 * dump's user time; folding does 3-4x that.  On Skylake-SP and Cascade
 * Lake Xeons 512-bit instructions lower the core's clock for a while
 * (the AVX-512 licence), which a job sharing the core during a --fork or
 * --snapshot dump would feel; not measured here (an EPYC).
 */
#include <errno.h>
#include <immintrin.h>
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

/*
 * Folding (Intel, "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ", 2009), worked out for this bit order: a 16-byte lane X as
 * loaded (bit i the coefficient of x^(127-i)) is carried D bits further
 * by X * x^D == lo64(X) * K_H + hi64(X) * K_L (mod P), where the two
 * 64x32-bit carry-less products, read in the lane's order, come out
 * times x^-31 and x^33: so K_H = x^(D+31) and K_L = x^(D-33) mod P,
 * each held as a CRC register (bit m the coefficient of x^(31-m)).  The
 * last lane left is congruent to all the data before its end, and its
 * CRC from a zero register is the data's: the crc32 instruction does
 * that, so no Barrett reduction is needed.  The constants are made with
 * the instruction itself at first use (a register times x^(8n) is n
 * zero bytes fed to it), and checked against the bit-at-a-time
 * definition on every length by tests/unit/test_crc32c.c.
 */
enum { FOLD_256, FOLD_64, FOLD_48, FOLD_32, FOLD_16, NFOLD };
static const unsigned fold_bytes[NFOLD] = { 256, 64, 48, 32, 16 };
static uint64_t fold_k[NFOLD][2];	/* K_H, K_L */
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

/* x^n mod P, as a CRC register */
static uint32_t xpow(unsigned n)
{
	return shift_slow(1u << (31 - n % 8), n / 8);
}

static void build_folds(void)
{
	for (int i = 0; i < NFOLD; i++) {
		fold_k[i][0] = xpow(8 * fold_bytes[i] + 31);
		fold_k[i][1] = xpow(8 * fold_bytes[i] - 33);
	}
}

#define FOLD_TARGET "sse4.2,pclmul,avx512f,vpclmulqdq"

/* four lanes at once, each carried by the same distance, onto d */
__attribute__((target(FOLD_TARGET)))
static __m512i fold4(__m512i a, __m512i k, __m512i d)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(a, k, 0x00),
					 _mm512_clmulepi64_epi128(a, k, 0x11), d, 0x96);
}

__attribute__((target(FOLD_TARGET)))
static __m128i fold1(__m128i a, int i, __m128i d)
{
	__m128i k = _mm_loadu_si128((const __m128i *)fold_k[i]);

	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00),
					   _mm_clmulepi64_si128(a, k, 0x11)), d);
}

/* len >= 256: four 64-byte accumulators, 256 bytes a round */
__attribute__((target(FOLD_TARGET)))
static uint32_t crc32c_fold(uint32_t crc, const uint8_t *p, size_t len)
{
	__m512i k;
	/* the register joins the data's first 32 bits (the CRC is linear) */
	__m512i a0 = _mm512_xor_si512(_mm512_loadu_si512(p),
				      _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
	__m512i a1 = _mm512_loadu_si512(p + 64), a2 = _mm512_loadu_si512(p + 128);
	__m512i a3 = _mm512_loadu_si512(p + 192);
	__m128i x;

	pthread_once(&fold_once, build_folds);
	k = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)fold_k[FOLD_256]));
	for (p += 256, len -= 256; len >= 256; p += 256, len -= 256) {
		a0 = fold4(a0, k, _mm512_loadu_si512(p));
		a1 = fold4(a1, k, _mm512_loadu_si512(p + 64));
		a2 = fold4(a2, k, _mm512_loadu_si512(p + 128));
		a3 = fold4(a3, k, _mm512_loadu_si512(p + 192));
	}
	k = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)fold_k[FOLD_64]));
	a1 = fold4(a0, k, a1);
	a2 = fold4(a1, k, a2);
	a3 = fold4(a2, k, a3);
	for (; len >= 64; p += 64, len -= 64)
		a3 = fold4(a3, k, _mm512_loadu_si512(p));
	/* the four lanes into the last one */
	x = fold1(_mm512_extracti32x4_epi32(a3, 0), FOLD_48, _mm512_extracti32x4_epi32(a3, 3));
	x = fold1(_mm512_extracti32x4_epi32(a3, 1), FOLD_32, x);
	x = fold1(_mm512_extracti32x4_epi32(a3, 2), FOLD_16, x);
	crc = (uint32_t)__builtin_ia32_crc32di(__builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(x)),
					       (uint64_t)_mm_extract_epi64(x, 1));
	return crc32c_sse42(crc, p, len);
}

int arch_crc32c_hw(uint32_t *crc, const void *buf, size_t len)
{
	enum { HAVE = 1, FOLD = 2 };
	/* (one word, set once: threads racing here compute the same) */
	static int caps = -1;
	int c = __atomic_load_n(&caps, __ATOMIC_RELAXED);

	if (c < 0) {
		__builtin_cpu_init();
		c = __builtin_cpu_supports("sse4.2") ? HAVE : 0;
		if (c && __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("avx512f"))
			c |= FOLD;
		__atomic_store_n(&caps, c, __ATOMIC_RELAXED);
	}
	if (!(c & HAVE))
		return -ENOSYS;
	if ((c & FOLD) && len >= 256)
		*crc = crc32c_fold(*crc, buf, len);
	else
		*crc = len >= 3 * STRIPE ? crc32c_3way(*crc, buf, len) : crc32c_sse42(*crc, buf, len);
	return 0;
}
