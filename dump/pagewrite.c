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
 *   or, direct (no codec or    each worker places its slot after the one
 *   auto, a regular file, no   listed before it and writes it there itself
 *   HASHES)                    (pwritev), from its own cache; no writer
 *
 * Slots go round a ring; each is handed on under one mutex.  Output is
 * deterministic whatever the number of workers (but with --compress auto,
 * whose choices depend on timing).  A block that does not shrink is
 * stored raw, so restore spends no time on incompressible data.
 *
 * --compress auto (dump/autocodec.c): to a regular file, direct, each
 * worker compresses its slot first only while the disk is behind; to a
 * stream the workers store every slot raw, compressor threads
 * (dump/pagepack.c), at the lowest priority, compress slots that wait to
 * be written into a second form beside the raw one, and the writer takes
 * whichever is complete when it gets there, never waiting: to a fast
 * reader most blocks go raw, to a slow one most are compressed.
 *
 * Reading in the workers spreads the first copy (out of the process) over
 * the CPUs, and the second (into the page cache) has the writer to
 * itself; that and the checksum on data still in cache took a plain dump
 * of 1 GiB from about 0.27 s on the critical path (the one reader) to
 * 0.18 s (the writer).  A slot changes hands twice (worker to writer and
 * back), where a separate reader made it three times.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sigguard.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "dump/autocodec.h"
#include "dump/dump.h"
#include "dump/pagepipe.h"
#include "image/codec.h"
#include "image/crc32c.h"
#include "image/hash.h"

/* Encode n contiguous pages of the slot's, at raw (addr in the process),
 * into block o, with the slot's encoding room. */
