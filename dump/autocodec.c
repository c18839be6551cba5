/*
 * --compress auto: compress a block only where that cannot slow the
 * dump down.
 *
 * To a regular file the page workers write every block themselves, raw,
 * by none's direct path (dump/pagewrite.c): a writer thread between them
 * and the page cache had cost frozen dumps 1.12x (text) and 1.19x
 * (random) none's time there (2026-12-07).  When ckpt pushes the data to
 * the disk as it goes (write-behind: forked dumps, --snapshot) and the
 * disk falls behind the workers, a worker compresses the block it read
 * before it writes it (dump/pagepack.c pagepack_direct): the disk is the
 * dump's pace then, and less to write is sooner written.
 *
 * To a stream the page workers store every block raw and hand it to the
 * writer thread.  While a block waits in the ring to be written, a
 * compressor thread (one per job, at the lowest priority) may compress
 * it, a chunk at a time, into a form beside the raw one.  When the writer
 * gets to the block it writes whichever form is complete: the compressed
 * one if the compressor finished in time, else the raw one, at once; the
 * writer never waits for a compressor and a compressor never holds a slot
 * the workers need.  So:
 *
 *   a writer faster than the workers  finds each block just read, before
 *   (a fast reader)                   anyone could compress it: raw, as
 *                                     with none
 *   a writer slower than the workers  has the ring full of blocks, which
 *   (a pipe to the network, a slow    the compressors work through while
 *   reader)                           it writes: compressed, as with lz4,
 *                                     as far as the CPUs keep up
 *
 * and the compressors run on CPU time that nobody else in ckpt wants
 * (SCHED_IDLE, else nice 19: the workers and the writer, at the priority
 * ckpt was started with, take their CPU first).  Where the writer is
 * SCHED_IDLE itself (a forked dump's or a --snapshot's first 3 s,
 * dump/dump.c) no class is lower: to a pipe, a FIFO or a socket the
 * compressors then work only while the writer sleeps in write(2) for the
 * reader (pagepack.c, gate_open); to another stream every block is raw.
 * When the 3 s are over ckpt's threads go to nice 10 and the compressors
 * back to SCHED_IDLE, below them (dump/pagepack.c).
 *
 * The policies before these decided when a block was listed, from who
 * had waited for whom (and before that from rates measured with clocks);
 * a compressed block made the in-order writer wait for it, and on this
 * machine's disk and page cache that cost text dumps 8% and 20%
 * (bench/README.md, 2026-12-07 10:10).  Here nothing on the writer's path
 * depends on compression.
 *
 * Data that does not shrink (random, already compressed) is stored raw
 * by the codec anyway, but compressing it costs CPU (the job's, too,
 * when it runs on beside a forked dump): when the recent chunks saved
 * less than 2%, blocks are passed over, and of one in PROBE_EVERY the
 * first chunk is tried, to notice when the data changes.
 */
#include "common/log.h"
#include "dump/autocodec.h"

#define POOR_GAIN	1004u			/* stored/raw above 98%, in 1/1024 */
#define PROBE_EVERY	2u

void autocodec_init(struct autocodec *a)
{
	*a = (struct autocodec){ .gain = 0 };
}

int autocodec_poor(const struct autocodec *a)
{
	return a->gain > POOR_GAIN;
}

enum auto_choice autocodec_choose(struct autocodec *a)
{
	if (!autocodec_poor(a)) {
		a->taken++;
		return AUTO_COMPRESS;
	}
	if (++a->skipped < PROBE_EVERY) {
		a->passed++;
		return AUTO_PASS;
	}
	a->skipped = 0;
	a->taken++;
	return AUTO_PROBE;
}

void autocodec_outcome(struct autocodec *a, size_t raw, size_t stored)
{
	unsigned g;

	if (!raw)
		return;
	g = (unsigned)((uint64_t)stored * 1024 / raw);
	/* the last few chunks count most: data changes from mapping to mapping */
	a->gain = a->gain ? (a->gain * 3 + g) / 4 : g;
	if (!autocodec_poor(a))
		a->skipped = 0;
}

void autocodec_report(const struct autocodec *a, uint64_t blocks)
{
	debug("--compress auto: %llu of %llu blocks written compressed; %llu taken to compress, "
	      "%llu of them reached by the writer first (written raw), %llu passed over (data that "
	      "did not shrink); recent chunks stored at %u%%",
	      (unsigned long long)a->packed, (unsigned long long)blocks,
	      (unsigned long long)a->taken, (unsigned long long)a->late,
	      (unsigned long long)a->passed, a->gain ? a->gain * 100 / 1024 : 100);
}
