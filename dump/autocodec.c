/*
 * --compress auto: compress a block only while that does not slow the
 * dump down, judged by who waits for whom in the page pipeline.
 *
 *   a worker waits for a free slot    the writer is behind: compressing
 *                                     costs nothing and the writer gets
 *                                     less to write; compress more
 *   the writer waits for a block      the workers are behind: the disk
 *                                     could take more than they give;
 *                                     compress fewer
 *
 * A share of the blocks is compressed (level/AUTO_LEVELS, spread evenly),
 * raised at each worker's wait and lowered twice as much at each of the
 * writer's: the share climbs only while the workers wait for the writer
 * more than twice as often as it waits for them, so the writer, whose
 * pace is the dump's, seldom waits; and a writer that cannot keep up (a
 * slow disk, a pipe to the network, write-behind at the disk's pace) has
 * every block compressed after 8 of the workers' waits (from the first
 * blocks that find half the ring waiting, below).  One wait moves the share by
 * a quarter at most: on a busy machine a thread that lost its CPU for a
 * moment makes someone wait whoever is the slower.  (The policy before
 * this one compared rates measured with clocks, ns per page compressed
 * and written; a write into the page cache or a pipe's buffer costs next
 * to nothing until the buffer is full, and on a busy machine every stall
 * swings a rate.  Waiting is what costs the dump time, so waiting is
 * what is counted.)
 *
 * And whatever the share, a block is compressed while more than half the
 * ring is written-to-be blocks, unless the last to wait was the writer:
 * the writer has that much to do before it needs this one.  That is how
 * a dump to a slow writer compresses from its first MiBs on, before
 * anyone has waited; a fast writer that lost its CPU for a moment (and
 * then finds the workers compressing) turns it off.
 *
 * Data that does not shrink (random, already compressed) is stored raw
 * by the codec anyway, but compressing it costs CPU: when the recent
 * compressed blocks saved less than 2%, blocks are stored raw, and of one
 * in PROBE_EVERY a sample is compressed (pagewrite.c: 64 KiB, a
 * sixteenth of the cost), to notice when the data changes; a block that
 * starts a
 * mapping is judged afresh (random data in one mapping says nothing of
 * the next; but the kernel merges neighbouring anonymous mappings, so
 * the probes are what finds text after random data in the same one).
 */
#include "common/log.h"
#include "dump/autocodec.h"

#define AUTO_LEVELS	64u
/* Raw until a worker has waited (or half the ring waits, below): the
 * writer's pace goes first. */
#define AUTO_START	0u
#define AUTO_RAISE	8u
#define AUTO_LOWER	16u
#define POOR_GAIN	1004u			/* stored/raw above 98%, in 1/1024 */
#define PROBE_EVERY	2u

void autocodec_init(struct autocodec *a)
{
	*a = (struct autocodec){ .level = AUTO_START };
}

enum auto_choice autocodec_choose(struct autocodec *a, size_t ready, size_t nslots, int fresh)
{
	int ahead = ready * 2 > nslots && !a->writer_last;

	a->blocks++;
	if (fresh)
		a->gain = 0;
	if (a->gain > POOR_GAIN) {
		if ((!a->level && !ahead) || ++a->skipped < PROBE_EVERY)
			return AUTO_RAW;
		a->skipped = 0;
		a->sampled++;
		return AUTO_SAMPLE;
	}
	a->acc += ahead ? AUTO_LEVELS : a->level;
	if (a->acc < AUTO_LEVELS)
		return AUTO_RAW;
	a->acc -= AUTO_LEVELS;
	a->compressed++;
	return AUTO_COMPRESS;
}

void autocodec_writer_waited(struct autocodec *a)
{
	a->writer_waits++;
	a->writer_last = 1;
	a->level = a->level > AUTO_LOWER ? a->level - AUTO_LOWER : 0;
}

void autocodec_worker_waited(struct autocodec *a)
{
	a->worker_waits++;
	a->writer_last = 0;
	a->level = a->level + AUTO_RAISE > AUTO_LEVELS ? AUTO_LEVELS : a->level + AUTO_RAISE;
}

void autocodec_outcome(struct autocodec *a, size_t raw, size_t stored)
{
	unsigned g;

	if (!raw)
		return;
	g = (unsigned)((uint64_t)stored * 1024 / raw);
	/* the last few blocks count most: data changes from mapping to mapping */
	a->gain = a->gain ? (a->gain * 3 + g) / 4 : g;
	if (a->gain <= POOR_GAIN)
		a->skipped = 0;
}

void autocodec_report(const struct autocodec *a)
{
	debug("--compress auto: %llu of %llu blocks compressed, %llu sampled (the writer waited for "
	      "the workers %llu times, the workers for the writer %llu), recent blocks stored at %u%%",
	      (unsigned long long)a->compressed, (unsigned long long)a->blocks,
	      (unsigned long long)a->sampled,
	      (unsigned long long)a->writer_waits, (unsigned long long)a->worker_waits,
	      a->gain ? a->gain * 100 / 1024 : 100);
}
