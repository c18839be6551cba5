/*
 * Restore through userfaultfd (lazy.h).
 *
 * Blocks: each run of pages the process's private anonymous memory gets
 * from the image chain (a PAGES section of the newest image, or the part
 * of a parent's that the newer images left to it), sorted by address.
 * Each address space served (the process, and any child it forks before
 * the fill is done, whose uffd the kernel hands us with UFFD_EVENT_FORK)
 * has a state per block: to do, being copied, done.
 *
 * Threads (lazy): copiers take the blocks in order, those around each
 * thread's stack first, and UFFDIO_COPY them; the reader polls the uffds,
 * serves page faults (the faulting block at once; a page no block has
 * gets the zero page) and follows what the process does to its memory:
 * mremap moves pages not yet copied (UFFD_EVENT_REMAP), munmap and
 * MADV_DONTNEED drop them (UNMAP, REMOVE).  From an event until it is
 * read the kernel refuses copies (EAGAIN; or ENOENT where the range just
 * moved away: uffd_copy asks which), and the process goes on only once it
 * has been read: the reader reads with the lock held for writing and
 * copies hold it for reading, so no copy lands in a range after the
 * process dropped it, and none is lost to a range that moved
 * (Documentation/admin-guide/mm/userfaultfd.rst, "Non-cooperative
 * userfaultfd"; fs/userfaultfd.c mmap_changing).
 *
 * When every block is in, the uffds are closed: the registrations go,
 * and a page no image has is an ordinary zero-filled page from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/killpoint.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "image/codec.h"
#include "image/check.h"
#include "image/crc32c.h"
#include "image/sha256.h"
#include "image/table.h"
#include "ptrace/tracee.h"
#include "restore/fillguard.h"
#include "restore/lazy.h"
#include "restore/ranges.h"
#include "restore/restore.h"
#include "restore/thp.h"
#include "restore/trust.h"
#include "restore/uspace.h"

enum { TODO, BUSY, DONE };

struct lblock {
	uint64_t addr;		/* image address of the first page wanted */
	uint32_t npages;	/* pages wanted */
	uint32_t first;		/* their index in the block */
	uint32_t bpages;	/* pages of the whole block */
	uint16_t codec;
	const uint8_t *data;	/* encoded block, in a mapped image */
	size_t len;
	const uint8_t *sec;	/* its section as written (header + payload) */
	uint64_t at;		/* offset of that section in its image */
	uint32_t src;		/* which image (lazy.paths) */
	const struct ckpt_digest *ent;	/* indexed from the digest table
				   (image/table.h): data and len are found at
				   its first use, its section checked then */
	uint8_t verified;	/* its section's CRC checked (and digest) */
	uint8_t has_digest;	/* digest: what MAC_ALL vouches its payload is */
	int64_t dig;		/* its entry in its image's DIGESTS table, or -1 */
	uint8_t digest[CKPT_DIGEST_LEN];
};

/* One address space being filled. */
struct lmm {
	struct uspace u;	/* its uffd, mremaps, what it dropped */
	uint8_t *state;		/* per block */
	size_t left;		/* blocks not DONE */
};

struct lazy {
	size_t ps;
	pid_t pid;
	struct lblock *b;
	size_t n, cap;
	size_t *order;		/* block indexes, most wanted first */
	struct img_reader *rd;	/* images the blocks point into, kept open */
	struct img_block_key *bkey;	/* each one's key of its blocks' digests */
	char **paths;
	size_t nrd;
	struct lmm *mm;		/* [0]: the process */
	size_t nmm;
	pthread_rwlock_t lock;	/* reading uffd messages vs copying */
	pthread_mutex_t mu;	/* block states, nmm, err, stop */
	size_t next;		/* copiers: next in order (of mm[mmi]) */
	size_t mmi;
	int err, stop, finished;
	int said;		/* a damaged block was said (say_first) */
	size_t nverified;	/* blocks whose CRC is checked; all of them:
				   no page is missing from the index */
	int signed_index;	/* the index is authenticated (DIGESTS under
				   MAC_ALL): a page in no block has no data */
	int background;		/* lazy: the fill waits for the release */
	int go;			/* lazy: the process runs, the fill may start */
	int check_now;		/* a fault waits for every block's CRC: the
				   checker may start before go */
	pthread_cond_t gate;	/* go, check_now or stop (under mu) */
	int done_fd;		/* eventfd: written when finished or failed */
	pthread_t *threads;
	int nthreads;
	uint64_t t0;
	uint64_t faults, zero, copied;
	uint64_t copied_direct;	/* pages copied in while indexing */
	struct keeper keeper;	/* lazy: holds the uffds too (fillguard.h) */
	struct ranges huge;	/* to be huge pages again once filled (thp.h) */
	uint64_t hs;		/* their size */
	struct img_table tab;	/* the newest image's, when indexed from it */
};

static __thread uint8_t *decode_buf;

/* This thread's CPU time: what -vv says the index cost, whatever the load. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int lazy_possible(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

int lazy_vma(const struct img_vma *v)
{
	return (v->d.flags & CKPT_VMA_ANON) &&
	       !(v->d.flags & (CKPT_VMA_SHARED | CKPT_VMA_FILE | CKPT_VMA_MEMFD | CKPT_VMA_SPECIAL |
			       CKPT_VMA_SKIP)) &&
	       !(v->d.madv & (CKPT_MADV_LOCKED | CKPT_MADV_SEALED)) && v->d.npages;
}

/* ---------------------------------------------------------------- index */

/* Where a block's section is: the reader's section in hand, or (ent) a
 * digest table's entry, the section at offset at. */
struct where {
	const uint8_t *data;
	size_t len;
	uint64_t at;
	int64_t dig;
	const struct ckpt_digest *ent;
	const uint8_t *digest;	/* what MAC_ALL vouches its payload is */
};

static void add_block(struct lazy *lz, const struct ckpt_pages *pg, const struct where *w,
		      const struct img_reader *r, uint64_t addr, uint64_t end, uint32_t src)
{
	struct lblock *b;

	if (lz->n == lz->cap)
		lz->b = xrealloc(lz->b, (lz->cap = lz->cap ? lz->cap * 2 : 1024) * sizeof(*lz->b));
	b = &lz->b[lz->n++];
	*b = (struct lblock){
		.addr = addr, .npages = (uint32_t)((end - addr) / lz->ps),
		.first = (uint32_t)((addr - pg->addr) / lz->ps), .bpages = pg->npages,
		.codec = pg->codec, .data = w->data, .len = w->len, .sec = r->map + w->at,
		.at = w->at, .src = src, .ent = w->ent, .dig = w->dig, .has_digest = !!w->digest,
	};
	if (w->digest)
		memcpy(b->digest, w->digest, CKPT_DIGEST_LEN);
}

