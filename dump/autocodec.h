/*
 * --compress auto: which blocks are compressed (dump/autocodec.c).  The
 * page pipeline (dump/pagewrite.c) asks before each block and tells it
 * who waited for whom; everything is called under the pipeline's lock.
 */
#ifndef CKPT_AUTOCODEC_H
#define CKPT_AUTOCODEC_H

#include <stddef.h>
#include <stdint.h>

struct autocodec {
	unsigned level;		/* share of blocks compressed, in 1/AUTO_LEVELS */
	unsigned acc;		/* spreads that share evenly over the blocks */
	unsigned gain;		/* stored/raw of recent compressed blocks, in 1/1024 */
	unsigned skipped;	/* blocks since the last one tried (poor gain) */
	int writer_last;	/* the last to wait was the writer */
	uint64_t blocks, compressed, sampled, writer_waits, worker_waits;
};

enum auto_choice {
	AUTO_RAW,
	AUTO_COMPRESS,
	AUTO_SAMPLE,		/* raw, but compress a sample and tell the outcome */
};

void autocodec_init(struct autocodec *a);
/* How the next block is stored; ready: slots of the ring's nslots that
 * are done and wait to be written; fresh: the block starts a mapping. */
enum auto_choice autocodec_choose(struct autocodec *a, size_t ready, size_t nslots, int fresh);
/* The writer found the next block not ready: the workers are behind. */
void autocodec_writer_waited(struct autocodec *a);
/* A worker found no free slot: the writer is behind. */
void autocodec_worker_waited(struct autocodec *a);
/* A compressed block's (or a sample's) data: raw bytes in, stored out. */
void autocodec_outcome(struct autocodec *a, size_t raw, size_t stored);
/* -v: what it chose and why (a debug line). */
void autocodec_report(const struct autocodec *a);

#endif
