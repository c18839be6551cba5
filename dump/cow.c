/*
 * Pages a process still shares copy-on-write with its parent
 * (docs/trees.md, 2.4): the same physical page at the same address, in
 * private mappings of the same kind in both.  (Shared memory several
 * mappings map: dump/shmobj.c.)  /proc/PID/pagemap gives each page's frame
 * number (bits 0-54, root only: without CAP_SYS_ADMIN they read as 0) and
 * whether it is present (bit 63; Documentation/admin-guide/mm/pagemap.rst).
 * Such pages leave the child's page plan for its COW runs: stored once,
 * with the parent, and kept by the restore's fork (restore/plan.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/tree.h"

#define PM_PRESENT	(1ull << 63)
#define PM_PFN		((1ull << 55) - 1)

struct cow_scan {
	int cfd, pfd;			/* the two pagemaps */
	uint64_t *c, *p;		/* entries of one range */
	size_t cap;
	struct ckpt_cow_run *runs;	/* found */
	size_t n, ncap;
	uint64_t pages;
	int fresh;			/* the next run starts anew (a mapping's first) */
};

static void add_cow(struct cow_scan *cs, uint64_t addr)
{
	const uint64_t ps = (uint64_t)getpagesize();

	cs->pages++;
	if (!cs->fresh && cs->n && cs->runs[cs->n - 1].addr + cs->runs[cs->n - 1].npages * ps == addr) {
		cs->runs[cs->n - 1].npages++;
		return;
	}
	if (cs->n == cs->ncap)
		cs->runs = xrealloc(cs->runs, (cs->ncap = cs->ncap ? cs->ncap * 2 : 16) * sizeof(*cs->runs));
	cs->runs[cs->n++] = (struct ckpt_cow_run){ addr, 1 };
	cs->fresh = 0;
}

/* The pages of run r (to be stored for the child) in [lo, hi) the parent
 * has too: into cs, and *kept gets what stays to be stored. */
static int scan_run(struct cow_scan *cs, const struct page_run *r, uint64_t lo, uint64_t hi,
		    struct page_run **kept, size_t *nkept, size_t *kcap)
{
	const uint64_t ps = (uint64_t)getpagesize();
	uint64_t a = MAX(r->addr, lo), b = MIN(r->addr + r->npages * ps, hi);
	size_t n = (size_t)((b - a) / ps);

	if (a >= b)
		return 0;
	if (n > cs->cap) {
		cs->cap = n;
		cs->c = xrealloc(cs->c, n * sizeof(*cs->c));
		cs->p = xrealloc(cs->p, n * sizeof(*cs->p));
	}
	if (pread_all(cs->cfd, cs->c, n * 8, (off_t)(a / ps * 8)) < 0 ||
	    pread_all(cs->pfd, cs->p, n * 8, (off_t)(a / ps * 8)) < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = cs->c[i], y = cs->p[i], addr = a + i * ps;

		if ((x & PM_PRESENT) && (y & PM_PRESENT) && (x & PM_PFN) && (x & PM_PFN) == (y & PM_PFN))
			add_cow(cs, addr);
		else {
			if (*nkept && (*kept)[*nkept - 1].addr + (*kept)[*nkept - 1].npages * ps == addr) {
				(*kept)[*nkept - 1].npages++;
				continue;
			}
			if (*nkept == *kcap)
				*kept = xrealloc(*kept, (*kcap = *kcap ? *kcap * 2 : 16) * sizeof(**kept));
			(*kept)[(*nkept)++] = (struct page_run){ addr, 1 };
		}
	}
	return 0;
}

/* Copy the pages of run r outside [lo, hi) to kept, as they are. */
static void keep_outside(const struct page_run *r, uint64_t lo, uint64_t hi, struct page_run **kept,
			 size_t *nkept, size_t *kcap)
{
	const uint64_t ps = (uint64_t)getpagesize();
	uint64_t end = r->addr + r->npages * ps;
	struct { uint64_t a, b; } part[2] = { { r->addr, MIN(end, lo) }, { MAX(r->addr, hi), end } };

	for (int k = 0; k < 2; k++) {
		if (part[k].a >= part[k].b)
			continue;
		if (*nkept == *kcap)
			*kept = xrealloc(*kept, (*kcap = *kcap ? *kcap * 2 : 16) * sizeof(**kept));
		(*kept)[(*nkept)++] = (struct page_run){ part[k].a, (part[k].b - part[k].a) / ps };
	}
}

