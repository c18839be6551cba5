/*
 * libFuzzer custom mutator and crossover for checkpoint images.
 *
 * Every byte of an image is under a CRC32C, so a blind mutation almost
 * always ends at the first checksum and the parsers behind it are never
 * reached.  Here an input is seen as header + sections (format.h) and
 * mutated one of these ways:
 *
 *   - libFuzzer's own mutation of the whole input (framing and CRCs too);
 *   - of one section's payload, its size field following the new length
 *     (metadata sections are picked more often than page data);
 *   - of the header or of one section header (type, proc, size);
 *   - a section deleted, duplicated or moved;
 *   - one field of a section set to a value chosen for what it is, or a
 *     thread's register set header (fields.c: structure-aware);
 *   - a THREAD, VMA or FD section deleted or duplicated with its
 *     process's count following, so that the counts still agree;
 *
 * then, most of the time, every checksum is recomputed, and the END
 * section's counts too, so that the reader's structure checks, not its
 * CRC checks, decide.  Crossover inserts a section of one input into
 * another.  The target itself sees the result as it is.  An input may
 * be several images one after the other (fuzz_chain.c: an image and its
 * parents): each header after an END is treated as such.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/crc32c.h"
#include "image/format.h"
#include "tests/fuzz/fields.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
				 size_t size2, uint8_t *out, size_t max_out_size, unsigned int seed);

#define HDR	sizeof(struct ckpt_header)
#define SEC	sizeof(struct ckpt_section)
#define MAXSEC	4096

/* One section of an input: its header at off, len payload bytes present. */
struct sec {
	size_t off, len;
	int whole;		/* all size bytes of the payload are present */
	size_t hdr;		/* offset of the image header it follows */
};

static uint32_t rnd(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

/*
 * The sections of every image in d: an input may hold an image and then
 * its parents, each starting with its header right after the previous
 * END (fuzz_chain.c).
 */
static size_t scan(const uint8_t *d, size_t size, struct sec *v)
{
	size_t off = HDR, hdr = 0, n = 0;

	while (size >= HDR && off + SEC <= size && n < MAXSEC) {
		struct ckpt_section s;
		size_t avail = size - off - SEC;

		memcpy(&s, d + off, SEC);
		v[n].off = off;
		v[n].hdr = hdr;
		v[n].whole = s.size <= avail;
		v[n].len = v[n].whole ? (size_t)s.size : avail;
		off += SEC + v[n].len;
		if (s.type == CKPT_SEC_END && v[n].whole && off + HDR <= size &&
		    !memcmp(d + off, CKPT_MAGIC, 8)) {
			hdr = off;
			off += HDR;
		}
		n++;
	}
	return n;
}

static void fix_header(uint8_t *d, size_t at)
{
	struct ckpt_header h;

	memcpy(&h, d + at, HDR);
	h.crc = 0;
	h.crc = crc32c(0, &h, HDR);
	memcpy(d + at, &h, HDR);
}

/* Checksums right again; END's counts too when ends is set. */
static void fixup(uint8_t *d, size_t size, int ends)
{
	static struct sec v[MAXSEC];
	struct ckpt_header h;
	uint64_t npages = 0, nsec = 0;
	size_t n;

	if (size < HDR)
		return;
	fix_header(d, 0);
	n = scan(d, size, v);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = d + v[i].off + SEC;
		struct ckpt_section s;

		if (i && v[i].hdr != v[i - 1].hdr) {
			fix_header(d, v[i].hdr);
			npages = nsec = 0;
		}
		memcpy(&h, d + v[i].hdr, HDR);
		memcpy(&s, d + v[i].off, SEC);
		if (v[i].whole && ends && s.type == CKPT_SEC_END && s.size >= sizeof(struct ckpt_end)) {
			struct ckpt_end e;

			memcpy(&e, p, sizeof(e));
			e.nsections = nsec;
			e.npages = npages;
			e.raw_bytes = npages * h.page_size;
			memcpy(p, &e, sizeof(e));
		}
		if (s.type == CKPT_SEC_PAGES && v[i].len >= sizeof(struct ckpt_pages)) {
			struct ckpt_pages pg;

			memcpy(&pg, p, sizeof(pg));
			npages += pg.flags & CKPT_PAGES_IN_PARENT ? 0 : pg.npages;
		}
		nsec++;
		if (v[i].whole)
			s.payload_crc = crc32c(0, p, v[i].len);
		s.crc = crc32c(0, &s, offsetof(struct ckpt_section, crc));
		memcpy(d + v[i].off, &s, SEC);
	}
}