/* The CRC of a section's payload as written (an aligned section's skip
 * included), at sec, the section header in a mapped image. */
static int section_crc_ok(const uint8_t *sec)
{
	struct ckpt_section s;

	memcpy(&s, sec, sizeof(s));
	return crc32c(0, sec + sizeof(s), (size_t)s.size) == s.payload_crc;
}

/* Several threads can meet one damaged block at once (the one serving a
 * fault, the verifier, a copier): one line, said by the first of them (in
 * the arm64 guest two said it).  1 for the first, then 0. */
static int say_first(struct lazy *lz)
{
	return !__atomic_exchange_n(&lz->said, 1, __ATOMIC_ACQ_REL);
}

/* Which image a block's error names, as the reader names it: "image" or
 * "parent image \"P\"" (image/read.c). */
static const char *source(const struct lazy *lz, uint32_t src, char *buf, size_t len)
{
	if (!src)
		return "image";
	snprintf(buf, len, "parent image \"%s\"", lz->paths[src]);
	return buf;
}

/* Said as the reader says it (image/read.c), the section named by the
 * type it has in the file (PAGES_ALIGNED is read as PAGES). */
static int crc_error(struct lazy *lz, uint32_t src, const uint8_t *sec, uint64_t at)
{
	struct ckpt_section s;
	int mute = !say_first(lz), ret;
	char who[PATH_MAX + 16];

	memcpy(&s, sec, sizeof(s));
	log_mute += mute;
	ret = error("%s is corrupted: %s section at offset %llu: checksum mismatch",
		    source(lz, src, who, sizeof(who)), img_section_name(s.type), (unsigned long long)at);
	log_mute -= mute;
	return ret;
}

/*
 * A block of a signed image whose payload is not what was signed (its
 * digest, under MAC_ALL): said by name, once.  Its pages never reach the
 * process: the caller stops it (restore.c finish_lazy kills it).
 */
static int digest_error(struct lazy *lz, const struct lblock *b)
{
	struct ckpt_section s;
	int mute = !say_first(lz), ret;
	char who[PATH_MAX + 16];

	/* From the table: its type as signed (the file's may be forged). */
	memcpy(&s, b->sec, sizeof(s));
	log_mute += mute;
	ret = error("%s was changed after it was signed: %s section at offset %llu (memory %#llx-%#llx) does not match its signed digest; the process was killed before it could use those pages",
		    source(lz, b->src, who, sizeof(who)), img_section_name(b->ent ? b->ent->type : s.type),
		    (unsigned long long)b->at, (unsigned long long)b->addr,
		    (unsigned long long)(b->addr + (uint64_t)b->npages * lz->ps));
	log_mute -= mute;
	return ret;
}

/* As img_reader_block_ok() checks it (image.h), with what take_digests()
 * kept of the reader: its key of the blocks and the block's entry. */
static int digest_ok(struct lazy *lz, const struct lblock *b)
{
	struct ckpt_section s;

	memcpy(&s, b->sec, sizeof(s));
	return img_block_ok(&lz->bkey[b->src], (uint64_t)b->dig, s.type, b->sec + sizeof(s),
			    (size_t)s.size, b->digest);
}

/* A table entry begins with its section's header (format.h). */
static_assert(offsetof(struct ckpt_digest, addr) == sizeof(struct ckpt_section) &&
	      offsetof(struct ckpt_digest, crc) == offsetof(struct ckpt_section, crc),
	      "ckpt_digest starts with a ckpt_section");

/* Said as the reader says a section that is not its table entry; of a
 * signed table, what it is: a block changed after it was signed. */
static int entry_error(struct lazy *lz, const struct lblock *b)
{
	int mute, ret;
	char who[PATH_MAX + 16];

	if (b->has_digest)
		return digest_error(lz, b);
	mute = !say_first(lz);
	log_mute += mute;
	ret = error("%s is corrupted: %s section at offset %llu is not what the digest table says",
		    source(lz, b->src, who, sizeof(who)), img_section_name(b->ent->type),
		    (unsigned long long)b->at);
	log_mute -= mute;
	return ret;
}

/*
 * A block indexed from the digest table (ent), its payload checked: its
 * section must be the entry (header, and the run its payload names), as
 * the walk would have found it (image/read.c read_one, unalign;
 * image/check.c img_check_pages, whose other checks index_table made on
 * the entry).  Its page data then: *data, *len.
 */
static int resolve(struct lazy *lz, const struct lblock *b, const uint8_t **data, size_t *len)
{
	const struct ckpt_digest *e = b->ent;
	struct ckpt_section s;
	struct ckpt_align a = { 0 };
	struct ckpt_pages pg;
	const uint8_t *p = b->sec + sizeof(s);
	uint64_t size;

	memcpy(&s, b->sec, sizeof(s));
	size = s.size;
	if (s.type == CKPT_SEC_PAGES_ALIGNED) {
		if (size < sizeof(a))
			return entry_error(lz, b);
		memcpy(&a, p, sizeof(a));
		if (a.skip >= CKPT_MAX_ALIGN_SKIP || a.skip > size - sizeof(a))
			return entry_error(lz, b);
		p += sizeof(a) + a.skip;
		size -= sizeof(a) + a.skip;
	}
	if (size < sizeof(pg))
		return entry_error(lz, b);
	memcpy(&pg, p, sizeof(pg));
	*data = p + sizeof(pg);
	*len = (size_t)(size - sizeof(pg));
	if (pg.addr != e->addr || pg.npages != e->npages || pg.codec != e->codec ||
	    pg.flags != e->pflags || !*len || *len > CKPT_MAX_BLOCK + 64 ||
	    (pg.codec == CKPT_CODEC_NONE && *len != (size_t)pg.npages * lz->ps))
		return entry_error(lz, b);
	return 0;
}

/* Block bi's section CRC, once: then its place in the index is sure too;
 * or its digest, where MAC_ALL vouches for one: a payload that matches
 * it is the one signed, whose CRC the signer made (and MAC_ALL covers
 * the section header that holds it), so the CRC is only worked out to
 * say which of the two errors it is when the digest does not match. */
static int check_crc(struct lazy *lz, size_t bi)
{
	struct lblock *b = &lz->b[bi];
	const uint8_t *data = NULL;
	size_t len = 0;

	if (__atomic_load_n(&b->verified, __ATOMIC_ACQUIRE))
		return 0;
	/* From the table: the header in the file is the entry's, whose
	 * CRC image/table.c checked (read_one checks the header first). */
	if (b->ent && memcmp(b->sec, b->ent, sizeof(struct ckpt_section)))
		return entry_error(lz, b);
	if (b->has_digest ? !digest_ok(lz, b) : !section_crc_ok(b->sec))
		return !section_crc_ok(b->sec) ? crc_error(lz, b->src, b->sec, b->at) :
						 digest_error(lz, b);
	if (b->ent && resolve(lz, b, &data, &len) < 0)
		return -EBADMSG;
	pthread_mutex_lock(&lz->mu);
	if (!b->verified) {
		if (b->ent) {
			b->data = data;
			b->len = len;
		}
		__atomic_store_n(&b->verified, 1, __ATOMIC_RELEASE);
		lz->nverified++;
	}
	pthread_mutex_unlock(&lz->mu);
	return 0;
}

