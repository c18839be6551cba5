/*
 * A 64-bit content hash for pages: multiply-xorshift over 64-bit words
 * with two lanes (so two multiplies run in parallel), then a final
 * avalanche.  It detects changes, not adversaries: a page some user
 * crafted to collide would only fool their own incremental dump.
 */
#include <string.h>

#include "image/hash.h"

#define K1 0x9e3779b97f4a7c15ull
#define K2 0xc2b2ae3d27d4eb4full

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t ckpt_page_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t a = K1, c = K2;
	size_t i;

	for (i = 0; i + 16 <= len; i += 16) {
		uint64_t x, y;

		memcpy(&x, b + i, 8);
		memcpy(&y, b + i + 8, 8);
		a = (a ^ x) * K2;
		a = (a << 31) | (a >> 33);
		c = (c ^ y) * K1;
		c = (c << 29) | (c >> 35);
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t x;

		memcpy(&x, b + i, 8);
		a = ((a ^ x) * K2);
		a = (a << 31) | (a >> 33);
	}
	return mix(a ^ mix(c) ^ len);
}
