/*
 * Reading an image (image.h).  Never trusts a length or count from the
 * file: every one is checked against the bytes actually present before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "image/crc32c.h"
#include "image/fdkind.h"
#include "image/image.h"
#include "image/key.h"

static const char *const section_names[] = {
	[CKPT_SEC_PROC] = "process", [CKPT_SEC_SIGACTS] = "signal actions",
	[CKPT_SEC_THREAD] = "thread", [CKPT_SEC_VMA] = "mapping",
	[CKPT_SEC_FD] = "file descriptor", [CKPT_SEC_FILEDATA] = "file data",
	[CKPT_SEC_PARENT] = "parent", [CKPT_SEC_TIMERS] = "timers", [CKPT_SEC_FILE] = "file", [CKPT_SEC_PAGES] = "page data",
	[CKPT_SEC_HASHES] = "page hashes", [CKPT_SEC_TREE] = "process tree",
	[CKPT_SEC_COW] = "shared pages", [CKPT_SEC_PAGES_ALIGNED] = "aligned page data",
	[CKPT_SEC_XSAVE_LAYOUT] = "XSAVE layout", [CKPT_SEC_ATTRS] = "attributes",
	[CKPT_SEC_GUARDS] = "guard regions", [CKPT_SEC_SECCOMP] = "seccomp filters",
	[CKPT_SEC_SYSV_SHM] = "SysV shared memory", [CKPT_SEC_CTTY] = "controlling terminal",
	[CKPT_SEC_LOCKS] = "file locks",
	[CKPT_SEC_MAC_META] = "metadata MAC", [CKPT_SEC_MAC_ALL] = "image MAC",
	[CKPT_SEC_DIGESTS] = "digest table",
};

const char *img_section_name(uint32_t type)
{
	if (type == CKPT_SEC_END)
		return "end";
	if (type < ARRAY_SIZE(section_names) && section_names[type])
		return section_names[type];
	return "unknown";
}

static int want_digests;	/* img_reader_want_digests() */

/* A damaged image: print why and fail with -EBADMSG. */
#define bad(...) (error(__VA_ARGS__), -EBADMSG)

/*
 * Bytes from the image: a copy from the mapping of a regular file (then
 * the verify pass of a restore and the pass that applies the pages read
 * it without copying it into buffers), or read(2) from a stream.
 */
static int fetch(struct img_reader *r, void *dst, size_t len)
{
	if (!r->map)
		return read_all(r->fd, dst, len);
	if (len > r->mapsize - r->pos)
		return -EIO;
	memcpy(dst, r->map + r->pos, len);
	r->pos += len;
	return 0;
}

/* A payload: in place in the mapping, or read into r->buf. */
static int fetch_payload(struct img_reader *r, size_t len, const uint8_t **out)
{
	int ret;

	if (r->map) {
		if (len > r->mapsize - r->pos)
			return -EIO;
		*out = r->map + r->pos;
		r->pos += len;
		return 0;
	}
	if (len > r->cap) {
		r->cap = ALIGN_UP(len, 4096u);
		free(r->buf);
		r->buf = xmalloc(r->cap);
	}
	ret = read_all(r->fd, r->buf, len);
	*out = r->buf;
	return ret;
}

int img_reader_seekable(const struct img_reader *r)
{
	return r->map != NULL || r->fd_seekable;
}

void img_reader_mark(const struct img_reader *r, struct img_mark *m)
{
	m->off = r->off;
	m->at = r->at;
	m->pos = r->pos;
	m->nsections = r->nsections;
	m->npages = r->npages;
	m->sec_nsections = r->sec_nsections;
	m->sec_npages = r->sec_npages;
	m->ndsec = r->ndsec;
	m->sec_ndsec = img_reader_digest_index(r) >= 0 ? r->ndsec - 1 : r->ndsec;
	m->done = r->done;
}

static void digests_reset(struct img_reader *r)
{
	free(r->dsec);
	free(r->digests);
	r->dsec = NULL;
	r->digests = NULL;
	r->ndsec = r->dcap = 0;
	r->after_digests = r->digests_differ = 0;
}

/* Back to the first n entries (a rewind): the table is to be read again. */
static void digests_back(struct img_reader *r, size_t n)
{
	free(r->digests);
	r->digests = NULL;
	r->ndsec = MIN(r->ndsec, n);
	r->after_digests = r->digests_differ = 0;
}

/* The second pass computes no MAC, unless it must check it again. */
static void mac_rewind(struct img_reader *r, int recheck, size_t ndsec)
{
	/* the image's, whatever is computed: its table's algorithm */
	struct img_block_key bk = r->mac.bk;

	digests_back(r, ndsec);
	r->after_all_mac = 0;
	r->mac_all = IMG_MAC_NONE;
	img_mac_free(&r->mac);
	r->mac.bk = bk;
	if (recheck) {
		r->mac.key = r->mac_mark.key;
		r->mac.h = r->mac_mark.h;
	}
}

/* A file read with read(2): back before the section in hand. */
static int rewind_unmapped(struct img_reader *r, const struct img_mark *m)
{
	int recheck = r->mac_mark.key != NULL;

	if (m->done || (recheck && m->at != r->mac_mark_off))
		return -EINVAL;
	if (lseek(r->fd, (off_t)m->at, SEEK_SET) < 0)
		return -errno;
	r->off = m->at;
	r->nsections = m->sec_nsections;
	r->npages = m->sec_npages;
	r->done = 0;
	r->checked = 1;
	mac_rewind(r, recheck, m->sec_ndsec);
	return 1;
}

int img_reader_rewind(struct img_reader *r, const struct img_mark *m)
{
	if (!r->map && r->fd_seekable)
		return rewind_unmapped(r, m);
	if (!r->map || m->pos > r->mapsize)
		return -ESPIPE;
	r->off = m->off;
	r->at = m->at;
	r->pos = m->pos;
	r->nsections = m->nsections;
	r->npages = m->npages;
	r->sec_nsections = m->sec_nsections;
	r->sec_npages = m->sec_npages;
	r->done = m->done;
	/* Every payload's CRC has been checked on the way: not twice. */
	r->checked = 1;
	mac_rewind(r, 0, m->ndsec);
	return 0;
}

int img_reader_payloads_stable(const struct img_reader *r)
{
	return r->map != NULL;
}