/* The block's pages, decoded: in the image, or in this thread's buffer. */
static const uint8_t *block_pages(struct lazy *lz, size_t bi)
{
	const struct lblock *b = &lz->b[bi];
	size_t raw = (size_t)b->bpages * lz->ps;

	if (check_crc(lz, bi) < 0)
		return NULL;
	if (b->codec == CKPT_CODEC_NONE)
		return b->data + (size_t)b->first * lz->ps;
	if (!decode_buf)
		decode_buf = xmalloc(CKPT_MAX_BLOCK);
	if (codec_decode(b->codec, b->data, b->len, decode_buf, raw) < 0) {
		int mute = !say_first(lz);

		log_mute += mute;
		error("image \"%s\" is corrupted: %s page data at offset %llu does not decode",
		      lz->paths[b->src], codec_name(b->codec), (unsigned long long)b->at);
		log_mute -= mute;
		return NULL;
	}
	return decode_buf + (size_t)b->first * lz->ps;
}

/* Block b's section, asked of the page cache in one go (async): while
 * the image is indexed its mapping is MADV_RANDOM (index_image), and a
 * block read whole then would come in a page per fault. */
static void read_ahead(const struct lblock *b)
{
	uintptr_t mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	uintptr_t start = (uintptr_t)b->sec & ~mask;
	uintptr_t end = b->ent ? (uintptr_t)(b->sec + sizeof(struct ckpt_section) + b->ent->size) :
				 (uintptr_t)(b->data + b->len);

	madvise((void *)start, end - start, MADV_WILLNEED);
}

/* Pages of a block that are not private anonymous memory: written now. */
static int write_now(struct lazy *lz, size_t bi)
{
	const struct lblock *b = &lz->b[bi];
	const uint8_t *p = block_pages(lz, bi);
	int ret;

	if (!p)
		return -EBADMSG;
	ret = mem_write(lz->pid, b->addr, p, (size_t)b->npages * lz->ps);
	return ret < 0 ? error_errno(ret, "cannot write memory at %#lx", (unsigned long)b->addr) : 0;
}


/* Pages [addr, end) of a block read into a private copy (its CRC checked
 * by the reader), before the process runs: copied in now. */
static int copy_direct(struct lazy *lz, const struct ckpt_pages *pg, const uint8_t *data, size_t len,
		       uint64_t addr, uint64_t end, int uffd, const char *path, uint64_t at)
{
	const uint8_t *p = data;
	int ret;

	if (pg->codec != CKPT_CODEC_NONE) {
		if (!decode_buf)
			decode_buf = xmalloc(CKPT_MAX_BLOCK);
		if (codec_decode(pg->codec, data, len, decode_buf, (size_t)pg->npages * lz->ps) < 0)
			return error("image \"%s\" is corrupted: %s page data at offset %llu does not decode",
				     path, codec_name(pg->codec), (unsigned long long)at);
		p = decode_buf;
	}
	p += addr - pg->addr;
	ret = uffd ? uspace_copy(lz->mm[0].u.uffd, addr, p, end - addr, lz->ps) :
		     mem_write(lz->pid, addr, p, (size_t)(end - addr));
	if (ret < 0)
		return error_errno(ret, "cannot write memory at %#lx", (unsigned long)addr);
	lz->copied_direct += (end - addr) / lz->ps;
	return 0;
}

/*
 * pages_check() reads the struct at the head of a payload whose CRC is
 * not checked yet (that is left to when the block is used): when it
 * finds fault, the CRC decides what to say, as the reader would have
 * checked it first.  IN_PARENT runs (no data) are checked here: the
 * pages they leave to the parents must be the right ones.
 */
static int check_section(struct lazy *lz, const struct img *img, struct img_reader *r,
			 const struct ckpt_section *s, const void *payload,
			 const struct ranges *only, struct ranges *later)
{
	struct ckpt_pages pg;
	int ret;

	if (!r->map)	/* read into a private copy: the reader checked its CRC */
		return pages_check(img, s, payload, r->at, only, later);
	log_mute++;
	ret = pages_check(img, s, payload, r->at, only, later);
	log_mute--;
	if (s->type == CKPT_SEC_PAGES) {
		memcpy(&pg, payload, sizeof(pg));
		/* a parent's is named by the context index_parent set */
		if ((ret < 0 || (pg.flags & CKPT_PAGES_IN_PARENT)) && !section_crc_ok(r->map + r->at))
			return crc_error(lz, 0, r->map + r->at, r->at);
	}
	return ret < 0 ? pages_check(img, s, payload, r->at, only, later) : ret;
}

struct index_arg {
	struct lazy *lz;
	const struct img *newest;
	int eager;
};

/* The blocks of one run of pages pg (at w) of process p's memory (only:
 * the part a newer image left to it): private anonymous memory is
 * indexed, the rest written now. */
static int index_run(struct lazy *lz, struct img_reader *r, const struct img_proc *p,
		     const struct ckpt_pages *pg, const struct where *w, const struct ranges *only,
		     uint32_t src)
{
	uint64_t end = pg->addr + (uint64_t)pg->npages * lz->ps;
	int ret;

	for (uint64_t a = pg->addr; a < end;) {
		struct range rg = { a, end };
		const struct img_vma *v;
		size_t n0 = lz->n;

		if (only && !ranges_next(only, a, end, &rg))
			break;
		/* A run may span mappings (a parent's did): split at them. */
		v = img_find_vma(p, rg.start);
		if (!v) {
			a = rg.end;
			continue;
		}
		rg.end = MIN(rg.end, v->d.end);
		if (!r->map) {
			ret = copy_direct(lz, pg, w->data, w->len, rg.start, rg.end, lazy_vma(v),
					  lz->paths[src], w->at);
			if (ret < 0)
				return ret;
			a = rg.end;
			continue;
		}
		add_block(lz, pg, w, r, rg.start, rg.end, src);
		if (!lazy_vma(v)) {
			/* Read whole now: in one go, not a page a fault */
			read_ahead(&lz->b[n0]);
			/* Walked: used before the table comes, checked against
			 * it then, before the process runs (image/read.c);
			 * from the table: against its digest now. */
			if (!w->ent)
				img_reader_hash_current(r);
			ret = write_now(lz, n0);
			lz->n = n0;
			if (ret < 0)
				return ret;
		}
		a = rg.end;
	}
	return 0;
}

