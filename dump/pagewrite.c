/*
 * Page data out: read, encode, write, overlapped.
 *
 *   workers (jobs threads,     each takes the next slot of the ring, lists
 *   the caller's among them)   its pages (up to SLOT_PAGES, in order),
 *                              reads them READ_PAGES at a time by
 *                              process_vm_readv (many runs, one call) and,
 *                              while each piece is in cache, drops all-zero
 *                              pages and checksums it (no codec) or encodes
 *                              each run of contiguous pages
 *   writer (one thread)        writes slots in the order they were
 *                              listed, one writev per slot, from the slot
 *   or, direct (no codec, a    each worker places its slot after the one
 *   regular file, no HASHES)   listed before it and writes it there itself
 *                              (pwritev), from its own cache; no writer
 *
 * Slots go round a ring; each is handed on under one mutex.  Output is
 * deterministic whatever the number of workers (but with --compress auto,
 * whose choices depend on timing).  A block that does not shrink is
 * stored raw, so restore spends no time on incompressible data.
 *
 * --compress auto: whether a slot is compressed is decided when it is
 * listed, by who waited for whom (dump/autocodec.c): on a fast disk most
 * blocks go raw, on a slow one (or a writer held back by write-behind,
 * image.h) most are compressed.
 *
 * Reading in the workers spreads the first copy (out of the process) over
 * the CPUs, and the second (into the page cache) has the writer to
 * itself; that and the checksum on data still in cache took a plain dump
 * of 1 GiB from about 0.27 s on the critical path (the one reader) to
 * 0.18 s (the writer).  A slot changes hands twice (worker to writer and
 * back), where a separate reader made it three times.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "dump/autocodec.h"
#include "dump/dump.h"
#include "image/codec.h"
#include "image/crc32c.h"
#include "image/hash.h"

/*
 * A slot is one block (a MiB), read a quarter at a time: a quarter stays
 * in the L2 cache from process_vm_readv to the zero check and the
 * checksum, where whole MiBs were partly read again from memory.
 */
#define SLOT_PAGES	256u		/* pages per slot and handoff */
#define READ_PAGES	64u		/* pages per process_vm_readv */
#define BLOCK_PAGES	256u		/* pages per PAGES section at most */
#define SLOT_IOV	256		/* runs per process_vm_readv (dump_copy_pages) */

enum { FREE, WORKING, DONE, WRITTEN };

static_assert(SLOT_PAGES <= IMG_BATCH_MAX, "a slot's blocks fit in one placed batch");

struct slot {
	int state;
	int keep_zero;			/* file mapping: a zero page is not "absent" */
	int plain;			/* no codec for this slot's runs */
	int sample;			/* --compress auto: plain, a sample compressed */
	size_t npages;
	size_t done;			/* pages looked at so far */
	int run_kind;			/* of the open run [run, done), or -1 */
	size_t run;
	size_t summed;			/* DATA run, no codec: pages in run_crc */
	uint32_t run_crc;		/* crc32c of pages [run, summed) */
	struct img_block_hash bh;	/* signing: Poly1305_r of them (blockmac.h) */
	uint64_t addr[SLOT_PAGES];
	uint64_t from[SLOT_PAGES];	/* where it is read (--snapshot: the shadow) */
	uint8_t brk[SLOT_PAGES];		/* a page of the next mapping comes first */
	uint64_t hash[SLOT_PAGES];	/* when hashes are kept */
	const uint8_t *copy;		/* the pages as copied while frozen, or NULL */
	int unpinned;			/* read without pinning (vma_pages.cow) */
	uint8_t *raw;			/* npages pages */
	uint8_t *enc;			/* encoded runs, back to back */
	size_t encoff;
	size_t nouts;
	struct img_block outs[SLOT_PAGES];
	uint64_t seq;			/* in the order slots are listed */
	struct img_batch *bt;		/* direct: its blocks as placed */
	uint64_t end;			/* direct: where they end in the file */
};

