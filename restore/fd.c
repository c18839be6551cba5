/*
 * ckpt restore: the process's open files (fd.h).  Each file is made once,
 * however many fds share it, by its kind; what the image says lies
 * outside (policy INHERIT) or was given up at dump (LOST) follows the
 * documented rule, said in one line per file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

static const struct {
	uint32_t kind;
	const struct fd_kind_restore *h;
} fd_kinds[] = {
	{ CKPT_FD_FILE, &fd_restore_file }, { CKPT_FD_DIR, &fd_restore_file },
	{ CKPT_FD_DEVICE, &fd_restore_file }, { CKPT_FD_GHOST, &fd_restore_file },
	{ CKPT_FD_MEMFD, &fd_restore_file }, { CKPT_FD_PATH, &fd_restore_file },
	{ CKPT_FD_PIPE, &fd_restore_pipe }, { CKPT_FD_FIFO, &fd_restore_pipe },
	{ CKPT_FD_EVENTFD, &fd_restore_event }, { CKPT_FD_SIGNALFD, &fd_restore_event },
	{ CKPT_FD_TIMERFD, &fd_restore_event }, { CKPT_FD_EPOLL, &fd_restore_epoll },
	{ CKPT_FD_UNIX, &fd_restore_unix }, { CKPT_FD_INET, &fd_restore_inet },
	{ CKPT_FD_TTY, &fd_restore_tty }, { CKPT_FD_PTMX, &fd_restore_tty },
	{ CKPT_FD_TCP, &fd_restore_tcp }, { CKPT_FD_INOTIFY, &fd_restore_notify },
	{ CKPT_FD_FANOTIFY, &fd_restore_notify },
	{ CKPT_FD_PIDFD, &fd_restore_pidfd }, { CKPT_FD_PROC, &fd_restore_proc },
};

static const struct fd_kind_restore *hooks(uint32_t kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i].kind == kind)
			return fd_kinds[i].h;
	return NULL;
}

void fd_numbers(const struct img_proc *p, uint32_t id, char *buf, size_t len)
{
	size_t n = 0;
	int count = 0;

	buf[0] = 0;
	for (uint32_t i = 0; i < p->d.nfds; i++)
		count += p->fds[i].d.file == id;
	n = (size_t)snprintf(buf, len, "fd%s", count > 1 ? "s" : "");
	for (uint32_t i = 0, k = 0; i < p->d.nfds && n < len; i++)
		if (p->fds[i].d.file == id)
			n += (size_t)snprintf(buf + n, len - n, "%s %d", k++ ? "," : "", p->fds[i].d.fd);
}

int fd_set_status(int fd, const struct img_file *f, int fd0)
{
	if (fcntl(fd, F_SETFL, f->d.flags & ~(uint32_t)O_ACCMODE) == 0)
		return fd;
	close(fd);
	return error_errno(errno, "fd %d (%s): cannot set its flags %#o", fd0, f->path, f->d.flags);
}

/* What ckpt restore's own fd is, in words. */
static void describe_own(int fd, char *buf, size_t len)
{
	char path[64], link[256] = "";
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (readlink(path, link, sizeof(link) - 1) < 0 || fstat(fd, &st) < 0)
		snprintf(buf, len, "?");
	else if (isatty(fd))
		snprintf(buf, len, "the terminal %s", link);
	else if (S_ISFIFO(st.st_mode))
		snprintf(buf, len, "a pipe");
	else if (S_ISSOCK(st.st_mode))
		snprintf(buf, len, "a socket");
	else
		snprintf(buf, len, "\"%s\"", link);
}

/* /dev/null with the file's access mode, in place of what was lost. */
static int devnull(const struct img_file *f)
{
	int acc = (int)f->d.flags & O_ACCMODE;
	int fd = open("/dev/null", (acc == O_ACCMODE ? O_RDWR : acc) | O_CLOEXEC);

	return fd < 0 ? error_errno(errno, "cannot open /dev/null") : fd;
}