int img_reader_at_eof(struct img_reader *r)
{
	char extra;
	ssize_t n;

	if (r->map)
		return r->pos == r->mapsize;
	do
		n = read(r->fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n == 0;
}

int img_reader_open(struct img_reader *r, const char *path, struct ckpt_header *h)
{
	struct stat sb;
	uint32_t crc;
	int ret;

	memset(r, 0, sizeof(*r));
	r->name = path;
	if (!strcmp(path, "-")) {
		r->fd = STDIN_FILENO;
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0)
			return error_errno(errno, "cannot open image");
		if (fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
			void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, r->fd, 0);

			if (m != MAP_FAILED) {
				r->map = m;
				r->mapsize = (size_t)sb.st_size;
				madvise(m, r->mapsize, MADV_SEQUENTIAL);
			}
		}
	}
	ret = fetch(r, h, sizeof(*h));
	if (ret == -EIO)
		return error("not a checkpoint image: too short");
	if (ret < 0)
		return error_errno(ret, "cannot read image");
	r->off = sizeof(*h);
	if (memcmp(h->magic, CKPT_MAGIC, sizeof(h->magic)))
		return error("not a checkpoint image: bad magic");
	/* The checksum first: a flipped bit in the version field is damage,
	 * not a newer format.  A newer format may lay its header out
	 * differently, so a bad checksum with a newer version says both. */
	crc = h->crc;
	h->crc = 0;
	if (crc32c(0, h, sizeof(*h)) != crc) {
		if (h->version > CKPT_VERSION)
			return error("image header is corrupted, or from a newer ckpt (format version %u; this ckpt reads %u)",
				     h->version, CKPT_VERSION);
		return error("image header is corrupted: checksum mismatch");
	}
	h->crc = crc;
	if (h->version > CKPT_VERSION)
		return error("image format version %u is newer than this ckpt understands (%u): upgrade ckpt",
			     h->version, CKPT_VERSION);
	if (h->version < CKPT_MIN_VERSION)
		return error("image format version %u is not supported (this ckpt reads %u to %u)",
			     h->version, CKPT_MIN_VERSION, CKPT_VERSION);
	if (h->header_size != sizeof(*h))
		return error("image header is corrupted: header size %u", h->header_size);
	if (h->page_size < 4096 || h->page_size > (1u << 16) || (h->page_size & (h->page_size - 1)))
		return error("image header is corrupted: page size %u", h->page_size);
	if ((h->flags & CKPT_HDR_DIGESTS) && !(h->flags & CKPT_HDR_MAC))
		return error("image header is corrupted: a digest table without MACs");
	if ((h->flags & CKPT_HDR_BLOCK_MAC) && (!(h->flags & CKPT_HDR_DIGESTS) || h->version < 3))
		return error("image header is corrupted: block MACs without a digest table");
	r->page_size = h->page_size;
	r->version = h->version;
	r->hdr = *h;
	r->want_digests = want_digests;
	img_reader_use_key(r, img_key_default());
	return 0;
}

void img_reader_want_digests(int on)
{
	want_digests = on;
}

void img_reader_use_key(struct img_reader *r, const struct img_key *key)
{
	memset(&r->mac_mark, 0, sizeof(r->mac_mark));	/* another key's */
	/* An image without MACs has nothing to check them against. */
	img_mac_start(&r->mac, r->hdr.flags & CKPT_HDR_MAC ? key : NULL, &r->hdr);
}

int img_reader_unmap(struct img_reader *r)
{
	if (!r->map)
		return 0;
	if (lseek(r->fd, (off_t)r->pos, SEEK_SET) < 0)
		return -errno;
	munmap((void *)r->map, r->mapsize);
	r->map = NULL;
	r->fd_seekable = 1;
	return 0;
}

void img_reader_close(struct img_reader *r)
{
	digests_reset(r);
	img_mac_free(&r->mac);
	memset(&r->mac_mark, 0, sizeof(r->mac_mark));
	if (r->map)
		munmap((void *)r->map, r->mapsize);
	r->map = NULL;
	if (r->fd > STDIN_FILENO)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
}

/* A PAGES_ALIGNED section, its CRC checked, as the PAGES section it holds
 * (format.h): what every reader of page data then handles alike. */
static int unalign(struct ckpt_section *s, const uint8_t **data)
{
	struct ckpt_align a;

	if (s->size < sizeof(a))
		return -1;
	memcpy(&a, *data, sizeof(a));
	if (a.skip >= CKPT_MAX_ALIGN_SKIP || a.skip > s->size - sizeof(a) ||
	    s->size - sizeof(a) - a.skip > CKPT_MAX_BLOCK + 64)
		return -1;
	s->type = CKPT_SEC_PAGES;
	s->size -= sizeof(a) + a.skip;
	*data += sizeof(a) + a.skip;
	return 0;
}

static int is_page_data(uint32_t type)
{
	return type == CKPT_SEC_PAGES || type == CKPT_SEC_PAGES_ALIGNED || type == CKPT_SEC_HASHES;
}

/* Payloads up to this size are hashed as they are read, even when the
 * caller checks digests itself: IN_PARENT runs (16 bytes), HASHES and
 * small compressed blocks cost nothing, and are then authenticated
 * before anything uses them. */
#define DSEC_SMALL	4096

/* Whether this reader computes the table's digests: with a key (not on
 * a second pass that computes no MAC) or for verify; block MACs only
 * with the signing key. */
static int can_digest(const struct img_reader *r)
{
	return (r->mac.key || r->want_digests) &&
	       (r->mac.bk.alg == CKPT_DIGEST_SHA256 || r->mac.bk.keyed);
}

/* Entry idx's digest of the payload data (as stored).  One that cannot
 * be (an aligned block's padding not zero) is one no entry can hold:
 * a block MAC's last 16 bytes are zero. */
static void digest_now(struct img_reader *r, struct img_dsec *d, size_t idx, const void *data)
{
	struct iovec iov = { (void *)data, d->len };

	if (img_block_digest(&r->mac.bk, idx, d->e.type, &iov, 1, d->e.digest) < 0)
		memset(d->e.digest, 0xff, sizeof(d->e.digest));
	d->known = 1;
}

/* A section after MAC_META in an image with a digest table: kept for it. */
static void dsec_add(struct img_reader *r, const struct ckpt_section *s, const void *data,
		     uint64_t at)
{
	struct iovec iov = { (void *)data, (size_t)s->size };
	struct img_dsec *d;

	if (r->ndsec == r->dcap) {
		r->dcap = r->dcap ? r->dcap * 2 : 1024;
		r->dsec = xrealloc(r->dsec, r->dcap * sizeof(*r->dsec));
	}
	d = &r->dsec[r->ndsec++];
	memset(d, 0, sizeof(*d));
	img_digest_entry(&d->e, s, &iov, 1);
	d->at = at;
	d->len = (size_t)s->size;
	/* A read(2) buffer is reused: hashed now, or never. */
	if (r->map)
		d->p = data;	/* (stays: for its CRC should its digest differ) */
	if (can_digest(r) && (!r->map || d->len <= DSEC_SMALL))
		digest_now(r, d, r->ndsec - 1, data);
}

int64_t img_reader_digest_index(const struct img_reader *r)
{
	if (!(r->hdr.flags & CKPT_HDR_DIGESTS) || !r->after_meta_mac || !r->ndsec ||
	    r->after_digests || r->dsec[r->ndsec - 1].at != r->at)
		return -1;
	return (int64_t)r->ndsec - 1;
}

void img_reader_hash_current(struct img_reader *r)
{
	int64_t i = img_reader_digest_index(r);
	struct img_dsec *d = i >= 0 ? &r->dsec[i] : NULL;

	if (d && !d->known && d->p && can_digest(r))
		digest_now(r, d, (size_t)i, d->p);
}

