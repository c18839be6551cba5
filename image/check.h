/*
 * Checks beyond the reader's own (image/read.c checks framing, checksums,
 * metadata and END's counts): that each PAGES and HASHES section fits the
 * metadata before it, and that nothing follows END.  The one validation of
 * page data: ckpt verify, inspect and merge, restore before it makes
 * anything (img_check_rewind) and, from a stream, block by block
 * (pages_check, restore/pages.c), and each parent of a chain (chain_check).
 */
#ifndef CKPT_IMAGE_CHECK_H
#define CKPT_IMAGE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/*
 * img_reader_open(), then img_read_meta(): returns what the latter does
 * (1: *s is the first PAGES section, 0: END was read) or -errno after one
 * message.  Images of another architecture are refused up front: thread
 * registers are parsed with this machine's layout (image/read.c).
 */
int img_load_meta(struct img_reader *r, const char *path, struct img *img,
		  struct ckpt_section *s, void **payload);

/* Totals of the page data of one image. */
struct img_stats {
	uint64_t nsections;	/* before END */
	uint64_t nblocks;	/* PAGES sections */
	uint64_t npages;	/* pages whose data is in this image */
	uint64_t parent_pages;	/* pages in CKPT_PAGES_IN_PARENT sections */
	uint64_t raw_bytes;	/* npages x page size */
	uint64_t stored_bytes;	/* their encoded data */
	uint64_t codec_blocks[CKPT_CODEC_LZ4 + 1];	/* PAGES sections per codec */
	uint64_t codec_raw[CKPT_CODEC_LZ4 + 1];		/* their raw bytes */
	uint64_t codec_stored[CKPT_CODEC_LZ4 + 1];	/* their encoded bytes */
	enum img_mac_status mac;	/* its MACs, as far as this machine can tell
					   (the reader's key: img_key_default()) */
	uint8_t key_id[16];		/* the key that signed (mac != IMG_MAC_NONE) */
};

/* Decode every compressed block to see that it decodes to its pages
 * (verify, inspect, merge); restore decodes them as it writes them. */
#define IMG_CHECK_DECODE	1u

/*
 * One PAGES section (payload as img_read_section returned it, at its
 * offset in the image): its process exists, codec and flags are known,
 * its pages lie inside one mapping of that process that keeps page
 * data, its data has the right length, and an IN_PARENT run has a parent
 * image to go to.  0, or -EBADMSG after one message.
 */
int img_check_pages(const struct img *img, const struct ckpt_section *s, const void *payload,
		    uint64_t at, unsigned flags);
/* Any section after the metadata: a PAGES section as above, or HASHES
 * that are well-formed; anything else is misplaced. */
int img_check_section(const struct img *img, const struct ckpt_section *s, const void *payload,
		      uint64_t at, unsigned flags);

/*
 * Decode a checked PAGES section's data (len bytes) into out, rawlen =
 * npages x page size bytes (image/codec.c).  0, -EBADMSG when the data
 * does not decode to exactly rawlen bytes, -ENOTSUP for unknown codecs.
 */
int img_pages_decode(const struct ckpt_pages *pg, const void *data, size_t len, void *out,
		     size_t rawlen);

/* Called for each checked PAGES section with its data; < 0 stops. */
typedef int img_pages_fn(void *arg, uint32_t proc, const struct ckpt_pages *pg,
			 const void *data, size_t len);

/*
 * Read the rest of an image after img_read_meta() (its return value in
 * have, its section in *s and payload): every section must be PAGES that
 * pass img_check_section(); then END must agree with them all and nothing
 * may follow it.  Fills st; fn (may be NULL) sees each block.  0 or
 * -errno after one message.
 */
int img_check_rest(struct img_reader *r, const struct img *img, struct ckpt_section *s,
		   void *payload, int have, unsigned flags, struct img_stats *st, img_pages_fn *fn,
		   void *arg);

/*
 * Verify everything, then rewind: img_check_rest() over the rest of a
 * file (and img_check_whole_mac), then the reader is back where it was,
 * at *s and *payload (read again when the file is read with read(2),
 * img_reader_rewind), with every payload CRC known good.  On a stream it does
 * nothing (the sections are checked as they are applied).  0 or -errno
 * after one message.
 */
int img_check_rewind(struct img_reader *r, const struct img *img, struct ckpt_section *s,
		     void **payload, int have, unsigned flags);
/* An image whose metadata MAC holds (with the reader's key) must hold as
 * a whole, once read to its end: 0, or -EBADMSG after one message. */
int img_check_whole_mac(const struct img_reader *r);

/* The whole image at path ("-": stdin), as ckpt verify checks it, its
 * parent images included (image/chain.h): 0 with *st filled, or -errno
 * after one message. */
int img_verify_file(const char *path, struct img_stats *st);

/* The same, its parents only with parents (ckpt run verifies each new
 * checkpoint alone: its parents were verified when they were written);
 * img keeps the image's metadata (img_free() it either way). */
int img_verify_image(const char *path, struct img *img, struct img_stats *st, int parents);

#endif
