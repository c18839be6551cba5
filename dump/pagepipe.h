/*
 * The page pipeline's slots and ring (dump/pagewrite.c), shared with
 * --compress auto's compressors (dump/pagepack.c).
 */
#ifndef CKPT_PAGEPIPE_H
#define CKPT_PAGEPIPE_H

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "dump/autocodec.h"
#include "dump/dump.h"
#include "image/blockmac.h"
#include "image/codec.h"
#include "image/image.h"

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

/*
 * --compress auto: where a slot is between the compressors and the
 * writer, in its atomic cst with the slot's seq above (seq << CS_BITS | CS_*):
 * no lock is taken for it, so that no thread of the compressors' lowest
 * priority ever holds one the writer or a worker waits for (a thread of
 * ckpt's session, `ckpt run`'s job for one, can keep it off the CPU).
 */
enum {
	CS_READY = 1,	/* DONE: a compressor may claim it (CAS) */
	CS_PACKING,	/* claimed: a compressor is at it */
	CS_PACKED,	/* couts complete: the writer writes those */
	CS_RAW,		/* passed over or given up: raw */
	CS_TAKEN,	/* the writer has it (exchange): too late to compress */
};
#define CS_BITS		3
#define CS_MASK		((1u << CS_BITS) - 1)

static_assert(SLOT_PAGES <= IMG_BATCH_MAX, "a slot's blocks fit in one placed batch");

struct slot {
	int state;
	int keep_zero;			/* file mapping: a zero page is not "absent" */
	int plain;			/* no codec for this slot's runs */
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
	/* --compress auto: the compressed form, beside the raw one (outs) */
	uint64_t cst;			/* seq << CS_BITS | CS_*, atomic */
	size_t ncouts;
	struct img_block *couts;	/* COUTS of them */
	int packed;			/* direct: couts are what is placed */
	uint64_t seq;			/* in the order slots are listed */
	struct img_batch *bt;		/* direct: its blocks as placed */
	uint64_t end;			/* direct: where they end in the file */
};

/* --compress auto compresses a slot's runs a chunk at a time (each its
 * own block), so that it can stop when the writer gets there; lz4's
 * window is 64 KiB, so the chunks shrink as much as whole runs would. */
#define CHUNK_PAGES	64u
#define COUTS		(SLOT_PAGES + SLOT_PAGES / CHUNK_PAGES)

struct pipe {
	pthread_mutex_t lock;
	/* One wait queue per kind of waiter: a handoff wakes one thread that
	 * can use it, not all of them (broadcasts cost 15% of a dump). */
	pthread_cond_t done_cv;		/* writer: the next slot in order */
	pthread_cond_t free_cv;		/* workers: a slot to fill */
	pthread_cond_t place_cv;	/* direct: the slot before placed */
	struct slot **ring;		/* nslots of them, in the order written */
	size_t nslots;
	/* --compress auto: a slot the writer is done with while a compressor
	 * is still at it leaves the ring for the compressor to give back
	 * here, and one of these takes its place: nspare (one per
	 * compressor) entries, NULL or a slot, exchanged atomically.  Spares
	 * and slots still to give back are nspare in all, and a compressor
	 * holds one slot at a time: the writer always finds one. */
	struct slot **spare;
	size_t nspare;
	uint64_t filled, written;	/* sequence counters (atomic stores) */
	int eof, err;
	/* compressors wait on comp_gen (a futex), bumped by a slot made
	 * ready; comp_waiting of them; comp_stop: the writer is done */
	uint32_t comp_gen;
	int comp_waiting;
	int comp_stop;
	/* gated: the writer is SCHED_IDLE (a forked dump's first 3 s) and
	 * the compressors are its equals: they run only while it sleeps in
	 * write(2) for the reader (pagepack_gate); gate: 1 while it writes a
	 * slot; writer_stat: its /proc/thread-self/stat, or -1 (opened by
	 * the writer while compressors may read it: __atomic loads/stores) */
	int gated;
	uint32_t gate;
	int writer_stat;
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
	uint8_t *own;			/* the workers' own MiBs, or NULL */
	size_t nown;			/* taken so far, one per worker */
	uint64_t ahead;			/* slots written before an earlier one */
	/* --compress auto, direct: a worker compresses the slot it read
	 * while the disk is behind (pagepack_direct); disk_done: bytes the
	 * write-behind saw on the disk (img_writer_on_disk), atomic */
	int packing;
	uint64_t disk_done;
	uint64_t behind_max;		/* the largest gap seen (-v), atomic */
	/* CKPT_PAGES_ORDER=swapped (tests): each even slot is written only
	 * after the odd one after it (2 workers or more) */
	int swap;
};

/* Encode n contiguous pages of the slot's, at raw (addr in the process),
 * into block o, with the slot's encoding room (pagewrite.c). */
int page_encode_block(struct pipe *pp, struct slot *s, struct img_block *o, const uint8_t *raw,
		      uint64_t addr, size_t n);

/* --compress auto (pagepack.c): a compressor thread's body, until
 * pagepack_stop(). */
void *pagepack_thread(void *arg);
/* Slot s (DONE, under the lock) may be compressed now: a waiting
 * compressor is woken when it is far enough from the writer. */
void pagepack_ready(struct pipe *pp, struct slot *s);
/* Gated: the writer starts (open 1) or ends (0) writing a slot. */
void pagepack_gate(struct pipe *pp, int open);
/* The writer is done (or failed): compressors stop at their next chunk. */
void pagepack_stop(struct pipe *pp);
/* The writer's: which form of slot s to write (1: couts), and whether
 * a compressor still reads it (*orphan: the slot leaves the ring). */
int pagepack_take(struct pipe *pp, struct slot *s, int *orphan);
/* The writer's, under the lock: a spare slot for one left to a compressor. */
struct slot *pagepack_spare(struct pipe *pp);
/* Direct (no writer thread, no compressors): the worker that read slot s
 * compresses it into couts if the disk is behind and the data shrinks;
 * 1 if it did (place couts). */
int pagepack_direct(struct pipe *pp, struct slot *s, struct autocodec *ac);
/* -v: how far behind the disk was. */
void pagepack_direct_report(const struct pipe *pp);
/* A thread's counts, added to pp->ac's for -v. */
void pagepack_count(struct pipe *pp, const struct autocodec *ac);

#endif