struct pipe {
	pthread_mutex_t lock;
	/* One wait queue per kind of waiter: a handoff wakes one thread that
	 * can use it, not all of them (broadcasts cost 15% of a dump). */
	pthread_cond_t done_cv;		/* writer: the next slot in order */
	pthread_cond_t free_cv;		/* workers: a slot to fill */
	pthread_cond_t place_cv;	/* direct: the slot before placed */
	struct slot *slots;
	size_t nslots;
	uint64_t filled, written;	/* sequence counters */
	size_t ready;			/* slots DONE */
	int eof, err;
	/* Where the listing of pages has got to: run r of mapping vi, off
	 * pages into it. */
	uint32_t vi;
	size_t r;
	uint64_t off;
	uint64_t listed;		/* pages of mapping vi listed so far */
	const struct img_proc *p;
	const struct vma_pages *vp;
	enum page_pass pass;
	pid_t pid;
	int from_copy;			/* pid is a --fork copy (page_src.copy) */
	const struct page_src *src;	/* shift and read hook (--snapshot) */
	size_t ps;
	uint32_t proc;
	const struct codec_spec *codec;
	struct autocodec ac;		/* --compress auto */
	struct img_writer *w;
	const struct track *tr;		/* HASH method: the parent's hashes */
	const struct img_block_key *bk;	/* signing: blocks are hashed here */
	int hashes;			/* write HASHES sections */
	/* Direct: each worker writes its own slot at the place in the file
	 * the slots before leave it (pwrite), no writer thread. */
	int direct;
	uint64_t placed;		/* slots placed so far, in order */
	uint64_t wdone;			/* slots before this one all written */
	uint64_t upto;			/* and where they end */
	int pushing;			/* a worker is in img_writer_push_to */
	uint64_t ahead;			/* slots written before an earlier one */
	/* CKPT_PAGES_ORDER=swapped (tests): each even slot is written only
	 * after the odd one after it (2 workers or more) */
	int swap;
};

/* Encode one run of contiguous non-zero pages into the slot. */
static int encode_run(struct pipe *pp, struct slot *s, size_t first, size_t n)
{
	struct img_block *o = &s->outs[s->nouts++];
	const uint8_t *raw = s->raw + first * pp->ps;
	size_t len = n * pp->ps;
	long r = codec_encode(pp->codec, raw, len, s->enc + s->encoff,
			      codec_bound(pp->codec->codec, SLOT_PAGES * pp->ps) - s->encoff);

	o->pg = (struct ckpt_pages){ .addr = s->addr[first], .npages = (uint32_t)n };
	if (r >= 0) {
		o->pg.codec = pp->codec->codec;
		o->data = s->enc + s->encoff;
		o->len = (size_t)r;
		s->encoff += (size_t)r;
	} else if (r == -ENOMEM) {
		return r;
	} else {
		/* Did not shrink (or the codec balked): stored as it is. */
		o->data = raw;
		o->len = len;
	}
	o->crc = crc32c(crc32c(0, &o->pg, sizeof(o->pg)), o->data, o->len);
	o->hashed = pp->bk != NULL;
	if (o->hashed) {
		img_block_hash_start(&s->bh);
		img_block_hash_update(&s->bh, o->data, o->len);
		img_block_hash_update(&s->bh, &o->pg, sizeof(o->pg));
		img_block_hash_end(&s->bh, o->hash);
	}
	return 0;
}

/* Pages [s->summed, upto) of the open run, no codec: into its CRC and,
 * signing, its block hash (data first, blockmac.h), while in cache. */
static void sum_run(struct pipe *pp, struct slot *s, size_t upto)
{
	const uint8_t *p = s->raw + s->summed * pp->ps;
	size_t len = (upto - s->summed) * pp->ps;

	s->run_crc = crc32c(s->run_crc, p, len);
	if (pp->bk)
		img_block_hash_update(&s->bh, p, len);
	s->summed = upto;
}

/* No codec: the run's pages are checksummed already, up to s->summed;
 * the section's CRC starts with its header, joined on in front. */
static void plain_run(struct pipe *pp, struct slot *s, size_t first, size_t n)
{
	struct img_block *o = &s->outs[s->nouts++];
	size_t len = n * pp->ps;

	sum_run(pp, s, first + n);
	o->pg = (struct ckpt_pages){ .addr = s->addr[first], .npages = (uint32_t)n };
	o->data = s->raw + first * pp->ps;
	o->len = len;
	o->crc = crc32c_combine(crc32c(0, &o->pg, sizeof(o->pg)), s->run_crc, len);
	o->hashed = pp->bk != NULL;
	if (o->hashed) {
		img_block_hash_update(&s->bh, &o->pg, sizeof(o->pg));
		img_block_hash_end(&s->bh, o->hash);
	}
}

