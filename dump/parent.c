/*
 * The parent of an incremental dump: it must be an image of this same
 * process, or tree of processes, whose root has the same PID and start
 * time.  Each process is found in it by its PID and start time (a tree's
 * processes come and go: one not there is new since, and dumped in full),
 * and its page hashes are loaded when the kernel cannot tell us which
 * pages were written.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/hash.h"
#include "restore/ranges.h"
#include "restore/restore.h"

static int cmp_hash(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/*
 * Page hashes of one image of the chain: those of its HASHES sections,
 * or computed from its stored pages where it has none (an image dumped
 * without --track or --parent, or with --kill, writes no hashes; one
 * whose written pages the kernel told apart has none for the pages it
 * left to its parent).  Only pages in want (NULL: all); the pages it
 * leaves to its own parent, and has no hash of, go to `later`.
 */
struct chain_hashes {
	struct track *tr;
	const struct ranges *want;
	struct ranges later;
	struct { const uint8_t *p; size_t len; } *blocks;	/* stored pages, to hash
							   where no section did */
	size_t nblocks, cap;
	uint8_t *raw;			/* decoding buffer */
	uint32_t ps;
	size_t first, nsorted;		/* this image's hashes: tr->hashes[first..],
					   the first nsorted of them in order */
	int32_t pid;			/* the process, in every image of the chain */
	uint64_t start_time;
	uint32_t idx;			/* its index in the image being read */
};

static int wanted(const struct chain_hashes *c, uint64_t a)
{
	struct range r;

	return !c->want || ranges_next(c->want, a, a + c->ps, &r);
}

static void add_hash(struct track *tr, size_t *cap, uint64_t addr, uint64_t hash)
{
	if (tr->nhashes == *cap)
		tr->hashes = xrealloc(tr->hashes, (*cap = *cap ? *cap * 2 : 4096) * sizeof(*tr->hashes));
	tr->hashes[tr->nhashes].addr = addr;
	tr->hashes[tr->nhashes++].hash = hash;
}

static int has_hash(const struct chain_hashes *c, uint64_t addr)
{
	uint64_t h;
	struct track part = { .hashes = c->tr->hashes + c->first, .nhashes = c->nsorted };

	return parent_hash(&part, addr, &h) == 0;
}

/* Hash the pages of one stored block that have no hash yet. */
static int hash_block(struct chain_hashes *c, size_t *cap, const uint8_t *payload, size_t len)
{
	struct ckpt_pages pg;
	const uint8_t *data;
	size_t rawlen;

	memcpy(&pg, payload, sizeof(pg));
	rawlen = (size_t)pg.npages * c->ps;
	data = payload + sizeof(pg);
	if (pg.codec != CKPT_CODEC_NONE) {
		if (rawlen > CKPT_MAX_BLOCK ||
		    codec_decode(pg.codec, data, len - sizeof(pg), c->raw, rawlen) < 0)
			return error("parent image: page data at %#lx does not decode",
				     (unsigned long)pg.addr);
		data = c->raw;
	} else if (len - sizeof(pg) != rawlen) {
		return error("parent image: malformed page data at %#lx", (unsigned long)pg.addr);
	}
	for (uint32_t i = 0; i < pg.npages; i++) {
		uint64_t a = pg.addr + (uint64_t)i * c->ps;

		if (wanted(c, a) && !has_hash(c, a))
			add_hash(c->tr, cap, a, ckpt_page_hash(data + (size_t)i * c->ps, c->ps));
	}
	return 0;
}

static int one_section(struct chain_hashes *c, size_t *cap, const struct ckpt_section *s,
		       const uint8_t *payload, int stable)
{
	/* Only this process's pages: a tree's image has every process's. */
	if (s->proc != c->idx)
		return 0;
	if (s->type == CKPT_SEC_HASHES) {
		struct ckpt_hashes h;

		if (s->size < sizeof(h))
			return error("parent image: malformed page hashes");
		memcpy(&h, payload, sizeof(h));
		if ((s->size - sizeof(h)) / 8 != h.npages)
			return error("parent image: malformed page hashes");
		for (uint32_t i = 0; i < h.npages; i++) {
			uint64_t a = h.addr + (uint64_t)i * c->ps, v;

			memcpy(&v, payload + sizeof(h) + (size_t)i * 8, 8);
			if (wanted(c, a))
				add_hash(c->tr, cap, a, v);
		}
	} else if (s->type == CKPT_SEC_PAGES) {
		struct ckpt_pages pg;

		if (s->size < sizeof(pg))
			return error("parent image: malformed page data");
		memcpy(&pg, payload, sizeof(pg));
		if (pg.flags & CKPT_PAGES_IN_PARENT) {
			for (uint32_t i = 0; i < pg.npages; i++) {
				uint64_t a = pg.addr + (uint64_t)i * c->ps;

				if (wanted(c, a))
					ranges_add(&c->later, a, a + c->ps);
			}
			return 0;
		}
		/* Hashed at the end, for the pages no HASHES section covers;
		 * a stream's payloads do not stay, so it hashes them now. */
		if (!stable)
			return hash_block(c, cap, payload, (size_t)s->size);
		if (c->nblocks == c->cap)
			c->blocks = xrealloc(c->blocks, (c->cap = c->cap ? c->cap * 2 : 256) *
							    sizeof(*c->blocks));
		c->blocks[c->nblocks].p = payload;
		c->blocks[c->nblocks++].len = (size_t)s->size;
	}
	return 0;
}

