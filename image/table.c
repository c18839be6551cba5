/*
 * The page data's index from the digest table (table.h).
 *
 * A signed image ends with DIGESTS, MAC_ALL and END (format.h), whose
 * sizes are known once END's section count is: the table is found from
 * the end of the file, and every page data section's offset follows from
 * the first one's and the sizes the table gives (sections lie end to
 * end).  Walking the sections instead touched one page of the mapping a
 * block apart (a page fault each, about 5 ms of CPU per GiB before the
 * process could run: bench/README.md); this reads 72 bytes a block, with
 * two pread(2)s, whatever the image's size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "image/crc32c.h"
#include "image/mac.h"
#include "image/table.h"

struct tail {
	struct ckpt_section mh;	/* MAC_ALL */
	struct ckpt_mac mac;
	struct ckpt_section eh;	/* END */
	struct ckpt_end end;
};
static_assert(sizeof(struct tail) == 24 + 64 + 24 + 32, "tail size");

/* A section header as the reader takes it: its own CRC, type, size. */
static int header_ok(const struct ckpt_section *s, uint32_t type, uint64_t size)
{
	return crc32c(0, s, offsetof(struct ckpt_section, crc)) == s->crc && s->type == type &&
	       s->size == size && !s->proc;
}

/* An entry's section header, as read_one would have taken it. */
static int entry_ok(const struct ckpt_digest *e, uint32_t nprocs)
{
	struct ckpt_section s = { .type = e->type, .proc = e->proc, .size = e->size,
				  .payload_crc = e->payload_crc, .crc = e->crc };
	uint64_t max = CKPT_MAX_BLOCK + 64;

	if (crc32c(0, &s, offsetof(struct ckpt_section, crc)) != s.crc || s.proc >= nprocs)
		return 0;
	if (s.type == CKPT_SEC_PAGES_ALIGNED)
		max += sizeof(struct ckpt_align) + CKPT_MAX_ALIGN_SKIP;
	else if (s.type == CKPT_SEC_HASHES)
		max = CKPT_MAX_META;
	else if (s.type != CKPT_SEC_PAGES)
		return 0;
	return s.size <= max && (s.type == CKPT_SEC_HASHES || s.size >= sizeof(struct ckpt_pages));
}

/* The entries against the file: END's counts, the first section (in
 * hand), the offsets ending where the table begins. */
static int layout_ok(const struct img_reader *r, struct img_table *t, const struct ckpt_end *end,
		     uint64_t dig_off)
{
	uint64_t off = r->at, npages = 0;

	if (memcmp(&r->dsec[0].e, &t->e[0], offsetof(struct ckpt_digest, digest)))
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct ckpt_digest *e = &t->e[i];

		if (!entry_ok(e, r->hdr.nprocs) || off >= dig_off)
			return 0;
		t->off[i] = off;
		off += sizeof(struct ckpt_section) + e->size;
		if (e->type != CKPT_SEC_HASHES && !(e->pflags & CKPT_PAGES_IN_PARENT))
			npages += e->npages;
	}
	return off == dig_off && npages == end->npages &&
	       end->raw_bytes == end->npages * r->page_size;
}

int img_table_read(struct img_reader *r, struct img_table *t)
{
	struct tail tl;
	struct ckpt_section dh;
	struct ckpt_digests d;
	uint64_t count, dig_off, dsize, tail_off;
	uint8_t *buf = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	/* The section in hand is the first page data section, nothing
	 * after it read yet (the walk's state, which this replaces). */
	if (!(r->hdr.flags & CKPT_HDR_DIGESTS) || !r->map || r->done || !r->after_meta_mac ||
	    r->after_digests || r->ndsec != 1 || r->dsec[0].at != r->at ||
	    r->mapsize < sizeof(tl) + r->at)
		return 0;
	tail_off = r->mapsize - sizeof(tl);
	if ((ret = pread_all(r->fd, &tl, sizeof(tl), (off_t)tail_off)) < 0)
		return ret;
	if (!header_ok(&tl.eh, CKPT_SEC_END, sizeof(tl.end)) ||
	    crc32c(0, &tl.end, sizeof(tl.end)) != tl.eh.payload_crc ||
	    !header_ok(&tl.mh, CKPT_SEC_MAC_ALL, sizeof(tl.mac)) ||
	    crc32c(0, &tl.mac, sizeof(tl.mac)) != tl.mh.payload_crc ||
	    tl.mac.alg != CKPT_MAC_HMAC_SHA256 || tl.mac.reserved)
		return 0;
	/* Before END: the sections before the first page data, the table's
	 * entries, DIGESTS and MAC_ALL. */
	if (tl.end.nsections < r->sec_nsections + 3 ||
	    (count = tl.end.nsections - r->sec_nsections - 2) > CKPT_MAX_DIGESTS ||
	    tl.mac.nsections != tl.end.nsections - 1)
		return 0;
	dsize = sizeof(d) + count * sizeof(struct ckpt_digest);
	if (tail_off < r->at + sizeof(dh) + dsize)
		return 0;
	dig_off = tail_off - sizeof(dh) - dsize;
	buf = xmalloc(sizeof(dh) + dsize);
	if ((ret = pread_all(r->fd, buf, sizeof(dh) + dsize, (off_t)dig_off)) < 0)
		goto out;
	memcpy(&dh, buf, sizeof(dh));
	memcpy(&d, buf + sizeof(dh), sizeof(d));
	ret = 0;
	if (!header_ok(&dh, CKPT_SEC_DIGESTS, dsize) ||
	    crc32c(0, buf + sizeof(dh), dsize) != dh.payload_crc || d.alg != r->mac.bk.alg ||
	    d.reserved || d.count != count)
		goto out;
	t->n = count;
	t->e = xmalloc(count * sizeof(*t->e));
	t->off = xmalloc(count * sizeof(*t->off));
	memcpy(t->e, buf + sizeof(dh) + sizeof(d), count * sizeof(*t->e));
	if (!layout_ok(r, t, &tl.end, dig_off)) {
		free(t->e);
		img_table_free(t);
		goto out;
	}
	/* As the walk's end would have: the MAC over each section's header
	 * and digest as the table says, the table, then MAC_ALL's check. */
	for (size_t i = 0; i < count; i++) {
		const struct ckpt_digest *e = &t->e[i];
		struct ckpt_section s = { .type = e->type, .proc = e->proc, .size = e->size,
					  .payload_crc = e->payload_crc, .crc = e->crc };

		img_mac_feed(&r->mac, &s, e->digest);
	}
	img_mac_section(&r->mac, &dh, &(struct iovec){ buf + sizeof(dh), (size_t)dsize }, 1, 0);
	r->mac_all = img_mac_check(&r->mac, CKPT_SEC_MAC_ALL, &tl.mac);
	/* The reader's table, as digests_section would have left it (for
	 * img_reader_digest); its dsec stays the first section's alone:
	 * nothing reads one past the table (after_digests). */
	free(r->digests);
	r->digests = t->e;
	r->ndsec = count;
	r->nsections = tl.end.nsections;
	r->npages = tl.end.npages;
	r->after_digests = r->after_all_mac = r->done = 1;
	r->off = r->mapsize;
	ret = 1;
out:
	free(buf);
	return ret;
}

void img_table_free(struct img_table *t)
{
	free(t->off);
	memset(t, 0, sizeof(*t));
}