enum { DATA, ZERO, SAME };

/* A page is the same as in the parent (hash method), all zero, or data. */
static int kind(struct pipe *pp, struct slot *s, size_t i)
{
	uint64_t h;

	if (pp->tr->method == CKPT_DIRTY_HASH && parent_hash(pp->tr, s->addr[i], &h) == 0 &&
	    h == s->hash[i])
		return SAME;
	return !s->keep_zero && is_all_zero(s->raw + i * pp->ps, pp->ps) ? ZERO : DATA;
}

/* The open run ends at page end: its section, unless it is zeros. */
static int close_run(struct pipe *pp, struct slot *s, size_t end)
{
	size_t first = s->run, n = end - first;
	int what = s->run_kind;

	s->run_kind = -1;
	if (what == SAME) {
		struct img_block *o = &s->outs[s->nouts++];

		o->pg = (struct ckpt_pages){ .addr = s->addr[first], .npages = (uint32_t)n,
					     .flags = CKPT_PAGES_IN_PARENT };
		o->data = NULL;
		o->len = 0;
		o->crc = crc32c(0, &o->pg, sizeof(o->pg));
		o->hashed = 0;	/* 16 bytes: the writer hashes them */
	} else if (what == DATA && s->plain) {
		plain_run(pp, s, first, n);
	} else if (what == DATA) {
		return encode_run(pp, s, first, n);
	}
	return 0;
}

/* Look at pages [s->done, upto) of the slot, which have been read: cut
 * them into runs and the runs into sections; the last run stays open
 * until the slot's last page. */
static int process(struct pipe *pp, struct slot *s, size_t upto)
{
	int ret;

	if (pp->hashes || pp->tr->method == CKPT_DIRTY_HASH)
		for (size_t k = s->done; k < upto; k++)
			s->hash[k] = ckpt_page_hash(s->raw + k * pp->ps, pp->ps);
	for (size_t i = s->done; i < upto; i++) {
		int what = kind(pp, s, i);

		if (s->run_kind >= 0 &&
		    (what != s->run_kind || s->addr[i] != s->addr[i - 1] + pp->ps || s->brk[i] ||
		     (what != SAME && i - s->run >= BLOCK_PAGES)) &&
		    (ret = close_run(pp, s, i)) < 0)
			return ret;
		if (s->run_kind < 0) {
			s->run_kind = what;
			s->run = s->summed = i;
			s->run_crc = 0;
			if (what == DATA && s->plain && pp->bk)
				img_block_hash_start(&s->bh);
		}
	}
	s->done = upto;
	/* Checksum what is read of the open run now, while it is in cache. */
	if (s->run_kind == DATA && s->plain)
		sum_run(pp, s, upto);
	return upto == s->npages && s->run_kind >= 0 ? close_run(pp, s, upto) : 0;
}

/* The hashes of pages [i, end) of the slot, one section per contiguous run. */
static int write_hashes(struct pipe *pp, struct slot *s, size_t i, size_t end)
{
	while (i < end) {
		struct ckpt_hashes h = { .addr = s->addr[i] };
		size_t k;
		int ret;

		for (k = i + 1; k < end && s->addr[k] == s->addr[k - 1] + pp->ps && !s->brk[k]; k++)
			;
		h.npages = (uint32_t)(k - i);
		{
			struct iovec iov[] = { { &h, sizeof(h) }, { &s->hash[i], (k - i) * 8 } };

			ret = img_write_section(pp->w, CKPT_SEC_HASHES, pp->proc, iov, 2);
		}
		if (ret < 0)
			return ret;
		i = k;
	}
	return 0;
}

/*
 * The slot's sections: its blocks, and (when hashes are kept) after each
 * mapping's blocks that mapping's hashes, in the order a slot per mapping
 * wrote them.  Mappings and their blocks come in address order.
 */
