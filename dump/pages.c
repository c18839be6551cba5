/*
 * Page data.  Which pages: those present or swapped per /proc/PID/pagemap
 * (bits 63 and 62, Documentation/admin-guide/mm/pagemap.rst), or all of a
 * mapping whose file is gone.  pagewrite.c then reads and writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sigguard.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "dump/dump.h"

#define PM_PRESENT	(1ull << 63)
#define PM_SWAP		(1ull << 62)
#define PM_FILE		(1ull << 61)	/* page cache (or shmem) page, not a private copy */
#define PM_EXCLUSIVE	(1ull << 56)	/* mapped by this process alone (Linux 4.2) */
#define PM_GUARD	(1ull << 58)	/* a guard region's page (MADV_GUARD_INSTALL): it
					   shows as swapped and cannot be read (Linux 6.15) */
#define CHUNK_PAGES	65536u		/* pagemap entries read at once (512 KiB) */

/* Set once PAGEMAP_SCAN failed as unknown: the page map is read instead. */
static int pagemap_scan_missing;

/* ioctl(PAGEMAP_SCAN), failing as before Linux 6.7 (ENOTTY) under
 * CKPT_NO_PAGEMAP_SCAN (tests only, no_pagemap_scan()). */
long dump_pagemap_scan(int pmfd, struct ckpt_pm_scan_arg *a)
{
	if (no_pagemap_scan()) {
		errno = ENOTTY;
		return -1;
	}
	return ioctl(pmfd, CKPT_PAGEMAP_SCAN, a);
}

/* Which pages of v to save, by how restore recreates v. */
enum { SAVE_NONE, SAVE_PRESENT, SAVE_PRIVATE, SAVE_ALL };

static int save_mode(const struct img_vma *v)
{
	if (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED))
		return SAVE_NONE;
	/* A file the image makes again: shared, its data is the file's;
	 * private, mapped from it as a file is, and only its copies saved. */
	if (v->d.flags & CKPT_VMA_MEMFD)
		return (v->d.flags & CKPT_VMA_SHARED) ? SAVE_NONE : SAVE_PRIVATE;
	if (v->d.flags & CKPT_VMA_DELETED)
		return SAVE_ALL;
	/* A shared file mapping's data is the file itself. */
	if ((v->d.flags & CKPT_VMA_SHARED) && (v->d.flags & CKPT_VMA_FILE))
		return SAVE_NONE;
	/* A private file mapping: restore maps the (unchanged) file again, so
	 * only the pages the process wrote, its private copies, are saved. */
	if (v->d.flags & CKPT_VMA_FILE)
		return SAVE_PRIVATE;
	return SAVE_PRESENT;
}

static int excluded(const struct dump_opts *o, uint64_t a)
{
	for (int i = 0; i < o->nexclude; i++)
		if (a >= o->exclude[i].start && a < o->exclude[i].end)
			return 1;
	return 0;
}

void dump_add_run(struct page_run **runs, size_t *n, size_t *cap, uint64_t addr, uint64_t cnt)
{
	if (*n && (*runs)[*n - 1].addr + (*runs)[*n - 1].npages * (uint64_t)getpagesize() == addr) {
		(*runs)[*n - 1].npages += cnt;
		return;
	}
	if (*n == *cap)
		*runs = xrealloc(*runs, (*cap = *cap ? *cap * 2 : 16) * sizeof(**runs));
	(*runs)[(*n)++] = (struct page_run){ addr, cnt };
}

/* Is a in one of the sorted regions?  *cur moves forward only. */
static int in_regions(const struct page_run *w, size_t n, size_t *cur, uint64_t a, uint64_t ps)
{
	while (*cur < n && w[*cur].addr + w[*cur].npages * ps <= a)
		(*cur)++;
	return *cur < n && a >= w[*cur].addr;
}

/* Where a page to save goes: runs, or same (unchanged since the parent). */
struct planner {
	struct vma_pages *vp;
	const struct dump_opts *o;
	const struct page_run *written;	/* known: written since the parent */
	size_t nw, cur, cap, scap, gcap;
	int known;
	const struct page_run *cow;	/* the parent image's COW runs (track.h) */
	size_t ncow, ccur;
};

static void plan_page(struct planner *pn, uint64_t a, uint64_t ps)
{
	struct vma_pages *vp = pn->vp;

	if (pn->o->nexclude && excluded(pn->o, a))
		return;
	if (pn->known && !in_regions(pn->written, pn->nw, &pn->cur, a, ps) &&
	    !in_regions(pn->cow, pn->ncow, &pn->ccur, a, ps))
		dump_add_run(&vp->same, &vp->nsame, &pn->scap, a, 1);
	else
		dump_add_run(&vp->runs, &vp->nruns, &pn->cap, a, 1);
}

/*
 * Where a's side of the sorted regions w ends: *in says whether a is in
 * one; the result is the end of that region, or the start of the next
 * (at most e).  *cur moves forward only.
 */
static uint64_t region_edge(const struct page_run *w, size_t n, size_t *cur, uint64_t a,
			    uint64_t e, uint64_t ps, int *in)
{
	while (*cur < n && w[*cur].addr + w[*cur].npages * ps <= a)
		(*cur)++;
	*in = *cur < n && a >= w[*cur].addr;
	if (*cur == n)
		return e;
	return MIN(e, *in ? w[*cur].addr + w[*cur].npages * ps : w[*cur].addr);
}

