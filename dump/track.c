/*
 * Which pages changed since the parent image (incremental dumps), and
 * keeping track for the next one.
 *
 * The kernel's way (Linux >= 6.7): a userfaultfd in write-protect async
 * mode, registered over the process's memory, and PAGEMAP_SCAN to ask
 * which pages were written since they were last protected.  The uffd is
 * created by the process itself (an injected userfaultfd(2): it binds the
 * caller's mm), moved to a high fd, and left there between dumps — a
 * visible side effect, documented.  Each dump moves it to the next fd
 * number and records that number in its image, so only a dump whose
 * parent is the latest image finds it: any other parent falls back to
 * comparing page hashes, never to trusting a stale scan.  Facts checked
 * on this kernel: ../shared/KERNEL-NOTES.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "dump/dump.h"

#define TRACK_FD_SLOTS	32	/* the uffd walks through fds hint .. hint+31 */

/* Mappings worth tracking: those whose pages an image stores. */
static int trackable(const struct img_vma *v)
{
	if (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED | CKPT_VMA_MEMFD))
		return 0;
	if ((v->d.flags & CKPT_VMA_SHARED) && (v->d.flags & CKPT_VMA_FILE))
		return 0;
	/* A huge reservation costs page tables when protected (2 MiB per GiB
	 * with WP_UNPOPULATED): leave those to the PRESENT-based path. */
	return v->d.prot != PROT_NONE && v->d.end - v->d.start <= (64ull << 30);
}

static int scan(int pmfd, uint64_t start, uint64_t end, uint64_t flags,
		struct ckpt_page_region *vec, uint64_t vec_len, uint64_t *walk_end)
{
	struct ckpt_pm_scan_arg a = {
		.size = sizeof(a), .flags = flags, .start = start, .end = end,
		.vec = (uint64_t)(uintptr_t)vec, .vec_len = vec_len,
		/* exactly this mask: the fast path, exact on all 6.7+ kernels */
		.category_mask = CKPT_PAGE_IS_WRITTEN, .return_mask = CKPT_PAGE_IS_WRITTEN,
	};
	long n = ioctl(pmfd, CKPT_PAGEMAP_SCAN, &a);

	if (n < 0)
		return -errno;
	*walk_end = a.walk_end;
	return (int)n;
}

int track_written(struct track *tr, const struct img_vma *v, struct page_run **out, size_t *n)
{
	struct ckpt_page_region vec[256];
	const uint64_t ps = (uint64_t)getpagesize();
	uint64_t at = v->d.start;
	size_t cnt = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if (tr->method != CKPT_DIRTY_UFFD || !trackable(v))
		return -ENOENT;
	while (at < v->d.end) {
		uint64_t walk_end = v->d.end;
		int r = scan(tr->pmfd, at, v->d.end, CKPT_PM_SCAN_CHECK_WPASYNC, vec, 256, &walk_end);

		if (r < 0) {	/* EPERM: not registered (new since the parent) */
			free(*out);
			*out = NULL;
			return r;
		}
		for (int i = 0; i < r; i++) {
			if (cnt == cap)
				*out = xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof(**out));
			(*out)[cnt++] = (struct page_run){ vec[i].start, (vec[i].end - vec[i].start) / ps };
		}
		if (r < 256 || walk_end <= at)
			break;
		at = walk_end;
	}
	*n = cnt;
	return 0;
}

static int rcall(struct tracee_set *ts, long nr, uint64_t a0, uint64_t a1, uint64_t a2, long *res)
{
	uint64_t a[6] = { a0, a1, a2, 0, 0, 0 };
	int ret = tracee_syscall(ts, &ts->t[0], nr, a, res);

	if (ret == 0 && *res < 0 && *res > -4096)
		ret = (int)*res;
	return ret;
}