const uint8_t *img_reader_digest(const struct img_reader *r, int64_t idx)
{
	if (!r->digests || idx < 0 || (uint64_t)idx >= r->ndsec || r->digests_differ)
		return NULL;
	return r->digests[idx].digest;
}

int img_reader_block_ok(const struct img_reader *r, int64_t idx, const void *payload, size_t len)
{
	const uint8_t *want = img_reader_digest(r, idx);

	return want && img_block_ok(&r->mac.bk, (uint64_t)idx, r->digests[idx].type, payload, len,
				    want);
}

/*
 * The digest table: the entries must be the sections read since MAC_META,
 * header and page run as they are; their payloads are hashed (on all
 * CPUs) unless the caller checks them itself, and fed to the MAC with
 * the digest computed or, where none was, the table's.  Then MAC_ALL
 * holds only if the table is what was signed, and every payload hashed
 * is what was signed.
 */
static int digests_section(struct img_reader *r, const struct ckpt_section *s, const void *data,
			   uint64_t at)
{
	const unsigned long long o = (unsigned long long)at;
	struct img_hash_job *j;
	struct ckpt_digests t;
	size_t nj = 0;
	uint64_t bytes = 0;
	int hash = can_digest(r);

	if (s->size < sizeof(t) || s->proc)
		return bad("image is corrupted: %s section at offset %llu is malformed", "digest table", o);
	memcpy(&t, data, sizeof(t));
	if (t.alg != r->mac.bk.alg || t.reserved || t.count != r->ndsec ||
	    t.count > CKPT_MAX_DIGESTS || s->size != sizeof(t) + t.count * sizeof(struct ckpt_digest))
		return bad("image is corrupted: %s section at offset %llu is malformed", "digest table", o);
	r->digests = xmalloc(r->ndsec ? r->ndsec * sizeof(*r->digests) : 1);
	memcpy(r->digests, (const uint8_t *)data + sizeof(t), r->ndsec * sizeof(*r->digests));

	j = xmalloc((r->ndsec ? r->ndsec : 1) * sizeof(*j));
	for (size_t i = 0; hash && i < r->ndsec; i++) {
		struct img_dsec *d = &r->dsec[i];

		if (d->known || !d->p || (r->trust_digests && d->len > DSEC_SMALL))
			continue;
		j[nj++] = (struct img_hash_job){ .p = d->p, .len = d->len, .bk = &r->mac.bk, .idx = i,
						 .type = d->e.type };
		bytes += d->len;
	}
	img_hash_many(j, nj, bytes);
	nj = 0;
	for (size_t i = 0; i < r->ndsec; i++) {
		struct img_dsec *d = &r->dsec[i];
		const struct ckpt_digest *e = &r->digests[i];
		struct ckpt_section sh = { .type = d->e.type, .proc = d->e.proc, .size = d->e.size,
					   .payload_crc = d->e.payload_crc, .crc = d->e.crc };

		if (hash && !d->known && d->p && !(r->trust_digests && d->len > DSEC_SMALL)) {
			if (j[nj].ok)
				memcpy(d->e.digest, j[nj].d, CKPT_DIGEST_LEN);
			else
				memset(d->e.digest, 0xff, CKPT_DIGEST_LEN);
			nj++;
			d->known = 1;
		}
		if (memcmp(&d->e, e, offsetof(struct ckpt_digest, digest)) ||
		    (d->known && !ct_equal(d->e.digest, e->digest, CKPT_DIGEST_LEN))) {
			/* Damage, not a forgery, where its own CRC says so (a
			 * walk that reads only the headers has not checked it):
			 * said as the reader says it (read_one). */
			if (r->map && d->p && crc32c(0, d->p, d->len) != d->e.payload_crc) {
				free(j);
				return bad("image is corrupted: %s section at offset %llu: checksum mismatch",
					   img_section_name(d->e.type), (unsigned long long)d->at);
			}
			r->digests_differ = 1;
			if (!r->mac.key) {
				free(j);
				return bad("image is corrupted: %s section at offset %llu is not what the digest table at offset %llu says",
					   img_section_name(d->e.type), (unsigned long long)d->at, o);
			}
		}
		img_mac_feed(&r->mac, &sh, d->known ? d->e.digest : e->digest);
	}
	free(j);
	r->after_digests = 1;
	return 0;
}

/*
 * Where MAC sections may be (format.h), and what they say: 0 for any
 * other section (fed to the running MAC), 1 for a MAC or DIGESTS section
 * (checked, recorded, fed, passed over), or -EBADMSG after a message.
 */
static int mac_section(struct img_reader *r, const struct ckpt_section *s, const void *data,
		       uint64_t at)
{
	const unsigned long long o = (unsigned long long)at;
	struct iovec iov = { (void *)data, (size_t)s->size };
	int is_mac = s->type == CKPT_SEC_MAC_META || s->type == CKPT_SEC_MAC_ALL;
	int has_dig = !!(r->hdr.flags & CKPT_HDR_DIGESTS);
	const char *name = img_section_name(s->type);
	struct ckpt_mac mac;
	int ret;

	if (!(r->hdr.flags & CKPT_HDR_MAC)) {
		if (is_mac || s->type == CKPT_SEC_DIGESTS)
			return bad("image is corrupted: %s section at offset %llu in an image not marked as signed",
				   name, o);
	} else if (r->after_all_mac && s->type != CKPT_SEC_END) {
		return bad("image is corrupted: %s section at offset %llu after the image MAC", name, o);
	} else if (!r->after_meta_mac && (is_page_data(s->type) || s->type == CKPT_SEC_MAC_ALL ||
					  s->type == CKPT_SEC_DIGESTS || s->type == CKPT_SEC_END)) {
		return bad("image is corrupted: the metadata MAC is missing before the %s section at offset %llu",
			   name, o);
	} else if (r->after_meta_mac && !is_page_data(s->type) && s->type != CKPT_SEC_MAC_ALL &&
		   s->type != CKPT_SEC_DIGESTS && s->type != CKPT_SEC_END) {
		return bad("image is corrupted: %s section at offset %llu after the metadata MAC", name, o);
	} else if (s->type == CKPT_SEC_DIGESTS && !has_dig) {
		return bad("image is corrupted: %s section at offset %llu in an image not marked as having one",
			   name, o);
	} else if (r->after_digests && s->type != CKPT_SEC_MAC_ALL && s->type != CKPT_SEC_END) {
		return bad("image is corrupted: %s section at offset %llu after the digest table", name, o);
	} else if (has_dig && s->type == CKPT_SEC_MAC_ALL && !r->after_digests) {
		return bad("image is corrupted: the digest table is missing before the image MAC at offset %llu",
			   o);
	} else if (s->type == CKPT_SEC_END && !r->after_all_mac) {
		return bad("image is corrupted: the image MAC is missing before the end section at offset %llu",
			   o);
	}
	if (s->type == CKPT_SEC_END)
		return 0;
	if (has_dig && r->after_meta_mac && is_page_data(s->type)) {
		dsec_add(r, s, data, at);
		return 0;
	}
	if (s->type == CKPT_SEC_DIGESTS) {
		if ((ret = digests_section(r, s, data, at)) < 0)
			return ret;
		img_mac_section(&r->mac, s, &iov, 1, 0);
		r->nsections++;
		return 1;
	}
	if (!is_mac) {
		/* A mapping's payloads stay put: hashed later, in parallel. */
		img_mac_section(&r->mac, s, &iov, 1, r->map != NULL);
		return 0;
	}
	if (s->size != sizeof(mac) || s->proc)
		return bad("image is corrupted: %s section at offset %llu is malformed", name, o);
	memcpy(&mac, data, sizeof(mac));
	if (mac.alg != CKPT_MAC_HMAC_SHA256 || mac.reserved || mac.nsections != r->nsections)
		return bad("image is corrupted: %s section at offset %llu is malformed", name, o);
	if (s->type == CKPT_SEC_MAC_META) {
		r->mac_meta = img_mac_check(&r->mac, s->type, &mac);
		r->after_meta_mac = 1;
		memcpy(r->mac_key_id, mac.key_id, sizeof(r->mac_key_id));
	} else {
		r->mac_all = img_mac_check(&r->mac, s->type, &mac);
		/* A section not as its entry says, though the table holds. */
		if (r->digests_differ && r->mac_all == IMG_MAC_OK)
			r->mac_all = IMG_MAC_MISMATCH;
		r->after_all_mac = 1;
	}
	img_mac_section(&r->mac, s, &iov, 1, 0);
	if (s->type == CKPT_SEC_MAC_META) {
		/* where a second pass over the page data starts (rewind) */
		r->mac_mark.key = r->mac.key;
		r->mac_mark.h = r->mac.h;
		r->mac_mark_off = r->off;
	}
	r->nsections++;
	return 1;
}