/*
 * plan_page for each page of [s, e), a piece at a time: with 1 GiB
 * present and 1% written, 262,144 calls were most of an incremental
 * dump's page map phase.  Pieces in or out of the written and COW runs
 * alike go to the same list, where dump_add_run joins them again.
 */
static void plan_span(struct planner *pn, uint64_t s, uint64_t e, uint64_t ps)
{
	struct vma_pages *vp = pn->vp;

	if (pn->o->nexclude) {
		for (; s < e; s += ps)
			plan_page(pn, s, ps);
		return;
	}
	while (s < e) {
		int inw = 0, inc = 0;
		uint64_t ew = pn->known ? region_edge(pn->written, pn->nw, &pn->cur, s, e, ps, &inw) : e;
		uint64_t ec = pn->known ? region_edge(pn->cow, pn->ncow, &pn->ccur, s, e, ps, &inc) : e;
		uint64_t next = inw && inc ? MAX(ew, ec) : inw ? ew : inc ? ec : MIN(ew, ec);

		if (!pn->known || inw || inc)
			dump_add_run(&vp->runs, &vp->nruns, &pn->cap, s, (next - s) / ps);
		else
			dump_add_run(&vp->same, &vp->nsame, &pn->scap, s, (next - s) / ps);
		s = next;
	}
}

/* A private page another process maps too (a fork's copy-on-write). */
static int shared_cow(uint64_t pme, const struct img_vma *v)
{
	return (pme & PM_PRESENT) && !(pme & (PM_EXCLUSIVE | PM_FILE)) &&
	       !(v->d.flags & CKPT_VMA_SHARED);
}

/* The present or swapped pages of [start, end) of a process, as runs. */
struct regions {
	struct ckpt_page_region *r;
	size_t n, cur;		/* cur: where the next mapping's runs begin */
	uint64_t more;		/* categories returned besides those asked (WRITTEN) */
	size_t cap;		/* r's room (scan_regions appends) */
	uint64_t *pm;		/* check_cow: page map entries of [lo, hi) */
	uint64_t lo, hi;
};

/* Runs at most this many pages apart share one read of the page map. */
#define COW_GAP_PAGES	64u

/*
 * Read the page map from a, for the runs from rg->r[i] (which holds a) on
 * that lie close together, up to CHUNK_PAGES entries: 60,000 small
 * mappings, each with a page or two, are one read, not one each; runs
 * far apart (a big reservation, little touched) are still read alone.
 */
static int cow_window(int pmfd, struct regions *rg, size_t i, uint64_t a, uint64_t e)
{
	const uint64_t ps = (uint64_t)getpagesize();
	uint64_t lim = a + CHUNK_PAGES * ps, hi = MIN(e, lim);

	for (size_t j = i + 1; j < rg->n && rg->r[j].start <= rg->r[j - 1].end + COW_GAP_PAGES * ps &&
			       rg->r[j].start < lim; j++)
		hi = MIN(rg->r[j].end, lim);
	if (!rg->pm)
		rg->pm = xmalloc(CHUNK_PAGES * sizeof(*rg->pm));
	rg->lo = rg->hi = 0;
	if (pread_all(pmfd, rg->pm, (hi - a) / ps * sizeof(*rg->pm), (off_t)(a / ps * sizeof(*rg->pm))) < 0)
		return -1;
	rg->lo = a;
	rg->hi = hi;
	return 0;
}

/*
 * PAGEMAP_SCAN has no category for a page mapped by this process alone:
 * the page map's entries of [s, e) (in rg->r[i]), pages PAGEMAP_SCAN found
 * present, tell (pagemap bit 56), until the first that is not.
 * Unreadable: as if not (unpinned reads are slower, never wrong).
 */
static void check_cow(int pmfd, struct regions *rg, size_t i, const struct img_vma *v,
		      struct vma_pages *vp, uint64_t s, uint64_t e)
{
	const uint64_t ps = (uint64_t)getpagesize();

	for (uint64_t a = s; a < e && !vp->cow && !(v->d.flags & CKPT_VMA_SHARED); a += ps) {
		if ((a < rg->lo || a >= rg->hi) && cow_window(pmfd, rg, i, a, e) < 0 &&
		    /* A read that failed past e: this run alone, as before. */
		    cow_window(pmfd, rg, rg->n, a, e) < 0) {
			vp->cow = 1;
			return;
		}
		vp->cow = shared_cow(rg->pm[(a - rg->lo) / ps], v);
	}
}

/*
 * From PAGEMAP_SCAN (Linux 6.7), once for all the mappings planned: the
 * kernel walks only the page tables there are and returns runs, so a huge
 * reservation with little touched costs next to nothing (reading its
 * page map costs 2 MiB per GiB), and 60,000 mappings cost one call, not
 * one each.  Runs are split where PAGE_IS_FILE changes: a private file
 * mapping saves only its private copies (pagemap_page_category(),
 * fs/proc/task_mmu.c: what pagemap's bits 63, 62 and 61 say).  -ENOTTY
 * or -EINVAL: no PAGEMAP_SCAN here.
 */
