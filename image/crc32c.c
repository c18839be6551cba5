/*
 * CRC32C, reflected polynomial 0x82f63b78 (RFC 3720, appendix B.4).
 * The CPU instruction when there is one (arch_crc32c_hw), else
 * slicing-by-8 tables built on first use.  crc32c_combine() joins the
 * checksums of two pieces as zlib's crc32_combine() does (zlib 1.2.12+
 * crc32.c: multiplication modulo P, and x^(2^k) mod P tabulated).
 */
#include <pthread.h>
#include <string.h>

#include "arch/arch.h"
#include "image/crc32c.h"

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t len)
{
	pthread_once(&table_once, build_table);
	while (len >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		    table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		    table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		    table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return c;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;

	if (arch_crc32c_hw(&c, buf, len) < 0)
		c = crc32c_sw(c, buf, len);
	return ~c;
}

/* a * b modulo P, both reflected (bit 31 is x^0) */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if (!(a & (m - 1)))
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ 0x82f63b78u : b >> 1;
	}
	return p;
}

static uint32_t x2n_table[64];	/* x^(2^k) mod P */
static pthread_once_t x2n_once = PTHREAD_ONCE_INIT;

static void build_x2n(void)
{
	uint32_t p = 1u << 30;	/* x^1 */

	x2n_table[0] = p;
	for (int k = 1; k < 64; k++)
		x2n_table[k] = p = multmodp(p, p);
}

uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
	uint32_t p = 1u << 31;	/* x^0 */

	pthread_once(&x2n_once, build_x2n);
	/* x^(8 len2): bit k of len2 is x^(2^(k+3)) */
	for (unsigned k = 3; len2; len2 >>= 1, k++)
		if (len2 & 1)
			p = multmodp(x2n_table[k], p);
	return multmodp(p, crc1) ^ crc2;
}