static void set_size(uint8_t *d, size_t off, uint64_t size)
{
	memcpy(d + off + offsetof(struct ckpt_section, size), &size, sizeof(size));
}

/* Replace bytes [at, at + len) of d (size bytes) with n bytes of src. */
static size_t splice(uint8_t *d, size_t size, size_t max, size_t at, size_t len,
		     const uint8_t *src, size_t n)
{
	if (size - len + n > max)
		return size;
	memmove(d + at + n, d + at + len, size - at - len);
	if (n)
		memcpy(d + at, src, n);
	return size - len + n;
}

/* A whole section, preferring metadata (anything but PAGES) when meta. */
static long pick(const uint8_t *d, const struct sec *v, size_t n, int meta, uint32_t *st)
{
	for (int tries = 0; n && tries < 16; tries++) {
		size_t i = rnd(st) % n;
		uint32_t type;

		memcpy(&type, d + v[i].off, sizeof(type));
		if (v[i].whole && (!meta || type != CKPT_SEC_PAGES))
			return (long)i;
	}
	return -1;
}

static size_t mutate_payload(uint8_t *d, size_t size, size_t max, const struct sec *v, size_t n,
			     uint32_t *st)
{
	long i = pick(d, v, n, rnd(st) % 4 != 0, st);
	size_t at, len, room, newlen;
	uint8_t *tmp;

	if (i < 0)
		return LLVMFuzzerMutate(d, size, max);
	at = v[i].off + SEC;
	len = v[i].len;
	room = max - (size - len);
	tmp = malloc(room ? room : 1);
	memcpy(tmp, d + at, len);
	newlen = LLVMFuzzerMutate(tmp, len, room);
	/* Fits: room is what max leaves for this payload. */
	size = splice(d, size, max, at, len, tmp, newlen);
	set_size(d, v[i].off, newlen);
	free(tmp);
	return size;
}

/* A fixed-size field: the header or a section header's first 20 bytes. */
static size_t mutate_fixed(uint8_t *d, size_t size, const struct sec *v, size_t n, uint32_t *st)
{
	uint8_t tmp[HDR];
	size_t at = 0, len = HDR, i = n ? rnd(st) % n : 0;

	if (n && rnd(st) % 3) {
		at = v[i].off;
		len = offsetof(struct ckpt_section, payload_crc);
	} else if (n) {
		at = v[i].hdr;
	}
	memcpy(tmp, d + at, len);
	if (LLVMFuzzerMutate(tmp, len, len) == len)
		memcpy(d + at, tmp, len);
	return size;
}

static size_t reorder(uint8_t *d, size_t size, size_t max, const struct sec *v, size_t n,
		      uint32_t *st)
{
	long i = pick(d, v, n, 0, st);
	size_t len, at, k = rnd(st) % 3;
	uint8_t *copy;

	if (i < 0 || n < 2)
		return size;
	len = SEC + v[i].len;
	if (k == 0)	/* delete */
		return splice(d, size, max, v[i].off, len, NULL, 0);
	copy = malloc(len);
	memcpy(copy, d + v[i].off, len);
	at = v[rnd(st) % n].off;
	if (k == 1) {	/* duplicate before another section */
		size = splice(d, size, max, at, 0, copy, len);
	} else if (at != v[i].off) {	/* move */
		size = splice(d, size, max, v[i].off, len, NULL, 0);
		if (at > v[i].off)
			at -= len;
		size = splice(d, size, max, at, 0, copy, len);
	}
	free(copy);
	return size;
}

