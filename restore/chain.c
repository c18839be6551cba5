/*
 * Incremental images: an image whose PAGES sections say IN_PARENT leaves
 * those pages to its parent image, which may leave some to its own, and
 * so on to a full image.  Restore writes each page once, from the newest
 * image that has it: the newest image first, then each parent for just
 * the ranges still wanted.  A parent is found by the path the child
 * recorded (relative to the child's directory, or absolute) and must be
 * the very image the child was made from (its image_id).
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
#include "restore/ranges.h"
#include "restore/restore.h"

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

/* Open the parent of (child_path, child) and read its metadata. */
static int open_parent(const char *child_path, const struct img *child, char **path,
		       struct img_reader *r, struct img *par, struct ckpt_section *s,
		       void **payload)
{
	int ret;

	*path = chain_parent_path(child_path, child->parent);
	memset(par, 0, sizeof(*par));
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (access(*path, R_OK) < 0)
		return error_errno(errno, "parent image \"%s\" is missing", *path);
	if ((ret = img_reader_open(r, *path, &par->h)) < 0)
		return error("parent image \"%s\" cannot be used", *path);
	if (memcmp(par->h.image_id, child->h.parent_id, sizeof(par->h.image_id)))
		return error("parent image \"%s\" is not the one \"%s\" was made from (replaced or changed?)",
			     *path, child_path);
	if (par->h.machine != ARCH_ELF_MACHINE || par->h.page_size != child->h.page_size)
		return error("parent image \"%s\" is for another machine", *path);
	return img_read_meta(r, par, s, payload);
}

int chain_check(const char *path, const struct img *img)
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
		have = open_parent(cur_path, &cur, &ppath, &r, &par, &s, &payload);
		ret = have < 0 ? have : 0;
		/* Verify it all, as for the image itself, before anything is made. */
		if (ret == 0 && have > 0 && (s.type != CKPT_SEC_PAGES && s.type != CKPT_SEC_HASHES))
			ret = error("parent image \"%s\" is corrupted", ppath);
		if (ret == 0 && have > 0)
			ret = img_verify_rest(&r);
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

int chain_fill(const char *path, const struct img *img, pid_t pid, struct ranges *wanted)
{
	char *cur_path = xstrdup(path);
	struct img cur = { 0 }, par;
	struct ranges later = { 0 };
	int ret = 0;

	cur.h = img->h;
	cur.parent = img->parent ? xstrdup(img->parent) : NULL;
	while (ret == 0 && wanted->n && cur.parent) {
		struct img_reader r;
		struct img_stream in = { .r = &r };
		char *ppath = NULL;

		ranges_finish(wanted);
		in.have = open_parent(cur_path, &cur, &ppath, &r, &par, &in.s, &in.payload);
		/* chain_check() verified every parent before anything was made;
		 * (the header and metadata CRCs above were checked again) */
		r.checked = 1;
		ret = in.have < 0 ? in.have : pages_fill(&in, &par, pid, wanted, &later);
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