static int read_one(struct img_reader *r, struct ckpt_section *s, void **payload)
{
	uint64_t at = r->off, max;
	const uint8_t *data;
	int ret;

	if (r->done)
		return 0;
	ret = fetch(r, s, sizeof(*s));
	if (ret == -EIO)
		return bad("image is truncated: %s expected at offset %llu", "section", (unsigned long long)at);
	if (ret < 0)
		return error_errno(ret, "cannot read image");
	if (crc32c(0, s, offsetof(struct ckpt_section, crc)) != s->crc)
		return bad("image is corrupted: bad %s header at offset %llu", "section", (unsigned long long)at);
	max = (s->type == CKPT_SEC_PAGES || s->type == CKPT_SEC_FILEDATA) ?
		CKPT_MAX_BLOCK + 64 : CKPT_MAX_META;
	if (s->type == CKPT_SEC_PAGES_ALIGNED)
		max = CKPT_MAX_BLOCK + 64 + sizeof(struct ckpt_align) + CKPT_MAX_ALIGN_SKIP;
	if (s->size > max)
		return bad("image is corrupted: oversized %s section at offset %llu", img_section_name(s->type), (unsigned long long)at);
	ret = fetch_payload(r, (size_t)s->size, &data);
	if (ret == -EIO)
		return bad("image is truncated: %s section at offset %llu is incomplete", img_section_name(s->type), (unsigned long long)at);
	if (ret < 0)
		return error_errno(ret, "cannot read image");
	/* checked: page data (and hashes) whose CRCs are checked elsewhere;
	 * the rest is small and always checked here. */
	if ((!r->checked || (s->type != CKPT_SEC_PAGES && s->type != CKPT_SEC_PAGES_ALIGNED &&
			     s->type != CKPT_SEC_HASHES)) &&
	    crc32c(0, data, (size_t)s->size) != s->payload_crc)
		return bad("image is corrupted: %s section at offset %llu: checksum mismatch", img_section_name(s->type), (unsigned long long)at);
	r->at = at;
	r->off += sizeof(*s) + s->size;
	/* The MAC covers the section as stored: before unalign(). */
	if ((ret = mac_section(r, s, data, at)) != 0)
		return ret < 0 ? ret : 2;
	if (s->type == CKPT_SEC_PAGES_ALIGNED && unalign(s, &data) < 0)
		return bad("image is corrupted: %s section at offset %llu is malformed", "aligned page data", (unsigned long long)at);
	*payload = (void *)data;
	r->sec_nsections = r->nsections;
	r->sec_npages = r->npages;
	if (s->type == CKPT_SEC_END) {
		struct ckpt_end e;

		if (s->size < sizeof(e))
			return bad("image is corrupted: %s section at offset %llu is short", "end", (unsigned long long)at);
		memcpy(&e, data, sizeof(e));
		if (e.nsections != r->nsections || e.npages != r->npages)
			return bad("image is corrupted: %s section at offset %llu does not match the sections before it", "end", (unsigned long long)at);
		/* The byte count is the page count in bytes, whichever pages. */
		if (e.raw_bytes != e.npages * r->page_size)
			return bad("image is corrupted: %s section says %llu bytes for %llu pages", "end",
				   (unsigned long long)e.raw_bytes, (unsigned long long)e.npages);
		/* Nothing may follow: two images run together are not one. */
		if (img_reader_at_eof(r) == 0)
			return bad("image is corrupted: data after the end section at offset %llu",
				   (unsigned long long)r->off);
		r->done = 1;
		return 0;
	}
	if (s->type == CKPT_SEC_PAGES) {
		struct ckpt_pages pg;

		if (s->size < sizeof(pg))
			return bad("image is corrupted: %s section at offset %llu is short", "page data", (unsigned long long)at);
		memcpy(&pg, data, sizeof(pg));
		r->npages += pg.flags & CKPT_PAGES_IN_PARENT ? 0 : pg.npages;
	}
	r->nsections++;
	return 1;
}

int img_read_section(struct img_reader *r, struct ckpt_section *s, void **payload)
{
	int ret;

	/* MAC sections are the reader's own business: passed over. */
	while ((ret = read_one(r, s, payload)) == 2)
		;
	return ret;
}

void img_reader_swap_buf(struct img_reader *r, uint8_t **buf, size_t *cap)
{
	uint8_t *b = r->buf;
	size_t c = r->cap;

	r->buf = *buf;
	r->cap = *cap;
	*buf = b;
	*cap = c;
}

/* A cursor over one payload: take() fails instead of running past it. */
struct cur {
	const uint8_t *p;
	size_t left;
};

