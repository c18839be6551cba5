/*
 * A tree's descriptors.  Every process's files are opened here in ckpt
 * (files.c) before anything is made.  The root stub gets them all: its
 * own at their numbers, every other process's at slots above any number a
 * process of the tree uses.  A process forked from it inherits the slots
 * (a fork copies the fd table), takes its own descriptors from them
 * (plan.c plan_child_start) and closes the others once its own children
 * are made.  Nothing needs ptrace rights over ckpt, and it works the same
 * inside --pid-ns.
 *
 * Shared anonymous memory several mappings map (one dev/ino in the image,
 * CKPT_VMA_SHM_ALIAS) is one object again: made here once, each mapping
 * maps it from a descriptor like a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"

#include "common/util.h"
#include "restore/restore.h"

static void add_extra(struct spawn_fds *root, int src)
{
	root->extra_src = xrealloc(root->extra_src, (size_t)(root->nextra + 1) * sizeof(int));
	root->extra_src[root->nextra++] = src;
}

/* The root's own helper slots (memfds mapped, exe, cwd, the socket of its
 * mapped files, plan) above every descriptor number of the tree: a child's
 * fd must not land on one. */
static void raise_base(struct spawn_fds *sf, int floor)
{
	int delta = floor - sf->base;

	if (delta <= 0)
		return;
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0)
			sf->map_fd[i] += delta;
	if (sf->exe_slot >= 0)
		sf->exe_slot += delta;
	if (sf->cwd_slot >= 0)
		sf->cwd_slot += delta;
	if (sf->sock_slot >= 0)
		sf->sock_slot += delta;
	sf->plan_slot += delta;
	sf->base = floor;
}

/* Process sf's slots, numbered from *next in the root's table: its fds,
 * its shared objects, the socket its mapped files come on (mapfiles.c:
 * one slot, however many files), its exe. */
static void assign(struct spawn_fds *root, struct spawn_fds *sf, int *next)
{
	sf->slot = xmalloc((size_t)(sf->nfds + 1) * sizeof(int));
	for (int i = 0; i < sf->nfds; i++) {
		/* none for what the process opens itself (fd_plan: a pidfd) */
		sf->slot[i] = sf->src[i] < 0 ? -1 : (*next)++;
		if (sf->src[i] >= 0)
			add_extra(root, sf->src[i]);
	}
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0) {
			sf->map_fd[i] = (*next)++;
			add_extra(root, sf->map_src[i]);
		}
	if (sf->sock_src >= 0) {
		sf->sock_slot = (*next)++;
		add_extra(root, sf->sock_src);
	}
	if (sf->exe_src >= 0) {
		sf->exe_slot = (*next)++;
		add_extra(root, sf->exe_src);
	}
	/* Its working directory, opened with its own credentials. */
	if (sf->cwd_src >= 0) {
		sf->cwd_slot = (*next)++;
		add_extra(root, sf->cwd_src);
	}
}

static int shm_mapping(const struct img_vma *v)
{
	return (v->d.flags & CKPT_VMA_SHARED) && (v->d.flags & CKPT_VMA_ANON) && v->d.ino &&
	       !(v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED));
}

/*
 * An object of shared anonymous memory of size bytes, as the kernel makes
 * one for mmap(MAP_SHARED | MAP_ANONYMOUS) ("/dev/zero (deleted)" in maps):
 * made so here, and opened through /proc/self/map_files (CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE); else a memfd, which maps the same way.
 */
static int shm_make(uint64_t size)
{
	void *m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[80];
	int fd = -1;

	if (m != MAP_FAILED) {
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)(uintptr_t)m,
			 (unsigned long)((uintptr_t)m + size));
		fd = open(path, O_RDWR | O_CLOEXEC);
		munmap(m, (size_t)size);
	}
	if (fd < 0 && (fd = memfd_create("ckpt-shared", MFD_CLOEXEC)) >= 0 &&
	    ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		fd = -1;
	}
	return fd < 0 ? -errno : fd;
}

/* Every mapping of an object more than one mapping maps gets a descriptor
 * of the one object (map_src), its slot to come (map_fd: a number of its
 * own for now, renumbered with the others). */