static int write_slot(struct pipe *pp, struct slot *s)
{
	size_t b = 0;

	if (!pp->hashes)
		return img_write_blocks(pp->w, pp->proc, s->outs, s->nouts);
	for (size_t i = 0; i < s->npages;) {
		size_t end = i + 1, nb = b;
		int ret;

		while (end < s->npages && !s->brk[end])
			end++;
		while (nb < s->nouts && s->outs[nb].pg.addr <= s->addr[end - 1])
			nb++;
		if ((nb > b && (ret = img_write_blocks(pp->w, pp->proc, s->outs + b, nb - b)) < 0) ||
		    (ret = write_hashes(pp, s, i, end)) < 0)
			return ret;
		b = nb;
		i = end;
	}
	return 0;
}

/* Wake one waiter of cv; everyone, on an error or at the end. */
static void wake(struct pipe *pp, pthread_cond_t *cv)
{
	if (pp->err || pp->eof) {
		pthread_cond_broadcast(&pp->done_cv);
		pthread_cond_broadcast(&pp->free_cv);
		pthread_cond_broadcast(&pp->place_cv);
	} else if (pp->direct) {
		pthread_cond_broadcast(cv);	/* a few workers, each for its own slot */
	} else {
		pthread_cond_signal(cv);
	}
}

/* Read pages [from, to) of the slot, one iovec per contiguous stretch,
 * and go through them at once. */
static int read_piece(struct pipe *pp, struct slot *s, size_t from, size_t to)
{
	struct iovec local[READ_PAGES], remote[READ_PAGES];
	int niov = 0, ret = 0;

	for (size_t k = from; k < to; k++) {
		if (k > from && s->addr[k] == s->addr[k - 1] + pp->ps && !s->brk[k]) {
			local[niov - 1].iov_len += pp->ps;
			remote[niov - 1].iov_len += pp->ps;
			continue;
		}
		local[niov] = (struct iovec){ s->raw + k * pp->ps, pp->ps };
		remote[niov++] = (struct iovec){ (void *)(uintptr_t)s->from[k], pp->ps };
	}
	if (s->copy)
		memcpy(s->raw + from * pp->ps, s->copy + from * pp->ps, (to - from) * pp->ps);
	else if (s->unpinned)
		ret = mem_readv_unpinned(pp->pid, local, remote, niov);
	else
		ret = mem_readv(pp->pid, local, niov, remote, niov);
	if (ret < 0)
		return error_errno(ret, "cannot read memory at %#lx", (unsigned long)s->addr[from]);
	/* --snapshot: the pages just read go back to the process from here */
	if (pp->src->read_hook && !s->copy &&
	    (ret = pp->src->read_hook(pp->src->hook_arg, s->addr + from, s->raw + from * pp->ps,
				      to - from)) < 0)
		return ret;
	ret = process(pp, s, to);
	return ret < 0 ? error_errno(ret, "cannot compress page data") : 0;
}

static int in_pass(const struct vma_pages *vp, enum page_pass pass)
{
	return pass == PASS_ALL || (pass == PASS_NOT_FORKED) == vp->frozen;
}

/* Skip to the next mapping with pages to write in this pass. */
static void next_vma(struct pipe *pp)
{
	while (pp->vi < pp->p->d.nvmas &&
	       (!in_pass(&pp->vp[pp->vi], pp->pass) || pp->r == pp->vp[pp->vi].nruns)) {
		pp->vi++;
		pp->r = 0;
		pp->off = 0;
		pp->listed = 0;
	}
}

/* How slot s reads and stores the pages of mapping vi. */
static void slot_kind(const struct pipe *pp, uint32_t vi, int *keep_zero, int *unpinned)
{
	/* Restore fills a private file mapping from the file: a page the
	 * process zeroed must be stored, zeros and all. */
	*keep_zero = !!(pp->p->vmas[vi].d.flags & (CKPT_VMA_FILE | CKPT_VMA_MEMFD));
	*unpinned = pp->vp[vi].cow && !pp->from_copy;
}

/*
 * List the next pages in slot s, in order: up to SLOT_PAGES of the runs of
 * one mapping, and of the mappings after it that are read and stored the
 * same way (many small mappings would otherwise cost a slot, two handoffs
 * between threads, each: 60,000 one-page mappings spent most of their
 * dump there).  Pages of another mapping start a new run (s->brk), so the
 * sections are the same as with a slot per mapping.  None when all are
 * listed.  Under the lock.
 */