/* One image's page sections (checked as restore checks them: pages.c). */
static int index_image(struct index_arg *ia, struct img_reader *r, const struct img *img,
		       struct img_stream *in, const struct ranges *only, struct ranges *later,
		       uint32_t src)
{
	struct lazy *lz = ia->lz;
	const struct img_proc *p = &ia->newest->procs[0];
	struct ckpt_section *s = &in->s;
	void *payload = in->payload;
	int have = in->have;
	/* A parent image may be a tree's (the job had more processes then):
	 * only the sections of this process, found by PID and start time. */
	int idx = src ? img_find_proc(img, p->d.pid, p->d.start_time) : 0;

	if (idx < 0)
		return error("image is corrupted: process %d has pages in a parent image, which has no such process",
			     p->d.pid);

	/* Each block's CRC is checked when it is used; a reader that reads
	 * into a private copy checks it itself, and its blocks are copied in
	 * at once (nothing may point into that copy). */
	r->checked = r->map != NULL;
	/* Lazy: only the section headers are read now, one a block apart,
	 * before the process runs: the reader's MADV_SEQUENTIAL read all the
	 * page data ahead of them from a cold page cache (1 s at 1 GiB);
	 * lazy_begin sets it again for the fill.  Eager reads it all before
	 * the process runs anyway: ahead is as good a time as any. */
	if (r->map && !ia->eager)
		madvise((void *)(uintptr_t)r->map, r->mapsize, MADV_RANDOM);
	for (; have > 0; have = img_read_section(r, s, &payload)) {
		struct ckpt_pages pg;
		int ret;

		if ((s->type == CKPT_SEC_PAGES || s->type == CKPT_SEC_HASHES) && s->proc != (uint32_t)idx)
			continue;
		ret = check_section(lz, img, r, s, payload, only, later);

		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		memcpy(&pg, payload, sizeof(pg));
		ret = index_run(lz, r, p, &pg, &(struct where){
					.data = (const uint8_t *)payload + sizeof(pg),
					.len = (size_t)s->size - sizeof(pg), .at = r->at,
					.dig = img_reader_digest_index(r) }, only, src);
		if (ret < 0)
			return ret;
	}
	/* As img_check_rest() ends: nothing may follow END. */
	if (have == 0 && (have = img_reader_at_eof(r)) >= 0)
		have = have ? 0 : error("image is corrupted: data after the end section at offset %llu",
					(unsigned long long)r->off);
	return have;
}

/*
 * The newest image, indexed from its digest table (image/table.h): not a
 * page of its page data is touched before the process runs.  Each entry
 * is checked as pages_check checks a section it walks, but for the
 * length of a block's data (the skip of an aligned one is in its
 * payload): resolve() checks that at the block's first use.
 */
static int index_table(struct index_arg *ia, struct img_reader *r, const struct img *img,
		       struct ranges *later)
{
	struct lazy *lz = ia->lz;
	const struct img_table *t = &lz->tab;
	int ret;

	/* Signed: the table holds before a block is used (write_now). */
	if (r->trust_digests && (ret = img_check_whole_mac(r)) < 0)
		return ret;
	for (size_t i = 0; i < t->n; i++) {
		const struct ckpt_digest *e = &t->e[i];
		const struct ckpt_pages pg = { .addr = e->addr, .npages = e->npages, .codec = e->codec,
					       .flags = e->pflags };
		uint64_t hdr = sizeof(pg) + (e->type == CKPT_SEC_PAGES_ALIGNED ? sizeof(struct ckpt_align) : 0);
		struct ckpt_section s = { .type = CKPT_SEC_PAGES, .proc = e->proc, .size = sizeof(pg) };
		/* Signed: each block against its digest before it is used. */
		struct where w = { .at = t->off[i], .dig = (int64_t)i, .ent = e,
				   .digest = r->trust_digests ? e->digest : NULL };

		if (e->type == CKPT_SEC_HASHES || e->proc)
			continue;
		if (!(e->pflags & CKPT_PAGES_IN_PARENT))
			s.size += e->codec == CKPT_CODEC_NONE ? (uint64_t)e->npages * lz->ps :
				  e->size > hdr ? e->size - hdr : 0;
		else if (e->type == CKPT_SEC_PAGES)
			s.size = e->size;
		if ((ret = pages_check(img, &s, &pg, w.at, NULL, later)) <= 0) {
			if (ret < 0)
				return ret;
			continue;
		}
		if ((ret = index_run(lz, r, &img->procs[0], &pg, &w, NULL, 0)) < 0)
			return ret;
	}
	return 0;
}

static uint32_t keep_reader(struct lazy *lz, struct img_reader *r, const char *path)
{
	lz->rd = xrealloc(lz->rd, (lz->nrd + 1) * sizeof(*lz->rd));
	lz->paths = xrealloc(lz->paths, (lz->nrd + 1) * sizeof(*lz->paths));
	lz->rd[lz->nrd] = *r;
	lz->paths[lz->nrd] = xstrdup(path);
	/* Its blocks' key now: a block the index writes at once (write_now)
	 * is checked before take_digests() runs. */
	lz->bkey = xrealloc(lz->bkey, (lz->nrd + 1) * sizeof(*lz->bkey));
	lz->bkey[lz->nrd] = r->mac.bk;
	return (uint32_t)lz->nrd++;
}

static int index_parent(void *arg, const char *ppath, struct img_stream *in, struct img *par,
			const struct ranges *only, struct ranges *later)
{
	struct img_reader *r = in->r;
	struct index_arg *ia = arg;
	uint32_t src;
	int ret;

	if (!img_reader_seekable(r))
		return error("parent image \"%s\" is not a regular file", ppath);
	src = keep_reader(ia->lz, r, ppath);
	in->r = &ia->lz->rd[src];	/* for the hold's look at it (chain_walk) */
	/* What is wrong in it is said as chain_check says it (image/chain.c) */
	log_push_context("parent image \"%s\"", ppath);
	ret = index_image(ia, in->r, par, in, only, later, src);
	log_pop_context();
	if (ret < 0 || !img_reader_payloads_stable(r)) {
		/* Read into a private copy (trust.c): copied in already,
		 * nothing points into it; or refused, nothing will use it.
		 * chain_walk closes it (not lazy_end again: a double free). */
		ia->lz->nrd--;
		free(ia->lz->paths[src]);
		*r = ia->lz->rd[src];
		in->r = r;
		return ret;
	}
	/* The reader is ours now (kept open: the blocks point into it). */
	return ret < 0 ? ret : 1;
}

