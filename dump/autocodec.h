/*
 * --compress auto: which blocks are compressed (dump/autocodec.c).  The
 * page pipeline (dump/pagewrite.c) asks when a compressor takes a block
 * that waits to be written; each compressor has its own (no lock).
 */
#ifndef CKPT_AUTOCODEC_H
#define CKPT_AUTOCODEC_H

#include <stddef.h>
#include <stdint.h>

struct autocodec {
	unsigned gain;		/* stored/raw of recent compressed chunks, in 1/1024 */
	unsigned skipped;	/* blocks passed over since the last probe */
	uint64_t taken;		/* blocks a compressor took */
	uint64_t packed;	/* ... written compressed */
	uint64_t late;		/* ... the writer reached first: written raw */
	uint64_t passed;	/* blocks not tried: recent data did not shrink */
};

enum auto_choice {
	AUTO_PASS,		/* leave it raw */
	AUTO_PROBE,		/* compress its first chunk; on only if it shrinks */
	AUTO_COMPRESS,
};

void autocodec_init(struct autocodec *a);
/* A compressor is free and a block waits to be written: what to do with it. */
enum auto_choice autocodec_choose(struct autocodec *a);
/* A compressed chunk's data: raw bytes in, stored out. */
void autocodec_outcome(struct autocodec *a, size_t raw, size_t stored);
/* Recent chunks did not shrink: stop compressing this block. */
int autocodec_poor(const struct autocodec *a);
/* -v: what it did (a debug line). */
void autocodec_report(const struct autocodec *a, uint64_t blocks);

#endif
