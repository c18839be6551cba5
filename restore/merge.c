/*
 * ckpt merge NEXT -o FULL: flatten an incremental chain into one full
 * image.  The newest image's metadata and page blocks are copied as they
 * are (no re-encoding); then each parent gives the blocks still wanted:
 * copied whole when wholly wanted, else decoded and the wanted pages
 * stored raw.  The result has no parent and restores like any image.
 * A tree's processes are merged one at a time, in image order (the order
 * restore reads them in): each one's blocks from the newest image, then
 * from each parent those of the same process (its PID and start time)
 * still wanted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "common/progress.h"
#include "common/util.h"
#include "image/chain.h"
#include "image/check.h"
#include "image/codec.h"
#include "image/crc32c.h"
#include "restore/ranges.h"
#include "restore/restore.h"
#include "restore/trust.h"

/* A block as it is, for process dst of the merged image.  Its CRC anew:
 * a PAGES_ALIGNED section's covers its alignment too (the reader hands
 * it over as the PAGES section inside, image/read.c unalign). */
static int copy_block(struct img_writer *w, uint32_t dst, const struct ckpt_section *s,
		      const void *payload)
{
	struct ckpt_pages pg;
	const uint8_t *data = (const uint8_t *)payload + sizeof(pg);
	size_t len = (size_t)s->size - sizeof(pg);

	memcpy(&pg, payload, sizeof(pg));
	return img_write_pages_crc(w, dst, &pg, data, len,
				   crc32c(crc32c(0, &pg, sizeof(pg)), data, len));
}

