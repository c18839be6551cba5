/*
 * Page data into the stub process: the caller's thread reads and checks
 * each PAGES section (CRC, fits its mapping), hands the buffer to a worker
 * (no copy: buffers are swapped with the reader's), and workers decode and
 * write it with process_vm_writev while the stub waits at its fill trap
 * with its mappings writable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/killpoint.h"
#include "common/progress.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "image/check.h"
#include "image/codec.h"
#include "ptrace/tracee.h"
#include "restore/ranges.h"
#include "restore/restore.h"

struct fslot {
	int busy;
	int borrowed;		/* buf points into the reader's mapping */
	uint8_t *buf;		/* holds the section's payload */
	const uint8_t *payload;	/* in buf: struct ckpt_pages + data */
	size_t cap, len;
};

struct fill {
	pthread_mutex_t lock;
	pthread_cond_t work_cv;		/* workers: a filled slot */
	pthread_cond_t free_cv;		/* reader: its next slot is free */
	struct fslot *slots;
	size_t nslots, filled, taken;
	int eof, err;
	pid_t pid;
	size_t ps;
	const struct ranges *only;	/* parent images: only these pages */
};

static int apply(struct fill *f, const uint8_t *payload, size_t len, uint8_t **raw)
{
	struct ckpt_pages pg;
	size_t rawlen;
	int ret;

	memcpy(&pg, payload, sizeof(pg));
	rawlen = (size_t)pg.npages * f->ps;
	payload += sizeof(pg);
	len -= sizeof(pg);
	if (pg.codec != CKPT_CODEC_NONE) {
		if (!*raw)
			*raw = xmalloc(CKPT_MAX_BLOCK);
		ret = codec_decode(pg.codec, payload, len, *raw, rawlen);
		if (ret < 0)
			return error("image is corrupted: %s page data at %#lx does not decode",
				     codec_name(pg.codec), (unsigned long)pg.addr);
		payload = *raw;
	}
	if (!f->only) {
		ret = mem_write(f->pid, pg.addr, payload, rawlen);
		if (ret < 0)
			return error_errno(ret, "cannot write memory at %#lx", (unsigned long)pg.addr);
		return 0;
	}
	/* From a parent: just the pages the newer images left to it. */
	for (uint64_t a = pg.addr; ; ) {
		struct range r;

		if (!ranges_next(f->only, a, pg.addr + rawlen, &r))
			break;
		ret = mem_write(f->pid, r.start, payload + (r.start - pg.addr), r.end - r.start);
		if (ret < 0)
			return error_errno(ret, "cannot write memory at %#lx", (unsigned long)r.start);
		a = r.end;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct fill *f = arg;
	uint8_t *raw = NULL;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct fslot *s;
		int ret;

		while (!f->err && f->taken == f->filled && !f->eof)
			pthread_cond_wait(&f->work_cv, &f->lock);
		if (f->err || f->taken == f->filled)
			break;
		s = &f->slots[f->taken++ % f->nslots];
		pthread_mutex_unlock(&f->lock);
		ret = apply(f, s->payload, s->len, &raw);
		pthread_mutex_lock(&f->lock);
		if (ret < 0 && !f->err)
			f->err = ret;
		s->busy = 0;
		/* the reader, if it waits for this very slot; all on error */
		if (f->err)
			pthread_cond_broadcast(&f->work_cv);
		pthread_cond_signal(&f->free_cv);
	}
	pthread_mutex_unlock(&f->lock);
	free(raw);
	return NULL;
}

/* Before a section is handed to a worker (restore.h).  The checks are
 * ckpt verify's (image/check.c), without decoding: the workers decode. */
int pages_check(const struct img *img, const struct ckpt_section *s, const void *payload,
		uint64_t at, const struct ranges *only, struct ranges *later)
{
	struct ckpt_pages pg;
	struct range r;
	uint64_t end;
	int ret;

	if ((ret = img_check_section(img, s, payload, at, 0)) < 0)
		return ret;
	if (s->type == CKPT_SEC_HASHES)
		return 0;
	memcpy(&pg, payload, sizeof(pg));
	/* Inside a mapping: no wrap past 2^64. */
	end = pg.addr + (uint64_t)pg.npages * img->h.page_size;
	if (!only) {
		if (!(pg.flags & CKPT_PAGES_IN_PARENT))
			return 1;
		ranges_add(later, pg.addr, end);
		return 0;
	}
	/* A parent: only what the newer images left to it. */
	if (!ranges_next(only, pg.addr, end, &r))
		return 0;
	if (!(pg.flags & CKPT_PAGES_IN_PARENT))
		return 1;
	for (uint64_t a = pg.addr; ranges_next(only, a, end, &r); a = r.end)
		ranges_add(later, r.start, r.end);
	return 0;
}