/* Outside the image, on fd 0-2: ckpt restore's own fd of that number. */
static int inherit(struct fd_restore *r, const struct img_file *f, int fd)
{
	char fds[64], own[300];
	int ret;

	fd_numbers(r->p, f->d.id, fds, sizeof(fds));
	if (fd > 2 || !r->o->fd_open_at_start[fd]) {
		warn("%s (%s, %s) led outside the image and ckpt restore has no fd %d to give it: "
		     "it is /dev/null", fds, f->path, fd_file_what(f), fd);
		return devnull(f);
	}
	describe_own(fd, own, sizeof(own));
	info("%s (%s, %s) led outside the image: it gets ckpt restore's own fd %d (%s)", fds,
	     f->path, fd_file_what(f), fd, own);
	ret = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return ret < 0 ? error_errno(errno, "cannot duplicate fd %d", fd) : ret;
}

/* The file of fd n in process p, or NULL. */
static const struct img_file *file_at(const struct img *img, const struct img_proc *p, int n)
{
	for (uint32_t i = 0; i < p->d.nfds; i++)
		if (p->fds[i].d.fd == n)
			return img_file(img, p->fds[i].d.file);
	return NULL;
}

/*
 * ckpt run: the root's fd n (0-2) was ckpt run's own at the checkpoint
 * (a terminal, a pipe, the batch system's output file): n when f is that
 * file, for ckpt's own fd n now; -1 otherwise.  In another process of the
 * tree, f is that file when it is its fd n too and has the same kind and
 * path (the image's files are per process; "pipe:[ino]" names one pipe).
 */
static int own_fd(const struct fd_restore *r, const struct img_file *f)
{
	for (int n = 0; n < 3; n++) {
		const struct img_file *rf = file_at(r->img, &r->img->procs[0], n);

		if (!(r->o->own_fds & (1u << n)) || !r->o->fd_open_at_start[n] || !rf)
			continue;
		if (rf == f)
			return n;
		if (file_at(r->img, r->p, n) == f && rf->d.kind == f->d.kind && rf->path && f->path &&
		    !strcmp(rf->path, f->path))
			return n;
	}
	return -1;
}

static int make(struct fd_restore *r, const struct img_file *f, int fd)
{
	const struct fd_kind_restore *h = hooks(f->d.kind);
	char fds[64];
	int own = own_fd(r, f);

	if (own >= 0) {
		debug("fd %d (%s): ckpt's own fd %d", fd, f->path, own);
		fd = fcntl(own, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? error_errno(errno, "cannot duplicate fd %d", own) : fd;
	}
	if (f->d.policy == CKPT_FPOL_INHERIT)
		return inherit(r, f, fd);
	if (f->d.policy == CKPT_FPOL_LOST) {
		fd_numbers(r->p, f->d.id, fds, sizeof(fds));
		warn("%s (%s, %s) was not saved by the dump (--allow-lost-fds, --lose-fd): it is /dev/null",
		     fds, f->path, fd_file_what(f));
		return devnull(f);
	}
	if (!h || (!h->open && !h->plan_open))
		return error("fd %d (%s) is %s, which this ckpt cannot restore (kind %u: made by a newer ckpt?)",
			     fd, f->path, fd_file_what(f), f->d.kind);
	if (!h->open || (h->late && h->late(r, f))) {
		r->late[f->d.id - 1] = 1;
		return -1;
	}
	return h->open(r, f, fd);
}

int fd_restore_open(struct fd_restore *r, struct spawn_fds *sf)
{
	const struct img_proc *p = r->p;

	if (!r->src) {
		r->src = xmalloc((r->img->nfiles + 1) * sizeof(*r->src));
		r->late = xzalloc(r->img->nfiles + 1);
		r->seals_later = xzalloc((r->img->nfiles + 1) * sizeof(*r->seals_later));
		r->maker = xzalloc((r->img->nfiles + 1) * sizeof(*r->maker));
		for (uint32_t i = 0; i < r->img->nfiles; i++)
			r->src[i] = -1;
	}
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct ckpt_fd *d = &p->fds[i].d;
		const struct img_file *f = img_file(r->img, d->file);
		int k = (int)d->file - 1;

		if (r->src[k] < 0 && !r->late[k]) {
			r->maker[k] = p;
			r->src[k] = make(r, f, d->fd);
			if (r->src[k] < 0 && !r->late[k])
				return r->src[k];
		}
		sf->target[sf->nfds] = d->fd;
		sf->cloexec[sf->nfds] = !!(d->fdflags & FD_CLOEXEC);
		sf->src[sf->nfds++] = r->src[k];
	}
	return fd_locks_check(r);
}

