/*
 * --compress auto's compressors (dump/autocodec.c says why): threads of
 * the lowest priority that compress the blocks waiting in the page
 * pipeline's ring (dump/pagewrite.c) into a second form beside the raw
 * one, which the writer takes if it is complete when it gets there.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/pagepipe.h"

static uint64_t cs(uint64_t seq, unsigned state)
{
	return seq << CS_BITS | state;
}

static void futex_wake(uint32_t *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* (under the lock: the worker's; no compressor takes it) */
void pagepack_ready(struct pipe *pp, struct slot *s)
{
	__atomic_store_n(&s->cst, cs(s->seq, CS_READY), __ATOMIC_RELEASE);
	/* the one it writes (written) and the next are not even tried, nor
	 * a compressor woken for them: a writer that keeps up with the
	 * workers finds each slot there, just read */
	if (s->seq <= pp->written + 1)
		return;
	/* seq_cst both sides: a compressor counts itself waiting, then
	 * sleeps only if comp_gen is unchanged; we bump, then look */
	__atomic_add_fetch(&pp->comp_gen, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pp->comp_waiting, __ATOMIC_SEQ_CST))
		futex_wake(&pp->comp_gen, 1);
}

void pagepack_gate(struct pipe *pp, int open)
{
	__atomic_store_n(&pp->gate, (uint32_t)open, __ATOMIC_SEQ_CST);
	/* (as pagepack_ready: compressors that wait on comp_gen may go) */
	if (open) {
		__atomic_add_fetch(&pp->comp_gen, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&pp->comp_waiting, __ATOMIC_SEQ_CST))
			futex_wake(&pp->comp_gen, 1 << 30);
	}
}

/* Whether the writer sleeps: its state in "pid (comm) S ..." (proc(5)),
 * R while it runs or waits for a CPU.  (Unreadable: as if it slept, the
 * compressors' way before the gate; so is -1, the writer not yet at its
 * open: writer_stat is published atomically by the writer thread.) */
static int writer_sleeps(const struct pipe *pp)
{
	char b[96];
	ssize_t n = pread(__atomic_load_n(&pp->writer_stat, __ATOMIC_ACQUIRE), b, sizeof(b) - 1, 0);
	const char *p;

	if (n <= 0)
		return 1;
	b[n] = 0;
	p = strrchr(b, ')');
	return !p || p[1] != ' ' || p[2] != 'R';
}

/*
 * Gated: a compressor may work while the writer writes a slot and sleeps
 * in doing so: it waits for the reader.  A reader as fast as ckpt keeps
 * the writer running, and the compressors (its equals, in the forked
 * dump's first 3 s) had taken half its CPU: 1.5x none's time to `| cat`
 * in one busy pair (streamauto).  Looked at before each chunk (~0.3 ms of
 * lz4): the writer may wake meanwhile, for that long at most.
 */
static int gate_open(const struct pipe *pp)
{
	return !pp->gated || (__atomic_load_n(&pp->gate, __ATOMIC_ACQUIRE) && writer_sleeps(pp));
}

#define GATE_NAP_NS	1000000		/* a look a ms while the writer runs */

static void nap(void)
{
	nanosleep(&(struct timespec){ 0, GATE_NAP_NS }, NULL);
}

void pagepack_stop(struct pipe *pp)
{
	__atomic_store_n(&pp->comp_stop, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&pp->comp_gen, 1, __ATOMIC_SEQ_CST);
	futex_wake(&pp->comp_gen, 1 << 30);
}

int pagepack_take(struct pipe *pp, struct slot *s, int *orphan)
{
	uint64_t was = __atomic_exchange_n(&s->cst, cs(s->seq, CS_TAKEN), __ATOMIC_ACQ_REL);

	(void)pp;
	*orphan = was == cs(s->seq, CS_PACKING);
	return was == cs(s->seq, CS_PACKED);
}

struct slot *pagepack_spare(struct pipe *pp)
{
	for (size_t k = 0; k < pp->nspare; k++) {
		struct slot *s = __atomic_exchange_n(&pp->spare[k], NULL, __ATOMIC_ACQUIRE);

		if (s)
			return s;
	}
	return NULL;	/* (cannot be: see struct pipe) */
}

/* A slot left to this compressor goes back among the spares.  The writer
 * that left it (TAKEN while PACKING) takes a spare only after its
 * exchange: until then every entry can be full, and a slot dropped here
 * would be a spare less for good ("no spare page slot" at a later orphan;
 * reviewer).  So wait for the entry it frees: the writer is between two
 * statements, and this thread is SCHED_IDLE, so its yields cost nobody. */