static int scan_mask(int pmfd, uint64_t start, uint64_t end, uint64_t file, struct regions *rg)
{
	size_t cap = rg->cap;

	while (start < end) {
		struct ckpt_pm_scan_arg a = {
			.size = sizeof(a), .start = start, .end = end,
			.category_anyof_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED,
			.return_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED | file | rg->more,
		};
		long n;

		if (cap - rg->n < 256)
			rg->r = xrealloc(rg->r, (cap = cap ? cap * 2 : 1024) * sizeof(*rg->r));
		a.vec = (uint64_t)(uintptr_t)(rg->r + rg->n);
		a.vec_len = cap - rg->n;
		n = dump_pagemap_scan(pmfd, &a);
		if (n < 0)
			return -errno;
		rg->n += (size_t)n;
		rg->cap = cap;
		/* A full vec stops the walk at walk_end: go on from there. */
		if ((uint64_t)n < a.vec_len || a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	return 0;
}

static int scan_regions(int pmfd, uint64_t start, uint64_t end, struct regions *rg)
{
	return scan_mask(pmfd, start, end, CKPT_PAGE_IS_FILE, rg);
}

/*
 * Private anonymous mappings this big are walked without asking
 * PAGE_IS_FILE: to tell a page cache page from an anonymous one the
 * kernel looks at every present page's struct page (vm_normal_page,
 * fs/proc/task_mmu.c pagemap_page_category), 3-5 times the walk's cost
 * (1 GiB: 38-54 ms against 11 on a busy 2-CPU VM), and the answer is
 * known: every page such a mapping holds is anonymous or the zero page,
 * neither of them "file".  Smaller ones stay in one walk with their
 * neighbours (60,000 small mappings: one call, not thousands).
 */
#define ANON_SPLIT_MIN	(2ull << 20)

struct span {
	uint64_t start, end;
};

/*
 * Big private anonymous mappings are walked DOWN_CHUNK at a time from
 * their end down: a single process's smaps is read meanwhile (ahead.c),
 * walking each mapping up from its start and holding each page table's
 * lock while it looks at its 512 entries; a walk up behind it went at its
 * pace (1 GiB of small pages: the present-page scan ended with smaps,
 * 10-20 ms, where alone it takes 3-5), one down meets it once.
 */
#define DOWN_CHUNK	(32ull << 20)

/* The n regions at a, appended in ng groups (group g from grp[g]) from
 * the highest addresses down, back into address order. */
static void regroup(struct ckpt_page_region *a, size_t n, const size_t *grp, size_t ng)
{
	const size_t size = sizeof(*a);
	uint8_t *tmp, *t;

	if (ng < 2)
		return;
	t = tmp = xmalloc(n * size);
	for (size_t g = ng; g-- > 0;) {
		size_t from = grp[g], to = g + 1 < ng ? grp[g + 1] : n;

		memcpy(t, (const uint8_t *)(a + from), (to - from) * size);
		t += (to - from) * size;
	}
	memcpy(a, tmp, n * size);
	free(tmp);
}

/* [start, end) without PAGE_IS_FILE, DOWN_CHUNK at a time from its end,
 * its regions in address order all the same. */
static int scan_down(int pmfd, uint64_t start, uint64_t end, struct regions *rg)
{
	size_t base = rg->n, *grp = NULL, ng = 0;
	int ret = 0;

	for (uint64_t hi = end; hi > start && ret == 0;) {
		uint64_t lo = hi - start > DOWN_CHUNK ? hi - DOWN_CHUNK : start;

		grp = xrealloc(grp, (ng + 1) * sizeof(*grp));
		grp[ng++] = rg->n - base;
		ret = scan_mask(pmfd, lo, hi, 0, rg);
		hi = lo;
	}
	if (ret == 0)
		regroup(rg->r + base, rg->n - base, grp, ng);
	free(grp);
	return ret;
}

/* [lo, hi) in one walk but the spans in it (sorted, apart), each walked
 * without PAGE_IS_FILE. */
static int scan_split(int pmfd, uint64_t lo, uint64_t hi, const struct span *anon, size_t n,
		      struct regions *rg)
{
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i++) {
		if (lo < anon[i].start)
			ret = scan_mask(pmfd, lo, anon[i].start, CKPT_PAGE_IS_FILE, rg);
		if (ret == 0)
			ret = scan_down(pmfd, anon[i].start, anon[i].end, rg);
		lo = anon[i].end;
	}
	return ret == 0 && lo < hi ? scan_mask(pmfd, lo, hi, CKPT_PAGE_IS_FILE, rg) : ret;
}

static void add_span(struct span **s, size_t *n, uint64_t start, uint64_t end)
{
	if (end - start < ANON_SPLIT_MIN)
		return;
	*s = xrealloc(*s, (*n + 1) * sizeof(**s));
	(*s)[(*n)++] = (struct span){ start, end };
}

/* v's pages from the runs (mappings come in address order). */
static void plan_regions(struct regions *rg, int pmfd, const struct img_vma *v, int mode,
			 struct planner *pn)
{
	const uint64_t ps = (uint64_t)getpagesize();

	while (rg->cur < rg->n && rg->r[rg->cur].end <= v->d.start)
		rg->cur++;
	for (size_t i = rg->cur; i < rg->n && rg->r[i].start < v->d.end; i++) {
		uint64_t s = MAX(rg->r[i].start, v->d.start), e = MIN(rg->r[i].end, v->d.end);

		if (mode == SAVE_PRIVATE && (rg->r[i].categories & CKPT_PAGE_IS_FILE))
			continue;
		/* smaps said no page is mapped elsewhere: the page map need
		 * not be read (a 64 GiB reservation with a page in every
		 * 64 MiB: 1,024 reads; 1 GiB written: 2 MiB of page map). */
		if ((rg->r[i].categories & (CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_FILE)) ==
		    CKPT_PAGE_IS_PRESENT && !pn->vp->unshared)
			check_cow(pmfd, rg, i, v, pn->vp, s, e);
		plan_span(pn, s, e, ps);
	}
}

/* The same from /proc/PID/pagemap, read a chunk at a time (before 6.7). */
static int plan_read(int pmfd, const struct img_vma *v, int mode, struct planner *pn,
		     uint64_t *pm)
{
	const uint64_t ps = (uint64_t)getpagesize();

	for (uint64_t a = v->d.start; a < v->d.end; a += CHUNK_PAGES * ps) {
		uint64_t n = MIN((uint64_t)CHUNK_PAGES, (v->d.end - a) / ps);
		int ret = pread_all(pmfd, pm, n * sizeof(*pm), (off_t)(a / ps * sizeof(*pm)));

		if (ret < 0)
			return error_errno(ret, "cannot read the page map at %#lx", (unsigned long)a);
		for (uint64_t i = 0; i < n; i++) {
			if (pm[i] & PM_GUARD) {
				dump_add_run(&pn->vp->guards, &pn->vp->nguards, &pn->gcap, a + i * ps, 1);
				continue;
			}
			if (mode == SAVE_ALL) {
				dump_add_run(&pn->vp->runs, &pn->vp->nruns, &pn->cap, a + i * ps, 1);
				continue;
			}
			if (mode == SAVE_NONE || !(pm[i] & (PM_PRESENT | PM_SWAP)) ||
			    (mode == SAVE_PRIVATE && (pm[i] & PM_FILE)))
				continue;
			if (shared_cow(pm[i], v))
				pn->vp->cow = 1;
			plan_page(pn, a + i * ps, ps);
		}
	}
	return 0;
}

/* track_written from the regions found (rg->more: PAGE_IS_WRITTEN):
 * the written pages are those of them the uffd did not protect, present
 * or swapped (pagemap_page_category), as its scan of v would say. */
static int written_in(const struct regions *rg, struct track *tr, const struct img_vma *v,
		      struct page_run **out, size_t *n)
{
	const uint64_t ps = (uint64_t)getpagesize();
	size_t cap = 0, i = rg->cur;
	int ret = track_owns(tr, v);

	*out = NULL;
	*n = 0;
	if (ret < 0)
		return ret;
	while (i < rg->n && rg->r[i].end <= v->d.start)
		i++;
	for (; i < rg->n && rg->r[i].start < v->d.end; i++) {
		uint64_t s = MAX(rg->r[i].start, v->d.start), e = MIN(rg->r[i].end, v->d.end);

		if (rg->r[i].categories & CKPT_PAGE_IS_WRITTEN)
			dump_add_run(out, n, &cap, s, (e - s) / ps);
	}
	return 0;
}

static int plan_vma(int pmfd, const struct img_vma *v, struct vma_pages *vp,
		    const struct dump_opts *o, struct track *tr, uint64_t *pm, struct regions *rg)
{
	const uint64_t ps = (uint64_t)getpagesize();
	struct page_run *written = NULL;
	struct planner pn = { .vp = vp, .o = o, .cow = tr->cow, .ncow = tr->ncow };
	int mode = save_mode(v), ret = 0;
	/* smaps' "gu": the mapping may have guard regions, whose pages no
	 * one can read; they are found in the page map, whatever is saved. */
	int guards = !!(v->d.madv & CKPT_MADV_GUARD) && !(v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL));

	vp->nguards = 0;
	if (mode == SAVE_NONE && !guards)
		return 0;
	if (mode == SAVE_ALL && !guards) {
		for (uint64_t a = v->d.start; a < v->d.end; a += CHUNK_PAGES * ps)
			dump_add_run(&vp->runs, &vp->nruns, &pn.cap, a,
				MIN((uint64_t)CHUNK_PAGES, (v->d.end - a) / ps));
		return 0;
	}
	/* With the kernel's word on what was written since the parent, the
	 * other present pages are not even read. */
	if (rg && (rg->more & CKPT_PAGE_IS_WRITTEN) && !guards)
		pn.known = mode != SAVE_NONE && written_in(rg, tr, v, &written, &pn.nw) == 0;
	else
		pn.known = mode != SAVE_NONE && track_written(tr, v, &written, &pn.nw) == 0;
	pn.written = written;
	/* Guard regions are read from the page map (PM_GUARD): PAGEMAP_SCAN
	 * names them only from Linux 6.15 (PAGE_IS_GUARD). */
	if (rg && !guards)
		plan_regions(rg, pmfd, v, mode, &pn);
	else
		ret = plan_read(pmfd, v, mode, &pn, pm);
	free(written);
	return ret;
}