static size_t edit_field(uint8_t *d, size_t size, const struct sec *v, size_t n, uint32_t *st)
{
	static struct img_sec is[MAXSEC];
	struct ckpt_header h;
	struct img_view iv = { .header = d, .sec = is };

	memcpy(&h, d, HDR);
	iv.page_size = h.page_size;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].whole)
			continue;
		memcpy(&is[iv.n].type, d + v[i].off, sizeof(uint32_t));
		is[iv.n].payload = d + v[i].off + SEC;
		is[iv.n++].len = v[i].len;
	}
	if (iv.n && !(rnd(st) % 8 ? fields_edit(&iv, st) : fields_edit_regset(&iv, st)))
		fields_edit(&iv, st);
	return size;
}

/* The PROC section of the process a section belongs to: the last one
 * before it. */
static long proc_of(const uint8_t *d, const struct sec *v, long i)
{
	for (long k = i - 1; k >= 0 && v[k].hdr == v[i].hdr; k--) {
		uint32_t type;

		memcpy(&type, d + v[k].off, sizeof(type));
		if (type == CKPT_SEC_PROC && v[k].len >= sizeof(struct ckpt_proc))
			return k;
	}
	return -1;
}

/* A THREAD, VMA or FD section deleted or duplicated in place, and its
 * process's count of them changed to match. */
static size_t recount(uint8_t *d, size_t size, size_t max, const struct sec *v, size_t n,
		      uint32_t *st)
{
	for (int tries = 0; tries < 16 && n; tries++) {
		long i = (long)(rnd(st) % n), p;
		size_t len, cnt_off;
		uint32_t type, cnt;
		uint8_t *copy;

		memcpy(&type, d + v[i].off, sizeof(type));
		if (!v[i].whole || (p = proc_of(d, v, i)) < 0)
			continue;
		if (type == CKPT_SEC_THREAD)
			cnt_off = offsetof(struct ckpt_proc, nthreads);
		else if (type == CKPT_SEC_VMA)
			cnt_off = offsetof(struct ckpt_proc, nvmas);
		else if (type == CKPT_SEC_FD)
			cnt_off = offsetof(struct ckpt_proc, nfds);
		else
			continue;
		cnt_off += v[p].off + SEC;
		memcpy(&cnt, d + cnt_off, sizeof(cnt));
		len = SEC + v[i].len;
		if (rnd(st) % 2) {
			cnt--;
			memcpy(d + cnt_off, &cnt, sizeof(cnt));
			return splice(d, size, max, v[i].off, len, NULL, 0);
		}
		if (size + len > max)
			return size;
		cnt++;
		memcpy(d + cnt_off, &cnt, sizeof(cnt));
		copy = malloc(len);
		memcpy(copy, d + v[i].off, len);
		size = splice(d, size, max, v[i].off, 0, copy, len);
		free(copy);
		return size;
	}
	return size;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	static struct sec v[MAXSEC];
	uint32_t st = seed;
	size_t n = scan(data, size, v);
	uint32_t how = rnd(&st) % 32;

	if (size < HDR || memcmp(data, CKPT_MAGIC, 8))
		return LLVMFuzzerMutate(data, size, max_size);
	if (how < 4)
		size = LLVMFuzzerMutate(data, size, max_size);
	else if (how < 12)
		size = mutate_payload(data, size, max_size, v, n, &st);
	else if (how < 15)
		size = mutate_fixed(data, size, v, n, &st);
	else if (how < 18)
		size = reorder(data, size, max_size, v, n, &st);
	else if (how < 20)
		size = recount(data, size, max_size, v, n, &st);
	else
		size = edit_field(data, size, v, n, &st);
	/* Now and then a wrong checksum or END, for the checks of those. */
	if (rnd(&st) % 32)
		fixup(data, size, rnd(&st) % 8 != 0);
	return size;
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
				 size_t size2, uint8_t *out, size_t max_out_size, unsigned int seed)
{
	static struct sec v1[MAXSEC], v2[MAXSEC];
	size_t n1 = scan(data1, size1, v1), n2 = scan(data2, size2, v2), size, at;
	uint32_t st = seed;
	long k;

	if (size1 > max_out_size)
		return 0;
	memcpy(out, data1, size1);
	k = pick(data2, v2, n2, rnd(&st) % 2, &st);
	if (!n1 || k < 0)
		return 0;
	at = v1[rnd(&st) % n1].off;
	size = splice(out, size1, max_out_size, at, 0, data2 + v2[k].off, SEC + v2[k].len);
	fixup(out, size, 1);
	return size;
}