static void give_back(struct pipe *pp, struct slot *s)
{
	for (;;) {
		for (size_t k = 0; k < pp->nspare; k++) {
			struct slot *none = NULL;

			if (__atomic_compare_exchange_n(&pp->spare[k], &none, s, 0,
							__ATOMIC_RELEASE, __ATOMIC_RELAXED))
				return;
		}
		sched_yield();
	}
}

/*
 * Claim the newest slot that waits to be written and no compressor has
 * tried (CAS READY -> PACKING), or NULL.  The newest leaves a compressor
 * the most time before the writer gets there.  No lock: the counters and
 * the ring may move meanwhile, and the slot's cst, which carries its seq,
 * says whether it is still the one looked for.
 */
static struct slot *claim(struct pipe *pp, uint64_t *seq)
{
	uint64_t filled = __atomic_load_n(&pp->filled, __ATOMIC_ACQUIRE);
	uint64_t written = __atomic_load_n(&pp->written, __ATOMIC_ACQUIRE);

	for (uint64_t q = filled; q > written + 2; q--) {
		struct slot *s = __atomic_load_n(&pp->ring[(q - 1) % pp->nslots], __ATOMIC_ACQUIRE);
		uint64_t want = cs(q - 1, CS_READY);

		if (__atomic_load_n(&s->cst, __ATOMIC_RELAXED) == want &&
		    __atomic_compare_exchange_n(&s->cst, &want, cs(q - 1, CS_PACKING), 0,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			*seq = q - 1;
			return s;
		}
	}
	return NULL;
}

/* The compressor is done with slot seq: to state (PACKED or RAW) if the
 * writer has not taken it meanwhile; else it was written raw and left
 * the ring, and comes back as a spare.  1 if it was too late. */
static int release(struct pipe *pp, struct slot *s, uint64_t seq, unsigned state)
{
	uint64_t mine = cs(seq, CS_PACKING);

	if (__atomic_compare_exchange_n(&s->cst, &mine, cs(seq, state), 0, __ATOMIC_RELEASE,
					__ATOMIC_ACQUIRE))
		return 0;
	give_back(pp, s);
	return 1;
}
/* Whether block o is raw page data (what a compressor works on). */
static int raw_data(const struct img_block *o)
{
	return o->data && o->pg.codec == CKPT_CODEC_NONE && !(o->pg.flags & CKPT_PAGES_IN_PARENT);
}

/*
 * Compress slot s's raw blocks into s->couts, a chunk at a time, until
 * done, the recent chunks did not shrink (a probe's first), or, with cst,
 * the word stops being mine (the writer took the slot).  The writer only
 * reads outs and raw, which nobody changes meanwhile; the couts it reads
 * only once told they are complete.  1 if they are.
 */
static int encode_chunks(struct pipe *pp, struct slot *s, struct autocodec *ac, const uint64_t *cst,
			 uint64_t mine)
{
	size_t i = 0, off = 0;
	int ret = 0;

	s->ncouts = s->encoff = 0;
	while ((!cst || __atomic_load_n(cst, __ATOMIC_RELAXED) == mine) && i < s->nouts &&
	       !__atomic_load_n(&pp->err, __ATOMIC_RELAXED)) {
		const struct img_block *o = &s->outs[i];
		struct img_block *c = &s->couts[s->ncouts];
		size_t n;

		/* (until the writer sleeps again, or takes this slot raw) */
		if (!gate_open(pp)) {
			nap();
			continue;
		}

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
		autocodec_outcome(ac, n * pp->ps, c->len);
		if ((off += n) == o->pg.npages) {
			i++;
			off = 0;
		}
		/* (a probe, or random data after text): not worth finishing */
		if (autocodec_poor(ac))
			break;
	}
	return i == s->nouts && ret == 0;
}

/* Compress slot seq for the writer: PACKED if complete before it gets
 * there, else RAW (or too late: it was written raw). */
static void pack(struct pipe *pp, struct slot *s, uint64_t seq, struct autocodec *ac)
{
	uint64_t mine = cs(seq, CS_PACKING);
	int done = encode_chunks(pp, s, ac, &s->cst, mine);

	if (release(pp, s, seq, done ? CS_PACKED : CS_RAW))
		ac->late++;
}

/*
 * A file's disk is behind when the blocks written (to the page cache)
 * are this far past what the write-behind saw reach the disk: the
 * workers write faster than it takes the data, and will wait for it
 * (at the end's fsync if not before); a CPU compressing meanwhile makes
 * less for it to take.  On a disk that keeps up (and in the page cache,
 * --no-sync: nothing pushed) the gap stays under two 8 MiB chunks of the
 * write-behind, and nothing is compressed: the dump is none's.  Past it,
 * compressing slows the workers until the gap closes again: the mix of
 * raw and compressed blocks follows what the CPUs and the disk can do.
 */
#define BEHIND_BYTES	(32ull << 20)

void pagepack_direct_report(const struct pipe *pp)
{
	debug("--compress auto: the disk was behind the workers by %llu MiB at most (blocks "
	      "compressed past %llu MiB)", (unsigned long long)(pp->behind_max >> 20),
	      BEHIND_BYTES >> 20);
}

int pagepack_direct(struct pipe *pp, struct slot *s, struct autocodec *ac)
{
	uint64_t upto = __atomic_load_n(&pp->upto, __ATOMIC_RELAXED);
	uint64_t done = __atomic_load_n(&pp->disk_done, __ATOMIC_RELAXED);
	uint64_t gap = done == UINT64_MAX || upto < done ? 0 : upto - done;

	if (gap > __atomic_load_n(&pp->behind_max, __ATOMIC_RELAXED))	/* (for -v) */
		__atomic_store_n(&pp->behind_max, gap, __ATOMIC_RELAXED);
	if (gap < BEHIND_BYTES || autocodec_choose(ac) == AUTO_PASS)
		return 0;
	return encode_chunks(pp, s, ac, NULL, 0);
}

void pagepack_count(struct pipe *pp, const struct autocodec *ac)
{
	__atomic_add_fetch(&pp->ac.taken, ac->taken, __ATOMIC_RELAXED);
	if (ac->packed)		/* (the writer counts those of compressors) */
		__atomic_add_fetch(&pp->ac.packed, ac->packed, __ATOMIC_RELAXED);
	__atomic_add_fetch(&pp->ac.late, ac->late, __ATOMIC_RELAXED);
	__atomic_add_fetch(&pp->ac.passed, ac->passed, __ATOMIC_RELAXED);
	if (ac->gain)
		__atomic_store_n(&pp->ac.gain, ac->gain, __ATOMIC_RELAXED);
}

/* --compress auto: compress slots waiting to be written while there are
 * any, until pagepack_stop(). */
void *pagepack_thread(void *arg)
{
	struct pipe *pp = arg;
	struct autocodec ac;

	/* CPU time the workers and the writer do not want, only: they are
	 * the dump's pace.  A SCHED_IDLE thread is preempted at once when
	 * one of them wakes (sched(7); a nice 19 one may run out its slice
	 * first), and an unprivileged thread may enter the class.  (With
	 * autogroup, the classes rank the threads of this session only.)
	 * Where the writer is SCHED_IDLE itself (a forked dump's first
	 * seconds) these are its equals: dump_write_pages() starts them
	 * then only for a pipe or a socket, where the writer sleeps in
	 * write(2), and they work only while it does (gate_open).  Failing
	 * both, it still never makes the writer wait. */
	int idle = !pthread_setschedparam(pthread_self(), SCHED_IDLE, &(struct sched_param){ 0 });

	if (!idle)
		setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	autocodec_init(&ac);
	for (;;) {
		uint32_t gen = __atomic_load_n(&pp->comp_gen, __ATOMIC_SEQ_CST);
		struct slot *s;
		uint64_t seq;

		/* the forked dump's grace over, dump/dump.c leave_idle() moved
		 * every SCHED_IDLE thread of ckpt to nice 10, this one too:
		 * back below the writer, which is there now */
		if (idle && sched_getscheduler(0) != SCHED_IDLE)
			pthread_setschedparam(pthread_self(), SCHED_IDLE, &(struct sched_param){ 0 });
		if (__atomic_load_n(&pp->comp_stop, __ATOMIC_SEQ_CST) ||
		    __atomic_load_n(&pp->err, __ATOMIC_RELAXED))
			break;
		/* gated: the writer writes, and runs: look again soon */
		if (__atomic_load_n(&pp->gate, __ATOMIC_ACQUIRE) && !gate_open(pp)) {
			nap();
			continue;
		}
		if (!(s = (!pp->gated || __atomic_load_n(&pp->gate, __ATOMIC_ACQUIRE)) ?
				  claim(pp, &seq) : NULL)) {
			__atomic_add_fetch(&pp->comp_waiting, 1, __ATOMIC_SEQ_CST);
			syscall(SYS_futex, &pp->comp_gen, FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
			__atomic_sub_fetch(&pp->comp_waiting, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (autocodec_choose(&ac) == AUTO_PASS)
			release(pp, s, seq, CS_RAW);
		else
			pack(pp, s, seq, &ac);
	}
	/* what it did, for -v (autocodec_report) */
	pagepack_count(pp, &ac);
	return NULL;
}
