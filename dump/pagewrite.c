/*
 * Page data out: read, encode, write, overlapped.
 *
 *   reader (caller's thread)   fills slots with up to SLOT_PAGES pages
 *                              read by process_vm_readv (many runs, one call)
 *   workers (jobs threads)     drop all-zero pages, encode each run of
 *                              contiguous pages, checksum it
 *   writer (one thread)        writes slots in the order they were read
 *
 * Slots go round a ring; each is handed on under one mutex.  Output is
 * deterministic whatever the number of workers.  A block that does not
 * shrink is stored raw, so restore spends no time on incompressible data.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/codec.h"
#include "image/crc32c.h"
#include "image/hash.h"

#define SLOT_PAGES	1024u		/* pages per slot: 4 MiB per read and handoff */
#define BLOCK_PAGES	256u		/* pages per PAGES section at most */
#define SLOT_IOV	256		/* runs per slot, per process_vm_readv */

enum { FREE, FILLED, WORKING, DONE };

struct out {
	struct ckpt_pages pg;
	const uint8_t *data;
	size_t len;
	uint32_t crc;
};

struct slot {
	int state;
	int keep_zero;			/* file mapping: a zero page is not "absent" */
	size_t npages;
	uint64_t addr[SLOT_PAGES];
	uint64_t hash[SLOT_PAGES];	/* when hashes are kept */
	uint8_t *raw;			/* npages pages */
	uint8_t *enc;			/* encoded runs, back to back */
	size_t nouts;
	struct out outs[SLOT_PAGES];
};

struct pipe {
	pthread_mutex_t lock;
	/* One wait queue per kind of waiter: a handoff wakes one thread that
	 * can use it, not all of them (broadcasts cost 15% of a dump). */
	pthread_cond_t filled_cv;	/* workers: a slot to encode */
	pthread_cond_t done_cv;		/* writer: the next slot in order */
	pthread_cond_t free_cv;		/* reader: a slot to fill */
	struct slot *slots;
	size_t nslots;
	uint64_t filled, taken, written;	/* sequence counters */
	int eof, err;
	size_t ps;
	uint32_t proc;
	const struct codec_spec *codec;
	struct img_writer *w;
	const struct track *tr;		/* HASH method: the parent's hashes */
	int hashes;			/* write HASHES sections */
};

