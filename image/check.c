/*
 * Page data against the metadata, and END against everything before it
 * (check.h).  The reader has already verified each section's checksums
 * and bounded its size; what is left is whether the section makes sense.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/util.h"
#include "image/chain.h"
#include "image/check.h"
#include "image/codec.h"

#define bad(...) (error(__VA_ARGS__), -EBADMSG)

static const char *machine_name(uint32_t m)
{
	return m == 62 ? "x86_64" : m == 183 ? "aarch64" : "an unknown architecture";
}

int img_load_meta(struct img_reader *r, const char *path, struct img *img,
		  struct ckpt_section *s, void **payload)
{
	int ret = img_reader_open(r, path, &img->h);

	if (ret < 0)
		return ret;
	if (img->h.machine != ARCH_ELF_MACHINE)
		return error("image is for %s: this ckpt reads %s images",
			     machine_name(img->h.machine), ARCH_NAME);
	return img_read_meta(r, img, s, payload);
}

static int count_block(void *arg, uint32_t proc, const struct ckpt_pages *pg, const void *data,
		       size_t len)
{
	(void)arg, (void)proc, (void)pg, (void)data;
	progress_add(len + sizeof(struct ckpt_section) + sizeof(*pg));
	return 0;
}

static int has_parent(const struct ckpt_header *h)
{
	return !is_all_zero(h->parent_id, sizeof(h->parent_id));
}

/* Whether restore puts page data into v: see dump/pages.c save_mode(). */
static int keeps_pages(const struct img_vma *v)
{
	if (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL))
		return 0;
	return !((v->d.flags & CKPT_VMA_SHARED) && (v->d.flags & (CKPT_VMA_FILE | CKPT_VMA_MEMFD)));
}

/* Decoded in full: a block that does not decode to exactly its pages is
 * damage the CRC cannot see (a bad encoder). */
static int check_decodes(const struct ckpt_pages *pg, const void *data, uint64_t len,
			 uint64_t raw, unsigned long long o)
{
	static __thread uint8_t *scratch;

	if (pg->codec == CKPT_CODEC_NONE || (pg->flags & CKPT_PAGES_IN_PARENT))
		return 0;
	if (!scratch)
		scratch = xmalloc(CKPT_MAX_BLOCK);
	if (img_pages_decode(pg, data, (size_t)len, scratch, (size_t)raw) < 0)
		return bad("image is corrupted: %s page data at offset %llu does not decode to %u pages",
			   codec_name(pg->codec), o, pg->npages);
	return 0;
}

int img_check_pages(const struct img *img, const struct ckpt_section *s, const void *payload,
		    uint64_t at, unsigned flags)
{
	const uint64_t ps = img->h.page_size;
	const unsigned long long o = (unsigned long long)at;
	const struct img_vma *v;
	struct ckpt_pages pg;
	uint64_t len, raw;

	/* The reader has checked s->size >= sizeof(pg). */
	memcpy(&pg, payload, sizeof(pg));
	len = s->size - sizeof(pg);
	raw = (uint64_t)pg.npages * ps;
	if (s->proc >= img->h.nprocs)
		return bad("image is corrupted: page data at offset %llu is for process %u of %u",
			   o, s->proc, img->h.nprocs);
	if (pg.codec > CKPT_CODEC_LZ4)
		return bad("image is corrupted: page data at offset %llu has unknown codec %u",
			   o, pg.codec);
	if (pg.flags & ~CKPT_PAGES_IN_PARENT)
		return bad("image is corrupted: page data at offset %llu has unknown flags %#x",
			   o, pg.flags);
	/* An IN_PARENT run has no data and may be long; a block of data is
	 * at most CKPT_MAX_BLOCK decoded. */
	if (pg.npages == 0 || pg.addr & (ps - 1) ||
	    (raw > CKPT_MAX_BLOCK && !(pg.flags & CKPT_PAGES_IN_PARENT)))
		return bad("image is corrupted: page data at offset %llu: bad run %#llx, %u pages",
			   o, (unsigned long long)pg.addr, pg.npages);
	v = img_find_vma(&img->procs[s->proc], pg.addr);
	if (!v || raw > v->d.end - pg.addr || !keeps_pages(v))
		return bad("image is corrupted: page data at offset %llu (%#llx, %u pages) does not fit a mapping",
			   o, (unsigned long long)pg.addr, pg.npages);
	if (pg.flags & CKPT_PAGES_IN_PARENT) {
		if (len)
			return bad("image is corrupted: page data at offset %llu is in the parent image but has %llu bytes",
				   o, (unsigned long long)len);
		if (!has_parent(&img->h) || !img->parent)
			return bad("image is corrupted: page data at offset %llu is in a parent image, but the image has none",
				   o);
		return 0;
	}
	if (pg.codec == CKPT_CODEC_NONE && len != raw)
		return bad("image is corrupted: page data at offset %llu has %llu bytes for %u pages",
			   o, (unsigned long long)len, pg.npages);
	if (len == 0)
		return bad("image is corrupted: page data at offset %llu is empty", o);
	if (flags & IMG_CHECK_DECODE)
		return check_decodes(&pg, (const uint8_t *)payload + sizeof(pg), len, raw, o);
	return 0;
}

int img_pages_decode(const struct ckpt_pages *pg, const void *data, size_t len, void *out,
		     size_t rawlen)
{
	if (pg->codec > CKPT_CODEC_LZ4)
		return -ENOTSUP;
	return codec_decode(pg->codec, data, len, out, rawlen);
}