static const void *take(struct cur *c, size_t n)
{
	const void *p = c->p;

	if (n > c->left)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

/* n is bounded by the payload (take), and a command line may be as long
 * as ARG_MAX allows: no smaller limit here. */
static char *take_str(struct cur *c, size_t n)
{
	const char *p;

	if (!(p = take(c, n)))
		return NULL;
	return xstrndup(p, n);
}

static void *take_dup(struct cur *c, size_t n)
{
	const void *p = take(c, n);

	return p ? xmemdup(p, n) : NULL;
}

/* parse_*(): 0, -1 if malformed, BEYOND_EOF when the section describes
 * more data than the rest of the file holds (a truncated file, usually),
 * or NO_MEMORY when what it describes cannot be allocated. */
#define BEYOND_EOF	(-2)
#define NO_MEMORY	(-3)

/*
 * For the arrays and ghost files a section describes.  On a stream
 * nothing but the format's limits bounds them (2^24 mappings, 4 GiB of
 * file), so a few bytes can ask for gigabytes: where those cannot be
 * had, that is an error to report, not an abort (xzalloc).
 */
static void *try_zalloc(size_t n)
{
	return calloc(1, n ? n : 1);
}

/*
 * left: bytes of the file after this section (UINT64_MAX for a stream).
 * The THREAD, VMA and FD sections counted here must still fit in it, so
 * the arrays allocated for them are never larger than the file itself.
 */
static int parse_proc(struct img_proc *p, struct cur *c, uint64_t left, uint32_t version)
{
	const void *d = take(c, sizeof(p->d));
	uint64_t fd_size = version < 2 ? sizeof(struct ckpt_fd_v1) : sizeof(struct ckpt_fd);

	if (!d)
		return -1;
	memcpy(&p->d, d, sizeof(p->d));
	if (p->d.ngroups > 65536 || p->d.npending > 4096 || p->d.nthreads == 0 ||
	    p->d.nthreads > 1u << 20 || p->d.nvmas > 1u << 24 || p->d.nfds > 1u << 24 ||
	    ((p->d.flags & CKPT_PROC_CWD_OPEN) && !(p->d.flags & CKPT_PROC_CWD_DELETED)))
		return -1;
	if (p->d.nthreads * (uint64_t)(sizeof(struct ckpt_section) + sizeof(struct ckpt_thread)) +
	    p->d.nvmas * (uint64_t)(sizeof(struct ckpt_section) + sizeof(struct ckpt_vma)) +
	    p->d.nfds * (uint64_t)(sizeof(struct ckpt_section) + fd_size) > left)
		return BEYOND_EOF;
	if (!(p->groups = take_dup(c, p->d.ngroups * sizeof(uint32_t))) ||
	    !(p->exe = take_str(c, p->d.exe_len)) ||
	    !(p->cwd = take_str(c, p->d.cwd_len)) ||
	    !(p->cmdline = take_str(c, p->d.cmdline_len)) ||
	    !(p->auxv = take_dup(c, p->d.auxv_len)) ||
	    !(p->pending = take_dup(c, p->d.npending * (size_t)CKPT_SIGINFO_SIZE)) ||
	    p->d.root_len > CKPT_MAX_PATH || !(p->root = take_str(c, p->d.root_len)))
		return -1;
	p->threads = try_zalloc(p->d.nthreads * sizeof(*p->threads));
	p->vmas = try_zalloc(p->d.nvmas * sizeof(*p->vmas));
	p->fds = try_zalloc(p->d.nfds * sizeof(*p->fds));
	if (!p->threads || !p->vmas || !p->fds)
		return NO_MEMORY;
	return c->left ? -1 : 0;
}

static int parse_thread(struct img_thread *t, struct cur *c)
{
	const void *d = take(c, sizeof(t->d));

	if (!d)
		return -1;
	memcpy(&t->d, d, sizeof(t->d));
	if (t->d.nregsets == 0 || t->d.nregsets > 64 || t->d.npending > 4096)
		return -1;
	t->regsets = xzalloc(t->d.nregsets * sizeof(*t->regsets));
	for (uint32_t i = 0; i < t->d.nregsets; i++) {
		struct img_regset *rs = &t->regsets[i];
		const void *p = take(c, 8);
		uint32_t hdr[2];

		/* A payload is not aligned to anything (format.h): copied. */
		if (!p)
			return -1;
		memcpy(hdr, p, sizeof(hdr));
		rs->type = hdr[0];
		rs->len = hdr[1];
		if (rs->len > 1u << 20 || !(rs->data = take_dup(c, rs->len)) ||
		    !take(c, ALIGN_UP(rs->len, 8u) - rs->len))
			return -1;
	}
	if (t->regsets[0].type != 1 /* NT_PRSTATUS */ || t->regsets[0].len != sizeof(arch_regs_t))
		return -1;
	t->pending = take_dup(c, t->d.npending * (size_t)CKPT_SIGINFO_SIZE);
	return (!t->pending || c->left) ? -1 : 0;
}

static int parse_vma(struct img_vma *v, struct cur *c, uint32_t page_size)
{
	const void *d = take(c, sizeof(v->d));

	if (!d)
		return -1;
	memcpy(&v->d, d, sizeof(v->d));
	if (v->d.start >= v->d.end || (v->d.start | v->d.end) & (page_size - 1) ||
	    v->d.path_len > CKPT_MAX_PATH || !(v->path = take_str(c, v->d.path_len)))
		return -1;
	/* THP: private anonymous memory that did not refuse huge pages (5.6). */
	if ((v->d.flags & CKPT_VMA_THP) &&
	    (!(v->d.flags & CKPT_VMA_ANON) || (v->d.madv & CKPT_MADV_NOHUGEPAGE) ||
	     (v->d.flags & ~(CKPT_VMA_THP | CKPT_VMA_ANON | CKPT_VMA_GROWSDOWN | CKPT_VMA_HEAP |
			     CKPT_VMA_STACK))))
		return -1;
	return c->left ? -1 : 0;
}

/* No descriptor number reaches the kernel's largest fs.nr_open
 * (sysctl_nr_open_max, fs/file.c: INT_MAX rounded down to a multiple of
 * BITS_PER_LONG): above it, restore's fd + 1 arithmetic would overflow
 * (found by tests/fuzz). */
#define MAX_FD_NUMBER	(0x7fffffff & ~63)

/* The data a file carries (data_len), to come in FILEDATA sections:
 * bounded by the format and by what is left of the file. */
static int alloc_data(struct img_file *f, uint64_t left)
{
	if (!f->d.data_len)
		return 0;
	if (f->d.data_len > CKPT_MAX_FILEDATA)
		return -1;
	if (f->d.data_len > left)
		return BEYOND_EOF;
	return (f->data = try_zalloc((size_t)f->d.data_len)) ? 0 : NO_MEMORY;
}

/* A further open of a deleted file's inode names an earlier file that
 * carries it (format.h ckpt_fd_ghost.inode_of): 1 when it does or need not. */
static int same_inode_named(const struct img *img, const struct img_file *f)
{
	struct ckpt_fd_ghost s, o;
	const struct img_file *of;

	if (f->d.kind != CKPT_FD_GHOST || f->d.policy != CKPT_FPOL_EXACT || !f->d.state_len)
		return 1;
	fd_state(f, &s, sizeof(s));
	if (!s.inode_of)
		return 1;
	of = s.inode_of < f->d.id ? img_file(img, s.inode_of) : NULL;
	if (!of || of->d.kind != CKPT_FD_GHOST || of->d.policy != CKPT_FPOL_EXACT ||
	    !of->d.state_len || of->d.dev != f->d.dev || of->d.ino != f->d.ino)
		return 0;
	fd_state(of, &o, sizeof(o));
	return !o.inode_of;
}

/* left as for parse_proc: a file's data must still be to come. */
static int parse_file(struct img *img, struct cur *c, uint64_t left)
{
	const void *p = take(c, sizeof(struct ckpt_file));
	struct ckpt_file d;
	struct img_file *f;

	if (!p)
		return -1;
	memcpy(&d, p, sizeof(d));
	if (d.id != img->nfiles + 1 || img->nfiles >= CKPT_MAX_FILES ||
	    d.path_len > CKPT_MAX_PATH || d.what_len > CKPT_MAX_WHAT || d.policy > CKPT_FPOL_OUTSIDE)
		return -1;
	f = img_add_file(img);
	f->d = d;
	if (!(f->path = take_str(c, d.path_len)) || !(f->state = take_dup(c, d.state_len)) ||
	    !(f->what = take_str(c, d.what_len)) || c->left || fd_kind_check(f) < 0 ||
	    !same_inode_named(img, f))
		return -1;
	return alloc_data(f, left);
}

static int parse_fd(const struct img *img, struct img_fd *f, struct cur *c)
{
	const struct img_file *file;

	if (c->left != sizeof(f->d))
		return -1;
	memcpy(&f->d, c->p, sizeof(f->d));
	file = img_file(img, f->d.file);
	/* a file only mapped has no descriptor (format.h CKPT_FILEF_MAPPED) */
	return f->d.fd < 0 || f->d.fd > MAX_FD_NUMBER || !file ||
	       (file->d.fflags & CKPT_FILEF_MAPPED) ? -1 : 0;
}

/*
 * A version-1 FD section: descriptor and file in one.  It becomes a file
 * of its own, or the file of the earlier fd it is a dup of.  What
 * version 1 substituted (OTHER) is now said: fds 0-2 get ckpt restore's
 * own, others are lost.
 */
static int parse_fd_v1(struct img *img, struct img_proc *p, uint32_t n, struct cur *c,
		       uint64_t left)
{
	const void *d = take(c, sizeof(struct ckpt_fd_v1));
	struct ckpt_fd_v1 v;
	struct img_file *f;

	if (!d)
		return -1;
	memcpy(&v, d, sizeof(v));
	if (v.fd < 0 || v.fd > MAX_FD_NUMBER || v.kind < CKPT_FD_FILE || v.kind > CKPT_FD_MEMFD ||
	    v.path_len > CKPT_MAX_PATH || v.path_len != c->left || img->nfiles >= CKPT_MAX_FILES)
		return -1;
	p->fds[n].d = (struct ckpt_fd){ .fd = v.fd, .fdflags = v.fdflags };
	for (uint32_t i = 0; (v.fflags & CKPT_FDF_DUP) && i < n; i++)
		if (p->fds[i].d.fd == v.dup_of)
			p->fds[n].d.file = p->fds[i].d.file;
	if (p->fds[n].d.file)
		return 0;
	f = img_add_file(img);
	f->d.kind = v.kind;
	f->d.flags = v.flags;
	f->d.policy = v.kind != CKPT_FD_OTHER ? CKPT_FPOL_EXACT :
		      v.fd <= 2 ? CKPT_FPOL_INHERIT : CKPT_FPOL_LOST;
	f->d.pos = v.pos;
	f->d.size = v.size;
	f->d.dev = v.dev;
	f->d.ino = v.ino;
	f->d.mtime_ns = v.mtime_ns;
	f->d.mode = v.mode;
	f->d.path_len = v.path_len;
	f->d.fflags = v.fflags & 0xff00;	/* memfd seals, where they were */
	if (v.kind == CKPT_FD_GHOST || v.kind == CKPT_FD_MEMFD)
		f->d.data_len = v.size;
	p->fds[n].d.file = f->d.id;
	f->path = take_str(c, v.path_len);
	f->what = xstrdup("");
	return alloc_data(f, left);
}

static int parse_filedata(struct img *img, const struct img_proc *p, uint32_t nfds,
			  uint32_t version, struct cur *c)
{
	struct ckpt_filedata fdd;
	const void *d = take(c, sizeof(fdd));
	struct img_file *f = NULL;

	if (!d)
		return -1;
	memcpy(&fdd, d, sizeof(fdd));
	if (version >= 2)
		f = img_file(img, fdd.id);
	for (uint32_t i = 0; version < 2 && i < nfds; i++)
		if (p->fds[i].d.fd == (int32_t)fdd.id)
			f = img_file(img, p->fds[i].d.file);
	if (!f || !f->data || fdd.offset > f->d.data_len || c->left > f->d.data_len - fdd.offset)
		return -1;
	memcpy(f->data + fdd.offset, c->p, c->left);
	return 0;
}

/* One ckpt_thread_attrs per thread of the PROC before it. */
static int parse_attrs(struct img_proc *p, struct cur *c)
{
	const void *d = take(c, sizeof(p->attrs));
	size_t size;

	if (!d)
		return -1;
	memcpy(&p->attrs, d, sizeof(p->attrs));
	if (p->attrs.nthreads != p->d.nthreads || !p->attrs.nthreads)
		return -1;
	/* Each thread's record: this size, or the first, shorter one. */
	size = c->left / p->attrs.nthreads;
	if (c->left % p->attrs.nthreads ||
	    (size != sizeof(*p->tattrs) && size != CKPT_THREAD_ATTRS_V0_SIZE))
		return -1;
	p->tattrs = xzalloc(p->attrs.nthreads * sizeof(*p->tattrs));
	for (uint32_t i = 0; i < p->attrs.nthreads; i++)
		memcpy(&p->tattrs[i], take(c, size), size);
	p->has_attrs = 1;
	return 0;
}

/* Page-aligned, non-empty ranges in ascending order without overlaps. */
static int parse_guards(struct img_proc *p, struct cur *c, uint32_t page_size)
{
	size_t n = c->left / sizeof(*p->guards);

	if (!n || c->left % sizeof(*p->guards) || !(p->guards = take_dup(c, c->left)))
		return -1;
	p->nguards = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		const struct ckpt_range *g = &p->guards[i];

		if (g->start >= g->end || (g->start | g->end) & (page_size - 1) ||
		    (i && g->start < p->guards[i - 1].end))
			return -1;
	}
	return 0;
}

