/* Per-block authenticators of signed images (blockmac.h). */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "image/blockmac.h"
#include "image/sha256.h"

#define LABEL	"ckpt block MAC 1"	/* 16 bytes */

static EVP_MAC *poly1305;
static EVP_CIPHER *aes128;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;

/*
 * Each thread's contexts, made once: a block's mask and a small block's
 * hash cost 3 us each with contexts made for them (OpenSSL 3 fetches the
 * algorithm at each init), as much as the SHA-256 of a page, which 60,000
 * one-page mappings would pay in the freeze.
 */
struct tls {
	EVP_CIPHER_CTX *aes;
	uint8_t a[16];		/* the key aes has, when keyed */
	int keyed;
	EVP_MAC_CTX *mac;
};

static void tls_free(void *p)
{
	struct tls *t = p;

	EVP_CIPHER_CTX_free(t->aes);
	EVP_MAC_CTX_free(t->mac);
	memset(t, 0, sizeof(*t));
	free(t);
}

static void fetch_algorithms(void)
{
	poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	aes128 = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	if (pthread_key_create(&tls_key, tls_free))
		poly1305 = NULL;
}

/* libcrypto fails only without memory (or broken): like xmalloc, give up. */
static void need(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "ckpt: libcrypto: %s failed\n", what);
	abort();
}

void img_block_key_init(struct img_block_key *bk, const struct img_key *key,
			const struct ckpt_header *h)
{
	uint8_t d[SHA256_LEN];
	struct hmac_sha256 m;

	memset(bk, 0, sizeof(*bk));
	if (!(h->flags & CKPT_HDR_DIGESTS))
		return;
	bk->alg = h->flags & CKPT_HDR_BLOCK_MAC ? CKPT_DIGEST_POLY1305_AES : CKPT_DIGEST_SHA256;
	if (bk->alg != CKPT_DIGEST_POLY1305_AES || !key)
		return;
	hmac_sha256_init(&m, key->k, sizeof(key->k));
	hmac_sha256_update(&m, LABEL, 16);
	hmac_sha256_update(&m, h, sizeof(*h));
	hmac_sha256_peek(&m, d);
	memcpy(bk->a, d, 16);
	memcpy(bk->r, d + 16, 16);	/* s = 0: the 16 bytes after r */
	bk->keyed = 1;
	memset(d, 0, sizeof(d));
	memset(&m, 0, sizeof(m));
}

static struct tls *tls(void)
{
	struct tls *t;

	pthread_once(&once, fetch_algorithms);
	need(poly1305 && aes128, "Poly1305-AES");
	t = pthread_getspecific(tls_key);
	if (t)
		return t;
	t = xzalloc(sizeof(*t));
	t->aes = EVP_CIPHER_CTX_new();
	t->mac = EVP_MAC_CTX_new(poly1305);
	need(t->aes && t->mac && !pthread_setspecific(tls_key, t), "Poly1305-AES");
	return t;
}

void img_block_hash_new(struct img_block_hash *bh, const struct img_block_key *bk)
{
	pthread_once(&once, fetch_algorithms);
	need(poly1305 != NULL, "Poly1305");
	bh->bk = bk;
	bh->ctx = EVP_MAC_CTX_new(poly1305);
	need(bh->ctx != NULL, "Poly1305");
}

void img_block_hash_ready(void)
{
	pthread_once(&once, fetch_algorithms);
}

void img_block_hash_start(struct img_block_hash *bh)
{
	need(EVP_MAC_init(bh->ctx, bh->bk->r, sizeof(bh->bk->r), NULL), "Poly1305");
}

void img_block_hash_update(struct img_block_hash *bh, const void *p, size_t n)
{
	need(!n || EVP_MAC_update(bh->ctx, p, n), "Poly1305");
}

void img_block_hash_end(struct img_block_hash *bh, uint8_t h[IMG_BLOCK_HASH_LEN])
{
	size_t len = 0;

	need(EVP_MAC_final(bh->ctx, h, &len, IMG_BLOCK_HASH_LEN) && len == IMG_BLOCK_HASH_LEN,
	     "Poly1305");
}

void img_block_hash_free(struct img_block_hash *bh)
{
	EVP_MAC_CTX_free(bh->ctx);
	bh->ctx = NULL;
}

