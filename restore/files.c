/*
 * The restored process's file descriptors (restore/fd.c) and the files
 * its mappings need.  Everything is opened here, in ckpt, before the
 * fork: a missing or changed file is a clear error while nothing exists
 * yet.  The forked child then only moves descriptors into place
 * (files_install_child).
 * When root restores another user's process, files are opened with that
 * user's filesystem credentials, so the process gets no more access than
 * it had.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/fd.h"
#include "restore/restore.h"

static uint64_t mtime_ns(const struct stat *sb)
{
	return (uint64_t)sb->st_mtim.tv_sec * 1000000000ull + (uint64_t)sb->st_mtim.tv_nsec;
}

/* A shared mapping that writes to its file, or may be made to (MAYWRITE):
 * its file is opened for writing. */
static int map_writes(const struct img_vma *v)
{
	return (v->d.flags & CKPT_VMA_SHARED) &&
	       ((v->d.prot & PROT_WRITE) || (v->d.flags & CKPT_VMA_MAYWRITE));
}

/* Files behind mappings: one fd per distinct path, checked unchanged. */
static int open_maps(const struct img *img, const struct img_proc *p, struct spawn_fds *sf,
		     int *next_slot)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		int wr = map_writes(v);
		struct stat sb;
		uint32_t k;

		sf->map_src[i] = sf->map_slot[i] = -1;
		if (v->d.flags & CKPT_VMA_MEMFD) {
			/* the memfd recreated for the file with the same identity */
			for (uint32_t j = 0; j < img->nfiles && sf->map_src[i] < 0; j++)
				if (img->files[j].d.kind == CKPT_FD_MEMFD && img->files[j].d.dev == v->d.dev &&
				    img->files[j].d.ino == v->d.ino && sf->fr->src[j] >= 0)
					sf->map_src[i] = fcntl(sf->fr->src[j], F_DUPFD_CLOEXEC, 0);
			if (sf->map_src[i] < 0)
				return error("memfd mapping %#lx-%#lx: its memfd is not in the image",
					     (unsigned long)v->d.start, (unsigned long)v->d.end);
			sf->map_slot[i] = (*next_slot)++;
			continue;
		}
		if (!(v->d.flags & CKPT_VMA_FILE) || (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL)))
			continue;
		for (k = 0; k < i; k++)
			if (sf->map_src[k] >= 0 && !strcmp(p->vmas[k].path, v->path) &&
			    (!wr || map_writes(&p->vmas[k])))
				break;
		if (k < i) {
			sf->map_slot[i] = sf->map_slot[k];
			continue;
		}
		sf->map_src[i] = open(v->path, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		/* Only mprotect(PROT_WRITE) needed it: the mapping itself can be
		 * had without, and ckpt says what the process loses. */
		if (sf->map_src[i] < 0 && wr && !(v->d.prot & PROT_WRITE) &&
		    (errno == EACCES || errno == EROFS || errno == EPERM)) {
			warn("mapped file \"%s\" cannot be opened for writing (%s): its read-only "
			     "shared mapping %#lx-%#lx can no longer be made writable", v->path,
			     strerror(errno), (unsigned long)v->d.start, (unsigned long)v->d.end);
			sf->map_src[i] = open(v->path, O_RDONLY | O_CLOEXEC);
		}
		if (sf->map_src[i] < 0)
			return error_errno(errno, "mapped file \"%s\" cannot be opened", v->path);
		if (fstat(sf->map_src[i], &sb) == 0 && !(v->d.flags & CKPT_VMA_SHARED) &&
		    ((uint64_t)sb.st_size != v->d.fsize || mtime_ns(&sb) != v->d.mtime_ns))
			return error("mapped file \"%s\" has changed since the dump: the process would see other code or data",
				     v->path);
		sf->map_slot[i] = (*next_slot)++;
	}
	return 0;
}

static int open_all(const struct img *img, const struct img_proc *p, const struct restore_opts *o,
		    struct spawn_fds *sf)
{
	int next, ret, maxfd = 2;

	sf->fr = xzalloc(sizeof(*sf->fr));
	*sf->fr = (struct fd_restore){ .img = img, .p = p, .o = o };
	if ((ret = fd_restore_open(sf->fr, sf)) < 0)
		return ret;
	for (int i = 0; i < sf->nfds; i++)
		maxfd = MAX(maxfd, sf->target[i]);
	sf->base = next = maxfd + 1;
	if ((ret = open_maps(img, p, sf, &next)) < 0)
		return ret;
	sf->exe_src = sf->exe_slot = -1;
	if (!(p->d.flags & CKPT_PROC_NO_EXE)) {
		sf->exe_src = open(p->exe, O_RDONLY | O_CLOEXEC);
		if (sf->exe_src < 0)
			warn("executable \"%s\": %s; /proc/PID/exe will not point to it", p->exe,
			     strerror(errno));
		else
			sf->exe_slot = next++;
	}
	sf->plan_slot = next++;
	return 0;
}

int files_open(const struct img *img, const struct img_proc *p, const struct restore_opts *o,
	       struct spawn_fds *sf)
{
	int root = geteuid() == 0 && p->d.uid[3] != 0;
	gid_t saved_groups[NGROUPS_MAX];
	int nsaved = 0, ret;

