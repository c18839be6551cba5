/*
 * Writing and reading image files and streams (format.h).
 *
 * Writer: to a file with no name beside the destination, named, fsync'd
 * and renamed over it at img_writer_finish(), mode 0600 (dest.c: a device
 * or FIFO is written as a stream, never replaced); or to stdout ("-"),
 * where no atomicity is possible and the END section is what tells a
 * reader the stream is complete.
 *
 * Reader: sequential, so it works on pipes; every length is bounds-checked
 * and every checksum verified before a payload is handed out.
 */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "image/format.h"
#include "image/mac.h"
#include "image/model.h"

struct img_writer {
	int fd;
	int is_stream;
	int owns_fd;		/* a stream to a device or FIFO we opened */
	int no_sync;
	char *path;		/* destination */
	char *tmp;		/* named temporary file, renamed to path; NULL
				 * while it has no name (O_TMPFILE) */
	uint64_t nsections;
	uint64_t npages;
	uint64_t raw_bytes;
	uint64_t stored_bytes;	/* page data bytes after encoding */
	uint64_t written;
	int reserved;		/* space allocated past the end (fallocate) */
	int writebehind;	/* push data to the disk as it is written */
	uint64_t pushed;	/* bytes pushed so far (writebehind) */
	char *buf;		/* small sections are batched here */
	size_t buflen;
	struct img_mac mac;	/* signing (img_writer_sign), else key NULL */
	int meta_mac;		/* MAC_META written */
	int sign_format2;	/* sign as format 2 did: tests of older
				 * images only (image/sign.h) */
	int placing;		/* img_writer_place: written is what is placed */
};

int img_writer_open(struct img_writer *w, const char *path, int no_sync);
/* Sign what is written with key (before the header): MAC_META goes in
 * before the first page data section (or at the end of img_write_meta),
 * MAC_ALL before END. */
void img_writer_sign(struct img_writer *w, const struct img_key *key);
/* The metadata is complete: write MAC_META now, if signing (the next
 * PAGES, HASHES or END section would do it anyway). */
int img_writer_meta_done(struct img_writer *w);
int img_write_header(struct img_writer *w, struct ckpt_header *h);
int img_write_section(struct img_writer *w, uint32_t type, uint32_t proc,
		      const struct iovec *iov, int iovcnt);
/* All metadata sections of every process in img. */
int img_write_meta(struct img_writer *w, const struct img *img);
int img_write_pages(struct img_writer *w, uint32_t proc, uint64_t addr, uint32_t npages,
		    uint16_t codec, const void *data, size_t len);
/* The same with the section's payload CRC computed by the caller (in a
 * worker thread): crc32c over the struct ckpt_pages, then the data. */
int img_write_pages_crc(struct img_writer *w, uint32_t proc, const struct ckpt_pages *pg,
			const void *data, size_t len, uint32_t crc);
/* A PAGES section whose payload CRC the caller computed. */
struct img_block {
	struct ckpt_pages pg;
	const void *data;	/* len bytes, after pg in the payload */
	size_t len;
	uint32_t crc;		/* crc32c over pg, then data */
	int hashed;		/* hash is its Poly1305_r(data, then pg) */
	uint8_t hash[IMG_BLOCK_HASH_LEN];	/* (blockmac.h, with the writer's key) */
};
/* Signing with a block MAC: the key of the page blocks' digests, which
 * page workers may compute (img_block.hash); NULL when not. */
const struct img_block_key *img_writer_block_key(const struct img_writer *w);
/* n PAGES sections, written with as few writev calls as it takes,
 * straight from where their data is. */
int img_write_blocks(struct img_writer *w, uint32_t proc, const struct img_block *b, size_t n);
/*
 * Page blocks written out of order (a regular file only): while placing,
 * the writer hands out offsets instead of writing.  img_place_blocks lays
 * blocks out, in the image's order, one caller at a time, at the end of
 * what is placed so far (signing, counts and section numbers as
 * img_write_blocks); img_batch_write writes a placed batch there, from
 * any thread, in any order (pwritev; 0 or -errno, and it says nothing:
 * when the disk is full every thread fails, and one should say so).  img_writer_place(w, 1) writes
 * MAC_META (signing) and the buffer first; img_writer_place(w, 0), once
 * every batch is written, moves the file offset to the end of them.
 */