/* Filters one after another, within what the kernel would take in all. */
static int parse_seccomp(struct img_proc *p, struct cur *c)
{
	struct cur scan = *c;
	uint64_t insns = 0;
	uint32_t n = 0;

	while (scan.left) {
		const struct ckpt_seccomp *f = take(&scan, sizeof(*f));

		if (!f || f->len < 1 || f->len > 4096 ||
		    (insns += f->len + 4) > CKPT_MAX_SECCOMP_INSNS ||
		    !take(&scan, f->len * sizeof(struct ckpt_bpf_insn)))
			return -1;
		n++;
	}
	if (!n)
		return -1;
	p->seccomp = xzalloc(n * sizeof(*p->seccomp));
	for (p->nseccomp = 0; p->nseccomp < n; p->nseccomp++) {
		struct img_seccomp *f = &p->seccomp[p->nseccomp];

		memcpy(&f->d, take(c, sizeof(f->d)), sizeof(f->d));
		f->insns = take_dup(c, f->d.len * sizeof(*f->insns));
	}
	return 0;
}

/* After all its FDs: each lock through a file the process holds, of a
 * known type and mode, over a range that is one. */
static int parse_locks(const struct img *img, struct img_proc *p, struct cur *c)
{
	size_t n = c->left / sizeof(*p->locks);

	if (!n || n > CKPT_MAX_LOCKS || c->left % sizeof(*p->locks) ||
	    !(p->locks = take_dup(c, c->left)))
		return -1;
	p->nlocks = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		const struct ckpt_lock *l = &p->locks[i];
		int whole = l->type == CKPT_LOCK_FLOCK || l->type == CKPT_LOCK_LEASE;

		if (!img_file(img, l->file) || img_file_fd(p, l->file) < 0 || l->mode > 1 ||
		    l->reserved || l->type < CKPT_LOCK_FLOCK || l->type > CKPT_LOCK_LEASE ||
		    l->start > l->end || l->start > INT64_MAX ||
		    (l->end != CKPT_LOCK_EOF && l->end > INT64_MAX) ||
		    (whole && (l->start || l->end != CKPT_LOCK_EOF)))
			return -1;
	}
	return 0;
}