/* One image from its first page section on (s, payload, have as
 * img_read_meta left them). */
static int image_hashes(struct img_reader *r, struct chain_hashes *c, struct ckpt_section *s,
			void *payload, int have)
{
	size_t cap = c->tr->nhashes;
	int stable = img_reader_payloads_stable(r), ret = 0;

	c->first = c->tr->nhashes;
	c->nsorted = c->nblocks = 0;
	for (; have > 0 && ret == 0; have = img_read_section(r, s, &payload))
		ret = one_section(c, &cap, s, (const uint8_t *)payload, stable);
	if (have < 0)
		return have;
	c->nsorted = c->tr->nhashes - c->first;
	qsort(c->tr->hashes + c->first, c->nsorted, sizeof(*c->tr->hashes), cmp_hash);
	for (size_t i = 0; i < c->nblocks && ret == 0; i++)
		ret = hash_block(c, &cap, c->blocks[i].p, c->blocks[i].len);
	return ret;
}

int parent_hash(const struct track *tr, uint64_t addr, uint64_t *hash)
{
	size_t lo = 0, hi = tr->nhashes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tr->hashes[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < tr->nhashes && tr->hashes[lo].addr == addr) {
		*hash = tr->hashes[lo].hash;
		return 0;
	}
	return -ENOENT;
}

/* c->later without the pages this image (c->first on) has hashes of. */
static void without_known(struct chain_hashes *c, struct ranges *out)
{
	c->nsorted = c->tr->nhashes - c->first;
	qsort(c->tr->hashes + c->first, c->nsorted, sizeof(*c->tr->hashes), cmp_hash);
	ranges_finish(&c->later);
	for (size_t i = 0; i < c->later.n; i++)
		for (uint64_t a = c->later.r[i].start; a < c->later.r[i].end; a += c->ps)
			if (!has_hash(c, a))
				ranges_add(out, a, a + c->ps);
	ranges_finish(out);
	ranges_free(&c->later);
}

/* Open the parent of image `img` (read from `path`): its metadata read,
 * the reader at its first page section (*have as img_read_meta). */
static int open_older(const char *path, const struct img *img, char **ppath, struct img_reader *r,
		      struct img *par, struct ckpt_section *s, void **payload, int *have)
{
	*ppath = chain_parent_path(path, img->parent);
	if (access(*ppath, R_OK) < 0)
		return error_errno(errno, "its parent image \"%s\" is missing", *ppath);
	if (img_reader_open(r, *ppath, &par->h) < 0)
		return -EINVAL;
	if (memcmp(par->h.image_id, img->h.parent_id, sizeof(par->h.image_id)) ||
	    par->h.page_size != img->h.page_size)
		return error("parent image \"%s\" is not the one \"%s\" was made from", *ppath, path);
	*have = img_read_meta(r, par, s, payload);
	return *have < 0 ? *have : 0;
}

#define MAX_CHAIN 1000	/* as restore/chain.c */

/*
 * The hashes of the pages of the parent image (r, at its first page
 * section) as they were when it was made: from its own HASHES sections
 * or stored pages, and for the pages it left to its parent without a
 * hash, from that parent, and so on up the chain.
 */
static int load_hashes(const char *path, struct img_reader *r, struct img *parent, uint32_t idx,
		       struct ckpt_section *s, void *payload, int have, struct track *tr)
{
	struct chain_hashes c = { .tr = tr, .ps = parent->h.page_size, .idx = idx,
				  .pid = parent->procs[idx].d.pid,
				  .start_time = parent->procs[idx].d.start_time };
	struct ranges want = { 0 };
	char *cur_path = xstrdup(path);
	struct img cur = { 0 };
	int ret, depth = 0, gone = 0;