int page_encode_block(struct pipe *pp, struct slot *s, struct img_block *o, const uint8_t *raw,
		      uint64_t addr, size_t n)
{
	size_t len = n * pp->ps;
	long r = codec_encode(pp->codec, raw, len, s->enc + s->encoff,
			      codec_bound(pp->codec->codec, SLOT_PAGES * pp->ps) - s->encoff);

	o->pg = (struct ckpt_pages){ .addr = addr, .npages = (uint32_t)n };
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

/* Encode one run of contiguous non-zero pages into the slot. */
static int encode_run(struct pipe *pp, struct slot *s, size_t first, size_t n)
{
	return page_encode_block(pp, s, &s->outs[s->nouts++], s->raw + first * pp->ps, s->addr[first], n);
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
static int write_slot(struct pipe *pp, struct slot *s, int packed)
{
	const struct img_block *outs = packed ? s->couts : s->outs;
	size_t nouts = packed ? s->ncouts : s->nouts, b = 0;

	if (!pp->hashes)
		return img_write_blocks(pp->w, pp->proc, outs, nouts);
	for (size_t i = 0; i < s->npages;) {
		size_t end = i + 1, nb = b;
		int ret;

		while (end < s->npages && !s->brk[end])
			end++;
		while (nb < nouts && outs[nb].pg.addr <= s->addr[end - 1])
			nb++;
		if ((nb > b && (ret = img_write_blocks(pp->w, pp->proc, outs + b, nb - b)) < 0) ||
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
	s->packed = 0;
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
	const struct slot *next = pp->ring[(s->seq + 1) % pp->nslots];
	int ret = 0;

	while (!pp->err && pp->placed != s->seq)
		pthread_cond_wait(&pp->place_cv, &pp->lock);
	if (!pp->err && (ret = img_place_blocks(pp->w, pp->proc, s->packed ? s->couts : s->outs,
						s->packed ? s->ncouts : s->nouts, s->bt)) < 0)
		pp->err = ret;
	s->end = pp->w->written;
	pp->placed++;
	pthread_cond_broadcast(&pp->place_cv);
	while (pp->swap && s->seq % 2 == 0 && !pp->err && !(pp->eof && pp->filled == s->seq + 1) &&
	       !(next->seq == s->seq + 1 && next->state == WRITTEN))
		pthread_cond_wait(&pp->place_cv, &pp->lock);
	if (ret == 0 && !pp->err) {
		pthread_mutex_unlock(&pp->lock);
		/* (the first few slots only: killsafe.bats draws its random
		 * kill points from every one passed, and one per MiB would
		 * crowd out those of the freeze, where harm can be done) */
		if (s->seq < 8)
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
	for (struct slot *d; (d = pp->ring[pp->wdone % pp->nslots])->state == WRITTEN &&
			     pp->wdone < pp->placed;
	     pp->wdone++) {
		/* (pagepack_direct reads it without the lock) */
		__atomic_store_n(&pp->upto, d->end, __ATOMIC_RELAXED);
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
		__atomic_store_n(&pp->disk_done, img_writer_on_disk(pp->w), __ATOMIC_RELAXED);
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
	uint8_t *own = NULL, *mine = NULL;
	struct autocodec ac;

	autocodec_init(&ac);
	pthread_mutex_lock(&pp->lock);
	if (pp->direct)
		own = pp->own ? pp->own + pp->nown++ * SLOT_PAGES * pp->ps :
				(mine = xmalloc(SLOT_PAGES * pp->ps));
	for (;;) {
		struct slot *s = pp->ring[pp->filled % pp->nslots];
		int ret = 0;

		while (!pp->err && !pp->eof && s->state != FREE) {
			pthread_cond_wait(&pp->free_cv, &pp->lock);
			s = pp->ring[pp->filled % pp->nslots];
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
		/* --compress auto: raw here; compressors may pack it later */
		s->plain = pp->codec->codec == CKPT_CODEC_NONE || pp->codec->adaptive;
		if (own)
			s->raw = own;
		s->seq = pp->filled;
		/* (compressors read it without the lock) */
		__atomic_store_n(&pp->filled, s->seq + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&pp->lock);
		for (size_t k = 0; k < s->npages && ret == 0; k += READ_PAGES)
			ret = read_piece(pp, s, k, MIN(k + READ_PAGES, s->npages));
		/* --compress auto to a file whose disk is behind */
		s->packed = ret == 0 && pp->packing && pagepack_direct(pp, s, &ac);
		ac.packed += (uint64_t)s->packed;
		pthread_mutex_lock(&pp->lock);
		if (ret < 0 && !pp->err)
			pp->err = ret;
		if (pp->direct) {
			place_and_write(pp, s);
			continue;
		}
		s->state = DONE;
		wake(pp, &pp->done_cv);
		if (pp->codec->adaptive)
			pagepack_ready(pp, s);
	}
	pthread_mutex_unlock(&pp->lock);
	if (pp->packing)
		pagepack_count(pp, &ac);
	free(mine);
	return NULL;
}

static void *writer(void *arg)
{
	struct pipe *pp = arg;

	/* (closed once the compressors are gone: dump_write_pages)  Atomic:
	 * the compressors may already run and read it (writer_sleeps); they
	 * see -1 or the open fd, never a torn value. */
	if (pp->gated)
		__atomic_store_n(&pp->writer_stat, open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC),
				 __ATOMIC_RELEASE);
	pthread_mutex_lock(&pp->lock);
	for (;;) {
		size_t at = pp->written % pp->nslots;
		struct slot *s = pp->ring[at];
		int ret = 0, packed = 0, orphan = 0;
		struct slot *n = NULL;

		while (!pp->err && !(pp->written < pp->filled && s->state == DONE) &&
		       !(pp->eof && pp->written == pp->filled))
			pthread_cond_wait(&pp->done_cv, &pp->lock);
		if (pp->err || pp->written == pp->filled)
			break;
		/* the compressed form if complete; a compressor still at it
		 * stops at its next chunk: raw it is, at once */
		if (pp->codec->adaptive) {
			packed = pagepack_take(pp, s, &orphan);
			pp->ac.packed += (uint64_t)packed;
			/* its spare now, before the compressor may give the
			 * slot back (the spares have room for it then) */
			if (orphan && !(n = pagepack_spare(pp)) && !pp->err)
				pp->err = error("internal: no spare page slot");
		}
		pthread_mutex_unlock(&pp->lock);
		if (pp->gated)
			pagepack_gate(pp, 1);
		ret = write_slot(pp, s, packed);
		if (pp->gated)
			pagepack_gate(pp, 0);
		img_writer_push(pp->w);
		progress_add(s->npages * pp->ps);
		pthread_mutex_lock(&pp->lock);
		if (ret < 0 && !pp->err)
			pp->err = ret;
		if (orphan && !n) {
			wake(pp, &pp->free_cv);
			break;
		} else if (orphan) {
			/* a compressor still reads it: the workers get the
			 * spare instead, and the compressor gives this one back */
			n->state = FREE;
			__atomic_store_n(&pp->ring[at], n, __ATOMIC_RELEASE);
		} else {
			s->state = FREE;
		}
		__atomic_store_n(&pp->written, pp->written + 1, __ATOMIC_RELEASE);
		wake(pp, &pp->free_cv);
	}
	if (pp->codec->adaptive)
		pagepack_stop(pp);
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

#define HUGE_BYTES	(2u << 20)	/* a PMD's worth with 4 KiB pages */
/* The metadata before the page data, at a guess, when the file's room is
 * allocated before it is written (dump_pages_prepare): a few KiB for a
 * few mappings; more (60,000 mappings: some MiB) is allocated as written. */
#define META_GUESS	(1u << 20)

/*
 * The direct workers' own MiBs, in one block of transparent huge pages
 * (THP "madvise" is the usual setting) and touched here in one call: in
 * process_vm_readv's copy, their first touch had been ~800 page faults of
 * a 1 GiB dump (perf, page-faults), each a VM exit on this kind of host.
 * Where the kernel gives no huge page the advice is a no-op and the block
 * is made of small pages, populated all the same.  NULL: malloc'd apart.
 */
static uint8_t *own_alloc(size_t len, size_t *maplen)
{
	size_t map = (len + HUGE_BYTES - 1) / HUGE_BYTES * HUGE_BYTES + HUGE_BYTES;
	uint8_t *m = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;

	if (m == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)m + HUGE_BYTES - 1) & ~((uintptr_t)HUGE_BYTES - 1));
	/* (the unaligned head and the tail beyond the huge pages back) */
	if (a > m)
		munmap(m, (size_t)(a - m));
	*maplen = map - HUGE_BYTES;
	munmap(a + *maplen, HUGE_BYTES - (size_t)(a - m));
	madvise(a, *maplen, MADV_HUGEPAGE);
	madvise(a, *maplen, MADV_POPULATE_WRITE);
	return a;
}

/* Without a codec the image is about as big as the pages: the room the
 * file is given at once rather than a block at each write (ext4 spent 15%
 * of a plain dump's CPU time on delayed allocation, write by write); each
 * block's data starts at a page boundary (PAGES_ALIGNED). */
static uint64_t room_for(uint64_t npages, size_t ps)
{
	return npages * ps + (npages / BLOCK_PAGES + 1) * ps;
}

/* Room for npages from the end of what is written on, unless prepared. */
static void reserve(struct img_writer *w, const struct page_prep *pr, uint64_t npages, size_t ps)
{
	uint64_t len = room_for(npages, ps);

	if (!pr || pr->reserved_to < w->written + w->buflen + len)
		img_writer_reserve(w, len);
}

/* Whether blocks may go out of order (direct): raw ones (compressed ones
 * keep the CPUs busy anyway; --compress auto's compressors work on slots
 * waiting for the in-order writer), no HASHES sections between them, a
 * regular file. */
static int out_of_order(const struct page_dest *dst)
{
	const char *order = getenv("CKPT_PAGES_ORDER");

	return (dst->codec->codec == CKPT_CODEC_NONE || dst->codec->adaptive) && !dst->hashes &&
	       !dst->w->is_stream && !(order && !strcmp(order, "in-order"));
}

static int workers_of(const struct page_dest *dst)
{
	return dst->jobs > 0 ? dst->jobs : 1;
}

/* Resident bytes from which an in-order write's slots are made ready (as
 * dump.c's smaps waits for the injected brk: a walk worth waiting for). */
#define RING_AHEAD_MIN	(64ull << 20)

/* The ring's slots for nw workers (dump_write_pages). */
static size_t ring_slots(int nw)
{
	return (size_t)nw * 2 + 2;
}

/*
 * An in-order write's slot buffers (HASHES: an incremental dump), touched
 * now in small pages: a dump of 1% of 1 GiB rewritten fills every slot,
 * and their first touch (~1,500 page faults in the workers' copies out of
 * the process, 6% of its CPU in perf) came after the plan.  No huge
 * pages: a compaction would cost more than the wait it fills.  Not for a
 * small process, whose smaps is soon read and which may fill few slots.
 */
static void ring_alloc(const struct page_dest *dst, struct page_prep *pr)
{
	/* and a spare for each compressor (a stream, --compress auto) */
	size_t n = ring_slots(workers_of(dst)) + (dst->codec->adaptive ? (size_t)workers_of(dst) : 0);
	size_t len = n * SLOT_PAGES * (size_t)getpagesize();
	uint8_t *m;

	if (pr->resident < RING_AHEAD_MIN ||
	    (m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return;
	madvise(m, len, MADV_POPULATE_WRITE);	/* (else touched as read into) */
	pr->raw = m;
	pr->nraw = n;
	debug("page writing readied while smaps is read: %zu slots' buffers", n);
}

/*
 * Called while the main thread would wait for smaps (collect_proc), whose
 * walk of a big mapping keeps one CPU busy and leaves the other idle (1 GiB:
 * 7 ms of CPU; -vv "maps, parent" 12 ms at load 8): what the direct write
 * does first, and needs no page plan, done then instead of after it.  The
 * buffers populated (THP: 0.2-6.6 ms, strace, loaded), the file's room
 * allocated (ext4, 1 GiB: 0.9-6 ms), libcrypto's configuration read.  No
 * page is read: what may be dumped is known only with the VmFlags.
 */
void dump_pages_prepare(const struct page_dest *dst, uint64_t bytes)
{
	struct page_prep *pr = dst->prep;
	struct img_writer *w = dst->w;
	size_t ps = (size_t)getpagesize();
	uint64_t from = w->written + w->buflen;

	if (!pr || pr->own || pr->raw)
		return;
	pr->jobs = workers_of(dst);
	if (w->mac.key)		/* (signing: its block key comes with the header) */
		img_block_hash_ready();
	if (!out_of_order(dst)) {
		ring_alloc(dst, pr);
		return;
	}
	pr->own = own_alloc((size_t)pr->jobs * SLOT_PAGES * ps, &pr->ownlen);
	/* (the metadata is not written yet: room for it too, at a guess) */
	if (!bytes)
		return;
	if (img_writer_reserve(w, room_for(bytes / ps, ps) + META_GUESS))
		pr->reserved_to = from + room_for(bytes / ps, ps) + META_GUESS;
	debug("page writing readied while smaps is read: %d workers' buffers, %llu MiB of the file allocated",
	      pr->jobs, (unsigned long long)(pr->reserved_to >> 20));
}

void dump_pages_unprepare(struct page_prep *pr)
{
	if (pr->own)
		munmap(pr->own, pr->ownlen);
	if (pr->raw)
		munmap(pr->raw, pr->nraw * SLOT_PAGES * (size_t)getpagesize());
	memset(pr, 0, sizeof(*pr));
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

/*
 * --compress auto's compressors take only CPU time the writer and the
 * workers leave, by being of a lower class (SCHED_IDLE).  When these are
 * SCHED_IDLE themselves (the forked dump's writing, dump/dump.c: the job
 * runs first) no class is lower, and the compressors share ckpt's CPU
 * with them as equals (a forked 1 GiB text dump to a file took 1.5-1.6x
 * none's time, 2026-12-07).  To a pipe or a socket the writer sleeps in
 * write(2) until the reader (ssh, a network) takes the data: the
 * compressors run then, and only then (gated, pagepack_gate: a reader as
 * fast as ckpt had paid their CPU), and the image is about lz4's size
 * (reviewer).  To a regular file there are no compressors (the workers
 * compress only while the disk is behind: pagepack_direct); to another
 * stream (a file as stdout, /dev/null) every block is raw.
 */
static int writes_to_reader(const struct img_writer *w)
{
	struct stat st;

	return w->is_stream && fstat(w->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

static const struct codec_spec *pass_codec(const struct page_dest *dst, int direct, int *gated)
{
	static const struct codec_spec none = { .codec = CKPT_CODEC_NONE };
	const struct codec_spec *c = dst->codec;

	*gated = 0;
	if (!c->adaptive || direct || sched_getscheduler(0) != SCHED_IDLE)
		return c;
	*gated = writes_to_reader(dst->w);
	return *gated ? c : &none;
}

int dump_write_pages(const struct page_src *src, const struct page_dest *dst, enum page_pass pass)
{
	const struct img_proc *p = src->p;
	const struct vma_pages *vp = src->vp;
	int direct = out_of_order(dst), gated;
	const struct codec_spec *codec = pass_codec(dst, direct, &gated);
	struct img_writer *w = dst->w;
	uint32_t idx = src->idx;
	struct pipe pp = {
		.lock = PTHREAD_MUTEX_INITIALIZER, .done_cv = PTHREAD_COND_INITIALIZER,
		.free_cv = PTHREAD_COND_INITIALIZER, .place_cv = PTHREAD_COND_INITIALIZER,
		.p = p, .vp = vp, .pass = pass,
		.pid = src->pid, .from_copy = src->copy, .ps = (size_t)getpagesize(), .proc = idx,
		.codec = codec, .w = w,
		.tr = src->tr, .hashes = dst->hashes, .src = src, .bk = img_writer_block_key(w),
		.direct = direct, .gated = gated, .writer_stat = -1,
	};
	pthread_t *workers, *comps, wr;
	int nw = workers_of(dst), started = 0, cstarted = 0, ret, err;
	struct page_prep *pr = dst->prep;
	size_t ncomp, nall;
	struct slot *all;
	const char *order = getenv("CKPT_PAGES_ORDER");

	uint64_t npages = pass_pages(p, vp, pass);
	size_t ownlen = 0;
	uint8_t *ready;

	autocodec_init(&pp.ac);
	pp.disk_done = img_writer_on_disk(w);
	/* --compress auto: to a file, the workers compress what they read
	 * while the disk is behind (pagepack_direct), else none's path as it
	 * is; to a stream, a compressor per job, and a spare slot for each */
	pp.packing = pp.direct && codec->adaptive;
	ncomp = codec->adaptive && !pp.direct ? (size_t)nw : 0;
	/* Direct: no writer thread, and no worker more in its place either:
	 * one thread per CPU (--jobs), each reading, then writing (one at a
	 * time: a file's buffered writes hold its inode lock).  A third on 2
	 * CPUs was preempted while it held that lock, or took the CPU from
	 * the one that did, and moved the workers' MiBs out of their L2 at
	 * each switch.  A 1 GiB plain dump, 7 interleaved pairs with ckpt at
	 * nice -20 so that the others on the machine stayed off its CPUs:
	 * frozen 224-261 ms (median 245) with 2 workers, 270-316 ms (303)
	 * with 3 (2026-12-07, plain3). */
	pp.swap = pp.direct && nw > 1 && order && !strcmp(order, "swapped");
	if (pp.direct && pr && pr->own && pr->jobs == nw) {
		/* (made ready while smaps was read: dump_pages_prepare) */
		pp.own = pr->own;
		ownlen = pr->ownlen;
		pr->own = NULL;
	} else if (pp.direct) {
		pp.own = own_alloc((size_t)nw * SLOT_PAGES * pp.ps, &ownlen);
	}

	if (codec->codec == CKPT_CODEC_NONE || codec->adaptive)
		reserve(w, pp.direct ? pr : NULL, npages, pp.ps);
	progress_begin(npages * pp.ps);
	/* (--compress auto too: the compressors work on the backlog a slow
	 * writer leaves, whatever its length) */
	pp.nslots = ring_slots(nw);
	nall = pp.nslots + ncomp;
	/* (made ready while smaps was read: dump_pages_prepare; kept there
	 * for the next process's pages, unmapped after the release) */
	ready = !pp.direct && pr && pr->raw && pr->nraw >= nall ? pr->raw : NULL;
	all = xzalloc(nall * sizeof(*all));
	pp.ring = xmalloc(pp.nslots * sizeof(*pp.ring));
	pp.spare = xmalloc((ncomp + 1) * sizeof(*pp.spare));
	for (size_t i = 0; i < nall; i++) {
		if (pp.direct)	/* (its pages are read into its worker's own) */
			all[i].bt = xmalloc(sizeof(*all[i].bt));
		else if (ready)
			all[i].raw = ready + i * SLOT_PAGES * pp.ps;
		else
			all[i].raw = xmalloc(SLOT_PAGES * pp.ps);
		if (codec->codec != CKPT_CODEC_NONE)
			all[i].enc = xmalloc(codec_bound(codec->codec, SLOT_PAGES * pp.ps));
		if (codec->adaptive)
			all[i].couts = xmalloc(COUTS * sizeof(*all[i].couts));
		if (pp.bk)
			img_block_hash_new(&all[i].bh, pp.bk);
		if (i < pp.nslots)
			pp.ring[i] = &all[i];
		else
			pp.spare[pp.nspare++] = &all[i];
	}
	if (pp.direct && (ret = img_writer_place(w, 1)) < 0)
		goto out;
	if (!pp.direct && pthread_create(&wr, NULL, writer, &pp)) {
		ret = error("cannot start threads");
		goto out;
	}
	/* (none started: every block raw, as the writer finds them) */
	comps = xmalloc((ncomp + 1) * sizeof(*comps));
	for (; (size_t)cstarted < ncomp; cstarted++)
		if (pthread_create(&comps[cstarted], NULL, pagepack_thread, &pp))
			break;
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
	for (int i = 0; i < cstarted; i++)
		pthread_join(comps[i], NULL);
	if (pp.writer_stat >= 0)
		close(pp.writer_stat);
	free(workers);
	free(comps);
	ret = pp.err;
	/* (the file offset to the end of the blocks, whatever came of them) */
	if (pp.direct && (err = img_writer_place(w, 0)) < 0 && ret == 0)
		ret = err;
	if (pp.direct)
		debug("page data: %llu slots of up to %u pages, each written in place by the thread that read it (%d), %llu ahead of an earlier one",
		      (unsigned long long)pp.placed, SLOT_PAGES, nw, (unsigned long long)pp.ahead);
	if (codec->adaptive)
		autocodec_report(&pp.ac, pp.filled);
	if (pp.packing)
		pagepack_direct_report(&pp);
	if (ret == 0 && pass != PASS_NOT_FORKED)
		ret = write_same(w, idx, p, vp);
out:
	progress_end();
	for (size_t i = 0; i < nall; i++) {
		if (!pp.direct && !ready)	/* (else the workers' own, or prepared) */
			free(all[i].raw);
		free(all[i].enc);
		free(all[i].couts);
		free(all[i].bt);
		if (pp.bk)
			img_block_hash_free(&all[i].bh);
	}
	free(all);
	free(pp.ring);
	free(pp.spare);
	if (pp.own)
		munmap(pp.own, ownlen);
	return ret;
}