static void plan(struct pipe *pp, struct slot *s)
{
	s->npages = s->done = s->nouts = s->encoff = 0;
	s->run_kind = -1;
	next_vma(pp);
	if (pp->vi == pp->p->d.nvmas)
		return;
	slot_kind(pp, pp->vi, &s->keep_zero, &s->unpinned);
	/* A copy taken while frozen holds the runs back to back. */
	s->copy = pp->vp[pp->vi].copy ? pp->vp[pp->vi].copy + pp->listed * pp->ps : NULL;
	for (;;) {
		const struct vma_pages *v = &pp->vp[pp->vi];
		int kz, up;

		while (pp->r < v->nruns && s->npages < SLOT_PAGES) {
			const struct page_run *run = &v->runs[pp->r];
			uint64_t take = MIN(run->npages - pp->off, (uint64_t)(SLOT_PAGES - s->npages));
			uint64_t a = run->addr + pp->off * pp->ps;

			/* A run that does not fit starts a slot of its own: cut
			 * where it would be anyway, every block. */
			if (s->npages && take < run->npages - pp->off)
				break;
			for (uint64_t k = 0; k < take; k++) {
				s->brk[s->npages] = k == 0 && pp->r == 0 && pp->off == 0;
				s->from[s->npages] = a + k * pp->ps +
						     (pp->src->shift ? (uint64_t)pp->src->shift[pp->vi] : 0);
				s->addr[s->npages++] = a + k * pp->ps;
			}
			pp->off += take;
			pp->listed += take;
			if (pp->off == run->npages) {
				pp->r++;
				pp->off = 0;
			}
		}
		if (pp->r < v->nruns || s->copy)
			return;
		next_vma(pp);
		if (pp->vi == pp->p->d.nvmas || s->npages == SLOT_PAGES || pp->vp[pp->vi].copy)
			return;
		slot_kind(pp, pp->vi, &kz, &up);
		if (kz != s->keep_zero || up != s->unpinned)
			return;
	}
}

/* Whether slot s, just listed, is stored raw (and --compress auto's
 * sample taken of it).  Under the lock. */
static int store_raw(struct pipe *pp, struct slot *s)
{
	enum auto_choice c;

	s->sample = 0;
	if (pp->codec->codec == CKPT_CODEC_NONE)
		return 1;
	if (!pp->codec->adaptive)
		return 0;
	c = autocodec_choose(&pp->ac, pp->ready, pp->nslots, s->brk[0]);
	s->sample = c == AUTO_SAMPLE;
	return c != AUTO_COMPRESS;
}

#define SAMPLE_PAGES	16u

/* --compress auto: what a compressed slot's data came to (blocks that did
 * not shrink count as stored raw), in bytes raw and stored; for a sampled
 * one, what the first SAMPLE_PAGES of its first data run would (into
 * s->enc, which a plain slot does not use).  Not under the lock. */
static void outcome(const struct pipe *pp, struct slot *s, size_t *raw, size_t *stored)
{
	*raw = *stored = 0;
	for (size_t i = 0; i < s->nouts; i++) {
		const struct img_block *o = &s->outs[i];
		size_t len;
		long r;

		if (!o->data)
			continue;
		if (!s->sample) {
			*raw += o->pg.npages * pp->ps;
			*stored += o->len;
			continue;
		}
		len = MIN(o->len, SAMPLE_PAGES * pp->ps);
		r = codec_encode(pp->codec, o->data, len, s->enc,
				 codec_bound(pp->codec->codec, SLOT_PAGES * pp->ps));
		*raw = len;
		*stored = r >= 0 ? (size_t)r : len;
		return;
	}
}

/*
 * Direct: place the slot's blocks right after those of the slot listed
 * before it, then write them from this thread, while they are in its
 * cache, and alongside the other workers' reading (a writer thread took
 * them from another CPU's cache: its copy into the page cache cost twice
 * process_vm_readv's).  Slots are freed in order, once every slot before
 * them is written too: up to there the file is complete (write-behind).
 * Under the lock, dropped for the write.
 */