static int cmp_block(const void *a, const void *b)
{
	const struct lblock *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The huge pages the process had (CKPT_VMA_THP) that hold stored pages:
 * blocks and mappings are both in address order. */
static void huge_ranges(struct lazy *lz, const struct img_proc *p)
{
	size_t bi = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		if (!(v->d.flags & CKPT_VMA_THP) || !lazy_vma(v))
			continue;
		if (!lz->hs && !(lz->hs = thp_size()))
			return;
		while (bi < lz->n && lz->b[bi].addr < v->d.start)
			bi++;
		for (; bi < lz->n && lz->b[bi].addr < v->d.end; bi++)
			thp_add(&lz->huge, v, lz->b[bi].addr, lz->b[bi].npages, lz->ps, lz->hs);
	}
}

const struct ranges *lazy_huge(const struct lazy *lz, uint64_t *hs)
{
	*hs = lz->hs;
	return &lz->huge;
}

/* Lazy: the process runs; from outside (process_madvise).  Quiet about
 * failures where it moved or dropped memory since: the ranges are the
 * image's. */
static void huge_again(struct lazy *lz)
{
	int pidfd = (int)syscall(SYS_pidfd_open, lz->pid, 0);

	if (pidfd < 0) {
		warn("transparent huge pages not made again: pidfd_open %d: %s", (int)lz->pid,
		     strerror(errno));
		return;
	}
	thp_collapse(&lz->huge, lz->hs, thp_process_madvise, &pidfd,
		     lz->mm[0].u.nremaps || lz->mm[0].u.gone.n);
	close(pidfd);
}

/* Blocks around a thread's stack pointer first: what it touches first. */
static void order_blocks(struct lazy *lz, const struct img_proc *p)
{
	size_t k = 0;
	uint8_t *taken = xzalloc(lz->n);

	lz->order = xmalloc(lz->n * sizeof(*lz->order));
	for (uint32_t t = 0; t < p->d.nthreads; t++) {
		uint64_t sp = arch_sp((const arch_regs_t *)p->threads[t].regsets[0].data);

		for (size_t i = 0; i < lz->n; i++) {
			const struct lblock *b = &lz->b[i];
			uint64_t end = b->addr + (uint64_t)b->npages * lz->ps;

			if (!taken[i] && end + (64u << 10) > sp && b->addr < sp + (64u << 10)) {
				taken[i] = 1;
				lz->order[k++] = i;
			}
		}
	}
	for (size_t i = 0; i < lz->n; i++)
		if (!taken[i])
			lz->order[k++] = i;
	free(taken);
}

/* ---------------------------------------------------------------- copying */

/* Copy block bi into m, but what m dropped.  Under the lock, read side. */
static int copy_block(struct lazy *lz, struct lmm *m, size_t bi)
{
	const struct lblock *b = &lz->b[bi];
	const uint8_t *p = block_pages(lz, bi);

	if (!p)
		return -EBADMSG;
	return uspace_fill(&m->u, b->addr, p, (uint64_t)b->npages * lz->ps, lz->ps);
}

static void set_err(struct lazy *lz, int err)
{
	pthread_mutex_lock(&lz->mu);
	if (!lz->err)
		lz->err = err;
	pthread_mutex_unlock(&lz->mu);
}

/* A block of m done (or given up with its address space): count it; when
 * every block of every address space is in, close them all.  Under mu. */
static void block_done(struct lazy *lz, struct lmm *m, size_t bi)
{
	uint64_t one = 1;

	if (m->state[bi] == DONE)
		return;
	m->state[bi] = DONE;
	m->left--;
	for (size_t i = 0; i < lz->nmm; i++)
		if (lz->mm[i].left)
			return;
	lz->finished = 1;
	if (write(lz->done_fd, &one, sizeof(one)) < 0)
		lz->err = lz->err ? lz->err : -errno;
}

/* Claim block bi of m, copy it, mark it done.  1: done by us, 0: someone
 * else has it, -EAGAIN: retry after the next event, or -errno. */
static int take_block(struct lazy *lz, size_t mi, size_t bi)
{
	struct lmm *m;
	int ret, half = 0;

	pthread_mutex_lock(&lz->mu);
	m = &lz->mm[mi];
	if (m->state[bi] != TODO || m->u.dead) {
		pthread_mutex_unlock(&lz->mu);
		return 0;
	}
	m->state[bi] = BUSY;
	pthread_mutex_unlock(&lz->mu);
	pthread_rwlock_rdlock(&lz->lock);
	/* m may have moved (a fork grew mm): look it up again under the lock */
	ret = copy_block(lz, &lz->mm[mi], bi);
	pthread_rwlock_unlock(&lz->lock);
	pthread_mutex_lock(&lz->mu);
	m = &lz->mm[mi];
	if (ret == -ESRCH) {	/* it exited: nothing more to fill there */
		m->u.dead = 1;
		for (size_t i = 0; i < lz->n; i++)
			block_done(lz, m, i);
		ret = 1;
	} else if (ret == 0) {
		block_done(lz, m, bi);
		half = ++lz->copied == lz->n / 2 + 1 && !lz->background;
		progress_add((uint64_t)lz->b[bi].npages * lz->ps);
		ret = 1;
	} else {
		m->state[bi] = TODO;
	}
	pthread_mutex_unlock(&lz->mu);
	/* Once per eager restore: a signal in the middle of the copy. */
	if (half)
		killpoint("restore: half the pages copied in");
	return ret;
}

/* The next block some address space still needs, in order; -1: none. */
static int next_job(struct lazy *lz, size_t *mi, size_t *bi)
{
	int found = 0;

	pthread_mutex_lock(&lz->mu);
	while (!found && lz->mmi < lz->nmm) {
		struct lmm *m = &lz->mm[lz->mmi];

		while (lz->next < lz->n && m->state[lz->order[lz->next]] != TODO)
			lz->next++;
		if (lz->next < lz->n && !m->u.dead) {
			*mi = lz->mmi;
			*bi = lz->order[lz->next++];
			found = 1;
		} else {
			lz->mmi++;
			lz->next = 0;
		}
	}
	pthread_mutex_unlock(&lz->mu);
	return found ? 0 : -1;
}

static int stopping(struct lazy *lz)
{
	int stop;

	pthread_mutex_lock(&lz->mu);
	stop = lz->stop || lz->err || lz->finished;
	pthread_mutex_unlock(&lz->mu);
	return stop;
}

/*
 * Lazy: the background fill (copiers, checker) starts once the process
 * runs (lazy_go): until then only the faults the restore itself takes are
 * served (the reader thread), and the CPUs are ckpt's last steps', not
 * the fill's (its hashing there made a signed image's time to running
 * several times longer on a busy machine: bench/README.md).  But a
 * fault on a page no block has waits for the checker (all_verified): if
 * the restore itself takes one, the checker must not wait for a release
 * that waits for that fault (serve_fault opens its gate).  At the
 * process's priority, not below (nice 10 was tried): a lower one yields to every process on the
 * machine, not only to this one, and a process that exits before its
 * fill is done leaves it unfinished (tests/lazy.bats "every page right").
 */