/* Where the next section of each kind goes, to check the order. */
struct meta_pos {
	uint32_t proc;		/* procs read so far */
	uint32_t thread, vma, fd;
	int sigacts, timers, cow, xfeat, attrs, guards, seccomp, shms, ctty, locks;
	uint64_t left;		/* bytes after the current section, or UINT64_MAX */
	uint32_t version;	/* of the image */
};

/* The tree: counts bounded here, relations checked once all is read. */
static int parse_tree(struct img *img, struct cur *c)
{
	struct ckpt_tree t;
	const void *d = take(c, sizeof(t));

	if (!d)
		return -1;
	memcpy(&t, d, sizeof(t));
	if (t.ntasks == 0 || t.ntasks > CKPT_MAX_TASKS || t.flags ||
	    c->left != t.ntasks * sizeof(struct ckpt_task))
		return -1;
	img->tasks = take_dup(c, c->left);
	img->ntasks = t.ntasks;
	return img->tasks ? 0 : -1;
}

/* Runs in address order, each inside one mapping of the process. */
static int parse_cow(struct img_proc *p, struct cur *c, uint32_t page_size)
{
	uint64_t prev_end = 0;

	if (c->left % sizeof(struct ckpt_cow_run) || !c->left)
		return -1;
	p->ncow = (uint32_t)(c->left / sizeof(struct ckpt_cow_run));
	if (!(p->cow = take_dup(c, c->left)))
		return -1;
	for (uint32_t i = 0; i < p->ncow; i++) {
		const struct ckpt_cow_run *r = &p->cow[i];
		const struct img_vma *v = img_find_vma(p, r->addr);

		if ((r->addr & (page_size - 1)) || !r->npages || r->addr < prev_end || !v ||
		    r->npages > (v->d.end - r->addr) / page_size)
			return -1;
		prev_end = r->addr + r->npages * page_size;
	}
	return 0;
}

static int parse_one(struct img *img, struct meta_pos *m, const struct ckpt_section *s,
		     struct cur *c)
{
	struct img_proc *p;
	int ret;

	if (s->type == CKPT_SEC_PARENT) {
		if (m->proc || img->parent || !c->left || c->left > CKPT_MAX_PATH ||
		    memchr(c->p, 0, c->left))
			return -1;
		img->parent = take_str(c, c->left);
		return 0;
	}
	if (s->type == CKPT_SEC_TREE)
		return m->proc || img->tasks ? -1 : parse_tree(img, c);
	if (s->type == CKPT_SEC_PROC) {
		if (s->proc != m->proc || m->proc >= img->h.nprocs)
			return -1;
		memset(m, 0, offsetof(struct meta_pos, left));
		m->proc = s->proc + 1;
		return parse_proc(&img->procs[s->proc], c, m->left, m->version);
	}
	if (m->proc == 0 || s->proc != m->proc - 1)
		return -1;
	p = &img->procs[s->proc];
	switch (s->type) {
	case CKPT_SEC_TIMERS: {
		const void *d = take(c, sizeof(p->timers));

		if (m->timers++ || !d)
			return -1;
		memcpy(&p->timers, d, sizeof(p->timers));
		if (p->timers.ntimers > 65536 ||
		    c->left != p->timers.ntimers * sizeof(struct ckpt_posix_timer))
			return -1;
		p->ptimers = take_dup(c, c->left);
		return p->ptimers ? 0 : -1;
	}
	case CKPT_SEC_ATTRS:
		return m->attrs++ ? -1 : parse_attrs(p, c);
	case CKPT_SEC_GUARDS:
		return m->guards++ ? -1 : parse_guards(p, c, img->h.page_size);
	case CKPT_SEC_SECCOMP:
		return m->seccomp++ ? -1 : parse_seccomp(p, c);
	case CKPT_SEC_SYSV_SHM:
		if (m->shms++ || !c->left || c->left % sizeof(*p->shms) ||
		    c->left / sizeof(*p->shms) > 4096)
			return -1;
		p->nshms = (uint32_t)(c->left / sizeof(*p->shms));
		p->shms = take_dup(c, c->left);
		for (uint32_t i = 0; i < p->nshms; i++)
			if (p->shms[i].id < 0 || !p->shms[i].size)
				return -1;
		return 0;
	case CKPT_SEC_CTTY:
		if (m->ctty++ || c->left != sizeof(p->ctty) + sizeof(p->ctty_tty))
			return -1;
		memcpy(&p->ctty, take(c, sizeof(p->ctty)), sizeof(p->ctty));
		memcpy(&p->ctty_tty, take(c, sizeof(p->ctty_tty)), sizeof(p->ctty_tty));
		p->has_ctty = 1;
		/* a terminal has a device number; a pty of the image a number */
		return !p->ctty.rdev || (p->ctty.cflags & ~(CKPT_CTTY_TERMIOS | CKPT_CTTY_PTY)) ||
		       ((p->ctty.cflags & CKPT_CTTY_PTY) && p->ctty_tty.index == ~0u) ||
		       p->ctty_tty.to_master || p->ctty_tty.to_slave ? -1 : 0;
	case CKPT_SEC_XSAVE_LAYOUT:
		if (m->xfeat++ || !c->left || c->left % sizeof(*p->xfeat) ||
		    c->left > CKPT_MAX_XFEAT * sizeof(*p->xfeat))
			return -1;
		p->nxfeat = (uint32_t)(c->left / sizeof(*p->xfeat));
		p->xfeat = take_dup(c, c->left);
		return 0;
	case CKPT_SEC_SIGACTS:
		if (m->sigacts++ || c->left != sizeof(p->sigacts))
			return -1;
		memcpy(p->sigacts, c->p, sizeof(p->sigacts));
		return 0;
	case CKPT_SEC_THREAD:
		if (m->thread >= p->d.nthreads)
			return -1;
		return parse_thread(&p->threads[m->thread++], c);
	case CKPT_SEC_VMA:
		if (m->vma >= p->d.nvmas)
			return -1;
		if (parse_vma(&p->vmas[m->vma], c, img->h.page_size) < 0)
			return -1;
		/* In address order, without overlaps. */
		if (m->vma && p->vmas[m->vma - 1].d.end > p->vmas[m->vma].d.start)
			return -1;
		m->vma++;
		return 0;
	case CKPT_SEC_FILE:
		return m->version < 2 ? -1 : parse_file(img, c, m->left);
	case CKPT_SEC_FD:
		if (m->fd >= p->d.nfds)
			return -1;
		/* Parsed first: the payload may be shorter than a ckpt_fd. */
		ret = m->version < 2 ? parse_fd_v1(img, p, m->fd, c, m->left) :
				       parse_fd(img, &p->fds[m->fd], c);
		if (ret < 0)
			return ret;
		/* In fd order, without duplicates. */
		if (m->fd && p->fds[m->fd - 1].d.fd >= p->fds[m->fd].d.fd)
			return -1;
		m->fd++;
		return 0;
	case CKPT_SEC_COW:
		if (m->cow++ || m->vma != p->d.nvmas)
			return -1;
		return parse_cow(p, c, img->h.page_size);
	case CKPT_SEC_LOCKS:
		if (m->version < 2 || m->locks++ || m->fd != p->d.nfds)
			return -1;
		return parse_locks(img, p, c);
	case CKPT_SEC_FILEDATA:
		return parse_filedata(img, p, m->fd, m->version, c);
	}
	return -1;
}