static void place_and_write(struct pipe *pp, struct slot *s)
{
	/* (swapped: the slot after this one, written; it stays so until
	 * this one is, slots being freed in order) */
	const struct slot *next = &pp->slots[(s->seq + 1) % pp->nslots];
	int ret = 0;

	while (!pp->err && pp->placed != s->seq)
		pthread_cond_wait(&pp->place_cv, &pp->lock);
	if (!pp->err && (ret = img_place_blocks(pp->w, pp->proc, s->outs, s->nouts, s->bt)) < 0)
		pp->err = ret;
	s->end = pp->w->written;
	pp->placed++;
	pthread_cond_broadcast(&pp->place_cv);
	while (pp->swap && s->seq % 2 == 0 && !pp->err && !(pp->eof && pp->filled == s->seq + 1) &&
	       !(next->seq == s->seq + 1 && next->state == WRITTEN))
		pthread_cond_wait(&pp->place_cv, &pp->lock);
	if (ret == 0 && !pp->err) {
		pthread_mutex_unlock(&pp->lock);
		killpoint("dump: a slot placed");
		ret = img_batch_write(pp->w, s->bt);
		progress_add(s->npages * pp->ps);
		pthread_mutex_lock(&pp->lock);
		if (ret < 0 && !pp->err)	/* (the first to fail says it) */
			pp->err = error_errno(ret, "cannot write \"%s\"", pp->w->path);
	}
	pp->ahead += pp->wdone < s->seq;
	s->state = WRITTEN;
	if (pp->swap)
		pthread_cond_broadcast(&pp->place_cv);
	for (struct slot *d; (d = &pp->slots[pp->wdone % pp->nslots])->state == WRITTEN &&
			     pp->wdone < pp->placed;
	     pp->wdone++) {
		pp->upto = d->end;
		d->state = FREE;
	}
	wake(pp, &pp->free_cv);
	if (!pp->pushing && !pp->err) {
		uint64_t upto = pp->upto;

		pp->pushing = 1;
		pthread_mutex_unlock(&pp->lock);
		img_writer_push_to(pp->w, upto);
		pthread_mutex_lock(&pp->lock);
		pp->pushing = 0;
	}
}

/* Take the next free slot in the ring, list its pages and read them;
 * until all are listed, or an error.  The caller's thread is one. */
static void *worker(void *arg)
{
	struct pipe *pp = arg;
	/* Direct: the pages are read into the same MiB each time (this
	 * thread's, in its cache), as a slot needs them only until this
	 * thread has written them; a ring of slots' buffers was cold. */
	uint8_t *own = pp->direct ? xmalloc(SLOT_PAGES * pp->ps) : NULL;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct slot *s = &pp->slots[pp->filled % pp->nslots];
		size_t raw = 0, stored = 0;
		int ret = 0, waited = 0;

		while (!pp->err && !pp->eof && s->state != FREE) {
			/* behind the writer only if the slot waits to be written */
			if (!waited++ && s->state == DONE)
				autocodec_worker_waited(&pp->ac);
			pthread_cond_wait(&pp->free_cv, &pp->lock);
			s = &pp->slots[pp->filled % pp->nslots];
		}
		if (pp->err || pp->eof)
			break;
		if (sigguard_fired()) {
			pp->err = -EINTR;
			wake(pp, &pp->done_cv);
			break;
		}
		plan(pp, s);
		if (!s->npages) {
			pp->eof = 1;
			wake(pp, &pp->done_cv);
			break;
		}
		s->state = WORKING;
		s->plain = store_raw(pp, s);
		if (own)
			s->raw = own;
		s->seq = pp->filled++;
		pthread_mutex_unlock(&pp->lock);
		for (size_t k = 0; k < s->npages && ret == 0; k += READ_PAGES)
			ret = read_piece(pp, s, k, MIN(k + READ_PAGES, s->npages));
		if (ret == 0 && pp->codec->adaptive && (!s->plain || s->sample))
			outcome(pp, s, &raw, &stored);
		pthread_mutex_lock(&pp->lock);
		autocodec_outcome(&pp->ac, raw, stored);
		if (ret < 0 && !pp->err)
			pp->err = ret;
		if (pp->direct) {
			place_and_write(pp, s);
			continue;
		}
		s->state = DONE;
		pp->ready++;
		wake(pp, &pp->done_cv);
	}
	pthread_mutex_unlock(&pp->lock);
	free(own);
	return NULL;
}