static void wait_for_release(struct lazy *lz, int checker)
{
	if (!lz->background)
		return;
	pthread_mutex_lock(&lz->mu);
	while (!lz->go && !(checker && lz->check_now) && !lz->stop && !lz->err)
		pthread_cond_wait(&lz->gate, &lz->mu);
	pthread_mutex_unlock(&lz->mu);
}

/* *flag (go or check_now) set, under mu, and the waiters told. */
static void open_gate(struct lazy *lz, int *flag)
{
	pthread_mutex_lock(&lz->mu);
	*flag = 1;
	pthread_cond_broadcast(&lz->gate);
	pthread_mutex_unlock(&lz->mu);
}

void lazy_go(struct lazy *lz)
{
	if (lz)
		open_gate(lz, &lz->go);
}

static void *copier(void *arg)
{
	struct lazy *lz = arg;
	size_t mi, bi;

	wait_for_release(lz, 0);
	while (!stopping(lz)) {
		int ret;

		if (next_job(lz, &mi, &bi) < 0) {
			/* A fork may add work; a block given back (EAGAIN) too. */
			pthread_mutex_lock(&lz->mu);
			lz->mmi = 0;
			lz->next = 0;
			pthread_mutex_unlock(&lz->mu);
			usleep(1000);
			continue;
		}
		ret = take_block(lz, mi, bi);
		if (ret == -EAGAIN) {
			usleep(100);
			pthread_mutex_lock(&lz->mu);
			lz->mmi = 0;
			lz->next = 0;
			pthread_mutex_unlock(&lz->mu);
		} else if (ret < 0) {
			set_err(lz, ret);
		}
	}
	free(decode_buf);
	decode_buf = NULL;
	return NULL;
}

/* ---------------------------------------------------------------- faults */

static ssize_t find_block(const struct lazy *lz, uint64_t a)
{
	size_t lo = 0, hi = lz->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lz->b[mid].addr + (uint64_t)lz->b[mid].npages * lz->ps <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < lz->n && lz->b[lo].addr <= a ? (ssize_t)lo : -1;
}

/* Every block's CRC checked, or the index signed: a page in none of them
 * has no data. */
static int all_verified(struct lazy *lz)
{
	int all;

	if (lz->signed_index)
		return 1;
	pthread_mutex_lock(&lz->mu);
	all = lz->nverified == lz->n;
	pthread_mutex_unlock(&lz->mu);
	return all;
}

/* Lazy: check every block's CRC ahead of the copies (a fault on a page
 * no block has waits for it: the block holding it might be damaged).
 * With a signed index no fault waits, but a block that is not what was
 * signed must still be found even if the process never needs it (it
 * unmapped it): every block's SHA-256 is checked here too, from the
 * other end of the copiers' order, so that a block is hashed once. */
static void *verifier(void *arg)
{
	struct lazy *lz = arg;

	wait_for_release(lz, 1);
	for (size_t i = 0; i < lz->n && !stopping(lz); i++) {
		size_t bi = lz->order[lz->signed_index ? lz->n - 1 - i : i];
		int ret = check_crc(lz, bi);

		if (ret < 0) {
			set_err(lz, ret);
			break;
		}
	}
	return NULL;
}

/* A page fault at current address addr of mm[mi]: 0 served, -EAGAIN to
 * try again later (an event first, or its block is being copied). */
static int serve_fault(struct lazy *lz, size_t mi, uint64_t addr)
{
	uint64_t page = addr & ~(uint64_t)(lz->ps - 1), img;
	ssize_t bi;
	int ret, state, uffd;
	struct range g;

	pthread_rwlock_rdlock(&lz->lock);
	img = uspace_image_at(&lz->mm[mi].u, page);
	uffd = lz->mm[mi].u.uffd;
	bi = img ? find_block(lz, img) : -1;
	if (bi >= 0 && ranges_next(&lz->mm[mi].u.gone, img, img + lz->ps, &g))
		bi = -1;
	pthread_rwlock_unlock(&lz->lock);
	if (bi < 0 && !all_verified(lz)) {
		/* it waits for every block's CRC: the checker starts now */
		open_gate(lz, &lz->check_now);
		return -EAGAIN;	/* the block it is in may be one not read yet */
	}
	if (bi >= 0) {
		pthread_mutex_lock(&lz->mu);
		state = lz->mm[mi].state[bi];
		pthread_mutex_unlock(&lz->mu);
		if (state == BUSY)
			return -EAGAIN;
		if (state == TODO) {
			ret = take_block(lz, mi, (size_t)bi);
			if (ret < 0)
				return ret;
			if (ret == 0)
				return -EAGAIN;
		}
	}
	/* Not in any image (or dropped since, or copied: then just wake it). */
	pthread_rwlock_rdlock(&lz->lock);
	ret = uspace_zero_or_wake(uffd, page, lz->ps);
	pthread_rwlock_unlock(&lz->lock);
	if (bi < 0)
		lz->zero++;
	return ret == -ESRCH ? 0 : ret;
}

struct fault {
	size_t mi;
	uint64_t addr;
};

/* An event of mm[mi], under the write lock. */
static int on_event(struct lazy *lz, size_t mi, const struct uffd_msg *msg)
{
	struct lmm *m = &lz->mm[mi];

	switch (msg->event) {
	case UFFD_EVENT_FORK: {
		struct lmm *c;

		/* First of all, the keeper holds the child's uffd too. */
		if (guard_keeper_add(&lz->keeper, (int)msg->arg.fork.ufd) < 0)
			set_err(lz, error_errno(errno, "cannot pass a forked child's userfaultfd on"));
		pthread_mutex_lock(&lz->mu);
		lz->mm = xrealloc(lz->mm, (lz->nmm + 1) * sizeof(*lz->mm));
		m = &lz->mm[mi];
		c = &lz->mm[lz->nmm];
		/* What the parent had is in the child too (copied by fork). */
		*c = (struct lmm){ .left = 0 };
		uspace_fork(&c->u, &m->u, (int)msg->arg.fork.ufd);
		c->state = xmalloc(lz->n);
		for (size_t i = 0; i < lz->n; i++) {
			c->state[i] = m->state[i] == DONE ? DONE : TODO;
			c->left += c->state[i] != DONE;
		}
		lz->nmm++;
		pthread_mutex_unlock(&lz->mu);
		debug("lazy restore: the process forked: its child is filled too");
		return 0;
	}
	default:
		uspace_event(&m->u, msg, lz->ps);
	}
	return 0;
}

