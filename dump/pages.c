/*
 * Page data.  Which pages: those present or swapped per /proc/PID/pagemap
 * (bits 63 and 62, Documentation/admin-guide/mm/pagemap.rst), or all of a
 * mapping whose file is gone.  pagewrite.c then reads and writes them.
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

#define PM_PRESENT	(1ull << 63)
#define PM_SWAP		(1ull << 62)
#define PM_FILE		(1ull << 61)	/* page cache (or shmem) page, not a private copy */
#define CHUNK_PAGES	65536u		/* pagemap entries read at once (512 KiB) */

/* Which pages of v to save, by how restore recreates v. */
enum { SAVE_NONE, SAVE_PRESENT, SAVE_PRIVATE, SAVE_ALL };

static int save_mode(const struct img_vma *v)
{
	if (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED | CKPT_VMA_MEMFD))
		return SAVE_NONE;
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

static void add_run(struct page_run **runs, size_t *n, size_t *cap, uint64_t addr, uint64_t cnt)
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

static int plan_vma(int pmfd, const struct img_vma *v, struct vma_pages *vp,
		    const struct dump_opts *o, struct track *tr, uint64_t *pm)
{
	const uint64_t ps = (uint64_t)getpagesize();
	size_t cap = 0, scap = 0, nw = 0, cur = 0;
	struct page_run *written = NULL;
	int mode = save_mode(v), known;

	/* With the kernel's word on what was written since the parent, the
	 * other present pages are not even read. */
	known = mode != SAVE_NONE && track_written(tr, v, &written, &nw) == 0;
	for (uint64_t a = v->d.start; mode != SAVE_NONE && a < v->d.end; a += CHUNK_PAGES * ps) {
		uint64_t n = MIN((uint64_t)CHUNK_PAGES, (v->d.end - a) / ps);
		int ret;

		if (mode == SAVE_ALL) {
			add_run(&vp->runs, &vp->nruns, &cap, a, n);
			continue;
		}
		ret = pread_all(pmfd, pm, n * sizeof(*pm), (off_t)(a / ps * sizeof(*pm)));
		if (ret < 0) {
			free(written);
			return error_errno(ret, "cannot read the page map at %#lx", (unsigned long)a);
		}
		for (uint64_t i = 0; i < n; i++) {
			if (!(pm[i] & (PM_PRESENT | PM_SWAP)) ||
			    (mode == SAVE_PRIVATE && (pm[i] & PM_FILE)) ||
			    (o->nexclude && excluded(o, a + i * ps)))
				continue;
			if (known && !in_regions(written, nw, &cur, a + i * ps, ps))
				add_run(&vp->same, &vp->nsame, &scap, a + i * ps, 1);
			else
				add_run(&vp->runs, &vp->nruns, &cap, a + i * ps, 1);
		}
	}
	free(written);
	return 0;
}

int dump_plan_pages(pid_t pid, struct img_proc *p, struct vma_pages **out,
		    const struct dump_opts *o, struct track *tr)
{
	struct vma_pages *vp = xzalloc(p->d.nvmas * sizeof(*vp));
	uint64_t *pm;
	char path[64];
	int pmfd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pmfd < 0) {
		free(vp);
		return error_errno(errno, "cannot open %s", path);
	}
	pm = xmalloc(CHUNK_PAGES * sizeof(*pm));
	for (uint32_t i = 0; i < p->d.nvmas && !ret; i++) {
		ret = plan_vma(pmfd, &p->vmas[i], &vp[i], o, tr, pm);
		p->vmas[i].d.npages = 0;
		for (size_t k = 0; k < vp[i].nruns; k++)
			p->vmas[i].d.npages += vp[i].runs[k].npages;
		for (size_t k = 0; k < vp[i].nsame; k++)
			p->vmas[i].d.npages += vp[i].same[k].npages;
	}
	free(pm);
	close(pmfd);
	if (ret < 0) {
		dump_free_pages(vp, p->d.nvmas);
		return ret;
	}
	*out = vp;
	return 0;
}

void dump_free_pages(struct vma_pages *vp, uint32_t n)
{
	for (uint32_t i = 0; vp && i < n; i++) {
		free(vp[i].runs);
		free(vp[i].same);
	}
	free(vp);
}
