/*
 * The MAC of an image as it is read or written (format.h, struct
 * ckpt_mac): the header, then each section's header and the SHA-256 of
 * its payload are fed into one running HMAC-SHA256; a MAC section's tag
 * is that HMAC over everything before it, with its type and section
 * count appended.  Payloads that stay in place (a mapped file) may be
 * left to hash at the next tag, in parallel: restore and sign check a
 * 1 GiB image on all CPUs, not on one.
 */
#ifndef CKPT_IMAGE_MAC_H
#define CKPT_IMAGE_MAC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "image/blockmac.h"
#include "image/format.h"
#include "image/key.h"
#include "image/sha256.h"

/* What a MAC section said, as far as this machine can tell. */
enum img_mac_status {
	IMG_MAC_NONE = 0,	/* no such section: the image is not signed */
	IMG_MAC_UNCHECKED,	/* present, but we have no key to check it */
	IMG_MAC_OK,		/* made with this machine's key, and it matches */
	IMG_MAC_OTHER_KEY,	/* made with another key */
	IMG_MAC_MISMATCH,	/* made with our key, but the image changed since */
};

struct mac_pend;

struct img_mac {
	const struct img_key *key;	/* NULL: nothing is computed */
	struct hmac_sha256 h;
	struct img_block_key bk;	/* the page blocks' digests (blockmac.h) */
	struct mac_pend *pend;		/* payloads to hash at the next tag */
	size_t npend, cap;
	uint64_t pend_bytes;
	int record;			/* keep each section's digest in rec */
	struct ckpt_digest *rec;	/* (a DIGESTS table, format.h) */
	size_t nrec, rcap;
};

/* Start over with the header (as stored, crc included).  key NULL: off. */
void img_mac_start(struct img_mac *m, const struct img_key *key, const struct ckpt_header *h);
/*
 * One section: its header as stored and its payload, in iovcnt pieces.
 * defer: the payload stays where it is until the next tag (a mapping),
 * so it may be hashed then, with the others, on several threads.
 */
void img_mac_section(struct img_mac *m, const struct ckpt_section *s, const struct iovec *iov,
		     int iovcnt, int defer);
/* One section whose payload's digest is d (a DIGESTS table's word). */
void img_mac_feed(struct img_mac *m, const struct ckpt_section *s, const uint8_t d[CKPT_DIGEST_LEN]);
/*
 * Writing, after MAC_META: one page data section (payload in iov), its
 * DIGESTS entry the next, with h its Poly1305_r(M) when a page worker
 * computed it already (blockmac.h), else NULL (computed here).
 */
void img_mac_block(struct img_mac *m, const struct ckpt_section *s, const struct iovec *iov,
		   int iovcnt, const uint8_t *h);
/* Hash what was deferred now (rec is complete after it). */
void img_mac_flush(struct img_mac *m);
/* The MAC section of this type that would come next, after nsections. */
void img_mac_tag(struct img_mac *m, uint32_t type, uint64_t nsections, struct ckpt_mac *out);
/* Check one that was read (its nsections already checked by the reader). */
enum img_mac_status img_mac_check(struct img_mac *m, uint32_t type, const struct ckpt_mac *in);
void img_mac_free(struct img_mac *m);

/* Digests of n payloads, on several threads when bytes make it worth it:
 * SHA-256, or with bk the idx-th page data section's (blockmac.h). */
struct img_hash_job {
	const uint8_t *p;
	size_t len;
	const struct img_block_key *bk;
	uint64_t idx;
	uint32_t type;
	int ok;			/* bk: 0 when it cannot be computed */
	uint8_t d[CKPT_DIGEST_LEN];
};
void img_hash_many(struct img_hash_job *j, size_t n, uint64_t bytes);
/* A DIGESTS entry for section s (payload in iov): all but its digest. */
void img_digest_entry(struct ckpt_digest *e, const struct ckpt_section *s, const struct iovec *iov,
		      int iovcnt);

/* "signed by this machine's key", ... for messages. */
const char *img_mac_status_text(enum img_mac_status st);
/* "ok", "other-key", ... for JSON. */
const char *img_mac_status_word(enum img_mac_status st);

#endif
