/*
 * inotify instances: made in ckpt with inotify_init1, each watch added
 * again by its path with the same mask and the same watch descriptor.
 *
 * The kernel hands wds out with idr_alloc_cyclic(idr, mark, 1, 0)
 * (fs/notify/inotify/inotify_user.c inotify_add_to_idr): a new instance
 * gives 1, 2, 3... and a removed wd is not handed out again until the
 * numbers wrap (checked on 6.18: add 1, 2, 3, remove 3, add: 4).  So the
 * watches are added in ascending wd order, and before each one whose wd
 * is above the next number, a dummy watch (on the same path) is added
 * and removed until the next number is its wd.  Each removal queues an
 * IN_IGNORED event (inotify_freeing_mark): those are read off again
 * before the process gets the instance, with whatever the real watches
 * saw meanwhile (events between the dump and the end of the restore are
 * not delivered).  The next wd the restored instance hands out is one
 * above its highest watch: the kernel does not show its own next number.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

/* include/uapi/linux/inotify.h (Linux 4.18); glibc 2.36 lacks it */
#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE	0x10000000
#endif

/* The mask bits a watch is added with: events, IN_ONESHOT, IN_EXCL_UNLINK. */
#define WATCH_BITS	(IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK)

/* Read every queued event off fd (non-blocking): 0 or -errno. */
static int drain(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 0;
	}
}

/*
 * One watch at wd, its path, on instance fd whose next wd is *next.
 * IN_DONT_FOLLOW: the path is the watched inode's own (a watched symlink
 * stays the symlink); IN_MASK_CREATE: an inode watched already (two
 * paths now one file) is an error, not a merge of two watches.
 */
static int add_at(int fd, const struct ckpt_inotify_watch *w, const char *path, int *next,
		  int *dummies, const struct img_file *f, int fd0)
{
	uint32_t mask = (w->mask & WATCH_BITS) | IN_DONT_FOLLOW | IN_MASK_CREATE;
	int got;

	while (*next < w->wd) {
		if ((got = inotify_add_watch(fd, path, IN_ATTRIB | IN_DONT_FOLLOW)) < 0)
			return error_errno(errno, "fd %d (%s): cannot watch %s", fd0, f->path, path);
		if (inotify_rm_watch(fd, got) < 0)
			return error_errno(errno, "fd %d (%s): cannot remove a watch of %s", fd0,
					   f->path, path);
		*next = got + 1;
		/* the IN_IGNORED events within the queue's limit */
		if (++*dummies % 4096 == 0 && drain(fd) < 0)
			return error_errno(errno, "fd %d (%s): cannot read its events", fd0, f->path);
	}
	if ((got = inotify_add_watch(fd, path, mask)) < 0)
		return error_errno(errno, "fd %d (%s): cannot watch %s again (mask %#x)", fd0, f->path,
				   path, w->mask);
	if (got != w->wd)
		return error("fd %d (%s): watching %s again gave watch descriptor %d, not %d", fd0,
			     f->path, path, got, w->wd);
	*next = got + 1;
	return 0;
}

static int make_inotify(const struct img_file *f, int fd0)
{
	struct ckpt_fd_inotify s;
	size_t at = sizeof(s);
	int fd, next = 1, dummies = 0, ret = 0;

	fd_state(f, &s, sizeof(s));
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make an inotify instance", fd0, f->path);
	for (uint32_t i = 0; i < s.nwatches && ret == 0; i++) {
		struct ckpt_inotify_watch w;
		char *path;

		memcpy(&w, f->state + at, sizeof(w));
		path = xstrndup((const char *)f->state + at + sizeof(w), w.path_len);
		ret = add_at(fd, &w, path, &next, &dummies, f, fd0);
		free(path);
		at += sizeof(w) + w.path_len;
	}
	if (ret == 0 && dummies && (ret = drain(fd)) < 0)
		ret = error_errno(ret, "fd %d (%s): cannot read its events", fd0, f->path);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (dummies)
		debug("fd %d (%s): %d watches added and removed to hand out the same wds", fd0, f->path,
		      dummies);
	return fd_set_status(fd, f, fd0);
}

