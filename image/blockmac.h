/*
 * The authenticator of one page data block of a signed image: what its
 * entry in the DIGESTS table holds (format.h, struct ckpt_digest).
 *
 * Images of format 3 with CKPT_HDR_BLOCK_MAC: Poly1305-AES (D. J.
 * Bernstein, "The Poly1305-AES message-authentication code", FSE 2005;
 * Poly1305 itself as RFC 8439 2.5 computes it), from OpenSSL's libcrypto:
 *
 *   tag_k = Poly1305_r(M) + AES-128_a(n_k)  mod 2^128
 *
 * (a, r): the two halves of HMAC-SHA256(K, "ckpt block MAC 1" || the
 * image header as stored); the header carries 16 fresh random bytes at
 * every signing write (sign_nonce), so no two images share (a, r).  n_k:
 * the block's index k in the table, u64 little-endian then 8 zero bytes,
 * once per image.  M: the payload, a page block's struct ckpt_pages
 * moved from its front to its end (the page workers know it only when a
 * run ends); an aligned block's ckpt_align and skip must be zero but for
 * skip itself, and are not in M (M and the section's size give them).
 *
 * It is a Wegman-Carter MAC: each tag is masked by an AES output used
 * once, so the table, which anyone can read, tells nothing of r or a;
 * changing a block of L bytes undetected succeeds with probability at
 * most 8 * ceil(L / 16) / 2^106 per try (the paper's bound).  And
 * Poly1305_r(M) needs no k: a dump's page workers compute it while the
 * data is in cache, and the writer, which numbers the blocks, adds the
 * mask (img_block_tag).
 *
 * Older signed images (CKPT_HDR_DIGESTS alone): the SHA-256 of the
 * payload as stored.
 */
#ifndef CKPT_IMAGE_BLOCKMAC_H
#define CKPT_IMAGE_BLOCKMAC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "image/format.h"
#include "image/key.h"

#define IMG_BLOCK_HASH_LEN	16	/* Poly1305_r(M), before the mask */

struct img_block_key {
	uint32_t alg;		/* CKPT_DIGEST_* of the image (0: no table) */
	int keyed;		/* a and r are known (the key was) */
	uint8_t a[16];		/* AES-128 key of the masks */
	uint8_t r[32];		/* Poly1305 key: r, then s = 0 (the mask comes later) */
};

/* The image's algorithm from its header, and with key (NULL: none) its
 * (a, r).  The header as stored, crc included. */
void img_block_key_init(struct img_block_key *bk, const struct img_key *key,
			const struct ckpt_header *h);

/* Poly1305_r(M) in pieces (one context per thread; started again for
 * each block). */
struct img_block_hash {
	void *ctx;		/* EVP_MAC_CTX */
	const struct img_block_key *bk;
};
void img_block_hash_new(struct img_block_hash *bh, const struct img_block_key *bk);
/* libcrypto's algorithms fetched (its configuration read: ~1 ms), as
 * img_block_hash_new would first. */
void img_block_hash_ready(void);
void img_block_hash_start(struct img_block_hash *bh);
void img_block_hash_update(struct img_block_hash *bh, const void *p, size_t n);
void img_block_hash_end(struct img_block_hash *bh, uint8_t h[IMG_BLOCK_HASH_LEN]);
void img_block_hash_free(struct img_block_hash *bh);

/* Poly1305-AES's last step: out = h + AES-128_a(n) mod 2^128. */
void img_block_mask(const uint8_t a[16], const uint8_t n[16], const uint8_t h[IMG_BLOCK_HASH_LEN],
		    uint8_t out[16]);
/* The table's entry for block idx whose Poly1305_r(M) is h. */
void img_block_tag(const struct img_block_key *bk, uint64_t idx, const uint8_t h[IMG_BLOCK_HASH_LEN],
		   uint8_t out[CKPT_DIGEST_LEN]);

/*
 * The table's entry for the idx-th section after MAC_META, of this type,
 * whose payload as stored is in iov: its SHA-256 (alg SHA256) or its tag
 * (which needs the key).  0; -1 when it cannot be (no key, or an aligned
 * block whose padding is not zero): it then matches no entry.
 */
int img_block_digest(const struct img_block_key *bk, uint64_t idx, uint32_t type,
		     const struct iovec *iov, int iovcnt, uint8_t out[CKPT_DIGEST_LEN]);
/* Whether payload (len bytes) is what entry want says: in time that does
 * not depend on where they differ.  1 or 0. */
int img_block_ok(const struct img_block_key *bk, uint64_t idx, uint32_t type, const void *payload,
		 size_t len, const uint8_t want[CKPT_DIGEST_LEN]);

#endif
