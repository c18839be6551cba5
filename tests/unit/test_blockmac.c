/*
 * Block MACs of signed images (image/blockmac.c): Poly1305-AES against
 * the test vectors of its paper (D. J. Bernstein, "The Poly1305-AES
 * message-authentication code", 2005, appendix B), computed the way a
 * dump does (Poly1305_r first, the AES mask added after); and what a
 * block's tag covers: every byte of a PAGES or PAGES_ALIGNED payload,
 * its place in the table (the nonce), and nothing an aligned block may
 * hide (non-zero padding).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "image/blockmac.h"
#include "image/sha256.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void check_vector(const char *m, size_t mlen, const char *r, const char *k, const char *n,
			 const char *want)
{
	struct img_block_key bk = { .alg = CKPT_DIGEST_POLY1305_AES, .keyed = 1 };
	struct img_block_hash bh;
	uint8_t msg[64], a[16], nonce[16], h[16], tag[16], exp[16];

	hex(m, msg, mlen);
	hex(r, bk.r, 16);
	hex(k, a, 16);
	hex(n, nonce, 16);
	hex(want, exp, 16);
	img_block_hash_new(&bh, &bk);
	img_block_hash_start(&bh);
	/* in two pieces, as the page workers feed it */
	img_block_hash_update(&bh, msg, mlen / 2);
	img_block_hash_update(&bh, msg + mlen / 2, mlen - mlen / 2);
	img_block_hash_end(&bh, h);
	img_block_hash_free(&bh);
	img_block_mask(a, nonce, h, tag);
	ASSERT_MEMEQ(exp, tag, 16);
}

TEST(poly1305_aes_paper_vectors)
{
	check_vector("f3f6", 2, "851fc40c3467ac0be05cc20404f3f700", "ec074c835580741701425b623235add6",
		     "fb447350c4e868c52ac3275cf9d4327e", "f4c633c3044fc145f84f335cb81953de");
	check_vector("", 0, "a0f3080000f46400d0c7e9076c834403", "75deaa25c09f208e1dc4ce6b5cad3fbf",
		     "61ee09218d29b0aaed7e154a2c5509cc", "dd3fab2251f11ac759f0887129cc2ee7");
	check_vector("663cea190ffb83d89593f3f476b6bc24d7e679107ea26adb8caf6652d0656136", 32,
		     "48443d0bb0d21109c89a100b5ce2c208", "6acb5f61a7176dd320c5c1eb2edcdc74",
		     "ae212a55399729595dea458bc621ff0e", "0ee1c16bb73f0f4fd19881753c01cdbe");
}

/* A key as a signing writer derives it (blockmac.h). */
static void key_for(struct img_block_key *bk, uint8_t fill)
{
	struct ckpt_header h = { .flags = CKPT_HDR_MAC | CKPT_HDR_DIGESTS | CKPT_HDR_BLOCK_MAC };
	struct img_key k;

	memset(&k, fill, sizeof(k));
	memset(h.sign_nonce, 0x33, sizeof(h.sign_nonce));
	img_block_key_init(bk, &k, &h);
}

#define DATA	8192

TEST(block_tag_covers_every_byte_and_its_place)
{
	static uint8_t pay[16 + DATA], al[8 + 40 + 16 + DATA];
	struct img_block_key bk, other;
	uint8_t d[CKPT_DIGEST_LEN], d2[CKPT_DIGEST_LEN], zero[16] = { 0 };
	const size_t at[] = { 0, 7, 15, 16, 17, 4000, 16 + DATA - 1 };

	key_for(&bk, 0x42);
	key_for(&other, 0x43);
	ASSERT_EQ(CKPT_DIGEST_POLY1305_AES, bk.alg);
	ASSERT_EQ(1, bk.keyed);
	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = (uint8_t)(i * 131 + 7);
	ASSERT_EQ(0, img_block_digest(&bk, 5, CKPT_SEC_PAGES,
				      &(struct iovec){ pay, sizeof(pay) }, 1, d));
	ASSERT_MEMEQ(zero, d + 16, 16);
	ASSERT_EQ(1, img_block_ok(&bk, 5, CKPT_SEC_PAGES, pay, sizeof(pay), d));
	/* another place in the table, another image's key, one byte less */
	ASSERT_EQ(0, img_block_ok(&bk, 6, CKPT_SEC_PAGES, pay, sizeof(pay), d));
	ASSERT_EQ(0, img_block_ok(&other, 5, CKPT_SEC_PAGES, pay, sizeof(pay), d));
	ASSERT_EQ(0, img_block_ok(&bk, 5, CKPT_SEC_PAGES, pay, sizeof(pay) - 1, d));
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		pay[at[i]] ^= 0x01;
		EXPECT_EQ(0, img_block_ok(&bk, 5, CKPT_SEC_PAGES, pay, sizeof(pay), d))
		{
			TH_LOG("byte %zu changed, tag still matches", at[i]);
		}
		pay[at[i]] ^= 0x01;
	}
	/* the same block, aligned: the same tag, whatever its skip; a byte
	 * in its padding makes it match nothing */
	memset(al, 0, sizeof(al));
	al[0] = 40;	/* struct ckpt_align: skip 40 */
	memcpy(al + 8 + 40, pay, sizeof(pay));
	ASSERT_EQ(0, img_block_digest(&bk, 5, CKPT_SEC_PAGES_ALIGNED,
				      &(struct iovec){ al, sizeof(al) }, 1, d2));
	ASSERT_MEMEQ(d, d2, CKPT_DIGEST_LEN);
	al[8 + 39] = 1;
	ASSERT_EQ(-1, img_block_digest(&bk, 5, CKPT_SEC_PAGES_ALIGNED,
				       &(struct iovec){ al, sizeof(al) }, 1, d2));
	ASSERT_EQ(0, img_block_ok(&bk, 5, CKPT_SEC_PAGES_ALIGNED, al, sizeof(al), d));
	al[8 + 39] = 0;
	al[4] = 1;	/* reserved */
	ASSERT_EQ(0, img_block_ok(&bk, 5, CKPT_SEC_PAGES_ALIGNED, al, sizeof(al), d));
}

TEST(older_images_sha256_and_no_key)
{
	struct ckpt_header h = { .flags = CKPT_HDR_MAC | CKPT_HDR_DIGESTS };
	struct img_block_key bk;
	uint8_t d[CKPT_DIGEST_LEN], want[SHA256_LEN];
	static const char p[] = "abc";

	/* a version-2 image: SHA-256 of the payload, no key needed */
	img_block_key_init(&bk, NULL, &h);
	ASSERT_EQ(CKPT_DIGEST_SHA256, bk.alg);
	hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, sizeof(want));
	ASSERT_EQ(0, img_block_digest(&bk, 9, CKPT_SEC_PAGES, &(struct iovec){ (void *)p, 3 }, 1, d));
	ASSERT_MEMEQ(want, d, SHA256_LEN);
	ASSERT_EQ(1, img_block_ok(&bk, 9, CKPT_SEC_PAGES, p, 3, want));
	/* a block MAC without the key: nothing can be said to match */
	h.flags |= CKPT_HDR_BLOCK_MAC;
	img_block_key_init(&bk, NULL, &h);
	ASSERT_EQ(0, bk.keyed);
	ASSERT_EQ(-1, img_block_digest(&bk, 9, CKPT_SEC_PAGES, &(struct iovec){ (void *)p, 3 }, 1, d));
}

TEST_HARNESS_MAIN