static void *writer(void *arg)
{
	struct pipe *pp = arg;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct slot *s = &pp->slots[pp->written % pp->nslots];
		int ret = 0, waited = 0;

		while (!pp->err && !(pp->written < pp->filled && s->state == DONE) &&
		       !(pp->eof && pp->written == pp->filled)) {
			/* (the first slot is waited for whatever the codec) */
			if (!waited++ && pp->written)
				autocodec_writer_waited(&pp->ac);
			pthread_cond_wait(&pp->done_cv, &pp->lock);
		}
		if (pp->err || pp->written == pp->filled)
			break;
		pthread_mutex_unlock(&pp->lock);
		ret = write_slot(pp, s);
		img_writer_push(pp->w);
		progress_add(s->npages * pp->ps);
		pthread_mutex_lock(&pp->lock);
		if (ret < 0 && !pp->err)
			pp->err = ret;
		s->state = FREE;
		pp->ready--;
		pp->written++;
		wake(pp, &pp->free_cv);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* Pages a pass writes. */
static uint64_t pass_pages(const struct img_proc *p, const struct vma_pages *vp, enum page_pass pass)
{
	uint64_t npages = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++)
		for (size_t k = 0; in_pass(&vp[i], pass) && k < vp[i].nruns; k++)
			npages += vp[i].runs[k].npages;
	return npages;
}

/* Without a codec the image is about as big as the pages: have the file
 * allocate that at once rather than a block at each write (ext4 spent 15%
 * of a plain dump's CPU time on delayed allocation, write by write). */
static void reserve(struct img_writer *w, uint64_t npages, size_t ps)
{
	/* each block's data starts at a page boundary (PAGES_ALIGNED) */
	img_writer_reserve(w, npages * ps + (npages / BLOCK_PAGES + 1) * ps);
}

static size_t runs_bytes(const struct vma_pages *v, size_t ps)
{
	size_t n = 0;

	for (size_t r = 0; r < v->nruns; r++)
		n += v->runs[r].npages * ps;
	return n;
}

int dump_copy_pages(pid_t pid, const struct img_proc *p, struct vma_pages *vp, uint64_t max)
{
	const size_t ps = (size_t)getpagesize();
	struct iovec local[SLOT_IOV], remote[SLOT_IOV];
	uint64_t total = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++)
		total += vp[i].frozen ? runs_bytes(&vp[i], ps) : 0;
	if (total > max)
		return 1;
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		struct vma_pages *v = &vp[i];
		size_t off = 0, r = 0;

		if (!v->frozen || !v->nruns)
			continue;
		v->copy_len = runs_bytes(v, ps);
		v->copy = mmap(NULL, v->copy_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (v->copy == MAP_FAILED) {
			v->copy = NULL;
			return error_errno(errno, "cannot allocate %zu bytes for a copy of %#lx",
					   v->copy_len, (unsigned long)p->vmas[i].d.start);
		}
		while (r < v->nruns) {
			int n = 0, ret;

			for (; r < v->nruns && n < SLOT_IOV; r++, n++) {
				size_t len = v->runs[r].npages * ps;

				local[n] = (struct iovec){ v->copy + off, len };
				remote[n] = (struct iovec){ (void *)(uintptr_t)v->runs[r].addr, len };
				off += len;
			}
			ret = mem_readv(pid, local, n, remote, n);
			if (ret < 0)
				return error_errno(ret, "cannot read memory at %#lx",
						   (unsigned long)remote[0].iov_base);
		}
	}
	return 0;
}

/* Pages unchanged since the parent that were not even read (the kernel
 * told us which were written): one IN_PARENT section per run. */
static int write_same(struct img_writer *w, uint32_t idx, const struct img_proc *p,
		      const struct vma_pages *vp)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		for (size_t k = 0; k < vp[i].nsame; k++) {
			struct ckpt_pages pg = { .addr = vp[i].same[k].addr,
						 .npages = (uint32_t)vp[i].same[k].npages,
						 .flags = CKPT_PAGES_IN_PARENT };
			int ret = img_write_pages_crc(w, idx, &pg, NULL, 0, crc32c(0, &pg, sizeof(pg)));

			if (ret < 0)
				return ret;
		}
	return 0;
}

