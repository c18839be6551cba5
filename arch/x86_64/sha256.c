/*
 * x86-64: the SHA-256 compression function with the SHA extensions (Intel
 * SDM vol. 2: SHA256RNDS2, SHA256MSG1, SHA256MSG2; CPUID.7.0:EBX.SHA[29]).
 * The instructions keep the working variables as two vectors, ABEF and
 * CDGH; SHA256RNDS2 does two rounds with the two low dwords of its third
 * operand (W[t] + sha256_k[t]), SHA256MSG1/MSG2 and PALIGNR compute the message
 * schedule four words at a time (FIPS 180-4, 6.2.2 step 1).
 */
#include <cpuid.h>
#include <errno.h>
#include <immintrin.h>

#include "arch/arch.h"
#include "common/sha256-k.h"

__attribute__((target("sha,sse4.1")))
static void sha256_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
	/* big-endian words: byte-reverse each dword */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i s0, s1, t, w[4];

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xb1);	/* C D A B */
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1b);	/* E F G H */
	s0 = _mm_alignr_epi8(t, s1, 8);		/* A B E F */
	s1 = _mm_blend_epi16(s1, t, 0xf0);	/* C D G H */
	for (; n--; p += 64) {
		__m128i abef = s0, cdgh = s1;

		/* unrolled, so that w[] stays in registers */
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			__m128i m;

			if (g < 4)
				w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
			m = _mm_add_epi32(w[g & 3], _mm_load_si128((const __m128i *)(sha256_k + 4 * g)));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			/* W for group g + 1, from the words of the four before it */
			if (g >= 3 && g < 15) {
				t = _mm_alignr_epi8(w[g & 3], w[(g - 1) & 3], 4);
				w[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(w[(g + 1) & 3], t), w[g & 3]);
			}
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0e));
			if (g >= 1 && g < 13)
				w[(g - 1) & 3] = _mm_sha256msg1_epu32(w[(g - 1) & 3], w[g & 3]);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	t = _mm_shuffle_epi32(s0, 0x1b);	/* F E B A */
	s1 = _mm_shuffle_epi32(s1, 0xb1);	/* D C H G */
	_mm_storeu_si128((__m128i *)h, _mm_blend_epi16(t, s1, 0xf0));		/* D C B A */
	_mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(s1, t, 8));	/* H G F E */
}

int arch_sha256_hw(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	static int have = -1;

	if (have < 0) {
		unsigned a, b, c, d;

		/* CPUID.7.0:EBX.SHA[bit 29], CPUID.1:ECX.SSE4_1[bit 19] (SDM vol. 2) */
		have = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
		       __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19));
	}
	if (!have)
		return -ENOSYS;
	sha256_ni(h, p, nblocks);
	return 0;
}
