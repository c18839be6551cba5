/*
 * CRC32C (image/crc32c.c, arch/<arch>/crc32c.c): the published check
 * values, and the CPU-instruction path, the slicing-by-8 table path and a
 * bit-at-a-time reference agreeing on every length and alignment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "harness.h"

/*
 * The table path is static in image/crc32c.c and crc32c() prefers the
 * instruction, so on x86-64 the table would never be exercised here.
 * Compile a private copy of the file, renamed, to reach crc32c_sw().
 */
#define crc32c crc32c_copy
#define crc32c_combine crc32c_combine_copy
#include "image/crc32c.c"
#undef crc32c
#undef crc32c_combine
/* The real ones, whose declarations the renaming above took. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

/* The definition itself, one bit at a time (RFC 3720, B.4). */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t c = ~crc;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

static uint32_t via_table(uint32_t crc, const void *p, size_t len)
{
	return ~crc32c_sw(~crc, p, len);
}

TEST(check_value_123456789)
{
	ASSERT_EQ(0xe3069283u, crc32c(0, "123456789", 9));
	ASSERT_EQ(0xe3069283u, via_table(0, "123456789", 9));
	ASSERT_EQ(0xe3069283u, crc32c_ref(0, (const uint8_t *)"123456789", 9));
}

TEST(empty_buffer_is_zero)
{
	ASSERT_EQ(0, crc32c(0, "", 0));
	ASSERT_EQ(0x12345678u, crc32c(0x12345678u, NULL, 0));
}

/* RFC 3720, appendix B.4: 32-byte test patterns. */
TEST(rfc3720_vectors)
{
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(0x8a9136aau, crc32c(0, buf, sizeof(buf)));
	memset(buf, 0xff, sizeof(buf));
	EXPECT_EQ(0x62a8ab43u, crc32c(0, buf, sizeof(buf)));
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	EXPECT_EQ(0x46dd794eu, crc32c(0, buf, sizeof(buf)));
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	EXPECT_EQ(0x113fdb5cu, crc32c(0, buf, sizeof(buf)));
}

TEST(hardware_path_present_on_x86_64_with_sse42)
{
	uint32_t c = ~0u;
	int ret = arch_crc32c_hw(&c, "123456789", 9);

	if (ret < 0) {
		/* Not a failure: crc32c() falls back to the table. */
		TH_LOG("no CRC32C instruction on this CPU (%d): table path only", ret);
		return;
	}
	ASSERT_EQ(0xe3069283u, ~c);
}

/* Every length 0..300 at every alignment 0..15, random contents. */
/* Long buffers take the three-stream path (arch/x86_64/crc32c.c): every
 * length around its 12 KiB rounds, and a MiB, must agree too. */
TEST(long_buffers_agree)
{
	static uint8_t buf[(1 << 20) + 64];
	static const size_t lens[] = { 12287, 12288, 12289, 24576 + 8, 36864 - 1, 1 << 20 };

	srandom(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)random();
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
		for (size_t off = 0; off < 3; off++) {
			uint32_t want = crc32c_ref(0, buf + off, lens[k]);

			ASSERT_EQ(want, crc32c(0, buf + off, lens[k])) {
				TH_LOG("crc32c(), offset %zu length %zu", off, lens[k]);
			}
			ASSERT_EQ(crc32c(crc32c(0, buf, 5000), buf + 5000, lens[k] - 5000),
				  crc32c(0, buf, lens[k]));
		}
}

/* Buffers of 256 bytes and more are folded where the CPU has VPCLMULQDQ
 * (arch/x86_64/crc32c.c): every length across its 256-byte rounds, its
 * 64-byte tail steps and the bytes after them, at odd offsets. */
TEST(folded_lengths_agree)
{
	static uint8_t buf[1400 + 8];

	srandom(11);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)random();
	for (size_t off = 0; off < 8; off += 3)
		for (size_t len = 240; len <= 1400; len++) {
			ASSERT_EQ(crc32c_ref(0x9e3779b9u, buf + off, len), crc32c(0x9e3779b9u, buf + off, len)) {
				TH_LOG("offset %zu length %zu", off, len);
			}
		}
}

TEST(paths_agree_on_all_lengths_and_offsets)
{
	static uint8_t buf[300 + 16];
	int have_hw;
	uint32_t c = ~0u;

	srandom(42);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)random();
	have_hw = arch_crc32c_hw(&c, buf, 1) == 0;
	for (size_t off = 0; off < 16; off++) {
		for (size_t len = 0; len <= 300; len++) {
			uint32_t want = crc32c_ref(0, buf + off, len);

			ASSERT_EQ(want, via_table(0, buf + off, len)) {
				TH_LOG("table path, offset %zu length %zu", off, len);
			}
			ASSERT_EQ(want, crc32c(0, buf + off, len)) {
				TH_LOG("crc32c(), offset %zu length %zu", off, len);
			}
			if (have_hw) {
				c = ~0u;
				ASSERT_EQ(0, arch_crc32c_hw(&c, buf + off, len));
				ASSERT_EQ(want, ~c) {
					TH_LOG("instruction path, offset %zu length %zu", off, len);
				}
			}
		}
	}
}

