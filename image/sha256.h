/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for image
 * authentication (image/mac.c).  Streaming: init, update any number of
 * times, final.  The compression function uses the CPU's SHA instructions
 * when it has them (arch_sha256_hw), else portable C.
 */
#ifndef CKPT_IMAGE_SHA256_H
#define CKPT_IMAGE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[SHA256_BLOCK];
	size_t nbuf;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *p, size_t n);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

/* The portable compression function, for tests to compare the CPU's with. */
void sha256_blocks_c(uint32_t h[8], const uint8_t *p, size_t nblocks);

struct hmac_sha256 {
	struct sha256 inner, outer;
};

void hmac_sha256_init(struct hmac_sha256 *m, const void *key, size_t keylen);
void hmac_sha256_update(struct hmac_sha256 *m, const void *p, size_t n);
/* The MAC of what was fed so far; m is left as it was (feeding may go on). */
void hmac_sha256_peek(const struct hmac_sha256 *m, uint8_t out[SHA256_LEN]);
void hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
		 uint8_t out[SHA256_LEN]);

/* Compare n bytes in time that does not depend on where they differ. */
int ct_equal(const void *a, const void *b, size_t n);

#endif