	c.raw = xmalloc(CKPT_MAX_BLOCK);
	ret = image_hashes(r, &c, s, payload, have);
	cur.h = parent->h;
	cur.parent = parent->parent ? xstrdup(parent->parent) : NULL;
	while (ret == 0) {
		struct img_reader pr = { .fd = -1 };
		struct img older = { 0 };
		char *opath = NULL;

		ranges_free(&want);
		without_known(&c, &want);
		if (!want.n || !cur.parent || gone || ++depth > MAX_CHAIN)
			break;
		c.want = &want;
		ret = open_older(cur_path, &cur, &opath, &pr, &older, s, &payload, &have);
		if (ret == 0) {
			/* Not there: an image made wrong; the pages it should
			 * have have no hash, so they are stored (never wrong). */
			int i = img_find_proc(&older, c.pid, c.start_time);

			if (i < 0)
				gone = 1;
			else {
				c.idx = (uint32_t)i;
				ret = image_hashes(&pr, &c, s, payload, have);
			}
		}
		img_reader_close(&pr);
		img_free(&cur);
		cur = older;
		free(cur_path);
		cur_path = opath;
	}
	qsort(tr->hashes, tr->nhashes, sizeof(*tr->hashes), cmp_hash);
	debug("page hashes of the parent chain: %zu pages", tr->nhashes);
	ranges_free(&want);
	ranges_free(&c.later);
	img_free(&cur);
	free(cur_path);
	free(c.blocks);
	free(c.raw);
	return ret;
}

/* How the child names its parent: relative to the child's directory when
 * both are in the same one (the set can then be moved together), else by
 * absolute path. */
static char *parent_ref(const char *parent, const char *child)
{
	char pa[PATH_MAX], cdir[PATH_MAX], *c, *p, *ref;

	if (!realpath(parent, pa))
		return xstrdup(parent);
	if (!strcmp(child, "-"))
		return xstrdup(pa);
	c = xstrdup(child);
	p = xstrdup(pa);
	if (realpath(dirname(c), cdir) && !strcmp(cdir, dirname(p)))
		ref = xstrdup(strrchr(pa, '/') + 1);
	else
		ref = xstrdup(pa);
	free(c);
	free(p);
	return ref;
}

/* The process's COW runs in the parent image: pages it did not store for
 * the process (restore gave them from its parent process), so never
 * "the same as in the parent" for it (track.h). */
static void parent_cow(const struct img_proc *pp, struct track *tr)
{
	if (!pp->ncow)
		return;
	tr->cow = xmalloc(pp->ncow * sizeof(*tr->cow));
	for (uint32_t i = 0; i < pp->ncow; i++)
		tr->cow[i] = (struct page_run){ pp->cow[i].addr, pp->cow[i].npages };
	tr->ncow = pp->ncow;
}

int parent_load(const char *path, const char *child, pid_t live, struct img_proc *now, int root,
		struct img *parent, struct track *tr, char **ref)
{
	struct img_reader r;
	struct ckpt_section s;
	void *payload;
	int ret, have, idx;

	log_set_context("dump %d: parent %s", now->d.pid, path);
	if ((ret = img_reader_open(&r, path, &parent->h)) < 0)
		goto out;
	have = img_read_meta(&r, parent, &s, &payload);
	if ((ret = have) < 0)
		goto out;
	ret = -EINVAL;
	if (parent->h.machine != ARCH_ELF_MACHINE) {
		error("not an image of this process");
		goto out;
	}
	/* Its shared memory may have been stored with another process. */
	tr->tree = tr->tree || parent->h.nprocs > 1;
	idx = img_find_proc(parent, now->d.pid, now->d.start_time);
	/* The root must be the parent image's root: its first process. */
	if (root && idx != 0) {
		error("the image is of another process (PID %d)", parent->procs[0].d.pid);
		goto out;
	}
	if (idx < 0) {
		/* A process of the tree new since the parent: stored in full. */
		debug("process %d is not in the parent image: its pages are all stored", now->d.pid);
		track_begin(live, NULL, tr);
		ret = 1;
	} else {
		ret = track_begin(live, &parent->procs[idx], tr);
		parent_cow(&parent->procs[idx], tr);
	}
	if (ret == 0 && tr->method == CKPT_DIRTY_HASH)
		ret = load_hashes(path, &r, parent, (uint32_t)idx, &s, payload, have, tr);
	if (ret >= 0)
		*ref = parent_ref(path, child);
out:
	img_reader_close(&r);
	log_set_context("dump %d", now->d.pid);
	return ret;
}