#define IMG_BATCH_MAX	256	/* blocks a batch holds */
struct img_batch {
	struct {
		struct ckpt_section s;
		struct ckpt_align a;	/* PAGES_ALIGNED only */
		struct ckpt_pages pg;
	} hdr[IMG_BATCH_MAX];
	struct iovec iov[4 * IMG_BATCH_MAX + 1];
	int nhdr, niov;
	int with_buf;		/* iov[0] is the writer's buffer */
	uint64_t at;		/* offset in the file of its first byte */
	uint64_t bytes;
};
int img_writer_place(struct img_writer *w, int on);
int img_place_blocks(struct img_writer *w, uint32_t proc, const struct img_block *b, size_t n,
		     struct img_batch *bt);
int img_batch_write(struct img_writer *w, const struct img_batch *bt);
/* About len bytes are coming: allocate them in the file at once, if it
 * can (what is not used goes at img_writer_finish()); 1 if it did. */
int img_writer_reserve(struct img_writer *w, uint64_t len);
/* With w->writebehind (a regular file, synced at the end): start writing
 * out what was written so far and wait for all but the last few MiB, so
 * that the caller goes at the disk's pace and the final fsync is short. */
void img_writer_push(struct img_writer *w);
/* The same for the first upto bytes, written (placing: up to where every
 * batch is written). */
void img_writer_push_to(struct img_writer *w, uint64_t upto);
/* Bytes the pushes so far waited for, on the disk now; UINT64_MAX when
 * nothing is pushed (no write-behind, --no-sync, a stream). */
uint64_t img_writer_on_disk(const struct img_writer *w);
/* Write END, flush, fsync, rename.  0 or -errno. */
int img_writer_finish(struct img_writer *w);
/* Free the writer; removes the temporary file unless finish succeeded. */
void img_writer_close(struct img_writer *w);
/* Its buffer's pages in memory now (before a freeze, after any fork:
 * pages touched before a fork are copied at our next write). */
void img_writer_touch(struct img_writer *w);
/* dest.c: the destination's file, given its name at the end; the name of
 * the temporary file ckpt `owner` writes for dest (malloc'd); removing
 * those of ckpts that are gone. */
int img_dest_open(struct img_writer *w, const char *path);
int img_dest_commit(struct img_writer *w);
void img_dest_abandon(struct img_writer *w);
char *img_tmp_name(const char *dest, pid_t owner);
void img_remove_stale_tmp(const char *dest);

struct img_reader {
	int fd;
	const char *name;	/* for messages */
	uint64_t off;		/* of the next byte to read */
	uint64_t at;		/* of the last section read (its header) */
	uint64_t nsections;
	uint64_t npages;
	uint32_t page_size;
	uint32_t version;	/* of the image: section layouts may depend on it */
	int done;		/* END seen */
	int checked;		/* page data CRCs checked elsewhere (a second
				   pass, or restore/lazy.c block by block) */
	uint8_t *buf;
	size_t cap;
	const uint8_t *map;	/* a regular file is read through a mapping */
	size_t mapsize;
	uint64_t pos;		/* of the next byte in the mapping */
	int fd_seekable;	/* a regular file read with read(2) */
	struct ckpt_header hdr;	/* as read */
	struct img_mac mac;	/* running MAC (with img_key_default(), or none) */
	struct img_mac mac_mark;	/* its state after MAC_META (key and h only) */
	enum img_mac_status mac_meta, mac_all;	/* what the MAC sections said */
	uint8_t mac_key_id[16];	/* the key MAC_META names */
	int after_meta_mac, after_all_mac;	/* read past them */
	uint64_t mac_mark_off;	/* the offset right after MAC_META */
	uint64_t sec_nsections, sec_npages;	/* the counts before the
						   section in hand */
	/* CKPT_HDR_DIGESTS (format.h): the sections after MAC_META, checked
	 * against the DIGESTS table and fed to the MAC when it comes. */
	struct img_dsec *dsec;
	size_t ndsec, dcap;
	int trust_digests;	/* the caller checks each large payload against
				   its digest before it uses it (restore/lazy.c):
				   MAC_ALL is checked over the table alone */
	int want_digests;	/* hash the payloads even without a key (verify) */
	int after_digests;	/* read past DIGESTS */
	int digests_differ;	/* a section is not what the table says: with a
				   key, MAC_ALL then says MISMATCH */
	struct ckpt_digest *digests;	/* the table, once read (ndsec entries) */
};

/* A section after MAC_META, as the reader saw it (DIGESTS). */
struct img_dsec {
	struct ckpt_digest e;	/* digest set when known */
	const uint8_t *p;	/* payload, in the mapping (stable) */
	size_t len;
	uint64_t at;
	int known;
};

