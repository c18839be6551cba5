/* Freeing and querying the in-memory image model (model.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "image/model.h"

void img_free(struct img *img)
{
	for (uint32_t i = 0; img->procs && i < img->h.nprocs; i++) {
		struct img_proc *p = &img->procs[i];

		for (uint32_t k = 0; p->threads && k < p->d.nthreads; k++) {
			struct img_thread *t = &p->threads[k];

			for (uint32_t j = 0; t->regsets && j < t->d.nregsets; j++)
				free(t->regsets[j].data);
			free(t->regsets);
			free(t->pending);
		}
		for (uint32_t k = 0; p->vmas && k < p->d.nvmas; k++)
			free(p->vmas[k].path);
		free(p->threads);
		free(p->vmas);
		free(p->fds);
		free(p->groups);
		free(p->exe);
		free(p->cwd);
		free(p->root);
		free(p->cmdline);
		free(p->auxv);
		free(p->pending);
		free(p->ptimers);
		free(p->cow);
		free(p->xfeat);
		free(p->tattrs);
		free(p->guards);
		for (uint32_t k = 0; p->seccomp && k < p->nseccomp; k++)
			free(p->seccomp[k].insns);
		free(p->seccomp);
		free(p->shms);
		free(p->locks);
	}
	free(img->tasks);
	img->tasks = NULL;
	img->ntasks = 0;
	free(img->procs);
	img->procs = NULL;
	for (uint32_t i = 0; img->files && i < img->nfiles; i++) {
		free(img->files[i].path);
		free(img->files[i].state);
		free(img->files[i].what);
		free(img->files[i].data);
	}
	free(img->files);
	img->files = NULL;
	img->nfiles = 0;
	free(img->parent);
	img->parent = NULL;
}

const struct img_vma *img_find_vma(const struct img_proc *p, uint64_t addr)
{
	uint32_t lo = 0, hi = p->d.nvmas;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct img_vma *v = &p->vmas[mid];

		if (addr < v->d.start)
			hi = mid;
		else if (addr >= v->d.end)
			lo = mid + 1;
		else
			return v;
	}
	return NULL;
}

const struct ckpt_task *img_task_of(const struct img *img, uint32_t proc)
{
	for (uint32_t i = 0; i < img->ntasks; i++)
		if (img->tasks[i].proc == (int32_t)proc)
			return &img->tasks[i];
	return NULL;
}

int img_find_proc(const struct img *img, int32_t pid, uint64_t start_time)
{
	for (uint32_t i = 0; img->procs && i < img->h.nprocs; i++)
		if (img->procs[i].d.pid == pid && img->procs[i].d.start_time == start_time)
			return (int)i;
	return -1;
}

struct img_file *img_file(const struct img *img, uint32_t id)
{
	return id && id <= img->nfiles ? &img->files[id - 1] : NULL;
}

struct img_file *img_add_file(struct img *img)
{
	struct img_file *f;

	/* Grown by powers of two: nfiles is the only count kept. */
	if (!(img->nfiles & (img->nfiles - 1)) || !img->files)
		img->files = xrealloc(img->files, (img->nfiles ? 2 * img->nfiles : 1) * sizeof(*f));
	f = &img->files[img->nfiles++];
	memset(f, 0, sizeof(*f));
	f->d.id = img->nfiles;
	return f;
}

int img_file_fd(const struct img_proc *p, uint32_t id)
{
	for (uint32_t i = 0; i < p->d.nfds; i++)
		if (p->fds[i].d.file == id)
			return p->fds[i].d.fd;
	return -1;
}

void img_lock_text(const struct ckpt_lock *l, char *buf, size_t len)
{
	const char *type = l->type == CKPT_LOCK_FLOCK ? "flock" : l->type == CKPT_LOCK_POSIX ? "POSIX" :
			   l->type == CKPT_LOCK_OFD ? "OFD" : "lease";
	const char *mode = l->mode == 1 /* F_WRLCK */ ? "write" : "read";

	if (l->type == CKPT_LOCK_LEASE)
		snprintf(buf, len, "%s lease", mode);
	else if (l->start == 0 && l->end == CKPT_LOCK_EOF)
		snprintf(buf, len, "%s %s lock on the whole file", type, mode);
	else if (l->end == CKPT_LOCK_EOF)
		snprintf(buf, len, "%s %s lock on bytes %llu to the end", type, mode,
			 (unsigned long long)l->start);
	else
		snprintf(buf, len, "%s %s lock on bytes %llu-%llu", type, mode,
			 (unsigned long long)l->start, (unsigned long long)l->end);
}