/* Encode one run of contiguous non-zero pages into the slot. */
static int encode_run(struct pipe *pp, struct slot *s, size_t first, size_t n, size_t *encoff)
{
	struct out *o = &s->outs[s->nouts++];
	const uint8_t *raw = s->raw + first * pp->ps;
	size_t len = n * pp->ps;
	long r = -E2BIG;

	o->pg = (struct ckpt_pages){ .addr = s->addr[first], .npages = (uint32_t)n };
	if (pp->codec->codec != CKPT_CODEC_NONE)
		r = codec_encode(pp->codec, raw, len, s->enc + *encoff,
				 codec_bound(pp->codec->codec, SLOT_PAGES * pp->ps) - *encoff);
	if (r >= 0) {
		o->pg.codec = pp->codec->codec;
		o->data = s->enc + *encoff;
		o->len = (size_t)r;
		*encoff += (size_t)r;
	} else if (r == -ENOMEM) {
		return r;
	} else {
		/* Did not shrink (or the codec balked): stored as it is. */
		o->data = raw;
		o->len = len;
	}
	o->crc = crc32c(crc32c(0, &o->pg, sizeof(o->pg)), o->data, o->len);
	return 0;
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

static int process(struct pipe *pp, struct slot *s)
{
	size_t i = 0, encoff = 0;

	s->nouts = 0;
	if (pp->hashes || pp->tr->method == CKPT_DIRTY_HASH)
		for (size_t k = 0; k < s->npages; k++)
			s->hash[k] = ckpt_page_hash(s->raw + k * pp->ps, pp->ps);
	while (i < s->npages) {
		int what = kind(pp, s, i);
		size_t k;
		int ret;

		for (k = i + 1; k < s->npages && s->addr[k] == s->addr[k - 1] + pp->ps &&
		     kind(pp, s, k) == what && (what == SAME || k - i < BLOCK_PAGES); k++)
			;
		if (what == SAME) {
			struct out *o = &s->outs[s->nouts++];

			o->pg = (struct ckpt_pages){ .addr = s->addr[i], .npages = (uint32_t)(k - i),
						     .flags = CKPT_PAGES_IN_PARENT };
			o->data = NULL;
			o->len = 0;
			o->crc = crc32c(0, &o->pg, sizeof(o->pg));
		} else if (what == DATA && (ret = encode_run(pp, s, i, k - i, &encoff)) < 0) {
			return ret;
		}
		i = k;
	}
	return 0;
}

/* The hashes of every page of the slot, one section per contiguous run. */
static int write_hashes(struct pipe *pp, struct slot *s)
{
	size_t i = 0;

	while (i < s->npages) {
		struct ckpt_hashes h = { .addr = s->addr[i] };
		size_t k;
		int ret;

		for (k = i + 1; k < s->npages && s->addr[k] == s->addr[k - 1] + pp->ps; k++)
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

/* Wake one waiter of cv; everyone, on an error or at the end. */
static void wake(struct pipe *pp, pthread_cond_t *cv)
{
	if (pp->err || pp->eof) {
		pthread_cond_broadcast(&pp->filled_cv);
		pthread_cond_broadcast(&pp->done_cv);
		pthread_cond_broadcast(&pp->free_cv);
	} else {
		pthread_cond_signal(cv);
	}
}

static void *worker(void *arg)
{
	struct pipe *pp = arg;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct slot *s;
		int ret;

		while (!pp->err && pp->taken == pp->filled && !pp->eof)
			pthread_cond_wait(&pp->filled_cv, &pp->lock);
		if (pp->err || pp->taken == pp->filled)
			break;
		s = &pp->slots[pp->taken++ % pp->nslots];
		s->state = WORKING;
		pthread_mutex_unlock(&pp->lock);
		ret = process(pp, s);
		pthread_mutex_lock(&pp->lock);
		if (ret < 0 && !pp->err)
			pp->err = error_errno(ret, "cannot compress page data");
		s->state = DONE;
		wake(pp, &pp->done_cv);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

static void *writer(void *arg)
{
	struct pipe *pp = arg;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct slot *s = &pp->slots[pp->written % pp->nslots];
		int ret = 0;

		while (!pp->err && !(pp->written < pp->filled && s->state == DONE) &&
		       !(pp->eof && pp->written == pp->filled))
			pthread_cond_wait(&pp->done_cv, &pp->lock);
		if (pp->err || pp->written == pp->filled)
			break;
		pthread_mutex_unlock(&pp->lock);
		for (size_t i = 0; i < s->nouts && ret == 0; i++)
			ret = img_write_pages_crc(pp->w, pp->proc, &s->outs[i].pg, s->outs[i].data,
						  s->outs[i].len, s->outs[i].crc);
		if (ret == 0 && pp->hashes)
			ret = write_hashes(pp, s);
		pthread_mutex_lock(&pp->lock);
		if (ret < 0 && !pp->err)
			pp->err = ret;
		s->state = FREE;
		pp->written++;
		wake(pp, &pp->free_cv);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* The reader: take the next free slot (in order), or NULL on error. */
static struct slot *next_free(struct pipe *pp)
{
	struct slot *s = &pp->slots[pp->filled % pp->nslots];

	pthread_mutex_lock(&pp->lock);
	while (!pp->err && s->state != FREE)
		pthread_cond_wait(&pp->free_cv, &pp->lock);
	pthread_mutex_unlock(&pp->lock);
	return pp->err ? NULL : s;
}

static void hand_on(struct pipe *pp, struct slot *s, int err)
{
	pthread_mutex_lock(&pp->lock);
	if (err && !pp->err)
		pp->err = err;
	else if (!err) {
		s->state = FILLED;
		pp->filled++;
	}
	wake(pp, &pp->filled_cv);
	pthread_mutex_unlock(&pp->lock);
}

static int in_pass(const struct vma_pages *vp, enum page_pass pass)
{
	return pass == PASS_ALL || (pass == PASS_NOT_FORKED) == vp->frozen;
}

/* Fill slots from the runs of every VMA, BLOCK_PAGES pages at a time. */
static int read_pages(pid_t pid, struct pipe *pp, const struct img_proc *p, const struct vma_pages *vp,
		      enum page_pass pass)
{
	struct iovec local[SLOT_IOV], remote[SLOT_IOV];

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const uint8_t *copy = vp[i].copy;	/* taken while frozen, or read now */
		size_t r = 0;
		uint64_t off = 0;

		if (!in_pass(&vp[i], pass))
			continue;
		while (r < vp[i].nruns) {
			struct slot *s = next_free(pp);
			int niov = 0, ret;

			if (!s)
				return pp->err;
			if (sigguard_fired()) {
				hand_on(pp, s, -EINTR);
				return -EINTR;
			}
			s->npages = 0;
			/* Restore fills a private file mapping from the file: a page
			 * the process zeroed must be stored, zeros and all. */
			s->keep_zero = !!(p->vmas[i].d.flags & CKPT_VMA_FILE);
			while (r < vp[i].nruns && s->npages < SLOT_PAGES && niov < SLOT_IOV) {
				const struct page_run *run = &vp[i].runs[r];
				uint64_t take = MIN(run->npages - off, (uint64_t)(SLOT_PAGES - s->npages));
				uint64_t a = run->addr + off * pp->ps;

				local[niov] = (struct iovec){ s->raw + s->npages * pp->ps, take * pp->ps };
				remote[niov++] = (struct iovec){ (void *)(uintptr_t)a, take * pp->ps };
				if (copy) {
					memcpy(local[niov - 1].iov_base, copy, take * pp->ps);
					copy += take * pp->ps;
				}
				for (uint64_t k = 0; k < take; k++)
					s->addr[s->npages++] = a + k * pp->ps;
				off += take;
				if (off == run->npages) {
					r++;
					off = 0;
				}
			}
			ret = vp[i].copy ? 0 : mem_readv(pid, local, niov, remote, niov);
			if (ret < 0)
				ret = error_errno(ret, "cannot read memory at %#lx", (unsigned long)s->addr[0]);
			hand_on(pp, s, ret);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
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

int dump_write_pages(pid_t pid, uint32_t idx, const struct img_proc *p,
		     const struct vma_pages *vp, struct img_writer *w,
		     const struct codec_spec *codec, int jobs, const struct track *tr, int hashes,
		     enum page_pass pass)
{
	struct pipe pp = {
		.lock = PTHREAD_MUTEX_INITIALIZER, .filled_cv = PTHREAD_COND_INITIALIZER,
		.done_cv = PTHREAD_COND_INITIALIZER, .free_cv = PTHREAD_COND_INITIALIZER,
		.ps = (size_t)getpagesize(), .proc = idx, .codec = codec, .w = w,
		.tr = tr, .hashes = hashes,
	};
	pthread_t *workers, wr;
	int nw = jobs > 0 ? jobs : 1, started = 0, ret;

	pp.nslots = (size_t)nw * 2 + 2;
	pp.slots = xzalloc(pp.nslots * sizeof(*pp.slots));
	for (size_t i = 0; i < pp.nslots; i++) {
		pp.slots[i].raw = xmalloc(SLOT_PAGES * pp.ps);
		if (codec->codec != CKPT_CODEC_NONE)
			pp.slots[i].enc = xmalloc(codec_bound(codec->codec, SLOT_PAGES * pp.ps));
	}
	workers = xmalloc((size_t)nw * sizeof(*workers));
	for (; started < nw; started++)
		if (pthread_create(&workers[started], NULL, worker, &pp))
			break;
	if (!started || pthread_create(&wr, NULL, writer, &pp)) {
		pp.err = error("cannot start threads");
		wake(&pp, &pp.filled_cv);
		for (int i = 0; i < started; i++)
			pthread_join(workers[i], NULL);
		ret = pp.err;
		goto out;
	}
	ret = read_pages(pid, &pp, p, vp, pass);
	pthread_mutex_lock(&pp.lock);
	pp.eof = 1;
	if (ret < 0 && !pp.err)
		pp.err = ret;
	wake(&pp, &pp.filled_cv);
	pthread_mutex_unlock(&pp.lock);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	pthread_join(wr, NULL);
	ret = pp.err;
	if (ret == 0 && pass != PASS_NOT_FORKED)
		ret = write_same(w, idx, p, vp);
out:
	for (size_t i = 0; i < pp.nslots; i++) {
		free(pp.slots[i].raw);
		free(pp.slots[i].enc);
	}
	free(pp.slots);
	free(workers);
	return ret;
}