/*
 * fanotify: fanotify_init with the flags it had, each mark added again
 * by its path: its
 * events, then its ignore mask (FAN_MARK_IGNORE when it was one of those,
 * Linux 6.0, else FAN_MARK_IGNORED_MASK; FAN_MARK_IGNORED_SURV_MODIFY
 * with it as it was).  include/uapi/linux/fanotify.h.
 */
#define FAN_CLOEXEC_	0x1u
#define MARK_ADD	0x1u
#define MARK_IGNORED	0x20u	/* FAN_MARK_IGNORED_MASK */
#define MARK_SURV	0x40u	/* FAN_MARK_IGNORED_SURV_MODIFY */
#define MARK_EVICTABLE	0x200u	/* FAN_MARK_EVICTABLE */
#define MARK_IGNORE	0x400u	/* FAN_MARK_IGNORE */

static int add_mark(int fd, const struct ckpt_fanotify_mark *m, const char *path,
		    const struct img_file *f, int fd0)
{
	uint32_t ign = (m->mflags & MARK_IGNORE ? MARK_IGNORE : MARK_IGNORED) | (m->mflags & MARK_SURV);

	if (m->mask && syscall(SYS_fanotify_mark, fd, MARK_ADD | m->type | (m->mflags & MARK_EVICTABLE),
			       m->mask, AT_FDCWD, path) < 0)
		return error_errno(errno, "fd %d (%s): cannot mark %s again (events %#llx)", fd0,
				   f->path, path, (unsigned long long)m->mask);
	if (m->ignored_mask && syscall(SYS_fanotify_mark, fd, MARK_ADD | m->type | ign,
				       m->ignored_mask, AT_FDCWD, path) < 0)
		return error_errno(errno, "fd %d (%s): cannot mark %s again (ignoring %#llx)", fd0,
				   f->path, path, (unsigned long long)m->ignored_mask);
	return 0;
}

static int make_fanotify(const struct img_file *f, int fd0)
{
	struct ckpt_fd_fanotify s;
	size_t at = sizeof(s);
	int fd, ret = 0;

	fd_state(f, &s, sizeof(s));
	/* its flags as they were, which fdinfo shows (FAN_CLOEXEC too:
	 * close-on-exec in ckpt is set apart) */
	fd = (int)syscall(SYS_fanotify_init, s.init_flags, s.event_flags);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make a fanotify instance (flags %#x, "
				   "event flags %#x; it needs CAP_SYS_ADMIN)", fd0, f->path,
				   s.init_flags, s.event_flags);
	if (!(s.init_flags & FAN_CLOEXEC_) && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		return error_errno(errno, "fd %d (%s): cannot mark it close-on-exec", fd0, f->path);
	}
	for (uint32_t i = 0; i < s.nmarks && ret == 0; i++) {
		struct ckpt_fanotify_mark m;
		char *path;

		memcpy(&m, f->state + at, sizeof(m));
		path = xstrndup((const char *)f->state + at + sizeof(m), m.path_len);
		ret = add_mark(fd, &m, path, f, fd0);
		free(path);
		at += sizeof(m) + m.path_len;
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd_set_status(fd, f, fd0);
}

static int notify_open(struct fd_restore *r, const struct img_file *f, int fd)
{
	char fds[64];

	if (f->d.fflags & CKPT_FILEF_EVENTS_LOST) {
		fd_numbers(r->p, f->d.id, fds, sizeof(fds));
		warn("%s (%s, %s): the events it had not read at the dump were not saved "
		     "(--allow-lost-fds): they are lost", fds, f->path, fd_file_what(f));
	}
	return f->d.kind == CKPT_FD_FANOTIFY ? make_fanotify(f, fd) : make_inotify(f, fd);
}

const struct fd_kind_restore fd_restore_notify = { .open = notify_open };