	memset(sf, 0, sizeof(*sf));
	sf->target = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->src = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->cloexec = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->map_src = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_slot = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->nmaps = (int)p->d.nvmas;
	sf->plan_src = sf->stub_src = sf->exe_src = -1;
	sf->ntmp = (int)(p->d.nfds + p->d.nvmas + 3);
	sf->tmp = xzalloc((size_t)sf->ntmp * sizeof(int));
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		sf->map_src[i] = sf->map_slot[i] = -1;
	if (root) {
		/* Raw syscalls: only this thread's credentials change. */
		nsaved = getgroups(NGROUPS_MAX, saved_groups);
		syscall(SYS_setgroups, p->d.ngroups, p->groups);
		setfsgid(p->d.gid[3]);
		setfsuid(p->d.uid[3]);
	}
	ret = open_all(img, p, o, sf);
	if (root) {
		setfsuid(0);
		setfsgid(0);
		syscall(SYS_setgroups, nsaved > 0 ? nsaved : 0, saved_groups);
	}
	return ret;
}

/*
 * In the child, between fork and exec: async-signal-safe syscalls only.
 * Every source fd is first copied above everything (so no dup2 clobbers
 * another source), then to its place; everything else is closed.
 */
int files_install_child(struct spawn_fds *sf)
{
	int *tmp = sf->tmp, n = 0, high, i;
	struct rlimit rl;

	high = sf->base + sf->nmaps + 4;
	for (i = 0; i < sf->nfds; i++)
		high = MAX(high, sf->src[i] + 1);
	for (i = 0; i < sf->nmaps; i++)
		high = MAX(high, sf->map_src[i] + 1);
	high = MAX(high, MAX(sf->exe_src, MAX(sf->plan_src, sf->stub_src)) + 1);
	for (i = 0; i < sf->nextra; i++)
		high = MAX(high, MAX(sf->extra_src[i], sf->extra_base + i) + 1);
	for (i = 0; i < sf->nmaps; i++)
		high = MAX(high, sf->map_slot[i] + 1);
	high = MAX(high, MAX(sf->exe_slot, sf->plan_slot) + 1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(high + sf->ntmp + 1)) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)(high + sf->ntmp + 1));
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* tmp: targets' sources, mapping files, exe, plan, stub (in order),
	 * all close-on-exec, above every number we are about to fill.  A
	 * target without a source is opened by the process itself (plan). */
#define UP(fd) ((fd) < 0 ? -1 : fcntl((fd), F_DUPFD_CLOEXEC, high))
	for (i = 0; i < sf->nfds; i++)
		if ((tmp[n++] = UP(sf->src[i])) < 0 && sf->src[i] >= 0)
			return -1;
	for (i = 0; i < sf->nmaps; i++)
		tmp[n++] = UP(sf->map_src[i]);
	tmp[n++] = UP(sf->exe_src);
	tmp[n++] = UP(sf->plan_src);
	if ((tmp[n++] = UP(sf->stub_src)) < 0)
		return -1;
	for (i = 0; i < sf->nextra; i++)
		if ((tmp[n++] = UP(sf->extra_src[i])) < 0)
			return -1;
#undef UP
	close_range(0, (unsigned)high - 1, 0);
	/* and whatever ckpt was given above that goes at the exec (5.11) */
	close_range((unsigned)high, ~0u, CLOSE_RANGE_CLOEXEC);
	n = 0;
	for (i = 0; i < sf->nfds; i++, n++)
		if (tmp[n] >= 0 && dup2(tmp[n], sf->target[i]) < 0)
			return -1;
	for (i = 0; i < sf->nmaps; i++, n++)
		if (tmp[n] >= 0 && dup2(tmp[n], sf->map_slot[i]) < 0)
			return -1;
	if (tmp[n] >= 0 && dup2(tmp[n], sf->exe_slot) < 0)
		return -1;
	n++;
	if (dup2(tmp[n++], sf->plan_slot) < 0)
		return -1;
	/* The stub ELF: close-on-exec is fine for execveat of an ELF file. */
	for (i = 0; i < sf->nextra; i++)
		if (dup2(tmp[n + 1 + i], sf->extra_base + i) < 0)
			return -1;
	return tmp[n];
}

void files_close(struct spawn_fds *sf)
{
	/* the sources are the files' (one per file, shared by its fds) */
	for (uint32_t i = 0; sf->fr && sf->fr->src && i < sf->fr->img->nfiles; i++)
		if (sf->fr->src[i] >= 0)
			close(sf->fr->src[i]);
	if (sf->fr)
		fd_restore_free(sf->fr);
	free(sf->fr);
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0)
			close(sf->map_src[i]);
	if (sf->exe_src >= 0)
		close(sf->exe_src);
	if (sf->plan_src >= 0)
		close(sf->plan_src);
	if (sf->stub_src >= 0)
		close(sf->stub_src);
	free(sf->target);
	free(sf->src);
	free(sf->cloexec);
	free(sf->map_src);
	free(sf->map_slot);
	free(sf->tmp);
	free(sf->extra_src);
	free(sf->slot);
	memset(sf, 0, sizeof(*sf));
}
