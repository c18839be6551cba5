/*
 * SHA-256 and HMAC-SHA256 (image/sha256.c, arch/<arch>/sha256.c): the
 * examples of FIPS 180-4 (NIST's "SHA256.pdf" example values), the test
 * cases of RFC 4231, and the CPU-instruction path agreeing with the
 * portable one on every length and alignment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "harness.h"
#include "image/sha256.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void check_hash(const void *p, size_t n, const char *want)
{
	uint8_t got[SHA256_LEN], exp[SHA256_LEN];

	hex(want, exp, sizeof(exp));
	sha256(p, n, got);
	ASSERT_MEMEQ(exp, got, sizeof(exp));
}

TEST(fips180_examples)
{
	check_hash("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hash("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(million_a_fed_in_odd_pieces)
{
	static uint8_t a[1000000];
	uint8_t got[SHA256_LEN], exp[SHA256_LEN];
	struct sha256 c;
	size_t off = 0, step = 1;

	memset(a, 'a', sizeof(a));
	hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", exp, sizeof(exp));
	sha256_init(&c);
	while (off < sizeof(a)) {
		size_t k = step < sizeof(a) - off ? step : sizeof(a) - off;

		sha256_update(&c, a + off, k);
		off += k;
		step = step * 7 % 1021 + 1;
	}
	sha256_final(&c, got);
	ASSERT_MEMEQ(exp, got, sizeof(exp));
	check_hash(a, sizeof(a), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every padding case: 0..200 bytes, around the 55/56/64-byte edges. */
TEST(cpu_instructions_match_portable_code)
{
	uint8_t buf[64 * 40 + 7];
	uint32_t h1[8], h2[8];

	srand(9);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t n = 1; n <= 40; n++)
		for (size_t align = 0; align < 8; align += 3) {
			for (int i = 0; i < 8; i++)
				h1[i] = h2[i] = (uint32_t)rand();
			sha256_blocks_c(h1, buf + align, n);
			if (arch_sha256_hw(h2, buf + align, n) < 0) {
				TH_LOG("no SHA instructions on this CPU: portable code only");
				return;
			}
			ASSERT_MEMEQ(h1, h2, sizeof(h1)) {
				TH_LOG("%zu blocks at alignment %zu", n, align);
			}
		}
}

static void check_hmac(const void *key, size_t keylen, const void *data, size_t n,
		       const char *want, size_t wantlen)
{
	uint8_t got[SHA256_LEN], exp[SHA256_LEN];

	hex(want, exp, wantlen);
	hmac_sha256(key, keylen, data, n, got);
	ASSERT_MEMEQ(exp, got, wantlen);
}

TEST(rfc4231_hmac_sha256)
{
	uint8_t k[131], d[50];

	memset(k, 0x0b, 20);
	check_hmac(k, 20, "Hi There", 8,
		   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
	check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
	memset(k, 0xaa, 20);
	memset(d, 0xdd, 50);
	check_hmac(k, 20, d, 50,
		   "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
	for (int i = 0; i < 25; i++)
		k[i] = (uint8_t)(i + 1);
	memset(d, 0xcd, 50);
	check_hmac(k, 25, d, 50,
		   "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32);
	memset(k, 0x0c, 20);
	check_hmac(k, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b", 16);
	memset(k, 0xaa, 131);
	check_hmac(k, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
	check_hmac(k, 131,
		   "This is a test using a larger than block-size key and a larger than "
		   "block-size data. The key needs to be hashed before being used by the HMAC "
		   "algorithm.", 152,
		   "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32);
}

/* peek gives the MAC so far and leaves the state to go on from. */
TEST(hmac_peek_then_continue)
{
	struct hmac_sha256 m;
	uint8_t a[SHA256_LEN], b[SHA256_LEN];

	hmac_sha256_init(&m, "Jefe", 4);
	hmac_sha256_update(&m, "what do ya want ", 16);
	hmac_sha256_peek(&m, a);
	hmac_sha256("Jefe", 4, "what do ya want ", 16, b);
	ASSERT_MEMEQ(b, a, sizeof(a));
	hmac_sha256_update(&m, "for nothing?", 12);
	hmac_sha256_peek(&m, a);
	hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", b, sizeof(b));
	ASSERT_MEMEQ(b, a, sizeof(a));
}

TEST(ct_equal_compares)
{
	ASSERT_TRUE(ct_equal("abcd", "abcd", 4));
	ASSERT_FALSE(ct_equal("abcd", "abce", 4));
	ASSERT_FALSE(ct_equal("xbcd", "abcd", 4));
	ASSERT_TRUE(ct_equal("", "", 0));
}

TEST_HARNESS_MAIN
