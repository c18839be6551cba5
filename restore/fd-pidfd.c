/*
 * pidfds (dump/fd-pidfd.c), with the flags they had (PIDFD_NONBLOCK =
 * O_NONBLOCK, PIDFD_THREAD = O_EXCL, include/uapi/linux/pidfd.h).
 *  - Of the process itself: opened by the restored process in its plan,
 *    by the PID it has now (the stub asks getpid: a process restored
 *    alone may get another PID).
 *  - Of another process of the image, or of a thread of one (PIDFD_THREAD,
 *    Linux 6.9): opened in the holder by ckpt, through its stub, once
 *    every process and thread of the image is made (spawn.c finish calls
 *    fd_pidfd_finish): a sibling, a grandchild or a thread is made after
 *    the holder's own plan has run, and a thread's id may differ from the
 *    image's (a thread gets its id back only where ckpt may choose it).
 *  - Of a process that had exited: made in ckpt, a pidfd of a child that
 *    exits and is reaped at once (its Pid is -1, it polls readable,
 *    signals give ESRCH, as the old one).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

/* pidfd_open(2) flags from the file's status flags */
#define PIDFD_FLAGS(f)	((f)->d.flags & (uint32_t)(O_NONBLOCK | O_EXCL))

static int exited_pidfd(const struct img_file *f, int fd0)
{
	pid_t pid = fork();
	int fd, err;

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return error_errno(errno, "fd %d (%s): cannot fork a process to make a pidfd of",
				   fd0, f->path);
	fd = (int)syscall(SYS_pidfd_open, pid, PIDFD_FLAGS(f));
	err = errno;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (fd < 0)
		return error_errno(err, "fd %d (%s): cannot make a pidfd of an exited process", fd0,
				   f->path);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		return error_errno(errno, "fd %d (%s): cannot mark it close-on-exec", fd0, f->path);
	}
	return fd;
}

/* Whether id is a process of the image (a tree's task, or p itself), or
 * with thread set, a thread of one other than its main one. */
static int in_image(const struct fd_restore *r, pid_t id, int thread)
{
	const struct img *img = r->img;

	for (uint32_t i = 0; img->tasks && i < img->ntasks; i++)
		if (img->tasks[i].pid == id)
			return !thread;
	if (!thread)
		return id == r->p->d.pid;
	for (uint32_t k = 0; k < img->h.nprocs; k++)
		for (uint32_t i = 0; i < img->procs[k].d.nthreads; i++)
			if (img->procs[k].threads[i].d.tid == id && id != img->procs[k].d.pid)
				return 1;
	return 0;
}

/* Whether the process opens it itself in its plan: a pidfd of itself. */
static int by_itself(const struct img_proc *p, const struct ckpt_fd_pidfd *s)
{
	return s->pid == p->d.pid && !(s->pflags & CKPT_PIDFD_THREAD);
}

/* Whether this kernel has PIDFD_THREAD (Linux 6.9): a pidfd of ckpt's
 * own thread with it. */
static int have_pidfd_thread(void)
{
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)syscall(SYS_gettid), O_EXCL);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* Made in ckpt only when the process had exited; otherwise the process
 * (of itself) or ckpt at the end (fd_pidfd_at_finish: decided for each
 * process that holds it, since processes of a tree may share one) opens
 * it: what it names must be a process or thread of the image, or the
 * restored pidfd could name a stranger that has that id now. */
static int pidfd_open_hook(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_pidfd s;
	int thread;

	fd_state(f, &s, sizeof(s));
	thread = !!(s.pflags & CKPT_PIDFD_THREAD);
	/* pidfd_send_signal refuses a process of an ancestor namespace
	 * (kernel/signal.c access_pidfd_pidns): files are made before the
	 * namespace is */
	if (s.pid == -1 && r->o->pid_ns)
		warn("fd %d (%s, %s): with --pid-ns, signals sent through it give EINVAL, not ESRCH "
		     "(the exited process is made outside the new PID namespace)", fd0, f->path,
		     fd_file_what(f));
	if (s.pid == -1)
		return exited_pidfd(f, fd0);
	if (!in_image(r, s.pid, thread))
		return error("fd %d (%s) is a pidfd of %s %d, which is not a %s of the image", fd0,
			     f->path, thread ? "thread" : "PID", s.pid, thread ? "thread" : "process");
	if (thread && !have_pidfd_thread())
		return error("fd %d (%s) is a pidfd of thread %d (PIDFD_THREAD), which this kernel "
			     "cannot make (Linux 6.9 can)", fd0, f->path, s.pid);
	r->late[f->d.id - 1] = 1;
	return -1;
}

