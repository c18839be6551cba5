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
#define CHUNK_PAGES	2048u		/* pagemap entries read at once */

/* Which pages of v to save, by how restore recreates v. */
enum { SAVE_NONE, SAVE_PRESENT, SAVE_PRIVATE, SAVE_ALL };

static int save_mode(const struct img_vma *v)
{
	if (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED))
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

static void add_run(struct vma_pages *vp, size_t *cap, uint64_t addr, uint64_t n)
{
	if (vp->nruns && vp->runs[vp->nruns - 1].addr +
	    vp->runs[vp->nruns - 1].npages * (uint64_t)getpagesize() == addr) {
		vp->runs[vp->nruns - 1].npages += n;
		return;
	}
	if (vp->nruns == *cap)
		vp->runs = xrealloc(vp->runs, (*cap = *cap ? *cap * 2 : 16) * sizeof(*vp->runs));
	vp->runs[vp->nruns++] = (struct page_run){ addr, n };
}

static int plan_vma(int pmfd, const struct img_vma *v, struct vma_pages *vp,
		    const struct dump_opts *o)
{
	const uint64_t ps = (uint64_t)getpagesize();
	uint64_t *pm = xmalloc(CHUNK_PAGES * sizeof(*pm));
	size_t cap = 0;
	int mode = save_mode(v);

	for (uint64_t a = v->d.start; mode != SAVE_NONE && a < v->d.end; a += CHUNK_PAGES * ps) {
		uint64_t n = MIN((uint64_t)CHUNK_PAGES, (v->d.end - a) / ps);
		int ret;

		if (mode == SAVE_ALL) {
			add_run(vp, &cap, a, n);
			continue;
		}
		ret = pread_all(pmfd, pm, n * sizeof(*pm), (off_t)(a / ps * sizeof(*pm)));
		if (ret < 0) {
			free(pm);
			return error_errno(ret, "cannot read the page map at %#lx", (unsigned long)a);
		}
		for (uint64_t i = 0; i < n; i++) {
			if (!(pm[i] & (PM_PRESENT | PM_SWAP)) ||
			    (mode == SAVE_PRIVATE && (pm[i] & PM_FILE)) ||
			    (o->nexclude && excluded(o, a + i * ps)))
				continue;
			add_run(vp, &cap, a + i * ps, 1);
		}
	}
	free(pm);
	return 0;
}

int dump_plan_pages(pid_t pid, struct img_proc *p, struct vma_pages **out,
		    const struct dump_opts *o)
{
	struct vma_pages *vp = xzalloc(p->d.nvmas * sizeof(*vp));
	char path[64];
	int pmfd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pmfd < 0) {
		free(vp);
		return error_errno(errno, "cannot open %s", path);
	}
	for (uint32_t i = 0; i < p->d.nvmas && !ret; i++) {
		ret = plan_vma(pmfd, &p->vmas[i], &vp[i], o);
		p->vmas[i].d.npages = 0;
		for (size_t k = 0; k < vp[i].nruns; k++)
			p->vmas[i].d.npages += vp[i].runs[k].npages;
	}
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
	for (uint32_t i = 0; vp && i < n; i++)
		free(vp[i].runs);
	free(vp);
}
