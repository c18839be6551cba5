/*
 * Restoring from an incremental image (image/chain.c finds and checks
 * its parents): each page is written once, from the newest image that
 * has it: the newest image first, then each parent for just the ranges
 * still wanted.  In a tree's images a process is found by its PID and
 * start time: its index may differ from one image to the next (processes
 * come and go), and only its own sections fill it.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "image/chain.h"
#include "restore/ranges.h"
#include "restore/restore.h"
#include "restore/trust.h"

/* chain_check() stops a longer chain; the walk must stop too when it
 * was not run (lazy.c checks each parent's blocks as it indexes them). */
#define MAX_CHAIN 1000

int chain_walk(const char *path, const struct img *img, struct ranges *wanted,
	       const struct chain_hold *hold, chain_fn *fn, void *arg)
{
	char *cur_path = xstrdup(path);
	struct img cur = { 0 }, par;
	struct ranges later = { 0 };
	int ret = 0, depth = 0;

	cur.h = img->h;
	cur.parent = img->parent ? xstrdup(img->parent) : NULL;
	while (ret == 0 && wanted->n && cur.parent) {
		struct img_reader r;
		struct img_stream in = { .r = &r };
		char *ppath = NULL;
		int keep = 0;

		if (++depth > MAX_CHAIN) {
			ret = error("chain of parent images longer than %d", MAX_CHAIN);
			break;
		}
		ranges_finish(wanted);
		in.have = chain_open_parent(cur_path, &cur, &ppath, &r, &par, &in.s, &in.payload,
					    hold, 0);
		ret = in.have < 0 ? in.have : fn(arg, ppath, &in, &par, wanted, &later);
		keep = ret == 1;
		ret = ret == 1 ? 0 : ret;
		/* in.r: the reader as fn left it (it may have moved it) */
		if (ret == 0 && hold)
			ret = hold->read(hold->arg, in.r, ppath);
		if (!keep)
			img_reader_close(&r);
		img_free(&cur);
		cur = par;
		free(cur_path);
		cur_path = ppath;
		ranges_free(wanted);
		*wanted = later;
		memset(&later, 0, sizeof(later));
	}
	/* What no image has was never written: it reads as zero (anonymous)
	 * or as the file (file mappings), as the mappings already are. */
	img_free(&cur);
	free(cur_path);
	return ret;
}

/* The process being filled, found again in each parent image. */
struct fill_arg {
	pid_t pid;
	const struct img_proc *me;
};

/* Past the sections of the processes before idx. */
static int skip_to(struct img_stream *in, uint32_t idx)
{
	while (in->have > 0 && in->s.proc < idx)
		in->have = img_read_section(in->r, &in->s, &in->payload);
	return in->have < 0 ? in->have : 0;
}

/* The rest of a parent read, where its MAC over the whole image is to be
 * checked (trust.c parent_read): the later processes' sections too. */
static int drain(struct img_stream *in)
{
	while (in->have > 0 && in->r->mac.key)
		in->have = img_read_section(in->r, &in->s, &in->payload);
	return in->have < 0 ? in->have : 0;
}

static int fill_one(void *arg, const char *ppath, struct img_stream *in, struct img *par,
		    const struct ranges *only, struct ranges *later)
{
	const struct fill_arg *fa = arg;
	int idx = img_find_proc(par, fa->me->d.pid, fa->me->d.start_time), ret;

	/* chain_check() verified every parent before anything was made;
	 * (the header and metadata CRCs above were checked again) */
	in->r->checked = 1;
	/* A process new since its parent image has no page there: pages
	 * left to it are an image made wrong, not zeros. */
	if (idx < 0)
		return error("image is corrupted: process %d has pages in the parent image \"%s\", which has no such process",
			     fa->me->d.pid, ppath);
	if ((ret = skip_to(in, (uint32_t)idx)) < 0 ||
	    (ret = pages_fill(in, par, fa->pid, (uint32_t)idx, only, later)) < 0)
		return ret;
	return drain(in);
}

int chain_fill(const char *path, const struct img *img, uint32_t proc, pid_t pid,
	       struct ranges *wanted, const struct trust *t)
{
	struct fill_arg fa = { pid, &img->procs[proc] };
	struct chain_hold hold;

	trust_hold(t, &hold);
	return chain_walk(path, img, wanted, &hold, fill_one, &fa);
}