static int complete(const struct img *img, uint32_t nproc)
{
	for (uint32_t i = 0; i < img->h.nprocs; i++) {
		const struct img_proc *p = &img->procs[i];

		if (i >= nproc || !p->threads[p->d.nthreads - 1].regsets ||
		    (p->d.nvmas && !p->vmas[p->d.nvmas - 1].path) ||
		    (p->d.nfds && !p->fds[p->d.nfds - 1].d.file))
			return 0;
	}
	return 1;
}

/*
 * The tree against the processes: what restore relies on, so that a
 * damaged image is refused here.  NULL, or what is wrong.  Without a TREE
 * section, one task stands for the one process.
 */
static const char *check_tree(struct img *img)
{
	uint32_t live = 0;

	if (!img->tasks) {
		if (img->h.nprocs != 1)
			return "processes without a tree";
		img->tasks = xzalloc(sizeof(*img->tasks));
		img->ntasks = 1;
		img->tasks[0] = (struct ckpt_task){
			.pid = img->procs[0].d.pid, .ppid = img->procs[0].d.ppid,
			.pgid = img->procs[0].d.pgid, .sid = img->procs[0].d.sid,
			.parent = -1, .proc = 0, .files_of = -1, .fs_of = -1,
			.exit_signal = SIGCHLD, .start_time = img->procs[0].d.start_time,
		};
		return NULL;
	}
	for (uint32_t i = 0; i < img->ntasks; i++) {
		const struct ckpt_task *t = &img->tasks[i];
		const struct ckpt_task *par = t->parent >= 0 ? &img->tasks[t->parent] : NULL;

		if (t->pid <= 0 || t->exit_signal > CKPT_NSIG)
			return "bad PID or exit signal";
		if ((i == 0) != (t->parent < 0) || (t->parent >= 0 && (uint32_t)t->parent >= i))
			return "a task before its parent";
		if (par && (par->proc < 0 || t->ppid != par->pid))
			return "a task whose parent is not a live task of the image";
		if (t->proc >= 0 ? (uint32_t)t->proc != live++ : i == 0)
			return "processes out of order";
		if (t->proc >= 0 && img->procs[t->proc].d.pid != t->pid)
			return "a task and its process disagree";
		for (int k = 0; k < 2; k++) {
			int32_t of = k ? t->fs_of : t->files_of;

			if (of != -1 && (of < 0 || (uint32_t)of >= i || img->tasks[of].proc < 0 ||
					 t->proc < 0))
				return "a shared table of a task not before it";
		}
		for (uint32_t k = 0; k < i; k++)
			if (img->tasks[k].pid == t->pid)
				return "two tasks with one PID";
	}
	if (live != img->h.nprocs)
		return "a different number of processes than the header says";
	for (uint32_t i = 0; i < img->h.nprocs; i++) {
		const struct ckpt_task *t = img_task_of(img, i);

		if (img->procs[i].ncow && t->parent < 0)
			return "shared pages in a process without a parent";
	}
	return NULL;
}

/*
 * After an error: the counts of the process being read become what was
 * read of it (and the entry being parsed), so that img_free() does not
 * walk the 2^24 entries a stream may announce and not send (found by
 * tests/fuzz: seconds per input under ASan).
 */
static void trim(struct img *img, const struct meta_pos *m)
{
	struct img_proc *p;

	if (!img->procs || m->proc == 0)
		return;
	p = &img->procs[m->proc - 1];
	p->d.nthreads = MIN(p->d.nthreads, m->thread);
	p->d.nvmas = MIN(p->d.nvmas, m->vma + 1);
	p->d.nfds = MIN(p->d.nfds, m->fd + 1);
}

static int read_meta(struct img_reader *r, struct img *img, struct meta_pos *mp,
		     struct ckpt_section *s, void **payload);

int img_read_meta(struct img_reader *r, struct img *img, struct ckpt_section *s, void **payload)
{
	struct meta_pos m = { .version = r->version };
	int ret = read_meta(r, img, &m, s, payload);

	if (ret < 0)
		trim(img, &m);
	return ret;
}

static int read_meta(struct img_reader *r, struct img *img, struct meta_pos *mp,
		     struct ckpt_section *s, void **payload)
{
	uint64_t size = UINT64_MAX;
	struct stat st;
	int ret;

	if (img->h.nprocs == 0 || img->h.nprocs > 4096)
		return error("image is corrupted: %u processes", img->h.nprocs);
	if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	img->procs = xzalloc(img->h.nprocs * sizeof(*img->procs));
	for (;;) {
		uint64_t at = r->off;
		struct cur c;

		ret = img_read_section(r, s, payload);
		if (ret < 0)
			return ret;
		if (ret == 0 || s->type == CKPT_SEC_PAGES || s->type == CKPT_SEC_HASHES) {
			const char *bad;

			if (!complete(img, mp->proc))
				return error("image is %s: metadata incomplete before offset %llu",
					     ret == 0 ? "corrupted" : "corrupted",
					     (unsigned long long)at);
			if ((bad = check_tree(img)))
				return error("image is corrupted: the process tree is inconsistent (%s)", bad);
			return ret;
		}
		c.p = *payload;
		c.left = (size_t)s->size;
		mp->left = size == UINT64_MAX ? size : size > r->off ? size - r->off : 0;
		ret = parse_one(img, mp, s, &c);
		if (ret == NO_MEMORY)
			return error_errno(ENOMEM, "cannot hold what the %s section at offset %llu describes",
					   img_section_name(s->type), (unsigned long long)at);
		if (ret == BEYOND_EOF)
			return error("image is truncated: %s section at offset %llu describes more than the rest of the file holds",
				     img_section_name(s->type), (unsigned long long)at);
		if (ret < 0)
			return error("image is corrupted: %s section at offset %llu is malformed",
				     img_section_name(s->type), (unsigned long long)at);
	}
}

