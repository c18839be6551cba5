/*
 * Restoring from an incremental image (image/chain.c finds and checks
 * its parents): each page is written once, from the newest image that
 * has it: the newest image first, then each parent for just the ranges
 * still wanted.
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

static int fill_one(void *arg, const char *ppath, struct img_stream *in, struct img *par,
		    const struct ranges *only, struct ranges *later)
{
	(void)ppath;
	/* chain_check() verified every parent before anything was made;
	 * (the header and metadata CRCs above were checked again) */
	in->r->checked = 1;
	return pages_fill(in, par, *(pid_t *)arg, 0, only, later);
}

int chain_fill(const char *path, const struct img *img, pid_t pid, struct ranges *wanted,
	       const struct trust *t)
{
	struct chain_hold hold;

	trust_hold(t, &hold);
	return chain_walk(path, img, wanted, &hold, fill_one, &pid);
}