static void count(struct img_stats *st, const struct ckpt_pages *pg, uint64_t len, uint64_t ps)
{
	st->nblocks++;
	if (pg->flags & CKPT_PAGES_IN_PARENT) {
		st->parent_pages += pg->npages;
		return;
	}
	st->npages += pg->npages;
	st->raw_bytes += pg->npages * ps;
	st->stored_bytes += len;
	st->codec_blocks[pg->codec]++;
	st->codec_raw[pg->codec] += pg->npages * ps;
	st->codec_stored[pg->codec] += len;
}

/* HASHES: one 64-bit hash per page of a page-aligned run (format.h). */
static int check_hashes(const struct img *img, const struct ckpt_section *s, const void *payload,
			uint64_t at)
{
	struct ckpt_hashes h;

	if (s->proc >= img->h.nprocs || s->size < sizeof(h))
		return bad("image is corrupted: page hashes at offset %llu are malformed",
			   (unsigned long long)at);
	memcpy(&h, payload, sizeof(h));
	if (!h.npages || (s->size - sizeof(h)) != (uint64_t)h.npages * 8 ||
	    h.addr & (img->h.page_size - 1))
		return bad("image is corrupted: page hashes at offset %llu are malformed",
			   (unsigned long long)at);
	return 0;
}

int img_check_section(const struct img *img, const struct ckpt_section *s, const void *payload,
		      uint64_t at, unsigned flags)
{
	if (s->type == CKPT_SEC_HASHES)
		return check_hashes(img, s, payload, at);
	if (s->type != CKPT_SEC_PAGES)
		return bad("image is corrupted: %s section at offset %llu after page data",
			   img_section_name(s->type), (unsigned long long)at);
	return img_check_pages(img, s, payload, at, flags);
}

/* Nothing may follow END: a longer file or stream is not this image. */
static int check_eof(struct img_reader *r)
{
	int n = img_reader_at_eof(r);

	if (n < 0)
		return error_errno(n, "cannot read image");
	if (n == 0)
		return bad("image is corrupted: data after the end section at offset %llu",
			   (unsigned long long)r->off);
	return 0;
}

int img_check_rest(struct img_reader *r, const struct img *img, struct ckpt_section *s,
		   void *payload, int have, unsigned flags, struct img_stats *st, img_pages_fn *fn,
		   void *arg)
{
	int ret;

	memset(st, 0, sizeof(*st));
	while (have > 0) {
		uint64_t at = r->at;
		struct ckpt_pages pg;

		if ((ret = img_check_section(img, s, payload, at, flags)) < 0)
			return ret;
		if (s->type == CKPT_SEC_HASHES) {
			have = img_read_section(r, s, &payload);
			continue;
		}
		memcpy(&pg, payload, sizeof(pg));
		count(st, &pg, s->size - sizeof(pg), img->h.page_size);
		if (fn && (ret = fn(arg, s->proc, &pg, (const uint8_t *)payload + sizeof(pg),
				    (size_t)(s->size - sizeof(pg)))) < 0)
			return ret;
		have = img_read_section(r, s, &payload);
	}
	if (have < 0)
		return have;
	/* img_read_section has checked END against the sections before it. */
	st->nsections = r->nsections;
	st->mac = r->mac_meta != IMG_MAC_OK ? r->mac_meta : r->mac_all;
	memcpy(st->key_id, r->mac_key_id, sizeof(st->key_id));
	return check_eof(r);
}

int img_verify_image(const char *path, struct img *img, struct img_stats *st, int parents)
{
	struct img_reader r;
	struct ckpt_section s;
	void *payload = NULL;
	struct stat sb;
	int ret;

	img_reader_want_digests(1);
	ret = img_load_meta(&r, path, img, &s, &payload);
	img_reader_want_digests(0);
	progress_begin(ret >= 0 && fstat(r.fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0);
	if (ret >= 0)
		ret = img_check_rest(&r, img, &s, payload, ret, IMG_CHECK_DECODE, st, count_block,
				     NULL);
	progress_end();
	/* Its parents too, as restore checks them (and decoded). */
	if (ret >= 0 && parents && img->parent)
		ret = chain_check(path, img, IMG_CHECK_DECODE, NULL);
	img_reader_close(&r);
	return ret < 0 ? ret : 0;
}

int img_verify_file(const char *path, struct img_stats *st)
{
	struct img img = { 0 };
	int ret = img_verify_image(path, &img, st, 1);

	img_free(&img);
	return ret;
}

int img_check_whole_mac(const struct img_reader *r)
{
	if (r->mac_meta != IMG_MAC_OK || r->mac_all == IMG_MAC_OK)
		return 0;
	return bad("image does not match its MAC as a whole (%s): its page data was changed after it was signed",
		   img_mac_status_text(r->mac_all));
}

int img_check_rewind(struct img_reader *r, const struct img *img, struct ckpt_section *s,
		     void **payload, int have, unsigned flags)
{
	struct ckpt_section cur = *s;
	struct img_stats st;
	struct img_mark m;
	int ret;

	if (!img_reader_seekable(r))
		return 0;
	img_reader_mark(r, &m);
	if ((ret = img_check_rest(r, img, &cur, *payload, have, flags, &st, NULL, NULL)) < 0 ||
	    (ret = img_check_whole_mac(r)) < 0)
		return ret;
	if (!have)
		return 0;	/* END was in hand: nothing to read again */
	if ((ret = img_reader_rewind(r, &m)) < 0)
		return error_errno(ret, "cannot go back in the image");
	/* Read with read(2): the section in hand is read again. */
	if (ret == 1 && (ret = img_read_section(r, s, payload)) != 1)
		return ret < 0 ? ret : bad("image is corrupted: it changed while it was read");
	return 0;
}
