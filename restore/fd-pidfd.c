/*
 * pidfds (dump/fd-pidfd.c).  Of a process of the image: opened by the
 * restored process itself, in its plan, with pidfd_open(2) and the flags
 * it had (PIDFD_NONBLOCK = O_NONBLOCK, PIDFD_THREAD = O_EXCL,
 * include/uapi/linux/pidfd.h): of itself by the PID it has now (the stub
 * asks getpid: a process restored alone may get another PID), of another
 * process of a tree by its PID (a tree keeps its PIDs).  Its plan runs
 * after its parent made it and after it made its children (plan.c), so
 * that those are there.  Of a process that had exited: made in ckpt, a
 * pidfd of a child that exits and is reaped at once (its Pid is -1, it
 * polls readable, signals give ESRCH, as the old one).
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

/* Whether pid is a process of the image (a tree's task, or p itself). */
static int in_image(const struct fd_restore *r, pid_t pid)
{
	if (pid == r->p->d.pid)
		return 1;
	for (uint32_t i = 0; r->img->tasks && i < r->img->ntasks; i++)
		if (r->img->tasks[i].pid == pid)
			return 1;
	return 0;
}

/* Made in ckpt only when the process had exited; otherwise the process
 * opens it (late): what it names must be a process of the image, or the
 * restored pidfd could name a stranger that has that PID now. */
static int pidfd_open_hook(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_pidfd s;

	fd_state(f, &s, sizeof(s));
	/* pidfd_send_signal refuses a process of an ancestor namespace
	 * (kernel/signal.c access_pidfd_pidns): files are made before the
	 * namespace is */
	if (s.pid == -1 && r->o->pid_ns)
		warn("fd %d (%s, %s): with --pid-ns, signals sent through it give EINVAL, not ESRCH "
		     "(the exited process is made outside the new PID namespace)", fd0, f->path,
		     fd_file_what(f));
	if (s.pid == -1)
		return exited_pidfd(f, fd0);
	if (!in_image(r, s.pid))
		return error("fd %d (%s) is a pidfd of PID %d, which is not a process of the image",
			     fd0, f->path, s.pid);
	r->late[f->d.id - 1] = 1;
	return -1;
}

static void pidfd_plan_open(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			    int target)
{
	struct ckpt_fd_pidfd s;
	int self;

	fd_state(f, &s, sizeof(s));
	self = s.pid == r->p->d.pid;
	plan_syscall(pl, 0, STUB_OPF_KEEP | (self ? STUB_OPF_A0_PID : 0), 0, SYS_pidfd_open,
		     (uint64_t[6]){ (uint64_t)s.pid, PIDFD_FLAGS(f) });
	if (self)
		plan_what(pl, 0, "open a pidfd of itself for fd %d", target);
	else
		plan_what(pl, 0, "open a pidfd of PID %d for fd %d", s.pid, target);
	/* it may have come at target itself (the lowest free fd): dup3
	 * then says EINVAL, and there is nothing to close */
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_MAYFAIL, 0, SYS_dup3,
		     (uint64_t[6]){ 0, (uint64_t)target, 0 });
	plan_what(pl, 0, "put the pidfd at fd %d", target);
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_IFOK, 0, SYS_close, (uint64_t[6]){ 0 });
	plan_what(pl, 0, "close the pidfd's first fd");
}

const struct fd_kind_restore fd_restore_pidfd = { .open = pidfd_open_hook,
						  .plan_open = pidfd_plan_open };
