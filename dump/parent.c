/*
 * The parent of an incremental dump: it must be an image of this same
 * process (PID and start time), and its page hashes are loaded when the
 * kernel cannot tell us which pages were written.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

static int cmp_hash(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static int load_hashes(struct img_reader *r, struct ckpt_section *s, void *payload, int have,
		       struct track *tr, uint32_t ps)
{
	size_t cap = 0;

	for (; have > 0; have = img_read_section(r, s, &payload)) {
		struct ckpt_hashes h;

		if (s->type != CKPT_SEC_HASHES || s->proc)
			continue;
		if (s->size < sizeof(h))
			return error("parent image: malformed page hashes");
		memcpy(&h, payload, sizeof(h));
		if ((s->size - sizeof(h)) / 8 != h.npages)
			return error("parent image: malformed page hashes");
		for (uint32_t i = 0; i < h.npages; i++) {
			if (tr->nhashes == cap)
				tr->hashes = xrealloc(tr->hashes, (cap = cap ? cap * 2 : 4096) * sizeof(*tr->hashes));
			tr->hashes[tr->nhashes].addr = h.addr + (uint64_t)i * ps;
			memcpy(&tr->hashes[tr->nhashes++].hash,
			       (uint8_t *)payload + sizeof(h) + (size_t)i * 8, 8);
		}
	}
	if (have < 0)
		return have;
	qsort(tr->hashes, tr->nhashes, sizeof(*tr->hashes), cmp_hash);
	return 0;
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

int parent_load(const char *path, const char *child, pid_t live, struct img_proc *now,
		struct img *parent, struct track *tr, char **ref)
{
	struct img_reader r;
	struct ckpt_section s;
	void *payload;
	int ret, have;

	log_set_context("dump %d: parent %s", now->d.pid, path);
	if ((ret = img_reader_open(&r, path, &parent->h)) < 0)
		goto out;
	have = img_read_meta(&r, parent, &s, &payload);
	if ((ret = have) < 0)
		goto out;
	ret = -EINVAL;
	if (parent->h.machine != ARCH_ELF_MACHINE || parent->h.nprocs != 1) {
		error("not an image of this process");
		goto out;
	}
	if (parent->procs[0].d.pid != now->d.pid || parent->procs[0].d.start_time != now->d.start_time) {
		error("the image is of another process (PID %d)", parent->procs[0].d.pid);
		goto out;
	}
	ret = track_begin(live, parent, tr);
	if (ret == 0 && tr->method == CKPT_DIRTY_HASH)
		ret = load_hashes(&r, &s, payload, have, tr, parent->h.page_size);
	if (ret == 0)
		*ref = parent_ref(path, child);
out:
	img_reader_close(&r);
	log_set_context("dump %d", now->d.pid);
	return ret;
}