/* The uffd the parent image left, if it is still where the parent says. */
static int find_uffd(pid_t pid, const struct img_proc *parent, int *ours)
{
	char path[64], *link = NULL;
	struct stat sb;
	int pidfd, fd;

	if (parent->d.track_fd < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, parent->d.track_fd);
	if (xreadlink(path, &link) < 0 || strcmp(link, "anon_inode:[userfaultfd]") ||
	    stat(path, &sb) < 0 || sb.st_ino != parent->d.track_ino) {
		free(link);
		return -ENOENT;
	}
	free(link);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, parent->d.track_fd, 0);
	close(pidfd);
	if (fd < 0)
		return -errno;
	*ours = fd;
	return 0;
}

int track_begin(pid_t pid, const struct img *parent, struct track *tr)
{
	char path[64];

	memset(tr, 0, sizeof(*tr));
	tr->uffd = tr->pmfd = tr->fresh = -1;
	tr->method = CKPT_DIRTY_NONE;
	if (!parent)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	tr->pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (tr->pmfd >= 0 && find_uffd(pid, &parent->procs[0], &tr->uffd) == 0) {
		tr->method = CKPT_DIRTY_UFFD;
		tr->old_fd = parent->procs[0].d.track_fd;
		debug("written pages: PAGEMAP_SCAN with the uffd at fd %d", tr->old_fd);
		return 0;
	}
	tr->method = CKPT_DIRTY_HASH;
	debug("written pages: by comparing page hashes with the parent");
	return 0;
}

static int uffd_register(int uffd, const struct img_vma *v)
{
	struct uffdio_register reg = {
		.range = { v->d.start, v->d.end - v->d.start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = { v->d.start, v->d.end - v->d.start },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

/* A new uffd, made by the process, at fd `want` or above; ours is a copy. */
static int make_uffd(struct tracee_set *ts, int want, int *ours, int *theirs)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = CKPT_UFFD_FEATURE_WP_ASYNC | CKPT_UFFD_FEATURE_WP_UNPOPULATED,
	};
	long fd, high;
	int ret, pidfd;

	ret = rcall(ts, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0, &fd);
	if (ret < 0)
		return ret;
	ret = rcall(ts, SYS_fcntl, (uint64_t)fd, F_DUPFD_CLOEXEC, (uint64_t)want, &high);
	rcall(ts, SYS_close, (uint64_t)fd, 0, 0, &fd);
	if (ret < 0)
		return ret;
	pidfd = (int)syscall(SYS_pidfd_open, ts->pid, 0);
	*ours = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)high, 0);
	if (pidfd >= 0)
		close(pidfd);
	if (*ours < 0 || ioctl(*ours, UFFDIO_API, &api) < 0) {
		ret = -errno;
		if (*ours >= 0)
			close(*ours);
		*ours = -1;
		rcall(ts, SYS_close, (uint64_t)high, 0, 0, &fd);
		return ret;
	}
	*theirs = (int)high;
	return 0;
}

int track_fd_base(const struct img_proc *p)
{
	/* Below the soft fd limit, out of the way of low fds. */
	return (int)MAX(3, (int64_t)MIN(p->d.rlim[RLIMIT_NOFILE].cur, 1024) - 64);
}

int track_is_ours(const struct img_proc *p, int fd, const char *link)
{
	int base = track_fd_base(p);

	return fd >= base && fd < base + TRACK_FD_SLOTS && !strcmp(link, "anon_inode:[userfaultfd]");
}

/* The first free fd from the slot after `from`, as seen now (frozen). */
static int next_slot(const struct img_proc *p, int from)
{
	int base = track_fd_base(p);

	for (int k = 1; k <= TRACK_FD_SLOTS; k++) {
		int fd = base + (from - base + k + TRACK_FD_SLOTS) % TRACK_FD_SLOTS, used = 0;

		for (uint32_t i = 0; i < p->d.nfds && !used; i++)
			used = p->fds[i].d.fd == fd;
		if (!used && fd != from)
			return fd;
	}
	return -EMFILE;
}