/* crc32c(crc32c(0, a), b) == crc32c(0, ab): how the writer checksums iovecs. */
TEST(chaining_equals_one_pass)
{
	static uint8_t buf[1000];

	srandom(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)random();
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		uint32_t one = crc32c(0, buf, sizeof(buf));

		ASSERT_EQ(one, crc32c(crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut)) {
			TH_LOG("split at %zu", cut);
		}
		ASSERT_EQ(one, via_table(via_table(0, buf, cut), buf + cut, sizeof(buf) - cut));
	}
}

/* Pieces checksummed apart and joined give the one-pass checksum, as
 * dump does for a block header and page data read in several pieces. */
TEST(combine_equals_one_pass)
{
	static uint8_t buf[3 << 16];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)random();
	for (size_t cut = 0; cut <= sizeof(buf); cut = cut * 3 + 1) {
		for (size_t len = 0; cut + len <= sizeof(buf); len = len * 2 + 4093) {
			uint32_t one = crc32c(0, buf, cut + len);

			ASSERT_EQ(one, crc32c_combine(crc32c(0, buf, cut), crc32c(0, buf + cut, len), len)) {
				TH_LOG("cut %zu, len %zu", cut, len);
			}
		}
	}
	ASSERT_EQ(0x12345678u, crc32c_combine(0x12345678u, 0, 0));
}

#if defined(__x86_64__)
/* Its three-stream path's tables, static there: a private copy too. */
#define arch_crc32c_hw arch_crc32c_hw_copy
int arch_crc32c_hw_copy(uint32_t *crc, const void *buf, size_t len);
#include "arch/x86_64/crc32c.c"
#undef arch_crc32c_hw

/*
 * The tables are built from the 32 single bits' images (build_shifts):
 * every entry of both must be its value shifted by STRIPE and 2 * STRIPE
 * bytes, each computed the slow way here.  A wrong entry would be used
 * only when a stream's register takes that byte value at a round's end:
 * long_buffers_agree could miss it.
 */
TEST(x86_64_shift_tables_are_every_entrys_shift)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("sse4.2")) {
		TH_LOG("no SSE4.2: the three-stream path is not used here");
		return;
	}
	pthread_once(&shift_once, build_shifts);
	for (int byte = 0; byte < 4; byte++)
		for (uint32_t v = 0; v < 256; v++) {
			ASSERT_EQ(shift_slow(v << (8 * byte), STRIPE), shift1[byte][v]) {
				TH_LOG("shift by %u bytes, byte %d, value %u", STRIPE, byte, v);
			}
			ASSERT_EQ(shift_slow(v << (8 * byte), 2 * STRIPE), shift2[byte][v]) {
				TH_LOG("shift by %u bytes, byte %d, value %u", 2 * STRIPE, byte, v);
			}
		}
}

/*
 * The three-stream path itself: on a CPU with AVX-512 VPCLMULQDQ every
 * buffer of 256 bytes or more is folded, so long_buffers_agree no longer
 * reaches it there; it is the path of every other x86-64.  Every length
 * around one, two and three rounds of 3 * STRIPE bytes, and a MiB, at
 * four offsets, from a seed, against the definition.
 */
TEST(x86_64_three_streams_agree_across_rounds)
{
	static uint8_t buf[(1 << 20) + 8];
	size_t lens[3 * 2 * 24 + 2], n = 0;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("sse4.2")) {
		TH_LOG("no SSE4.2: the three-stream path is not used here");
		return;
	}
	for (size_t round = 1; round <= 3; round++)
		for (size_t d = 0; d < 24; d++) {
			lens[n++] = round * 3 * STRIPE - 1 - d;
			lens[n++] = round * 3 * STRIPE + d;
		}
	lens[n++] = 3 * STRIPE + STRIPE - 1;
	lens[n++] = 1 << 20;
	srandom(13);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)random();
	for (size_t k = 0; k < n; k++)
		for (size_t off = 0; off < 8; off += 2) {
			uint32_t want = crc32c_ref(0x9e3779b9u, buf + off, lens[k]);

			ASSERT_EQ(want, ~crc32c_3way(~0x9e3779b9u, buf + off, lens[k])) {
				TH_LOG("offset %zu length %zu", off, lens[k]);
			}
		}
}
#endif

/* Any single flipped bit changes the checksum: what the image relies on. */
TEST(every_single_bit_flip_is_detected)
{
	static uint8_t buf[256];
	uint32_t orig;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13);
	orig = crc32c(0, buf, sizeof(buf));
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ASSERT_NE(orig, crc32c(0, buf, sizeof(buf))) {
			TH_LOG("bit %zu", bit);
		}
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

TEST_HARNESS_MAIN
