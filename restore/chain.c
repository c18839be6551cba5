/*
 * Restoring from an incremental image (image/chain.c finds and checks
 * its parents): each page is written once, from the newest image that
 * has it: the newest image first, then each parent for just the ranges
 * still wanted.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "image/chain.h"
#include "restore/ranges.h"
#include "restore/restore.h"
#include "restore/trust.h"

int chain_fill(const char *path, const struct img *img, pid_t pid, struct ranges *wanted,
	       const struct trust *t)
{
	char *cur_path = xstrdup(path);
	struct img cur = { 0 }, par;
	struct ranges later = { 0 };
	struct chain_hold hold;
	int ret = 0;

	trust_hold(t, &hold);
	cur.h = img->h;
	cur.parent = img->parent ? xstrdup(img->parent) : NULL;
	while (ret == 0 && wanted->n && cur.parent) {
		struct img_reader r;
		struct img_stream in = { .r = &r };
		char *ppath = NULL;

		ranges_finish(wanted);
		in.have = chain_open_parent(cur_path, &cur, &ppath, &r, &par, &in.s, &in.payload,
					    &hold, 0);
		/* chain_check() verified every parent before anything was made;
		 * (the header and metadata CRCs above were checked again) */
		r.checked = 1;
		ret = in.have < 0 ? in.have : pages_fill(&in, &par, pid, 0, wanted, &later);
		if (ret == 0)
			ret = hold.read(hold.arg, &r, ppath);
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