/* What a checked block puts into the process (for a parent: what only wants). */
static uint64_t block_bytes(const void *payload, const struct ranges *only, uint32_t ps)
{
	struct ckpt_pages pg;
	uint64_t n = 0, end;
	struct range rg;

	memcpy(&pg, payload, sizeof(pg));
	end = pg.addr + (uint64_t)pg.npages * ps;
	if (!only)
		return end - pg.addr;
	for (uint64_t a = pg.addr; ranges_next(only, a, end, &rg); a = rg.end)
		n += rg.end - rg.start;
	return n;
}

int pages_fill(struct img_stream *in, const struct img *img, pid_t pid, uint32_t proc,
	       const struct ranges *only, struct ranges *later)
{
	struct img_reader *r = in->r;
	struct ckpt_section *s = &in->s;
	struct fill f = {
		.lock = PTHREAD_MUTEX_INITIALIZER, .work_cv = PTHREAD_COND_INITIALIZER,
		.free_cv = PTHREAD_COND_INITIALIZER,
		.pid = pid, .ps = img->h.page_size, .only = only,
	};
	int nw = (int)MAX(1, MIN(16, sysconf(_SC_NPROCESSORS_ONLN))), started = 0, ret = 0;
	pthread_t workers[16];

	f.nslots = (size_t)nw * 2 + 2;
	f.slots = xzalloc(f.nslots * sizeof(*f.slots));
	for (; started < nw; started++)
		if (pthread_create(&workers[started], NULL, worker, &f))
			break;
	/* A tree's image holds each process's page data in turn. */
	while (in->have > 0 && started && s->proc >= proc) {
		struct fslot *sl = &f.slots[f.filled % f.nslots];

		if (s->proc != proc)
			break;
		/* (restore.c says the interruption) */
		ret = sigguard_fired() ? -EINTR : pages_check(img, s, in->payload, r->at, only, later);
		if (ret == 0) {
			in->have = img_read_section(r, s, &in->payload);
			continue;
		}
		killpoint("restore: a block of pages");
		pthread_mutex_lock(&f.lock);
		while (!f.err && sl->busy)
			pthread_cond_wait(&f.free_cv, &f.lock);
		if (ret < 0 && !f.err)
			f.err = ret;
		if (f.err) {
			pthread_mutex_unlock(&f.lock);
			break;
		}
		pthread_mutex_unlock(&f.lock);
		/* A mapped image's payloads stay where they are: hand over the
		 * pointer; else swap buffers with the reader (no copy either). */
		if (img_reader_payloads_stable(r)) {
			if (!sl->borrowed)
				free(sl->buf);
			sl->buf = in->payload;
			sl->borrowed = 1;
		} else {
			if (sl->borrowed)
				sl->buf = NULL, sl->cap = 0;
			sl->borrowed = 0;
			/* the payload need not start the buffer (PAGES_ALIGNED) */
			img_reader_swap_buf(r, &sl->buf, &sl->cap);
		}
		sl->payload = in->payload;
		sl->len = (size_t)s->size;
		progress_add(block_bytes(in->payload, only, f.ps));
		pthread_mutex_lock(&f.lock);
		sl->busy = 1;
		f.filled++;
		pthread_cond_signal(&f.work_cv);
		pthread_mutex_unlock(&f.lock);
		in->have = img_read_section(r, s, &in->payload);
	}
	pthread_mutex_lock(&f.lock);
	f.eof = 1;
	if (in->have < 0 && !f.err)
		f.err = in->have;
	if (in->have > 0 && s->proc < proc && !f.err)
		f.err = error("image is corrupted: page data of process %u after that of process %u",
			      s->proc, proc);
	if (!started && !f.err)
		f.err = error("cannot start threads");
	pthread_cond_broadcast(&f.work_cv);
	pthread_mutex_unlock(&f.lock);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	ret = f.err;
	for (size_t i = 0; i < f.nslots; i++)
		if (!f.slots[i].borrowed)
			free(f.slots[i].buf);
	free(f.slots);
	return ret;
}