/* The wanted pages of a parent's block; *raw is scratch for decoding. */
static int copy_wanted(struct img_writer *w, uint32_t dst, const struct ckpt_section *s,
		       const void *payload, const struct ranges *only, uint32_t ps, uint8_t **raw)
{
	struct ckpt_pages pg;
	uint64_t end;
	struct range r;
	const uint8_t *data = (const uint8_t *)payload + sizeof(pg);
	size_t len = (size_t)s->size - sizeof(pg);

	memcpy(&pg, payload, sizeof(pg));
	end = pg.addr + (uint64_t)pg.npages * ps;
	if (ranges_next(only, pg.addr, end, &r) && r.start == pg.addr && r.end == end)
		return copy_block(w, dst, s, payload);
	if ((uint64_t)pg.npages * ps > CKPT_MAX_BLOCK)
		return error("image is corrupted: oversized page block");
	if (!*raw)
		*raw = xmalloc(CKPT_MAX_BLOCK);
	if (codec_decode(pg.codec, data, len, *raw, (size_t)pg.npages * ps) < 0)
		return error("image is corrupted: page data at %#lx does not decode", (unsigned long)pg.addr);
	for (uint64_t a = pg.addr; ranges_next(only, a, end, &r); a = r.end) {
		int ret = img_write_pages(w, dst, r.start, (uint32_t)((r.end - r.start) / ps),
					  CKPT_CODEC_NONE, *raw + (r.start - pg.addr), r.end - r.start);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Copy the page sections of process proc of one image: all of them for the
 * newest (only NULL), the wanted ones for a parent.  IN_PARENT ranges
 * still wanted go to later.  It stops at the first section of another
 * process, left in hand (s, *payload; the result is img_read_section's).
 * They go to process dst of the merged image (the newest image's index).
 */
static int copy_pages(struct img_reader *r, struct img_writer *w, const struct img *img,
		      const struct ranges *only, struct ranges *later, struct ckpt_section *s,
		      void **payloadp, int have, uint32_t ps, uint32_t proc, uint32_t dst)
{
	uint8_t *raw = NULL;
	void *payload = *payloadp;
	int ret = 0;

	for (; have > 0 && ret == 0 && s->proc == proc; have = img_read_section(r, s, &payload)) {
		struct ckpt_pages pg;
		uint64_t end;
		struct range rg;

		if (s->type == CKPT_SEC_HASHES)
			continue;
		if (s->type != CKPT_SEC_PAGES || s->size < sizeof(pg)) {
			ret = error("image is corrupted: unexpected %s section", img_section_name(s->type));
			break;
		}
		memcpy(&pg, payload, sizeof(pg));
		end = pg.addr + (uint64_t)pg.npages * ps;
		/* The newest image's blocks as verify checks them (they are
		 * copied as they are); a parent's, enough to cut them safely. */
		if (!only)
			ret = img_check_pages(img, s, payload, r->at, IMG_CHECK_DECODE);
		else if (!pg.npages || pg.addr % ps || end < pg.addr ||
			 (!(pg.flags & CKPT_PAGES_IN_PARENT) && (uint64_t)pg.npages * ps > CKPT_MAX_BLOCK))
			ret = error("image is corrupted: page data at offset %llu is malformed",
				    (unsigned long long)(r->at));
		if (ret < 0)
			break;
		if (pg.flags & CKPT_PAGES_IN_PARENT) {
			for (uint64_t a = pg.addr; a < end; a = rg.end) {
				if (!only) {
					ranges_add(later, pg.addr, end);
					break;
				}
				if (!ranges_next(only, a, end, &rg))
					break;
				ranges_add(later, rg.start, rg.end);
			}
			continue;
		}
		if (!only || ranges_next(only, pg.addr, end, &rg)) {
			ret = only ? copy_wanted(w, dst, s, payload, only, ps, &raw) :
				     copy_block(w, dst, s, payload);
			progress_add(end - pg.addr);
		}
	}
	free(raw);
	*payloadp = payload;
	return ret < 0 ? ret : have;
}

/*
 * The pages of process proc of the newest image (img, at path) that it
 * left to its parents (wanted), from them: each parent's sections of the
 * same process, found by PID and start time.
 */
static int from_parents(const char *path, const struct img *img, uint32_t proc,
			struct ranges *wanted, struct img_writer *w, const struct chain_hold *hold)
{
	const struct img_proc *me = &img->procs[proc];
	char *cur_path = xstrdup(path);
	struct img cur = { 0 };
	struct ranges later = { 0 };
	int ret = 0;

	cur.h = img->h;
	cur.parent = img->parent ? xstrdup(img->parent) : NULL;
	while (ret == 0 && wanted->n && cur.parent) {
		struct img_reader r;
		struct img par;
		struct ckpt_section s;
		void *payload;
		char *ppath = NULL;
		int have, idx;

		ranges_finish(wanted);
		have = chain_open_parent(cur_path, &cur, &ppath, &r, &par, &s, &payload, hold, 1);
		ret = have < 0 ? have : 0;
		idx = ret ? -1 : img_find_proc(&par, me->d.pid, me->d.start_time);
		if (ret == 0 && idx < 0)
			ret = error("image is corrupted: process %d has pages in the parent image \"%s\", which has no such process",
				    me->d.pid, ppath);
		while (ret == 0 && have > 0 && s.proc < (uint32_t)idx)
			have = img_read_section(&r, &s, &payload);
		if (ret == 0)
			have = copy_pages(&r, w, &par, wanted, &later, &s, &payload, have,
					  img->h.page_size, (uint32_t)idx, proc);
		/* Its MAC over the whole image is checked: read it to the end. */
		while (ret == 0 && have > 0 && r.mac.key)
			have = img_read_section(&r, &s, &payload);
		if (ret == 0 && have < 0)
			ret = have;
		if (ret == 0)
			ret = hold->read(hold->arg, &r, ppath);
		img_reader_close(&r);
		ranges_free(wanted);
		*wanted = later;
		memset(&later, 0, sizeof(later));
		img_free(&cur);
		cur = par;
		free(cur_path);
		cur_path = ppath;
	}
	ranges_free(wanted);
	ranges_free(&later);
	img_free(&cur);
	free(cur_path);
	return ret;
}

/*
 * The merged image is signed (root) only if every image it is made of is
 * signed by this machine's key: merge must not turn what anyone wrote
 * into what root's restore honours.  Each one is checked as it is read.
 */
static int check_signed(const struct trust *t, const struct img_reader *r, const char *path)
{
	if (t->basis != TRUST_MAC || r->mac_all == IMG_MAC_OK)
		return 0;
	return error("image \"%s\" does not match its MAC as a whole (%s): not merged", path,
		     img_mac_status_text(r->mac_all));
}

int merge_run(const char *path, const char *out, int no_sync)
{
	struct img_reader r;
	struct img_writer w = { .fd = -1 };
	struct img img = { 0 };
	struct ranges wanted = { 0 };
	struct restore_opts mo = { 0 };
	struct ckpt_section s;
	struct trust t;
	struct chain_hold hold;
	void *payload;
	int have, ret;

	memset(&r, 0, sizeof(r));
	r.fd = -1;
	if ((ret = img_reader_open(&r, path, &img.h)) < 0 || (ret = trust_open(&t, &r, &mo)) < 0)
		goto out;
	have = img_read_meta(&r, &img, &s, &payload);
	if ((ret = have) < 0)
		goto out;
	if (t.have_key && r.mac_meta == IMG_MAC_OK) {
		t.basis = TRUST_MAC;
	} else {
		if (geteuid() == 0)
			warn("\"%s\" is %s: the merged image is not signed either (ckpt sign it, if you trust it)",
			     path, t.have_key ? img_mac_status_text(r.mac_meta) : "not checked (no key)");
		t.basis = TRUST_VOUCHED;
		img_reader_use_key(&r, NULL);
	}
	trust_hold(&t, &hold);
	if (img.parent && (ret = chain_check(path, &img, 0, &hold)) < 0)
		goto out;
	if ((ret = img_writer_open(&w, out, no_sync)) < 0)
		goto out;
	img_writer_sign(&w, t.basis == TRUST_MAC ? &t.key : NULL);
	{
		struct img flat = img;
		char *parent = img.parent;

		/* The merged image stands alone: no parent, a new identity. */
		flat.parent = NULL;
		memset(flat.h.parent_id, 0, sizeof(flat.h.parent_id));
		if (getrandom(flat.h.image_id, sizeof(flat.h.image_id), 0) != sizeof(flat.h.image_id))
			memset(flat.h.image_id, 0, sizeof(flat.h.image_id));
		for (uint32_t i = 0; i < flat.h.nprocs; i++)
			flat.procs[i].d.dirty_method = CKPT_DIRTY_NONE;
		ret = img_write_header(&w, &flat.h);
		if (ret == 0)
			ret = img_write_meta(&w, &flat);
		img.parent = parent;
	}
	if (ret == 0) {
		uint64_t total = 0;

		for (uint32_t k = 0; k < img.h.nprocs; k++)
			for (uint32_t i = 0; i < img.procs[k].d.nvmas; i++)
				total += img.procs[k].vmas[i].d.npages * img.h.page_size;
		progress_begin(total);
	}
	/* One process at a time: its blocks, then what its parents keep. */
	for (uint32_t proc = 0; ret == 0 && have > 0;) {
		if (s.proc < proc) {
			ret = error("image is corrupted: page data of process %u after that of process %u",
				    s.proc, proc);
			break;
		}
		proc = s.proc;
		have = copy_pages(&r, &w, &img, NULL, &wanted, &s, &payload, have, img.h.page_size,
				  proc, proc);
		if (have < 0)
			ret = have;
		else
			ret = from_parents(path, &img, proc, &wanted, &w, &hold);
	}
	if (ret == 0)
		ret = check_signed(&t, &r, path);
	progress_end();
	if (ret == 0)
		ret = img_writer_finish(&w);
out:
	img_key_set_default(NULL);	/* it was t's */
	img_writer_close(&w);
	img_reader_close(&r);
	ranges_free(&wanted);
	img_free(&img);
	return ret;
}