int dump_write_pages(const struct page_src *src, const struct page_dest *dst, enum page_pass pass)
{
	const struct img_proc *p = src->p;
	const struct vma_pages *vp = src->vp;
	const struct codec_spec *codec = dst->codec;
	struct img_writer *w = dst->w;
	uint32_t idx = src->idx;
	struct pipe pp = {
		.lock = PTHREAD_MUTEX_INITIALIZER, .done_cv = PTHREAD_COND_INITIALIZER,
		.free_cv = PTHREAD_COND_INITIALIZER, .place_cv = PTHREAD_COND_INITIALIZER, .p = p, .vp = vp, .pass = pass,
		.pid = src->pid, .from_copy = src->copy, .ps = (size_t)getpagesize(), .proc = idx,
		.codec = codec, .w = w,
		.tr = src->tr, .hashes = dst->hashes, .src = src, .bk = img_writer_block_key(w),
	};
	pthread_t *workers, wr;
	int nw = dst->jobs > 0 ? dst->jobs : 1, started = 0, ret, err;
	const char *order;

	uint64_t npages = pass_pages(p, vp, pass);

	autocodec_init(&pp.ac);
	/* Out of order where nothing needs the order: raw blocks (compressed
	 * ones keep the CPUs busy anyway, and --compress auto reads the
	 * writer's waits), no HASHES sections between them, a regular file. */
	order = getenv("CKPT_PAGES_ORDER");
	pp.direct = codec->codec == CKPT_CODEC_NONE && !dst->hashes && !w->is_stream &&
		    !(order && !strcmp(order, "in-order"));
	/* The writer thread's place goes to one more worker: as many threads
	 * as before, each reading, then writing (one at a time: a file's
	 * buffered writes hold its inode lock). */
	if (pp.direct)
		nw++;
	pp.swap = pp.direct && nw > 1 && order && !strcmp(order, "swapped");

	if (codec->codec == CKPT_CODEC_NONE || codec->adaptive)
		reserve(w, npages, pp.ps);
	progress_begin(npages * pp.ps);
	/* Adaptive: room for a backlog that compression can hide behind. */
	pp.nslots = (size_t)nw * (codec->adaptive ? 4 : 2) + 2;
	pp.slots = xzalloc(pp.nslots * sizeof(*pp.slots));
	for (size_t i = 0; i < pp.nslots; i++) {
		if (pp.direct)
			pp.slots[i].bt = xmalloc(sizeof(*pp.slots[i].bt));
		else
			pp.slots[i].raw = xmalloc(SLOT_PAGES * pp.ps);
		if (codec->codec != CKPT_CODEC_NONE)
			pp.slots[i].enc = xmalloc(codec_bound(codec->codec, SLOT_PAGES * pp.ps));
		if (pp.bk)
			img_block_hash_new(&pp.slots[i].bh, pp.bk);
	}
	if (pp.direct && (ret = img_writer_place(w, 1)) < 0)
		goto out;
	if (!pp.direct && pthread_create(&wr, NULL, writer, &pp)) {
		ret = error("cannot start threads");
		goto out;
	}
	/* This thread is a worker too; fewer helpers if some fail to start. */
	workers = xmalloc((size_t)nw * sizeof(*workers));
	for (; started < nw - 1; started++)
		if (pthread_create(&workers[started], NULL, worker, &pp))
			break;
	worker(&pp);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	if (!pp.direct)
		pthread_join(wr, NULL);
	free(workers);
	ret = pp.err;
	/* (the file offset to the end of the blocks, whatever came of them) */
	if (pp.direct && (err = img_writer_place(w, 0)) < 0 && ret == 0)
		ret = err;
	if (pp.direct)
		debug("page data: %llu slots of up to %u pages, each written in place by the thread that read it (%d), %llu ahead of an earlier one",
		      (unsigned long long)pp.placed, SLOT_PAGES, nw, (unsigned long long)pp.ahead);
	if (codec->adaptive)
		autocodec_report(&pp.ac);
	if (ret == 0 && pass != PASS_NOT_FORKED)
		ret = write_same(w, idx, p, vp);
out:
	progress_end();
	for (size_t i = 0; i < pp.nslots; i++) {
		if (!pp.direct)	/* (else the workers' own, freed by them) */
			free(pp.slots[i].raw);
		free(pp.slots[i].enc);
		free(pp.slots[i].bt);
		if (pp.bk)
			img_block_hash_free(&pp.slots[i].bh);
	}
	free(pp.slots);
	return ret;
}