/* Open path ("-" = stdin), read and check the header.  MACs are checked
 * with img_key_default() when there is one. */
int img_reader_open(struct img_reader *r, const char *path, struct ckpt_header *h);
/* Readers opened from now on hash every payload a DIGESTS table names
 * and check it against the table, key or not (ckpt verify). */
void img_reader_want_digests(int on);
/* Check MACs with key instead (NULL: none); before any section is read. */
void img_reader_use_key(struct img_reader *r, const struct img_key *key);
/* Read a mapped file with read(2) from here on: every payload is then a
 * private copy, which a file that others may write needs (the bytes the
 * MAC covers must be the ones used).  0 or -errno. */
int img_reader_unmap(struct img_reader *r);
void img_reader_close(struct img_reader *r);
/* Next section: 1 with *s and *payload set (valid until the next call),
 * 0 after END (checked), or -errno after printing why.  A PAGES_ALIGNED
 * section comes out as the PAGES section it holds (type, size, payload);
 * r->at is where the section began.  MAC sections are checked and passed
 * over (mac_meta, mac_all say what they held). */
int img_read_section(struct img_reader *r, struct ckpt_section *s, void **payload);
/*
 * Read the metadata of every process into img.  Stops at the first PAGES
 * section (returned in *s and *payload, ret 1) or after END (ret 0).
 */
int img_read_meta(struct img_reader *r, struct img *img, struct ckpt_section *s, void **payload);
/* A reader past the metadata, as restore and its page fill go on with it:
 * the section in hand (s, payload, until the next read) when have is 1,
 * none when have is 0 (END was read). */
struct img_stream {
	struct img_reader *r;
	struct ckpt_section s;
	void *payload;
	int have;
};

/* Whether it can go back (a file) to a section boundary it has passed. */
int img_reader_seekable(const struct img_reader *r);
/*
 * Where the reader is, to come back to after reading on (a file only),
 * with the payload CRCs read in between counted as checked.  Rewind: 0
 * when the payloads read before stay valid (a mapping); 1 when they do
 * not (a file read with read(2), img_reader_unmap): the reader is then
 * back before the section in hand, to be read again, and when a key
 * checked MAC_META and that section is the first after it, the page data
 * is MAC'd again as it is read (what the second pass reads must be what
 * was signed); -errno (-ESPIPE on a stream).  A rewind without that
 * recheck computes no MAC on the second pass.
 */
struct img_mark {
	uint64_t off, at, pos, nsections, npages;
	uint64_t sec_nsections, sec_npages;
	size_t ndsec, sec_ndsec;	/* DIGESTS entries so far, and before the
					   section in hand */
	int done;
};
void img_reader_mark(const struct img_reader *r, struct img_mark *m);
int img_reader_rewind(struct img_reader *r, const struct img_mark *m);
/* After END: 1 if nothing follows (as it must), 0 if something does, or
 * -errno. */
int img_reader_at_eof(struct img_reader *r);
/*
 * DIGESTS: which entry of the table the section in hand is (-1: none;
 * the table is read only at its end), and its digest once the table has
 * been read and MAC_ALL checked over it (NULL before, or out of range).
 */
int64_t img_reader_digest_index(const struct img_reader *r);
const uint8_t *img_reader_digest(const struct img_reader *r, int64_t idx);
/*
 * 1 if payload (len bytes: the section's payload as stored, an aligned
 * section's skip included: what follows its 24-byte header) is what entry
 * idx of r's DIGESTS table vouches for; 0 if not, or no such entry (as
 * img_reader_digest).  SHA-256 tables and block MACs alike (blockmac.h);
 * the one check of a block before its pages are used.  Thread-safe.
 */
int img_reader_block_ok(const struct img_reader *r, int64_t idx, const void *payload, size_t len);
/* With trust_digests: the section in hand is used before the table comes
 * (written into a process not yet running): hash it now, so that the
 * table is checked against it. */
void img_reader_hash_current(struct img_reader *r);

/* Payloads stay valid until close (mapped file), not just until the next
 * read: they can be handed to other threads as they are. */
int img_reader_payloads_stable(const struct img_reader *r);
/* Take the buffer holding the last payload, giving the reader *buf
 * (*cap bytes, may be NULL/0) in exchange: lets a caller hand payloads to
 * other threads without copying them. */
void img_reader_swap_buf(struct img_reader *r, uint8_t **buf, size_t *cap);

const char *img_section_name(uint32_t type);

#endif
