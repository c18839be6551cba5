/*
 * SHA-256 as FIPS 180-4 section 6.2 defines it (constants: section 4.2.2,
 * initial value: 5.3.3), and HMAC as RFC 2104 builds it on a hash with
 * 64-byte blocks.  Tested against FIPS 180-4's examples and RFC 4231's
 * HMAC-SHA256 vectors (tests/unit/test_sha256.c).
 */
#include <string.h>

#include "arch/arch.h"
#include "common/sha256-k.h"
#include "image/sha256.h"

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void sha256_blocks_c(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	for (; nblocks--; p += SHA256_BLOCK) {
		uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
			 g = h[6], hh = h[7];

		for (int t = 0; t < 16; t++)
			w[t] = be32(p + 4 * t);
		for (int t = 16; t < 64; t++) {
			uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
			uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);

			w[t] = w[t - 16] + s0 + w[t - 7] + s1;
		}
		for (int t = 0; t < 64; t++) {
			uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
				      sha256_k[t] + w[t];
			uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
}

static void blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
	if (n && arch_sha256_hw(h, p, n) < 0)
		sha256_blocks_c(h, p, n);
}

void sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->len = 0;
	c->nbuf = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t n)
{
	const uint8_t *p = data;

	/* An empty payload may come as NULL: p + 0 on NULL is undefined (C11
	 * 6.5.6; UBSan, tests/fuzz: a section of size 0). */
	if (!n)
		return;
	c->len += n;
	if (c->nbuf) {
		size_t k = SHA256_BLOCK - c->nbuf < n ? SHA256_BLOCK - c->nbuf : n;

		memcpy(c->buf + c->nbuf, p, k);
		c->nbuf += k;
		p += k;
		n -= k;
		if (c->nbuf < SHA256_BLOCK)
			return;
		blocks(c->h, c->buf, 1);
		c->nbuf = 0;
	}
	blocks(c->h, p, n / SHA256_BLOCK);
	p += n - n % SHA256_BLOCK;
	n %= SHA256_BLOCK;
	memcpy(c->buf, p, n);
	c->nbuf = n;
}

void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[SHA256_BLOCK + 8] = { 0x80 };
	/* 0x80, zeros to 56 mod 64, then the length in bits (5.1.1) */
	size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf;

	for (int i = 0; i < 8; i++)
		pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(c, pad, npad + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
}

void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final(&c, out);
}

/* RFC 2104, section 2: H(K ^ opad, H(K ^ ipad, text)); a key longer
 * than a block is hashed first. */
void hmac_sha256_init(struct hmac_sha256 *m, const void *key, size_t keylen)
{
	uint8_t k[SHA256_BLOCK] = { 0 }, pad[SHA256_BLOCK];

	if (keylen > SHA256_BLOCK)
		sha256(key, keylen, k);
	else if (keylen)
		memcpy(k, key, keylen);
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&m->inner);
	sha256_update(&m->inner, pad, sizeof(pad));
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&m->outer);
	sha256_update(&m->outer, pad, sizeof(pad));
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}

void hmac_sha256_update(struct hmac_sha256 *m, const void *p, size_t n)
{
	sha256_update(&m->inner, p, n);
}

void hmac_sha256_peek(const struct hmac_sha256 *m, uint8_t out[SHA256_LEN])
{
	struct sha256 in = m->inner, o = m->outer;
	uint8_t d[SHA256_LEN];

	sha256_final(&in, d);
	sha256_update(&o, d, sizeof(d));
	sha256_final(&o, out);
}

void hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
		 uint8_t out[SHA256_LEN])
{
	struct hmac_sha256 m;

	hmac_sha256_init(&m, key, keylen);
	hmac_sha256_update(&m, p, n);
	hmac_sha256_peek(&m, out);
}

int ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;

	while (n--)
		d |= *x++ ^ *y++;
	return d == 0;
}