/*
 * Other uffds of ckpt's in the process, but keep: a dump against an older
 * parent (page hashes) made a new one while the last one was still there,
 * and could then register nothing with it (EBUSY): closed, so that the one
 * kept or made now tracks every mapping from this dump on.
 */
static void close_strays(struct tracee_set *ts, const struct img_proc *p, int keep)
{
	int base = track_fd_base(p);

	for (int fd = base; fd < base + TRACK_FD_SLOTS; fd++) {
		char path[64], *link = NULL;
		long r;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", ts->pid, fd);
		if (fd != keep && xreadlink(path, &link) == 0 && track_is_ours(p, fd, link)) {
			debug("closing the stale uffd at fd %d of the process", fd);
			rcall(ts, SYS_close, (uint64_t)fd, 0, 0, &r);
		}
		free(link);
	}
}

int track_prepare(struct tracee_set *ts, struct img_proc *p, struct track *tr)
{
	int slot = next_slot(p, tr->method == CKPT_DIRTY_UFFD ? tr->old_fd : track_fd_base(p) - 1);
	int ret = slot < 0 ? slot : 0;
	struct stat sb;
	long r;

	p->d.track_fd = -1;
	close_strays(ts, p, tr->method == CKPT_DIRTY_UFFD ? tr->old_fd : -1);
	if (ret == 0 && tr->method == CKPT_DIRTY_UFFD) {
		/* Same uffd, next fd: only an image made from now on finds it. */
		ret = rcall(ts, SYS_dup3, (uint64_t)tr->old_fd, (uint64_t)slot, O_CLOEXEC, &r);
		if (ret == 0)
			rcall(ts, SYS_close, (uint64_t)tr->old_fd, 0, 0, &r);
	} else if (ret == 0) {
		int theirs = -1;

		ret = make_uffd(ts, slot, &tr->fresh, &theirs);
		if (ret == 0 && theirs != slot) {
			rcall(ts, SYS_dup3, (uint64_t)theirs, (uint64_t)slot, O_CLOEXEC, &r);
			rcall(ts, SYS_close, (uint64_t)theirs, 0, 0, &r);
		}
	}
	for (size_t i = 0; i < ts->n; i++)
		tracee_inject_end(&ts->t[i]);
	if (ret < 0) {
		warn("cannot keep track of written pages (%s): the next incremental dump compares page contents",
		     strerror(-ret));
		if (tr->fresh >= 0)
			close(tr->fresh);
		tr->fresh = -1;
		return 0;
	}
	p->d.track_fd = slot;
	p->d.track_ino = fstat(tr->fresh >= 0 ? tr->fresh : tr->uffd, &sb) == 0 ? sb.st_ino : 0;
	debug("written pages will be tracked with a uffd at fd %d of the process", slot);
	return 0;
}

int track_arm(struct img_proc *p, struct track *tr)
{
	/* Re-protect what the scans saw written: the next dump starts here. */
	for (uint32_t i = 0; tr->method == CKPT_DIRTY_UFFD && i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		uint64_t walk_end;

		if (trackable(v) && scan(tr->pmfd, v->d.start, v->d.end,
					 CKPT_PM_SCAN_WP_MATCHING | CKPT_PM_SCAN_CHECK_WPASYNC,
					 NULL, 0, &walk_end) == -EPERM)
			uffd_register(tr->uffd, v);	/* new since the parent */
	}
	for (uint32_t i = 0; tr->fresh >= 0 && i < p->d.nvmas; i++)
		if (trackable(&p->vmas[i]))
			uffd_register(tr->fresh, &p->vmas[i]);
	return 0;
}

void track_end(struct track *tr)
{
	if (tr->uffd >= 0)
		close(tr->uffd);
	if (tr->fresh >= 0)
		close(tr->fresh);
	if (tr->pmfd >= 0)
		close(tr->pmfd);
	free(tr->hashes);
	memset(tr, 0, sizeof(*tr));
	tr->uffd = tr->pmfd = tr->fresh = -1;
}