void img_block_mask(const uint8_t a[16], const uint8_t n[16], const uint8_t h[IMG_BLOCK_HASH_LEN],
		    uint8_t out[16])
{
	uint8_t mask[16 + 16];
	struct tls *t = tls();
	unsigned carry = 0;
	int len = 0;

	/* ECB on one block, no padding: nothing carries from call to call */
	if (!t->keyed || memcmp(t->a, a, 16)) {
		need(EVP_EncryptInit_ex2(t->aes, aes128, a, NULL, NULL) &&
		     EVP_CIPHER_CTX_set_padding(t->aes, 0), "AES");
		memcpy(t->a, a, 16);
		t->keyed = 1;
	}
	need(EVP_EncryptUpdate(t->aes, mask, &len, n, 16) && len == 16, "AES");
	/* Poly1305's last step with s = AES_a(n): h + s mod 2^128, little-endian */
	for (int i = 0; i < 16; i++) {
		carry += (unsigned)h[i] + mask[i];
		out[i] = (uint8_t)carry;
		carry >>= 8;
	}
	memset(mask, 0, sizeof(mask));
}

void img_block_tag(const struct img_block_key *bk, uint64_t idx, const uint8_t h[IMG_BLOCK_HASH_LEN],
		   uint8_t out[CKPT_DIGEST_LEN])
{
	uint8_t n[16] = { 0 };

	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(idx >> (8 * i));
	memset(out, 0, CKPT_DIGEST_LEN);
	img_block_mask(bk->a, n, h, out);
}

/* Feed bytes [off, off + len) of the payload in iov. */
static void feed_range(struct img_block_hash *bh, const struct iovec *iov, int iovcnt, uint64_t off,
		       uint64_t len)
{
	for (int i = 0; i < iovcnt && len; i++) {
		size_t l = iov[i].iov_len, n;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = (size_t)MIN(len, l - off);
		img_block_hash_update(bh, (const uint8_t *)iov[i].iov_base + off, n);
		len -= n;
		off = 0;
	}
}

/* An aligned block's padding is all zero but its skip: then the payload
 * follows from M and the size.  Where the PAGES payload it holds starts,
 * or -1. */
static int64_t aligned_start(const struct iovec *iov, int iovcnt, uint64_t size)
{
	struct ckpt_align a;
	uint8_t z[256];

	if (!iov_gather(iov, iovcnt, 0, &a, sizeof(a)) || a.reserved || a.skip >= CKPT_MAX_ALIGN_SKIP ||
	    sizeof(a) + (uint64_t)a.skip + sizeof(struct ckpt_pages) > size)
		return -1;
	for (uint32_t off = 0; off < a.skip; off += sizeof(z)) {
		size_t n = MIN(sizeof(z), (size_t)(a.skip - off));

		if (!iov_gather(iov, iovcnt, sizeof(a) + off, z, n))
			return -1;
		for (size_t i = 0; i < n; i++)
			if (z[i])
				return -1;
	}
	return (int64_t)(sizeof(a) + a.skip);
}

int img_block_digest(const struct img_block_key *bk, uint64_t idx, uint32_t type,
		     const struct iovec *iov, int iovcnt, uint8_t out[CKPT_DIGEST_LEN])
{
	struct img_block_hash bh;
	uint8_t h[IMG_BLOCK_HASH_LEN];
	uint64_t size = 0;
	int64_t start = 0;

	memset(out, 0, CKPT_DIGEST_LEN);
	for (int i = 0; i < iovcnt; i++)
		size += iov[i].iov_len;
	if (bk->alg == CKPT_DIGEST_SHA256) {
		struct sha256 c;

		sha256_init(&c);
		for (int i = 0; i < iovcnt; i++)
			sha256_update(&c, iov[i].iov_base, iov[i].iov_len);
		sha256_final(&c, out);
		return 0;
	}
	if (bk->alg != CKPT_DIGEST_POLY1305_AES || !bk->keyed)
		return -1;
	if (type == CKPT_SEC_PAGES_ALIGNED && (start = aligned_start(iov, iovcnt, size)) < 0)
		return -1;
	bh = (struct img_block_hash){ .ctx = tls()->mac, .bk = bk };
	img_block_hash_start(&bh);
	if (type == CKPT_SEC_PAGES || type == CKPT_SEC_PAGES_ALIGNED) {
		const uint64_t pg = sizeof(struct ckpt_pages);

		if (size - (uint64_t)start < pg)
			return -1;
		feed_range(&bh, iov, iovcnt, (uint64_t)start + pg, size - (uint64_t)start - pg);
		feed_range(&bh, iov, iovcnt, (uint64_t)start, pg);
	} else {
		feed_range(&bh, iov, iovcnt, 0, size);
	}
	img_block_hash_end(&bh, h);
	img_block_tag(bk, idx, h, out);
	return 0;
}

int img_block_ok(const struct img_block_key *bk, uint64_t idx, uint32_t type, const void *payload,
		 size_t len, const uint8_t want[CKPT_DIGEST_LEN])
{
	struct iovec iov = { (void *)payload, len };
	uint8_t d[CKPT_DIGEST_LEN];

	return img_block_digest(bk, idx, type, &iov, 1, d) == 0 && ct_equal(d, want, CKPT_DIGEST_LEN);
}