static void free_one(struct vma_pages *vp)
{
	free(vp->runs);
	free(vp->same);
	free(vp->guards);
	if (vp->copy)
		munmap(vp->copy, vp->copy_len);
}

/* The image's GUARDS: every mapping's guard regions, in address order. */
static void collect_guards(struct img_proc *p, const struct vma_pages *vp)
{
	const uint64_t ps = (uint64_t)getpagesize();
	uint32_t n = 0;

	free(p->guards);
	p->guards = NULL;
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		n += (uint32_t)vp[i].nguards;
	p->nguards = n;
	if (!n)
		return;
	p->guards = xmalloc(n * sizeof(*p->guards));
	n = 0;
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		for (size_t k = 0; k < vp[i].nguards; k++)
			p->guards[n++] = (struct ckpt_range){ vp[i].guards[k].addr,
				vp[i].guards[k].addr + vp[i].guards[k].npages * ps };
}

/* Is mapping i planned in this pass? */
static int selected(const struct vma_pages *vp, uint32_t i, enum plan_which which)
{
	return which == PLAN_ALL || (which == PLAN_FROZEN) == vp[i].frozen;
}

/* From the first mapping planned whose pages the page map decides to
 * the end of the last: what one scan covers. */
static void planned_range(const struct img_proc *p, const struct vma_pages *vp,
			  enum plan_which which, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		int mode = save_mode(&p->vmas[i]);

		if (!selected(vp, i, which) || (mode != SAVE_PRESENT && mode != SAVE_PRIVATE))
			continue;
		*lo = MIN(*lo, p->vmas[i].d.start);
		*hi = MAX(*hi, p->vmas[i].d.end);
	}
}