/* Mapping v of the child against mapping u of its parent. */
static int scan_vma(struct cow_scan *cs, struct img_vma *v, struct vma_pages *vp,
		    const struct img_vma *u)
{
	const uint64_t ps = (uint64_t)getpagesize();
	uint64_t lo = MAX(v->d.start, u->d.start), hi = MIN(v->d.end, u->d.end), before = cs->pages;
	struct page_run *kept = NULL;
	size_t nkept = 0, kcap = 0;

	/* A run never spans two mappings (restore keeps one part of each). */
	cs->fresh = 1;
	for (size_t k = 0; k < vp->nruns; k++) {
		keep_outside(&vp->runs[k], lo, hi, &kept, &nkept, &kcap);
		if (scan_run(cs, &vp->runs[k], lo, hi, &kept, &nkept, &kcap) < 0) {
			free(kept);
			return -EIO;
		}
	}
	/* In address order again (what was outside came first). */
	for (size_t a = 1; a < nkept; a++)
		for (size_t b = a; b > 0 && kept[b].addr < kept[b - 1].addr; b--) {
			struct page_run t = kept[b];

			kept[b] = kept[b - 1];
			kept[b - 1] = t;
		}
	free(vp->runs);
	vp->runs = kept;
	vp->nruns = nkept;
	v->d.npages -= MIN(v->d.npages, cs->pages - before);
	(void)ps;
	return 0;
}

static int cmp_run(const void *a, const void *b)
{
	const struct ckpt_cow_run *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* One child against its parent. */
static int cow_child(pid_t child, struct img_proc *c, struct vma_pages *cvp, pid_t parent,
		     const struct img_proc *p)
{
	struct cow_scan cs = { .cfd = -1, .pfd = -1 };
	char path[64];
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", child);
	cs.cfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", parent);
	cs.pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (cs.cfd < 0 || cs.pfd < 0) {
		ret = error_errno(errno, "cannot open %s", path);
		goto out;
	}
	for (uint32_t i = 0; i < c->d.nvmas && ret == 0; i++) {
		struct img_vma *v = &c->vmas[i];

		/* Pages left IN_PARENT (same) stay so: a COW run is taken only
		 * from the pages to store (the parent image's own COW runs are
		 * among those, track.h). */
		if (!cvp[i].nruns || cvp[i].frozen || cvp[i].copy)
			continue;
		for (uint32_t k = 0; k < p->d.nvmas && ret == 0; k++) {
			const struct img_vma *u = &p->vmas[k];

			if (u->d.end > v->d.start && u->d.start < v->d.end && img_cow_compatible(v, u))
				ret = scan_vma(&cs, v, &cvp[i], u);
		}
	}
	if (ret == 0 && cs.n) {
		qsort(cs.runs, cs.n, sizeof(*cs.runs), cmp_run);
		c->cow = cs.runs;
		c->ncow = (uint32_t)cs.n;
		cs.runs = NULL;
		debug("process %d: %llu pages shared copy-on-write with its parent %d", c->d.pid,
		      (unsigned long long)cs.pages, p->d.pid);
	}
out:
	if (cs.cfd >= 0)
		close(cs.cfd);
	if (cs.pfd >= 0)
		close(cs.pfd);
	free(cs.runs);
	free(cs.c);
	free(cs.p);
	return ret;
}

int dump_tree_cow(const struct tracee_tree *tt, struct img *img, struct vma_pages **vp)
{
	for (uint32_t k = 1; k < img->ntasks; k++) {
		const struct ckpt_task *t = &img->tasks[k];
		const struct ckpt_task *par = &img->tasks[t->parent];
		int ret;

		if (t->proc < 0 || par->proc < 0)
			continue;
		ret = cow_child(tt->t[k].ts.t[0].tid, &img->procs[t->proc], vp[t->proc],
				tt->t[t->parent].ts.t[0].tid, &img->procs[par->proc]);
		if (ret < 0)
			return ret;
	}
	return 0;
}