int fd_restore_mapped(struct fd_restore *r, const struct img_file *f)
{
	int k = (int)f->d.id - 1;

	if (r->src[k] < 0) {
		r->maker[k] = r->p;
		r->src[k] = make(r, f, -1);
	}
	return r->src[k];
}

int fd_restore_seal(struct fd_restore *r)
{
	for (uint32_t i = 0; r && r->seals_later && i < r->img->nfiles; i++) {
		const struct img_file *f = &r->img->files[i];
		unsigned later = r->seals_later[i];

		/* F_SEAL_SEAL last: it forbids adding the others. */
		if (later && r->src[i] >= 0 &&
		    (fcntl(r->src[i], F_ADD_SEALS, later & ~F_SEAL_SEAL) < 0 ||
		     ((later & F_SEAL_SEAL) && fcntl(r->src[i], F_ADD_SEALS, F_SEAL_SEAL) < 0)))
			return error_errno(errno, "memfd \"%s\": cannot seal it (%#x) once mapped",
					   f->path, later);
	}
	return 0;
}

struct fd_label fd_label(int fd0)
{
	struct fd_label l = { "mapped only" };

	if (fd0 >= 0)
		snprintf(l.s, sizeof(l.s), "fd %d", fd0);
	return l;
}

void fd_restore_done(struct fd_restore *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i].h->done && (i == 0 || fd_kinds[i - 1].h != fd_kinds[i].h))
			fd_kinds[i].h->done(r);
}

void fd_restore_free(struct fd_restore *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i].h->done && (i == 0 || fd_kinds[i - 1].h != fd_kinds[i].h))
			fd_kinds[i].h->done(r);
	free(r->src);
	free(r->late);
	free(r->seals_later);
	free(r->maker);
	r->src = NULL;
	r->late = NULL;
	r->seals_later = NULL;
	r->maker = NULL;
}

/*
 * The process's own part, in its plan: the files it opens itself, then
 * what needs every fd in place, then FD_CLOEXEC (the forked child put
 * every fd in place without it).
 */
void fd_plan(struct plan *pl, const struct spawn_fds *sf)
{
	/* A tree's processes share one fd_restore: this process's view. */
	struct fd_restore view = sf->fr ? *sf->fr : (struct fd_restore){ 0 };
	const struct fd_restore *r = sf->fr ? &view : NULL;

	view.p = sf->p;

	for (int i = 0; r && i < sf->nfds; i++) {
		const struct img_file *f = img_file(r->img, r->p->fds[i].d.file);
		int first = img_file_fd(r->p, f->d.id);

		if (!r->late[f->d.id - 1] || fd_pidfd_at_finish(r->img, r->p, &r->p->fds[i].d))
			continue;
		if (first == sf->target[i]) {
			hooks(f->d.kind)->plan_open(pl, r, f, sf->target[i]);
		} else {
			plan_syscall(pl, 0, 0, 0, SYS_dup3, (uint64_t[6]){ (uint64_t)first,
				     (uint64_t)sf->target[i] });
			plan_what(pl, 0, "duplicate fd %d to %d", first, sf->target[i]);
		}
	}
	for (int i = 0; r && i < sf->nfds; i++) {
		const struct img_file *f = img_file(r->img, r->p->fds[i].d.file);
		const struct fd_kind_restore *h = hooks(f->d.kind);

		/* once, by the process it was made for (an epoll set shared
		 * after fork has its registrations once) */
		if (f->d.policy == CKPT_FPOL_EXACT && h && h->plan_after &&
		    img_file_fd(r->p, f->d.id) == sf->target[i] && r->maker[f->d.id - 1] == r->p)
			h->plan_after(pl, r, f, sf->target[i]);
	}
	/* (a pidfd ckpt opens at the end gets its flag then) */
	for (int i = 0; i < sf->nfds; i++)
		if (sf->cloexec[i] && !(r && fd_pidfd_at_finish(r->img, r->p, &r->p->fds[i].d)))
			plan_syscall(pl, 0, 0, 0, SYS_fcntl, (uint64_t[6]){ (uint64_t)sf->target[i],
				     F_SETFD, FD_CLOEXEC });
}