/*
 * PAGEMAP_SCAN of the mappings planned, from the first to the last, but
 * not across one this pass leaves whose pages the scan would walk: with
 * --snapshot the frozen pass leaves the big mappings (1 GiB: about as
 * long as the rest of the pause).  A single range when none is left.
 */
static int scan_planned(int pmfd, const struct img_proc *p, const struct vma_pages *vp,
			enum plan_which which, struct regions *rg)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	int ret = 0;

	for (uint32_t i = 0; i <= p->d.nvmas && ret == 0; i++) {
		int mode = i < p->d.nvmas ? save_mode(&p->vmas[i]) : SAVE_NONE;
		int walked = mode == SAVE_PRESENT || mode == SAVE_PRIVATE;

		if (i < p->d.nvmas && walked && selected(vp, i, which)) {
			lo = MIN(lo, p->vmas[i].d.start);
			hi = MAX(hi, p->vmas[i].d.end);
			continue;
		}
		if ((i == p->d.nvmas || walked) && lo < hi) {
			ret = scan_regions(pmfd, lo, hi, rg);
			lo = UINT64_MAX;
			hi = 0;
		}
	}
	return ret;
}

/* Every mapping's, [lo, hi): the big private anonymous ones without
 * PAGE_IS_FILE (scan_split). */
static int scan_all(int pmfd, const struct img_proc *p, uint64_t lo, uint64_t hi, struct regions *rg)
{
	struct span *anon = NULL;
	size_t n = 0;
	int ret;

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		if (save_mode(v) == SAVE_PRESENT && !(v->d.flags & CKPT_VMA_SHARED) &&
		    v->d.start >= lo && v->d.end <= hi)
			add_span(&anon, &n, v->d.start, v->d.end);
	}
	ret = scan_split(pmfd, lo, hi, anon, n, rg);
	free(anon);
	return ret;
}

static int open_pagemap(pid_t pid)
{
	char path[64];
	int pmfd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	return pmfd < 0 ? error_errno(errno, "cannot open %s", path) : pmfd;
}

/* No file, heap, stack or named anonymous memory, not shared. */
static int private_anon(const struct map_entry *m)
{
	return !m->shared && !m->ino && !m->dev_major && !m->dev_minor &&
	       (!m->path[0] || !strcmp(m->path, "[heap]") || !strcmp(m->path, "[stack]") ||
		!strncmp(m->path, "[anon:", 6));
}

uint64_t dump_present_anon(const struct map_entry *maps, size_t n, const struct present_scan *ps)
{
	uint64_t sum = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!private_anon(&maps[i]))
			continue;
		while (k < ps->n && ps->r[k].end <= maps[i].start)
			k++;
		for (size_t j = k; j < ps->n && ps->r[j].start < maps[i].end; j++)
			sum += MIN(ps->r[j].end, maps[i].end) - MAX(ps->r[j].start, maps[i].start);
	}
	return sum;
}

void dump_scan_present(pid_t pid, const struct map_entry *maps, size_t n, int written,
		       struct present_scan *ps)
{
	struct regions rg = { .more = written ? CKPT_PAGE_IS_WRITTEN : 0 };
	struct span *anon = NULL;
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t nanon = 0;
	char path[64];
	int pmfd;