/* Read what the uffds have: events applied at once, faults queued. */
static int read_msgs(struct lazy *lz, struct fault **q, size_t *nq)
{
	pthread_rwlock_wrlock(&lz->lock);
	for (size_t mi = 0; mi < lz->nmm; mi++) {
		struct uffd_msg msg[32];
		ssize_t n;

		if (lz->mm[mi].u.dead)
			continue;
		while ((n = read(lz->mm[mi].u.uffd, msg, sizeof(msg))) > 0) {
			for (ssize_t k = 0; k < n / (ssize_t)sizeof(msg[0]); k++) {
				if (msg[k].event == UFFD_EVENT_PAGEFAULT) {
					*q = xrealloc(*q, (*nq + 1) * sizeof(**q));
					(*q)[(*nq)++] = (struct fault){ mi, msg[k].arg.pagefault.address };
					lz->faults++;
				} else {
					on_event(lz, mi, &msg[k]);
				}
			}
		}
	}
	pthread_rwlock_unlock(&lz->lock);
	return 0;
}

static void *reader(void *arg)
{
	struct lazy *lz = arg;
	struct fault *q = NULL;
	size_t nq = 0;

	while (!stopping(lz)) {
		struct pollfd *pfd;
		size_t n, k = 0;

		pthread_mutex_lock(&lz->mu);
		n = lz->nmm;
		pfd = xmalloc(n * sizeof(*pfd));
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = lz->mm[i].u.dead ? -1 : lz->mm[i].u.uffd,
						  .events = POLLIN };
		pthread_mutex_unlock(&lz->mu);
		/* Faults waiting for a block or an event: look again soon. */
		poll(pfd, n, nq ? 1 : 50);
		free(pfd);
		read_msgs(lz, &q, &nq);
		for (size_t i = 0; i < nq; i++) {
			int ret = serve_fault(lz, q[i].mi, q[i].addr);

			if (ret == -EAGAIN)
				q[k++] = q[i];
			else if (ret < 0)
				set_err(lz, ret);
		}
		nq = k;
	}
	free(q);
	free(decode_buf);
	decode_buf = NULL;
	return NULL;
}

/* ---------------------------------------------------------------- api */

static void close_uffds(struct lazy *lz)
{
	for (size_t i = 0; i < lz->nmm; i++)
		if (lz->mm[i].u.uffd >= 0) {
			close(lz->mm[i].u.uffd);
			lz->mm[i].u.uffd = -1;
		}
}

/* Register every private anonymous mapping that gets page data. */
static int register_all(struct lazy *lz, const struct img_proc *p, int uffd)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		int ret;

		if (!lazy_vma(v))
			continue;
		ret = uspace_register(uffd, v->d.start, v->d.end);
		if (ret < 0)
			return error_errno(ret, "cannot register %#lx-%#lx with userfaultfd",
					   (unsigned long)v->d.start, (unsigned long)v->d.end);
	}
	(void)lz;
	return 0;
}

/* copiers copier threads; lazy: the reader and the verifier too.  Born
 * with every signal blocked (sigguard.h): a ^C or SIGTERM is the main
 * thread's, whose wait it breaks (eager: lazy_begin; lazy: guard.c). */
