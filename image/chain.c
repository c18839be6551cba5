/*
 * Incremental images: an image whose PAGES sections say IN_PARENT leaves
 * those pages to its parent image, which may leave some to its own, and
 * so on to a full image.  A parent is found by the path the child
 * recorded (relative to the child's directory, or absolute) and must be
 * the very image the child was made from (its image_id).  Here: finding
 * and checking the parents (verify, restore and merge check a chain
 * alike); restore/chain.c fills a process from them.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "image/chain.h"
#include "image/check.h"

#define MAX_CHAIN 1000

char *chain_parent_path(const char *child, const char *ref)
{
	char *dir, *path;

	if (ref[0] == '/' || !strcmp(child, "-"))
		return xstrdup(ref);
	dir = xstrdup(child);
	if (asprintf(&path, "%s/%s", dirname(dir), ref) < 0)
		path = NULL;
	free(dir);
	return path ? path : xstrdup(ref);
}

int chain_open_parent(const char *child_path, const struct img *child, char **path,
		       struct img_reader *r, struct img *par, struct ckpt_section *s,
		       void **payload, const struct chain_hold *hold, int verify)
{
	int ret;

	*path = chain_parent_path(child_path, child->parent);
	memset(par, 0, sizeof(*par));
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (access(*path, R_OK) < 0)
		return error_errno(errno, "parent image \"%s\" is missing", *path);
	log_push_context("parent image \"%s\"", *path);
	ret = img_reader_open(r, *path, &par->h);
	log_pop_context();
	if (ret < 0)
		return ret;
	if (hold && (ret = hold->opened(hold->arg, r, *path, verify)) < 0)
		return ret;
	if (memcmp(par->h.image_id, child->h.parent_id, sizeof(par->h.image_id)))
		return error("parent image \"%s\" is not the one \"%s\" was made from (replaced or changed?)",
			     *path, child_path);
	if (par->h.machine != ARCH_ELF_MACHINE || par->h.page_size != child->h.page_size)
		return error("parent image \"%s\" is for another machine", *path);
	log_push_context("parent image \"%s\"", *path);
	ret = img_read_meta(r, par, s, payload);
	log_pop_context();
	return ret;
}

int chain_check(const char *path, const struct img *img, unsigned flags,
		const struct chain_hold *hold)
{
	char *cur_path = xstrdup(path);
	struct img cur = { 0 }, par;
	int ret = 0, depth = 0;

	cur.h = img->h;
	cur.parent = img->parent ? xstrdup(img->parent) : NULL;
	while (cur.parent && ret == 0) {
		struct img_reader r;
		struct ckpt_section s;
		void *payload;
		char *ppath = NULL;
		int have;

		if (++depth > MAX_CHAIN) {
			ret = error("chain of parent images longer than %d", MAX_CHAIN);
			break;
		}
		have = chain_open_parent(cur_path, &cur, &ppath, &r, &par, &s, &payload, hold, 1);
		ret = have < 0 ? have : 0;
		/* Verify it all, as for the image itself, before anything is made. */
		if (ret == 0) {
			struct img_stats st;

			log_push_context("parent image \"%s\"", ppath);
			ret = img_check_rest(&r, &par, &s, payload, have, flags, &st, NULL, NULL);
			log_pop_context();
		}
		if (ret == 0 && hold)
			ret = hold->read(hold->arg, &r, ppath);
		img_reader_close(&r);
		img_free(&cur);
		cur = par;
		free(cur_path);
		cur_path = ppath;
	}
	img_free(&cur);
	free(cur_path);
	return ret;
}