	memset(ps, 0, sizeof(*ps));
	for (size_t i = 0; i < n; i++)
		if (strcmp(maps[i].path, "[vsyscall]")) {
			lo = MIN(lo, maps[i].start);
			hi = MAX(hi, maps[i].end);
			if (private_anon(&maps[i]))
				add_span(&anon, &nanon, maps[i].start, maps[i].end);
		}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	/* Failed: the plan opens and scans again, and says why. */
	if (pagemap_scan_missing || lo >= hi || (pmfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		free(anon);
		return;
	}
	if (scan_split(pmfd, lo, hi, anon, nanon, &rg) == 0) {
		ps->r = rg.r ? rg.r : xmalloc(sizeof(*rg.r));
		ps->n = rg.n;
		ps->lo = lo;
		ps->hi = hi;
		ps->written = written;
	} else {
		free(rg.r);
	}
	free(anon);
	close(pmfd);
}

static int plan_vmas(pid_t pid, struct img_proc *p, struct vma_pages *vp, const struct dump_opts *o,
		     struct track *tr, enum plan_which which, struct present_scan *pre)
{
	struct regions rg = { 0 };
	uint64_t *pm, lo, hi;
	int pmfd, ret = 0;

	if ((pmfd = open_pagemap(pid)) < 0)
		return pmfd;
	pm = xmalloc(CHUNK_PAGES * sizeof(*pm));
	planned_range(p, vp, which, &lo, &hi);
	if (pre && pre->r && pre->lo <= lo && pre->hi >= hi) {
		/* Scanned already, over all the mappings (a superset). */
		rg.r = pre->r;
		rg.n = pre->n;
		rg.more = pre->written ? CKPT_PAGE_IS_WRITTEN : 0;
		pre->r = NULL;
	} else if (!pagemap_scan_missing) {
		ret = lo >= hi ? 0 : which == PLAN_ALL ? scan_all(pmfd, p, lo, hi, &rg) :
				 scan_planned(pmfd, p, vp, which, &rg);
		if (ret == -ENOTTY || ret == -EINVAL) {
			pagemap_scan_missing = 1;
			ret = 0;
		} else if (ret < 0) {
			ret = error_errno(ret, "cannot scan the page map of process %d", pid);
		}
	}
	for (uint32_t i = 0; i < p->d.nvmas && !ret; i++) {
		if (!selected(vp, i, which)) {
			/* Read while frozen; VmFlags known only now (MADV_DONTDUMP...). */
			if (which == PLAN_FORKED && save_mode(&p->vmas[i]) == SAVE_NONE) {
				free_one(&vp[i]);
				memset(&vp[i], 0, sizeof(vp[i]));
				p->vmas[i].d.npages = 0;
			}
			continue;
		}
		ret = plan_vma(pmfd, &p->vmas[i], &vp[i], o, tr, pm, pagemap_scan_missing ? NULL : &rg);
		p->vmas[i].d.npages = 0;
		for (size_t k = 0; k < vp[i].nruns; k++)
			p->vmas[i].d.npages += vp[i].runs[k].npages;
		for (size_t k = 0; k < vp[i].nsame; k++)
			p->vmas[i].d.npages += vp[i].same[k].npages;
	}
	free(pm);
	free(rg.r);
	free(rg.pm);
	close(pmfd);
	collect_guards(p, vp);
	return ret;
}

/*
 * --snapshot, after the release: the mappings not planned while frozen
 * (!vp[i].frozen) planned from their shadows, mapping i's pages read at
 * its address + shift[i]: the shadow holds exactly the pages of the
 * frozen instant (nothing of the process writes there), so its page map
 * is the cut's.  The runs are moved back to the image's addresses; the
 * --exclude ranges, given in the process's addresses, are moved to the
 * shadow's for the plan.  Every mapping's guard regions are collected
 * again afterwards.
 */
int dump_plan_moved(pid_t pid, struct img_proc *p, struct vma_pages *vp, const struct dump_opts *o,
		    struct track *tr, const int64_t *shift)
{
	uint64_t *pm = xmalloc(CHUNK_PAGES * sizeof(*pm));
	int pmfd = open_pagemap(pid), ret = 0;

