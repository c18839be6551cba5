/*
 * Shared memory that several mappings of the image map is one object:
 * shared anonymous memory or a deleted file (known by the dev/ino of the
 * maps line), or a SysV segment (by its id, the inode number ipc/shm.c
 * newseg gives the segment's file).  Its pages are stored once: every
 * mapping after the first is marked CKPT_VMA_SHM_ALIAS and keeps only the
 * pages at object offsets no earlier mapping *stores* (not: maps), so a
 * page present in a child's page tables alone stays with the child's
 * mapping.  Restore makes the object once (restore/tree.c; a segment:
 * restore/sysv.c) and fills every mapping's stored pages.
 *
 * A SysV attach stores the pages present in its process's page tables
 * (dump/pages.c SAVE_PRESENT).  A page of the segment that no mapping of
 * the image has present (written through an attach since detached, or by
 * a process outside the image) would be lost if the segment is made
 * again: /proc/sysvipc/shm says how much the segment holds (rss + swap),
 * and when the pages stored fall short of it, the segment's first attach
 * is stored whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "restore/ranges.h"

struct object {
	uint64_t dev, ino;
	int sysv;
	struct ranges stored;	/* object offsets planned, [start, end) */
};

static int shm_object(const struct img_vma *v)
{
	if (!(v->d.flags & CKPT_VMA_SHARED) ||
	    (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED)))
		return 0;
	return (v->d.flags & CKPT_VMA_SYSV) || ((v->d.flags & CKPT_VMA_ANON) && v->d.ino);
}

static int same_object(const struct object *o, const struct img_vma *v)
{
	return o->dev == v->d.dev && o->ino == v->d.ino && o->sysv == !!(v->d.flags & CKPT_VMA_SYSV);
}

static uint64_t total(const struct ranges *s)
{
	uint64_t t = 0;

	for (size_t i = 0; i < s->n; i++)
		t += s->r[i].end - s->r[i].start;
	return t;
}

/* The object offsets of v's pages planned (stored, or left in the parent
 * image: "same") into s. */
static void add_planned(struct ranges *s, const struct img_vma *v, const struct vma_pages *vp)
{
	const uint64_t ps = (uint64_t)getpagesize();
	const struct page_run *sets[2] = { vp->runs, vp->same };
	size_t counts[2] = { vp->nruns, vp->nsame };

	for (int k = 0; k < 2; k++)
		for (size_t r = 0; r < counts[k]; r++) {
			uint64_t off = v->d.pgoff + (sets[k][r].addr - v->d.start);

			ranges_add(s, off, off + sets[k][r].npages * ps);
		}
}

/* v's runs at offsets s (finished) does not have: kept, the rest dropped;
 * a run at a time, cut where s has a part of it. */
static void keep_unstored(const struct ranges *s, struct img_vma *v, struct vma_pages *vp)
{
	const uint64_t ps = (uint64_t)getpagesize();
	struct page_run *kept = NULL;
	size_t n = 0, cap = 0;

	v->d.npages = 0;
	for (size_t r = 0; r < vp->nruns; r++) {
		uint64_t a = vp->runs[r].addr, end = a + vp->runs[r].npages * ps;
		uint64_t to_off = v->d.pgoff - v->d.start;	/* address + to_off: offset */

		while (a < end) {
			struct range got = { end + to_off, end + to_off };

			ranges_next(s, a + to_off, end + to_off, &got);
			if (got.start - to_off > a) {
				dump_add_run(&kept, &n, &cap, a, (got.start - to_off - a) / ps);
				v->d.npages += (got.start - to_off - a) / ps;
			}
			a = got.end - to_off;
		}
	}
	free(vp->runs);
	vp->runs = kept;
	vp->nruns = n;
	for (size_t r = 0; r < vp->nsame; r++)
		v->d.npages += vp->same[r].npages;
}

/* Every page of v stored (the whole attach of a segment). */
static void store_whole(struct img_vma *v, struct vma_pages *vp)
{
	size_t cap = 0;

	free(vp->runs);
	free(vp->same);
	vp->runs = vp->same = NULL;
	vp->nruns = vp->nsame = 0;
	dump_add_run(&vp->runs, &vp->nruns, &cap, v->d.start,
		     (v->d.end - v->d.start) / (uint64_t)getpagesize());
	v->d.npages = (v->d.end - v->d.start) / (uint64_t)getpagesize();
}

/*
 * Segment id, whose first mapping in the image is process k's mapping i:
 * the pages every mapping plans against what the segment holds; short,
 * that first attach (its mappings from offset 0 to the segment's end,
 * dump/sysv.c check_attaches) stores it whole.
 */
static int sysv_whole(struct img *img, struct vma_pages **vp, uint32_t k, uint32_t i)
{
	const struct img_vma *first = &img->procs[k].vmas[i];
	struct ranges s = { 0 };
	uint64_t held, planned;
	int ret;

	for (uint32_t kk = k; kk < img->h.nprocs; kk++)
		for (uint32_t ii = 0; ii < img->procs[kk].d.nvmas; ii++) {
			const struct img_vma *w = &img->procs[kk].vmas[ii];

			if ((w->d.flags & CKPT_VMA_SYSV) && w->d.ino == first->d.ino && shm_object(w))
				add_planned(&s, w, &vp[kk][ii]);
		}
	ranges_finish(&s);
	planned = total(&s);
	ranges_free(&s);
	if ((ret = dump_sysv_held((int)first->d.ino, &held)) < 0)
		return error_errno(ret, "SysV shared memory segment %lu: cannot read it in "
				   "/proc/sysvipc/shm", (unsigned long)first->d.ino);
	if (held <= planned)
		return 0;
	debug("SysV segment %lu holds %llu bytes, its attaches have %llu present: stored whole",
	      (unsigned long)first->d.ino, (unsigned long long)held, (unsigned long long)planned);
	for (uint64_t next = 0; i < img->procs[k].d.nvmas; i++) {
		struct img_vma *v = &img->procs[k].vmas[i];

		if (!(v->d.flags & CKPT_VMA_SYSV) || v->d.ino != first->d.ino || v->d.pgoff != next)
			break;
		store_whole(v, &vp[k][i]);
		next = v->d.pgoff + (v->d.end - v->d.start);
	}
	return 0;
}

int dump_shm_aliases(struct img *img, struct vma_pages **vp)
{
	struct object *seen = NULL;
	size_t n = 0;
	int ret = 0;

	for (uint32_t k = 0; k < img->h.nprocs && ret == 0; k++)
		for (uint32_t i = 0; i < img->procs[k].d.nvmas && ret == 0; i++) {
			struct img_vma *v = &img->procs[k].vmas[i];
			struct object *o;
			size_t j;

			if (!shm_object(v))
				continue;
			for (j = 0; j < n && !same_object(&seen[j], v); j++)
				;
			if (j == n) {
				seen = xrealloc(seen, (n + 1) * sizeof(*seen));
				seen[n++] = (struct object){ v->d.dev, v->d.ino,
							     !!(v->d.flags & CKPT_VMA_SYSV), { 0 } };
				if (seen[j].sysv && (ret = sysv_whole(img, vp, k, i)) < 0)
					break;
			} else {
				v->d.flags |= CKPT_VMA_SHM_ALIAS;
				ranges_finish(&seen[j].stored);
				keep_unstored(&seen[j].stored, v, &vp[k][i]);
			}
			o = &seen[j];
			add_planned(&o->stored, v, &vp[k][i]);
		}
	for (size_t j = 0; j < n; j++)
		ranges_free(&seen[j].stored);
	free(seen);
	return ret;
}