int tree_shm(struct spawn_fds *sf, const struct img *img)
{
	int tmp = 1 << 24;

	for (uint32_t k = 0; k < img->h.nprocs; k++)
		for (uint32_t i = 0; i < img->procs[k].d.nvmas; i++) {
			const struct img_vma *v = &img->procs[k].vmas[i];
			uint64_t size = 0;
			int users = 0, fd;

			if (!shm_mapping(v) || sf[k].map_src[i] >= 0 || (v->d.flags & CKPT_VMA_SHM_ALIAS))
				continue;
			/* v is the object's first mapping: all of them, and how
			 * far into the object they reach. */
			for (uint32_t kk = k; kk < img->h.nprocs; kk++)
				for (uint32_t ii = 0; ii < img->procs[kk].d.nvmas; ii++) {
					const struct img_vma *w = &img->procs[kk].vmas[ii];

					if (shm_mapping(w) && w->d.dev == v->d.dev && w->d.ino == v->d.ino) {
						users++;
						size = MAX(size, w->d.pgoff + (w->d.end - w->d.start));
					}
				}
			if (users < 2)
				continue;
			if ((fd = shm_make(size)) < 0)
				return error_errno(fd, "cannot make the shared memory of %#lx-%#lx again",
						   (unsigned long)v->d.start, (unsigned long)v->d.end);
			for (uint32_t kk = k; kk < img->h.nprocs; kk++)
				for (uint32_t ii = 0; ii < img->procs[kk].d.nvmas; ii++) {
					const struct img_vma *w = &img->procs[kk].vmas[ii];

					if (!shm_mapping(w) || w->d.dev != v->d.dev || w->d.ino != v->d.ino)
						continue;
					sf[kk].map_src[ii] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
					sf[kk].map_fd[ii] = tmp++;
				}
			close(fd);
		}
	return 0;
}

/* The root's slots for its own shared objects, after its plan slot. */
static int root_shm_slots(struct spawn_fds *root, const struct img_proc *p, int next)
{
	for (int i = 0; i < root->nmaps; i++)
		if (root->map_src[i] >= 0 && shm_mapping(&p->vmas[i])) {
			root->map_fd[i] = next++;
			root->ntmp++;
		}
	return next;
}

void tree_fds(struct spawn_fds *sf, const struct img *img)
{
	uint32_t n = img->h.nprocs;
	int maxfd = 2, next;

	for (uint32_t k = 0; k < n; k++)
		for (int i = 0; i < sf[k].nfds; i++)
			maxfd = MAX(maxfd, sf[k].target[i]);
	if (n > 1)
		raise_base(&sf[0], maxfd + 1);
	next = root_shm_slots(&sf[0], &img->procs[0], sf[0].plan_slot + 1);
	sf[0].extra_base = n > 1 ? next : 0;
	for (uint32_t k = 1; k < n; k++) {
		sf[k].extra_base = sf[0].extra_base;
		assign(&sf[0], &sf[k], &next);
	}
	for (uint32_t k = 0; k < n; k++)
		sf[k].extra_end = next;
	for (uint32_t k = 1; k < n; k++) {
		const struct ckpt_task *t = img_task_of(img, k), *owner = t;

		/* whose table it is: up the chain of parents sharing it */
		while (owner->files_of >= 0)
			owner = &img->tasks[owner->files_of];
		sf[k].files_shared = t->files_of >= 0;
		tree_recv_slots(&sf[k], sf[k].files_shared && owner->proc == 0 ? &sf[0] : NULL);
	}
	/* files_install_child() moves them all through its scratch array. */
	sf[0].ntmp += sf[0].nextra;
	sf[0].tmp = xrealloc(sf[0].tmp, (size_t)sf[0].ntmp * sizeof(int));
}

/*
 * When a forked process receives its mapped files (plan.c: plan_memory,
 * after plan_child_start), it holds its own fds and every slot from
 * extra_base to extra_end, nothing else: it closed the rest, and no
 * process closes a slot before its children are made (plan_maps).  The
 * kernel gives received files the lowest free numbers (fs/file.c
 * alloc_fd, from receive_fd in scm_detach_fds).  One that shares its
 * parent's table (CLONE_FILES) holds the same fds (the table was one at
 * dump), and the parent, which waits meanwhile (plan.c plan_children),
 * has closed nothing of its own before its children are made but its
 * mapped files' socket and memfds (plan_maps): the root (root_table)
 * still has its executable and working directory slots.
 */
void tree_recv_slots(struct spawn_fds *sf, const struct spawn_fds *root_table)
{
	int fd = 0;

	for (int n = 0; n < MAP_FDS_PER_MSG; fd++) {
		int used = (fd >= sf->extra_base && fd < sf->extra_end) ||
			   (root_table && (fd == root_table->exe_slot || fd == root_table->cwd_slot));

		for (int i = 0; i < sf->nfds && !used; i++)
			used = sf->target[i] == fd;
		if (!used)
			sf->recv_fd[n++] = fd;
	}
}