	if (pmfd < 0) {
		free(pm);
		return pmfd;
	}
	for (uint32_t i = 0; i < p->d.nvmas && ret == 0; i++) {
		struct img_vma v = p->vmas[i];
		struct dump_opts so = *o;
		__typeof__(*o->exclude) *ex = NULL;
		struct regions rg = { 0 }, *rgp = NULL;
		int64_t d = shift[i];

		if (vp[i].frozen)
			continue;
		v.d.start += (uint64_t)d;
		v.d.end += (uint64_t)d;
		if (o->nexclude) {
			ex = xmalloc((size_t)o->nexclude * sizeof(*ex));
			for (int k = 0; k < o->nexclude; k++) {
				ex[k].start = o->exclude[k].start + (uint64_t)d;
				ex[k].end = o->exclude[k].end + (uint64_t)d;
			}
			so.exclude = ex;
		}
		if (!pagemap_scan_missing) {
			ret = scan_regions(pmfd, v.d.start, v.d.end, &rg);
			if (ret == -ENOTTY || ret == -EINVAL) {
				pagemap_scan_missing = 1;
				ret = 0;
			} else if (ret < 0) {
				ret = error_errno(ret, "cannot scan the page map of process %d", pid);
			} else {
				rgp = &rg;
			}
		}
		if (ret == 0)
			ret = plan_vma(pmfd, &v, &vp[i], &so, tr, pm, rgp);
		free(rg.r);
		free(rg.pm);
		free(ex);
		p->vmas[i].d.npages = 0;
		for (size_t k = 0; k < vp[i].nruns; k++) {
			vp[i].runs[k].addr -= (uint64_t)d;
			p->vmas[i].d.npages += vp[i].runs[k].npages;
		}
		for (size_t k = 0; k < vp[i].nsame; k++) {
			vp[i].same[k].addr -= (uint64_t)d;
			p->vmas[i].d.npages += vp[i].same[k].npages;
		}
		for (size_t k = 0; k < vp[i].nguards; k++)
			vp[i].guards[k].addr -= (uint64_t)d;
	}
	free(pm);
	close(pmfd);
	collect_guards(p, vp);
	return ret;
}

static int any_page(int pmfd, const struct img_vma *v, int nonzero);

/* Has pid a page in v (present or swapped)?  1, 0, or -errno: -ENOTTY
 * before Linux 6.7 (no PAGEMAP_SCAN), when the caller assumes it has. */
int dump_has_pages(pid_t pid, const struct img_vma *v)
{
	int pmfd = open_pagemap(pid), ret;

	if (pmfd < 0)
		return pmfd;
	ret = any_page(pmfd, v, 0);
	close(pmfd);
	return ret;
}

/* Plan the mappings `which` selects, reading pid's page map. */
int dump_plan_vmas(pid_t pid, struct img_proc *p, struct vma_pages *vp, const struct dump_opts *o,
		   struct track *tr, enum plan_which which)
{
	return plan_vmas(pid, p, vp, o, tr, which, NULL);
}

int dump_plan_pages(pid_t pid, struct img_proc *p, struct vma_pages **out,
		    const struct dump_opts *o, struct track *tr, const struct map_entry *maps,
		    struct present_scan *pre)
{
	struct vma_pages *vp = xzalloc(p->d.nvmas * sizeof(*vp));
	int ret;

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		/* A fork copies neither shared memory (the process goes on
		 * writing it) nor what the process asked it not to. */
		vp[i].frozen = (v->d.flags & CKPT_VMA_SHARED) ||
			       (v->d.madv & (CKPT_MADV_DONTFORK | CKPT_MADV_WIPEONFORK));
		/* Read while the process is frozen: it cannot fork, so no page
		 * of it becomes shared before its pages are read. */
		vp[i].unshared = maps && (maps[i].vmflags & (PM_SMAPS | PM_SHARED_PAGES)) == PM_SMAPS;
	}
	ret = plan_vmas(pid, p, vp, o, tr, PLAN_ALL, pre);
	if (ret < 0) {
		dump_free_pages(vp, p->d.nvmas);
		return ret;
	}
	*out = vp;
	return 0;
}

/* pmfd's pages in [start, end), present or swapped; with nonzero, not the
 * zero page (inverted: the zero page does not count).  max: stop at the
 * first (1) or not (0).  The regions found, or -errno (-ENOTTY before
 * Linux 6.7: no PAGEMAP_SCAN). */
static long scan_any(int pmfd, uint64_t start, uint64_t end, int nonzero, uint64_t max,
		     struct ckpt_page_region *r, size_t nr, uint64_t *walk_end)
{
	struct ckpt_pm_scan_arg a = {
		.size = sizeof(a), .start = start, .end = end,
		.vec = (uint64_t)(uintptr_t)r, .vec_len = nr, .max_pages = max,
		.category_anyof_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED,
		.return_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED,
	};
	long n;

	if (nonzero)
		a.category_mask = a.category_inverted = CKPT_PAGE_IS_PFNZERO;
	n = dump_pagemap_scan(pmfd, &a);
	if (walk_end)
		*walk_end = a.walk_end;
	return n < 0 ? -errno : n;
}

/* Has pid a page in v (scan_any)?  1, 0 or -errno. */
static int any_page(int pmfd, const struct img_vma *v, int nonzero)
{
	struct ckpt_page_region r;
	long n = scan_any(pmfd, v->d.start, v->d.end, nonzero, 1, &r, 1, NULL);

	return n < 0 ? (int)n : n > 0;
}

/*
 * Mappings of at most this many pages go into runs scanned at once: one
 * PAGEMAP_SCAN for 60,000 one-page mappings instead of one or two each
 * (90,000 ioctls, 230 ms of the freeze at load 5).  A run's walk visits
 * every page table of it, where a scan of one mapping stops at its first
 * page: bigger mappings are still scanned alone.
 */
#define RUN_VMA_PAGES	64u

/* Set has[k - i] for each mapping k in [i, j) that a page of pmfd's in
 * [vmas[i].start, vmas[j - 1].end) lies in (scan_any). */
static int mark_run(int pmfd, const struct img_vma *vmas, uint32_t i, uint32_t j, int nonzero,
		    uint8_t *has)
{
	struct ckpt_page_region r[512];
	uint64_t start = vmas[i].d.start, end = vmas[j - 1].d.end;
	uint32_t k = i;

	while (start < end) {
		uint64_t walk_end = 0;
		long n = scan_any(pmfd, start, end, nonzero, 0, r, ARRAY_SIZE(r), &walk_end);

		if (n < 0)
			return (int)n;
		/* Regions in address order; one may span mappings. */
		for (long x = 0; x < n; x++) {
			while (k < j && vmas[k].d.end <= r[x].start)
				k++;
			for (uint32_t m = k; m < j && vmas[m].d.start < r[x].end; m++)
				has[m - i] = 1;
		}
		/* A full vec stops the walk at walk_end: go on from there. */
		if ((size_t)n < ARRAY_SIZE(r) || walk_end <= start)
			break;
		start = walk_end;
	}
	return 0;
}

