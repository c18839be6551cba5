/*
 * --compress auto's compressors (dump/autocodec.c says why): threads of
 * the lowest priority that compress the blocks waiting in the page
 * pipeline's ring (dump/pagewrite.c) into a second form beside the raw
 * one, which the writer takes if it is complete when it gets there.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/util.h"
#include "dump/pagepipe.h"

/*
 * --compress auto: the newest slot that waits to be written and no
 * compressor has tried, or NULL.  The newest leaves a compressor the
 * most time before the writer gets there; the one it writes (written)
 * and the next are not even tried, nor a compressor woken for them: a
 * writer that keeps up with the workers finds each slot there, just read.
 * Under the lock.
 */
struct slot *pagepack_pick(struct pipe *pp)
{
	for (uint64_t q = pp->filled; q > pp->written + 2; q--) {
		struct slot *s = pp->ring[(q - 1) % pp->nslots];

		if (s->state == DONE && !s->taken && !s->tried)
			return s;
	}
	return NULL;
}

/* Whether block o is raw page data (what a compressor works on). */
static int raw_data(const struct img_block *o)
{
	return o->data && o->pg.codec == CKPT_CODEC_NONE && !(o->pg.flags & CKPT_PAGES_IN_PARENT);
}

/*
 * Compress slot s's raw blocks into s->couts, a chunk at a time, until
 * done (s->packed), the writer has it (s->taken: it writes the raw form),
 * or the recent chunks did not shrink (a probe's first).  Called and
 * returns under the lock, which it drops meanwhile: the writer only reads
 * outs and raw, which nobody changes while the slot is DONE.  Between
 * chunks it looks at s->taken without the lock: a thread of the lowest
 * priority that holds the lock can be kept off the CPU holding it, and
 * the workers and the writer would wait for it.
 */
static void pack(struct pipe *pp, struct slot *s)
{
	struct autocodec ac = pp->ac;	/* gain: this slot's chunks count */
	size_t i = 0, off = 0;
	int ret = 0;

	s->comp = 1;
	s->ncouts = s->encoff = 0;
	pthread_mutex_unlock(&pp->lock);
	while (!__atomic_load_n(&s->taken, __ATOMIC_RELAXED) && i < s->nouts) {
		const struct img_block *o = &s->outs[i];
		struct img_block *c = &s->couts[s->ncouts];
		size_t n;

		if (!raw_data(o)) {
			*c = *o;
			s->ncouts++;
			i++;
			continue;
		}
		n = MIN((size_t)CHUNK_PAGES, o->pg.npages - off);
		ret = page_encode_block(pp, s, c, (const uint8_t *)o->data + off * pp->ps,
					o->pg.addr + off * pp->ps, n);
		if (ret < 0)
			break;		/* (no memory for zstd's context) raw, then */
		s->ncouts++;
		autocodec_outcome(&ac, n * pp->ps, c->len);
		if ((off += n) == o->pg.npages) {
			i++;
			off = 0;
		}
		/* (a probe, or random data after text): not worth finishing */
		if (autocodec_poor(&ac))
			break;
	}
	pthread_mutex_lock(&pp->lock);
	pp->ac.gain = ac.gain;
	pp->ac.skipped = autocodec_poor(&ac) ? pp->ac.skipped : 0;
	s->comp = 0;
	if (s->taken)
		pp->ac.late++;
	else if (i == s->nouts && ret == 0 && !pp->err)
		s->packed = 1;
	if (s->orphan) {
		s->orphan = 0;
		pp->spare[pp->nspare++] = s;
	}
}

/* --compress auto: compress slots waiting to be written while there are
 * any, until the writer is done. */
void *pagepack_thread(void *arg)
{
	struct pipe *pp = arg;

	/* CPU time the workers and the writer do not want, only: they are
	 * the dump's pace.  A SCHED_IDLE thread is preempted at once when
	 * one of them wakes (sched(7); a nice 19 one may run out its slice
	 * first), and an unprivileged thread may enter the class.  (With
	 * autogroup, the classes rank the threads of this session only.)
	 * Failing both, it still never makes the writer wait. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &(struct sched_param){ 0 }))
		setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct slot *s = NULL;

		while (!pp->err && !pp->closed && !(s = pagepack_pick(pp)))
			pthread_cond_wait(&pp->comp_cv, &pp->lock);
		if (!s)
			break;
		s->tried = 1;
		if (autocodec_choose(&pp->ac) != AUTO_PASS)
			pack(pp, s);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}