static void pidfd_plan_open(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			    int target)
{
	plan_syscall(pl, 0, STUB_OPF_KEEP | STUB_OPF_A0_PID, 0, SYS_pidfd_open,
		     (uint64_t[6]){ 0, PIDFD_FLAGS(f) });
	plan_what(pl, 0, "open a pidfd of itself for fd %d", target);
	/* it may have come at target itself (the lowest free fd): dup3
	 * then says EINVAL, and there is nothing to close */
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_MAYFAIL, 0, SYS_dup3,
		     (uint64_t[6]){ 0, (uint64_t)target, 0 });
	plan_what(pl, 0, "put the pidfd at fd %d", target);
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_IFOK, 0, SYS_close, (uint64_t[6]){ 0 });
	plan_what(pl, 0, "close the pidfd's first fd");
	(void)r;
}

/* Whether fd d of p is a pidfd ckpt opens at the end (fd_pidfd_finish). */
int fd_pidfd_at_finish(const struct img *img, const struct img_proc *p, const struct ckpt_fd *d)
{
	const struct img_file *f = img_file(img, d->file);
	struct ckpt_fd_pidfd s;

	if (f->d.kind != CKPT_FD_PIDFD || f->d.policy != CKPT_FPOL_EXACT)
		return 0;
	fd_state(f, &s, sizeof(s));
	return s.pid > 0 && !by_itself(p, &s);
}

/* One pidfd at fd target of the process, by what its process or thread
 * is called now: pidfd_open lands at the lowest free fd, then moves. */
static int finish_one(const struct img_file *f, const struct ckpt_fd_pidfd *s, int target,
		      const struct pidfd_finish *o)
{
	const char *of = s->pflags & CKPT_PIDFD_THREAD ? "thread" : "process";
	pid_t now = o->now(o->arg, s->pid);
	char what[160];
	long fd;
	int ret;

	if (now <= 0)
		return error("fd %d (%s): the %s %d it names was not made", target, f->path, of,
			     s->pid);
	snprintf(what, sizeof(what), "open a pidfd of %s %d for fd %d", of, s->pid, target);
	if ((ret = o->syscall(o->arg, SYS_pidfd_open, (uint64_t[6]){ (uint64_t)now, PIDFD_FLAGS(f) },
			      &fd, what)) < 0 || fd == target)
		return ret;
	snprintf(what, sizeof(what), "put the pidfd at fd %d", target);
	if ((ret = o->syscall(o->arg, SYS_dup3, (uint64_t[6]){ (uint64_t)fd, (uint64_t)target },
			      NULL, what)) < 0)
		return ret;
	return o->syscall(o->arg, SYS_close, (uint64_t[6]){ (uint64_t)fd }, NULL,
			  "close the pidfd's first fd");
}

int fd_pidfd_finish(const struct img *img, const struct img_proc *p, const struct pidfd_finish *o)
{
	int ret;

	/* in fd order: a file's first fd is made before its copies */
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct ckpt_fd *d = &p->fds[i].d;
		const struct img_file *f = img_file(img, d->file);
		int first = img_file_fd(p, d->file);
		struct ckpt_fd_pidfd s;
		char what[64];

		if (!fd_pidfd_at_finish(img, p, d))
			continue;
		fd_state(f, &s, sizeof(s));
		snprintf(what, sizeof(what), "duplicate fd %d to %d", first, d->fd);
		if (first == d->fd)
			ret = finish_one(f, &s, d->fd, o);
		else
			ret = o->syscall(o->arg, SYS_dup3, (uint64_t[6]){ (uint64_t)first,
					 (uint64_t)d->fd }, NULL, what);
		snprintf(what, sizeof(what), "set the close-on-exec flag of fd %d", d->fd);
		if (ret < 0 || (ret = o->syscall(o->arg, SYS_fcntl, (uint64_t[6]){ (uint64_t)d->fd,
						 F_SETFD, d->fdflags & FD_CLOEXEC }, NULL, what)) < 0)
			return ret;
	}
	return 0;
}

const struct fd_kind_restore fd_restore_pidfd = { .open = pidfd_open_hook,
						  .plan_open = pidfd_plan_open };