/* Private anonymous memory to save: what a fork copies, or wipes. */
static int forkable(const struct img_vma *v)
{
	return save_mode(v) != SAVE_NONE && !(v->d.flags & CKPT_VMA_SHARED) &&
	       (v->d.flags & CKPT_VMA_ANON);
}

static int small(const struct img_vma *v)
{
	return v->d.end - v->d.start <= (uint64_t)RUN_VMA_PAGES * (uint64_t)getpagesize();
}

/*
 * The process's side of the runs of small mappings (mark_run of its page
 * map, zero page aside), on a thread of its own while the caller scans
 * the copy's: two page-table walks of 60,000 mappings on two CPUs (some
 * 20 ms each, one after the other in the freeze before).  The process is
 * frozen and the fork adds no page of it that the copy lacks (our frames
 * are copied with the stack), so its side is the same read before, beside
 * or after the copy's.  Both read p->vmas only.
 */
struct side_scan {
	int pmfd;
	const struct img_vma *vmas;
	const uint32_t (*runs)[2];	/* [i, j) of each run */
	size_t nruns;
	uint8_t *has;			/* one byte per mapping */
	int ret;
};

static void *scan_side(void *arg)
{
	struct side_scan *s = arg;

	for (size_t r = 0; r < s->nruns && s->ret == 0; r++)
		s->ret = mark_run(s->pmfd, s->vmas, s->runs[r][0], s->runs[r][1], 1,
				  s->has + s->runs[r][0]);
	return NULL;
}

static void *side_run(void *arg)
{
	sigguard_helper_thread();	/* signals are for the main thread */
	return scan_side(arg);
}

int dump_mark_not_forked(pid_t pid, pid_t child, const struct img_proc *p, struct vma_pages *vp)
{
	char path[64];
	int pmfd, cmfd = -1, ret = 0, threaded = 0;
	uint8_t *cp = xzalloc(p->d.nvmas + 1), *pp = xzalloc(p->d.nvmas + 1);
	uint32_t (*runs)[2] = xmalloc((p->d.nvmas + 1) * sizeof(*runs));
	struct side_scan side = { .vmas = p->vmas, .runs = (const uint32_t (*)[2])runs, .has = pp };
	pthread_t th;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pmfd >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", child);
		cmfd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (cmfd < 0)
		ret = error_errno(errno, "cannot open %s", path);
	for (uint32_t i = 0, j; i < p->d.nvmas && ret >= 0; i = j) {
		const struct img_vma *v = &p->vmas[i];

		j = i + 1;
		if (v->d.flags & CKPT_VMA_SHARED) {
			if (save_mode(v) != SAVE_NONE)
				vp[i].frozen = 1;
			continue;
		}
		if (!forkable(v))
			continue;
		/*
		 * MADV_WIPEONFORK (private anonymous memory only): the copy
		 * has the mapping, empty.  Its flag shows only in smaps, which
		 * walks every page table, but a fork copies every page table
		 * entry of a private anonymous mapping that has pages of its
		 * own: one with none in the copy but some in the process
		 * (the zero page aside, which the fork need not copy) was
		 * wiped.  A mapping alone stops at the first page it finds.
		 */
		if (!small(v)) {
			ret = any_page(cmfd, v, 0);
			if (ret == 0) {
				ret = any_page(pmfd, v, 1);
				vp[i].frozen = ret > 0;
			}
			continue;
		}
		while (j < p->d.nvmas && forkable(&p->vmas[j]) && small(&p->vmas[j]))
			j++;
		runs[side.nruns][0] = i;
		runs[side.nruns++][1] = j;
	}
	side.pmfd = pmfd;
	if (ret >= 0 && side.nruns)
		threaded = pthread_create(&th, NULL, side_run, &side) == 0;
	for (size_t r = 0; r < side.nruns && ret >= 0; r++)
		ret = mark_run(cmfd, p->vmas, runs[r][0], runs[r][1], 0, cp + runs[r][0]);
	if (threaded)
		pthread_join(th, NULL);
	else if (ret >= 0)
		scan_side(&side);
	if (ret >= 0)
		ret = side.ret;
	for (size_t r = 0; r < side.nruns && ret >= 0; r++)
		for (uint32_t k = runs[r][0]; k < runs[r][1]; k++)
			vp[k].frozen = !cp[k] && pp[k];
	free(runs);
	free(cp);
	free(pp);
	if (pmfd >= 0)
		close(pmfd);
	if (cmfd >= 0)
		close(cmfd);
	if (ret == -ENOTTY || ret == -EINVAL)
		return 1;
	return ret < 0 ? error_errno(ret, "cannot scan the page map") : 0;
}

void dump_free_pages(struct vma_pages *vp, uint32_t n)
{
	for (uint32_t i = 0; vp && i < n; i++)
		free_one(&vp[i]);
	free(vp);
}