static int start_threads(struct lazy *lz, int copiers, int lazy)
{
	void *(*fn[2])(void *) = { reader, verifier };
	sigset_t all, old;
	int ret = 0;

	lz->background = lazy;
	lz->threads = xmalloc((size_t)(copiers + 2) * sizeof(*lz->threads));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < copiers + 2 * lazy; i++) {
		if (pthread_create(&lz->threads[lz->nthreads], NULL, i < 2 * lazy ? fn[i] : copier, lz)) {
			ret = lz->nthreads > 2 * lazy ? 0 : error("cannot start threads");
			break;
		}
		lz->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void join_threads(struct lazy *lz)
{
	pthread_mutex_lock(&lz->mu);
	lz->stop = 1;
	pthread_cond_broadcast(&lz->gate);
	pthread_mutex_unlock(&lz->mu);
	for (int i = 0; i < lz->nthreads; i++)
		pthread_join(lz->threads[i], NULL);
	lz->nthreads = 0;
	free(lz->threads);
	lz->threads = NULL;
}

/*
 * A signed image read without its page data hashed (restore.c: the
 * reader's trust_digests): the walk has read the DIGESTS table and
 * MAC_ALL over it; it must hold, and then each block is checked against
 * its entry before a page of it is used, and the index (every entry's
 * page run, compared with the table) is sure: a fault on a page no block
 * has need not wait for every block to be checked.
 */
static int take_digests(struct lazy *lz, const struct img_reader *r)
{
	int ret = img_check_whole_mac(r);
	char who[PATH_MAX + 16];

	if (ret < 0)
		return ret;
	/* keep_reader() gave each its key; refreshed from the readers whose
	 * MACs now held */
	for (size_t i = 0; i < lz->nrd; i++)
		lz->bkey[i] = (i ? &lz->rd[i] : r)->mac.bk;
	for (size_t i = 0; i < lz->n; i++) {
		struct lblock *b = &lz->b[i];
		/* A parent's reader: its MACs held (trust.c parent_read). */
		const struct img_reader *br = b->src ? &lz->rd[b->src] : r;
		const uint8_t *d = img_reader_digest(br, b->dig);

		/* A parent signed before DIGESTS was hashed whole for its
		 * MAC_ALL as it was indexed: its blocks are those.  Indexed
		 * from the table: its digest is set already. */
		if (!(br->hdr.flags & CKPT_HDR_DIGESTS) || b->has_digest)
			continue;
		if (!d)
			return error("%s is corrupted: page data section at offset %llu has no signed digest",
				     source(lz, b->src, who, sizeof(who)), (unsigned long long)b->at);
		memcpy(b->digest, d, CKPT_DIGEST_LEN);
		b->has_digest = 1;
	}
	lz->signed_index = 1;
	debug("image MAC checked over its digest table (%zu entries): each block is checked as it is read",
	      lz->tab.n ? lz->tab.n : r->ndsec);
	return 0;
}

/*
 * Eager: until the copiers are done.  The process has not run yet, so a
 * ^C or SIGTERM (sigguard) means undo (restore.c): the copy stops at the
 * blocks in hand, and restore_spawn kills the process.  Checked once more
 * after the copiers stopped: a signal that broke the wait just as the
 * last block went in is still one the copy took.
 */
static int eager_wait(struct lazy *lz)
{
	struct pollfd pfd = { .fd = lz->done_fd, .events = POLLIN };
	int ret;

	while (!stopping(lz) && !sigguard_fired())
		poll(&pfd, 1, 100);	/* EINTR: the copiers block signals */
	join_threads(lz);
	if (sigguard_fired()) {
		debug("restore: the copy stopped by signal %d, %llu of %zu blocks in",
		      sigguard_fired(), (unsigned long long)lz->copied, lz->n);
		return -EINTR;	/* restore.c says it */
	}
	ret = lz->err;
	if (ret == 0) {
		close_uffds(lz);
		debug("restore: %llu blocks copied in %.1f ms", (unsigned long long)lz->copied,
		      (now_ns() - lz->t0) / 1e6);
	}
	return ret;
}

int lazy_begin(struct lazy **out, const char *path, struct img_stream *in, const struct img *img,
	       pid_t pid, int uffd, int eager, const struct trust *t)
{
	struct img_reader *r0;
	struct chain_hold hold;
	struct lazy *lz = xzalloc(sizeof(*lz));
	struct uffdio_api api = { .api = UFFD_API };
	struct index_arg ia = { .lz = lz, .newest = img, .eager = eager };
	struct ranges later = { 0 };
	pthread_rwlockattr_t ra;
	uint64_t cpu0;
	int ret, ncpu = (int)MAX(1, MIN(16, sysconf(_SC_NPROCESSORS_ONLN)));

	*out = lz;
	lz->keeper.pidfd = lz->keeper.sock = -1;
	lz->t0 = now_ns();
	cpu0 = cpu_ns();
	lz->ps = img->h.page_size;
	lz->pid = pid;
	lz->done_fd = eventfd(0, EFD_CLOEXEC);
	pthread_rwlockattr_init(&ra);
	/* The reader must get in between copies: an event waits for it. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lz->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&lz->mu, NULL);
	pthread_cond_init(&lz->gate, NULL);
	lz->mm = xzalloc(sizeof(*lz->mm));
	lz->nmm = 1;
	lz->mm[0].u.uffd = uffd;
	if (!eager)
		api.features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			       UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return error_errno(errno, "cannot set up userfaultfd");
	/* Lazy: the process will run before every page is in. */
	if (!eager && (ret = guard_keeper(&lz->keeper, uffd)) < 0)
		return ret;
	if (!img_reader_payloads_stable(in->r))
		return error("the image is not a regular file: it cannot be read lazily");
	/* Registered first: a parent read into a private copy is copied in
	 * as it is indexed. */
	if ((ret = register_all(lz, &img->procs[0], uffd)) < 0)
		return ret;
	keep_reader(lz, in->r, path);
	r0 = in->r;
	/* Lazy: from the digest table if the image has one (eager reads all
	 * of it before the process runs anyway). */
	ret = eager || in->have <= 0 ? 0 : img_table_read(r0, &lz->tab);
	if (ret < 0)
		return error_errno(ret, "cannot read image");
	ret = ret ? index_table(&ia, r0, img, &later) : index_image(&ia, r0, img, in, NULL, &later, 0);
	trust_hold(t, &hold);
	if (ret == 0 && later.n)
		ret = chain_walk(path, img, &later, &hold, index_parent, &ia);
	ranges_free(&later);
	/* The fill reads the blocks in order, whole: readahead helps it. */
	for (size_t i = 0; i < lz->nrd; i++)
		if (lz->rd[i].map)
			madvise((void *)(uintptr_t)lz->rd[i].map, lz->rd[i].mapsize, MADV_SEQUENTIAL);
	if (ret == 0 && r0->trust_digests)
		ret = take_digests(lz, r0);
	if (ret < 0)
		return ret;
	qsort(lz->b, lz->n, sizeof(*lz->b), cmp_block);
	order_blocks(lz, &img->procs[0]);
	huge_ranges(lz, &img->procs[0]);
	lz->mm[0].state = xzalloc(lz->n ? lz->n : 1);
	lz->mm[0].left = lz->n;
	debug("%s: %zu blocks to copy through userfaultfd, indexed in %.1f ms (%.1f ms of CPU)%s",
	      eager ? "restore" : "lazy restore", lz->n, (now_ns() - lz->t0) / 1e6,
	      (cpu_ns() - cpu0) / 1e6, lz->tab.n ? " (from its digest table)" : "");
	if (!lz->n) {
		lz->finished = 1;
		close_uffds(lz);
		return 0;
	}
	if (!eager)
		return 0;
	/* Eager: nothing runs in the process; no events, no faults. */
	if ((ret = start_threads(lz, ncpu, 0)) < 0)
		return ret;
	return eager_wait(lz);
}

int lazy_serve(struct lazy *lz)
{
	int ncpu = (int)MAX(1, MIN(16, sysconf(_SC_NPROCESSORS_ONLN)));

	lz->t0 = now_ns();
	if (lz->finished)
		return 0;
	return start_threads(lz, ncpu, 1);
}

int lazy_done_fd(const struct lazy *lz)
{
	return lz->done_fd;
}

int lazy_status(struct lazy *lz)
{
	int ret;

	pthread_mutex_lock(&lz->mu);
	ret = lz->err ? lz->err : lz->finished;
	pthread_mutex_unlock(&lz->mu);
	if (ret == 1 && lz->nthreads) {
		join_threads(lz);
		close_uffds(lz);
		/* The keeper's copies too, now: an event the process raised
		 * after the reader stopped (a fork) completes only once the
		 * last copy is closed, and until then the process sleeps
		 * where no SIGSTOP reaches it (guard_end would wait forever;
		 * fs/userfaultfd.c userfaultfd_event_wait_completion). */
		guard_keeper_end(&lz->keeper);
		/* Only now: MADV_COLLAPSE refuses a range with a missing
		 * page while a uffd is registered (mm/khugepaged.c
		 * __collapse_huge_page_isolate, userfaultfd_armed). */
		if (lz->huge.n && !lz->mm[0].u.dead)
			huge_again(lz);
		debug("lazy restore: every page in after %.1f ms (%llu faults, %llu zero pages, %llu blocks copied, %zu moves followed)",
		      (now_ns() - lz->t0) / 1e6, (unsigned long long)lz->faults,
		      (unsigned long long)lz->zero, (unsigned long long)lz->copied,
		      lz->mm[0].u.nremaps);
	}
	return ret;
}

void lazy_end(struct lazy *lz)
{
	if (!lz)
		return;
	if (lz->nthreads)
		join_threads(lz);
	close_uffds(lz);
	for (size_t i = 0; i < lz->nmm; i++) {
		free(lz->mm[i].state);
		uspace_free(&lz->mm[i].u);
	}
	ranges_free(&lz->huge);
	img_table_free(&lz->tab);
	/* rd[0] is the caller's reader: the caller closes it. */
	for (size_t i = 1; i < lz->nrd; i++)
		img_reader_close(&lz->rd[i]);
	for (size_t i = 0; i < lz->nrd; i++)
		free(lz->paths[i]);
	free(lz->rd);
	free(lz->bkey);
	free(lz->paths);
	free(lz->mm);
	free(lz->b);
	free(lz->order);
	guard_keeper_end(&lz->keeper);
	if (lz->done_fd >= 0)
		close(lz->done_fd);
	pthread_rwlock_destroy(&lz->lock);
	pthread_mutex_destroy(&lz->mu);
	pthread_cond_destroy(&lz->gate);
	free(lz);
}
