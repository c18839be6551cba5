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

#include "common/killpoint.h"
#include "common/log.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "dump/dump.h"
#include "dump/guard.h"

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
	long n = dump_pagemap_scan(pmfd, &a);

	if (n < 0)
		return -errno;
	*walk_end = a.walk_end;
	return (int)n;
}

/*
 * Is v registered with our uffd?  PAGEMAP_SCAN's CHECK_WPASYNC asks only
 * whether some async write-protect uffd covers it, and the process may
 * have one of its own (made by it, perhaps handed to another process, or
 * given by a parent's fork event): registered before our arm came to the
 * mapping (EBUSY for us there), or on a mapping made since.  Its
 * protection is the program's, which may protect a page again after
 * writing it: trusted, that page would be left in the parent.
 * UFFDIO_REGISTER of the same range is a no-op for the uffd that has it
 * already with that mode (mm/userfaultfd.c userfaultfd_register_range
 * skips it; its bits are kept) and EBUSY for any other (fs/userfaultfd.c):
 * only a mapping the scan found registered is asked, as the call would
 * register one that is not.  1.7 us a mapping against 5.2 us for its scan
 * (a probe of 20,000 mappings on this machine, loaded).
 */
static int ours(struct track *tr, const struct img_vma *v)
{
	struct uffdio_register reg = {
		.range = { v->d.start, v->d.end - v->d.start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(tr->uffd, UFFDIO_REGISTER, &reg) < 0) {
		debug("mapping %#llx-%#llx: write-protected by another userfaultfd of the process (%s): its pages compared, not scanned",
		      (unsigned long long)v->d.start, (unsigned long long)v->d.end, strerror(errno));
		return 0;
	}
	if (tr->nown % 256 == 0)
		tr->own = xrealloc(tr->own, (tr->nown + 256) * sizeof(*tr->own));
	tr->own[tr->nown++] = (struct track_range){ v->d.start, v->d.end };
	return 1;
}

int track_owns(struct track *tr, const struct img_vma *v)
{
	struct ckpt_page_region vec[1];
	uint64_t walk_end;
	int r;

	if (tr->method != CKPT_DIRTY_UFFD || !trackable(v))
		return -ENOENT;
	if (tr->tree && (v->d.flags & CKPT_VMA_SHARED))
		return -ENOENT;
	/* CHECK_WPASYNC asks it of the mapping (fs/proc/task_mmu.c
	 * pagemap_scan_test_walk): its first page tells */
	r = scan(tr->pmfd, v->d.start, v->d.start + (uint64_t)getpagesize(), CKPT_PM_SCAN_CHECK_WPASYNC,
		 vec, 1, &walk_end);
	if (r >= 0 && !ours(tr, v))
		r = -EPERM;
	return r < 0 ? r : 0;
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
	if (tr->tree && (v->d.flags & CKPT_VMA_SHARED))
		return -ENOENT;
	while (at < v->d.end) {
		uint64_t walk_end = v->d.end;
		int r = scan(tr->pmfd, at, v->d.end, CKPT_PM_SCAN_CHECK_WPASYNC, vec, 256, &walk_end);

		if (r >= 0 && at == v->d.start && !ours(tr, v))
			r = -EPERM;
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

int track_begin(pid_t pid, const struct img_proc *pp, struct track *tr)
{
	char path[64];
	int tree = tr->tree, gslot = tr->gslot;

	memset(tr, 0, sizeof(*tr));
	tr->uffd = tr->pmfd = tr->fresh = -1;
	tr->undo = (struct track_undo){ .tmp = -1, .slot = -1, .old = -1 };
	tr->method = CKPT_DIRTY_NONE;
	tr->tree = tree;
	tr->gslot = gslot;
	if (!pp)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	tr->pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (tr->pmfd >= 0 && find_uffd(pid, pp, &tr->uffd) == 0) {
		tr->method = CKPT_DIRTY_UFFD;
		tr->old_fd = pp->d.track_fd;
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

/* Where this dump's uffd may be in the process, for whoever must take it
 * out again if the dump does not complete (track_abandon, or the guardian
 * of a killed ckpt): written before each step that moves it. */
static void note(struct track *tr)
{
	if (guard && tr->gslot >= 0 && tr->gslot < GUARD_UFFD_MAX)
		guard->uffds[tr->gslot].u = tr->undo;
}

/* dump.h */
int dump_lowest_free_fd(const struct img_proc *p)
{
	for (int fd = 0;; fd++) {
		uint32_t i = 0;

		while (i < p->d.nfds && p->fds[i].d.fd != fd)
			i++;
		if (i == p->d.nfds)
			return fd;
	}
}

/* A new uffd, made by the process at the lowest free fd; ours is a
 * copy.  It moves to its slot once the dump arms it (track_arm). */
static int make_uffd(struct tracee_set *ts, const struct img_proc *p, struct track *tr)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = CKPT_UFFD_FEATURE_WP_ASYNC | CKPT_UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct stat sb;
	long fd;
	int ret, pidfd;

	/* UFFDIO_API refuses WP_ASYNC before Linux 6.7 (EINVAL): so it does
	 * under CKPT_NO_PAGEMAP_SCAN, before anything is made. */
	if (no_pagemap_scan())
		return -EINVAL;
	tr->undo.tmp = dump_lowest_free_fd(p);	/* any uffd there is ours: it was free */
	note(tr);
	ret = rcall(ts, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0, &fd);
	if (ret < 0)
		return ret;
	tr->undo.tmp = (int)fd;
	note(tr);
	killpoint("track: uffd made");
	pidfd = (int)syscall(SYS_pidfd_open, ts->pid, 0);
	tr->fresh = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	if (pidfd >= 0)
		close(pidfd);
	if (tr->fresh < 0 || fstat(tr->fresh, &sb) < 0 || ioctl(tr->fresh, UFFDIO_API, &api) < 0)
		return -errno;
	tr->undo.ino = sb.st_ino;
	note(tr);
	return 0;
}

/* The inode of pid's fd if it is a userfaultfd, else 0. */
static uint64_t uffd_ino(pid_t pid, int fd)
{
	char path[64], *link = NULL;
	struct stat sb;
	uint64_t ino = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (fd >= 0 && xreadlink(path, &link) == 0 && !strcmp(link, "anon_inode:[userfaultfd]") &&
	    stat(path, &sb) == 0)
		ino = sb.st_ino ? sb.st_ino : 1;
	free(link);
	return ino;
}

/*
 * Take this dump's uffd out of the process: the fds it may be at are
 * closed, and a uffd of the parent image moved for this dump goes back
 * to its fd (free again) unless it was re-protected (armed: what it knew
 * is gone, so the next dump must compare pages).  In `frozen` (its t[0]
 * borrowed), or one thread of pid frozen for it.
 */
/* Close pid's fd if it holds the uffd of this dump (ino; 0: any uffd). */
static void close_ours(struct tracee_set *ts, pid_t pid, int fd, uint64_t ino)
{
	uint64_t at = fd >= 0 ? uffd_ino(pid, fd) : 0;
	long r;

	if (at && (!ino || at == ino))
		rcall(ts, SYS_close, (uint64_t)fd, 0, 0, &r);
}

static int fd_free(pid_t pid, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return access(path, F_OK) < 0 && errno == ENOENT;
}

/* The parent's uffd, moved or being moved from old to slot: back to old
 * while it still knows what the parent image needs; once re-protecting,
 * never findable at old again, and gone unless it took an earlier
 * dump's place at slot. */
static void undo_move(struct tracee_set *ts, pid_t pid, const struct track_undo *u)
{
	int at_old = uffd_ino(pid, u->old) == u->ino, at_slot = uffd_ino(pid, u->slot) == u->ino;
	long r;

	if (!u->armed && at_slot) {
		if (!at_old && fd_free(pid, u->old))
			rcall(ts, SYS_dup3, (uint64_t)u->slot, (uint64_t)u->old, O_CLOEXEC, &r);
		rcall(ts, SYS_close, (uint64_t)u->slot, 0, 0, &r);
	} else if (u->armed) {
		if (at_old)
			rcall(ts, SYS_close, (uint64_t)u->old, 0, 0, &r);
		if (at_slot && !u->slot_had)
			rcall(ts, SYS_close, (uint64_t)u->slot, 0, 0, &r);
	}
}

/*
 * Take this dump's uffd out of the process: a new uffd is closed wherever
 * it is, unless, re-protecting already, it took the place of an earlier
 * dump's at slot (which is gone: the next dump compares pages); the
 * parent's goes back (undo_move).  The process never has more fds than
 * before; only ckpt's own uffd may be gone.  In `frozen` (its t[0]
 * borrowed), or one thread of pid frozen for it.
 */
void track_undo(pid_t pid, pid_t live, const struct tracee_code *code, struct tracee_set *frozen,
		const struct track_undo *u)
{
	struct tracee_set own = { .pid = pid }, *ts = frozen;

	if (!ts) {
		if (tracee_freeze_lone(pid, live, code, &own, 0, 0) < 0) {
			warn("cannot take the userfaultfd out of %d: it stays at fd %d", pid, u->slot);
			return;
		}
		ts = &own;
	}
	if (u->tmp >= 0 && u->tmp != u->slot)
		close_ours(ts, pid, u->tmp, u->ino);
	killpoint("track: undo");
	if (u->old < 0 && u->ino && !u->slot_had)
		close_ours(ts, pid, u->slot, u->ino);
	if (u->old >= 0 && u->ino)
		undo_move(ts, pid, u);
	tracee_inject_end(&ts->t[0]);
	if (!frozen)
		tracee_release(&own, 0);
	debug("the userfaultfd of this dump taken out of the process");
}

void track_abandon(struct track *tr, pid_t pid, pid_t live, const struct tracee_code *code,
		   struct tracee_set *frozen)
{
	if (tr->undo.slot < 0)
		return;
	track_undo(pid, live, code, frozen, &tr->undo);
	track_commit(tr);
}

void track_commit(struct track *tr)
{
	tr->undo = (struct track_undo){ .tmp = -1, .slot = -1, .old = -1 };
	note(tr);
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

	p->d.track_fd = -1;
	tr->undo.slot = slot;
	/* Our own fds are not in p->fds: an earlier dump's uffd can be there. */
	tr->undo.slot_had = slot < 0 ? 0 : uffd_ino(ts->pid, slot);
	if (ret == 0 && tr->method == CKPT_DIRTY_UFFD) {
		/* The parent's uffd goes to the next fd when armed: only an
		 * image made from now on finds it. */
		tr->undo.old = tr->old_fd;
		tr->undo.ino = fstat(tr->uffd, &sb) == 0 ? sb.st_ino : 0;
		note(tr);
	} else if (ret == 0) {
		ret = make_uffd(ts, p, tr);
	}
	for (size_t i = 0; i < ts->n; i++)
		tracee_inject_end(&ts->t[i]);
	if (ret < 0) {
		warn("cannot keep track of written pages (%s): the next incremental dump compares page contents",
		     strerror(-ret));
		track_abandon(tr, ts->pid, ts->t[0].tid, &ts->code, ts);
		if (tr->fresh >= 0)
			close(tr->fresh);
		tr->fresh = -1;
		return 0;
	}
	p->d.track_fd = slot;
	p->d.track_ino = tr->undo.ino;
	debug("written pages will be tracked with a uffd at fd %d of the process", slot);
	return 0;
}

/* The uffd to its slot, replacing one an earlier dump left there; the
 * other uffds of earlier dumps closed (close_strays). */
static int to_slot(struct tracee_set *ts, const struct img_proc *p, struct track *tr)
{
	int from = tr->method == CKPT_DIRTY_UFFD ? tr->old_fd : tr->undo.tmp;
	long r;
	int ret = 0;

	if (from != tr->undo.slot) {
		ret = rcall(ts, SYS_dup3, (uint64_t)from, (uint64_t)tr->undo.slot, O_CLOEXEC, &r);
		killpoint("track: uffd at its slot");
		if (ret == 0)
			ret = rcall(ts, SYS_close, (uint64_t)from, 0, 0, &r);
		killpoint("track: uffd moved");
	}
	if (ret == 0)
		close_strays(ts, p, tr->undo.slot);
	tracee_inject_end(&ts->t[0]);
	return ret;
}

static int by_addr(const void *a, const void *b)
{
	const struct track_range *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* Did this dump find v registered with our uffd (track_written)? */
static int owned(const struct track *tr, const struct img_vma *v)
{
	size_t lo = 0, hi = tr->nown;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tr->own[mid].start < v->d.start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < tr->nown && tr->own[lo].start == v->d.start && tr->own[lo].end == v->d.end;
}

int track_arm(struct tracee_set *ts, struct img_proc *p, struct track *tr)
{
	int ret;

	if (p->d.track_fd < 0)
		return 0;
	if ((ret = to_slot(ts, p, tr)) < 0)
		return error_errno(ret, "cannot move the userfaultfd to fd %d of the process",
				   tr->undo.slot);
	/* From here on what the uffd knew of the parent image is gone: it
	 * must not go back to the parent's fd (track_undo). */
	tr->undo.armed = 1;
	note(tr);
	killpoint("track: re-protecting");
	/* Re-protect what the scans saw written: the next dump starts here.
	 * Only where our uffd is known to be (track_written): a scan with
	 * WP_MATCHING of a mapping another uffd of the process has would
	 * protect the program's pages behind its back.  The others are
	 * registered and protected whole: new since the parent, or not
	 * scanned; one another uffd has stays as it is (EBUSY), and the next
	 * dump does not trust its scan either (ours()). */
	if (tr->method == CKPT_DIRTY_UFFD && tr->ownsorted < tr->nown) {
		qsort(tr->own, tr->nown, sizeof(*tr->own), by_addr);
		tr->ownsorted = tr->nown;
	}
	for (uint32_t i = 0; tr->method == CKPT_DIRTY_UFFD && i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		uint64_t walk_end;

		if (!trackable(v))
			continue;
		if (!owned(tr, v) || scan(tr->pmfd, v->d.start, v->d.end,
					  CKPT_PM_SCAN_WP_MATCHING | CKPT_PM_SCAN_CHECK_WPASYNC,
					  NULL, 0, &walk_end) == -EPERM)
			uffd_register(tr->uffd, v);
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
	free(tr->cow);
	free(tr->own);
	memset(tr, 0, sizeof(*tr));
	tr->uffd = tr->pmfd = tr->fresh = tr->gslot = -1;
	tr->undo = (struct track_undo){ .tmp = -1, .slot = -1, .old = -1 };
}
