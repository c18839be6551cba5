/*
 * Pseudo-terminals (dump/fd-tty.c says what is saved).  A pty whose
 * master the image holds is made once, as a new pty from /dev/ptmx (its
 * number is what the kernel gives: said with -v), with the termios,
 * window size and packet mode it had and the bytes it buffered
 * (common/ptyq.c); each open of its slave is a new open of the new pty's
 * slave (TIOCGPTPEER), so a path "/dev/pts/N" the program kept elsewhere
 * may name another pty now.  A slave closed since is opened and closed
 * again (the master's reads give EIO); a locked one is locked again once
 * every slave is open.  Everything is opened O_NOCTTY: which terminal is
 * a process's controlling terminal is not the files' business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ptyq.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

struct made_pty {
	uint32_t index;		/* the pty's number in the image */
	uint32_t tflags;	/* CKPT_TTY_* of its master */
	int master;		/* ckpt's open of the new master */
	int keeper;		/* an open of its slave while it is filled, -1 */
};

struct fd_ptys {
	struct made_pty *p;
	size_t n;
};

static struct ckpt_fd_tty state(const struct img_file *f)
{
	struct ckpt_fd_tty s;

	fd_state(f, &s, sizeof(s));
	return s;
}

static void get_termios(const struct ckpt_fd_tty *s, struct termios *t)
{
	memset(t, 0, sizeof(*t));
	t->c_iflag = s->iflag;
	t->c_oflag = s->oflag;
	t->c_cflag = s->cflag;
	t->c_lflag = s->lflag;
	t->c_line = s->line;
	memcpy(t->c_cc, s->cc, MIN(sizeof(s->cc), sizeof(t->c_cc)));
	cfsetispeed(t, (speed_t)s->ispeed);
	cfsetospeed(t, (speed_t)s->ospeed);
}

static struct made_pty *find(const struct fd_restore *r, uint32_t index)
{
	for (size_t i = 0; r->ptys && i < r->ptys->n; i++)
		if (r->ptys->p[i].index == index)
			return &r->ptys->p[i];
	return NULL;
}

/* The master of pty index in the image, restored exactly, or NULL. */
static const struct img_file *master_file(const struct fd_restore *r, uint32_t index)
{
	for (uint32_t i = 0; i < r->img->nfiles; i++) {
		const struct img_file *f = &r->img->files[i];

		if (f->d.kind == CKPT_FD_PTMX && f->d.policy == CKPT_FPOL_EXACT &&
		    state(f).index == index)
			return f;
	}
	return NULL;
}

static int setup(const struct img_file *mf, const struct ckpt_fd_tty *s, int m, int *keeper,
		 const char *what)
{
	struct winsize ws = { s->rows, s->cols, s->xpixel, s->ypixel };
	struct termios t;

	get_termios(s, &t);
	if (ioctl(m, TIOCSPTLCK, &(int){ 0 }) < 0 || tcsetattr(m, TCSANOW, &t) < 0 ||
	    ioctl(m, TIOCSWINSZ, &ws) < 0)
		return error_errno(errno, "%s: cannot give the new pty its termios and window size", what);
	if (s->to_master || s->to_slave || (s->tflags & CKPT_TTY_HUP)) {
		*keeper = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (*keeper < 0)
			return error_errno(errno, "%s: cannot open the new pty's slave (TIOCGPTPEER, "
					   "Linux 4.13)", what);
	}
	if (s->to_master + s->to_slave) {
		int ret = ptyq_put(m, *keeper, &t, what, mf->data, s->to_master,
				   s->to_slave);

		if (ret < 0)
			return ret;
	}
	if ((s->tflags & CKPT_TTY_PACKET) && ioctl(m, TIOCPKT, &(int){ 1 }) < 0)
		return error_errno(errno, "%s: cannot set packet mode", what);
	return 0;
}

static struct made_pty *make_pty(struct fd_restore *r, const struct img_file *mf, int fd0)
{
	struct ckpt_fd_tty s = state(mf);
	struct fd_ptys *ps = r->ptys ? r->ptys : (r->ptys = xzalloc(sizeof(*ps)));
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), keeper = -1;
	unsigned now = 0;
	char what[300];

	snprintf(what, sizeof(what), "fd %d (%s, pty %u)", fd0, mf->path, s.index);
	if (m < 0 || ioctl(m, TIOCGPTN, &now) < 0) {
		error_errno(errno, "%s: cannot make a new pty (/dev/ptmx)", what);
		if (m >= 0)
			close(m);
		return NULL;
	}
	if (setup(mf, &s, m, &keeper, what) < 0) {
		close(m);
		if (keeper >= 0)
			close(keeper);
		return NULL;
	}
	debug("pty %u is pty %u now: its slave /dev/pts/%u is /dev/pts/%u", s.index, now, s.index, now);
	ps->p = xrealloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
	ps->p[ps->n] = (struct made_pty){ s.index, s.tflags, m, keeper };
	return &ps->p[ps->n++];
}

/* /dev/tty: the controlling terminal of whoever opens it; ckpt restore's
 * is the one the process gets (restore/ctty.c).  Without one: /dev/null,
 * said. */
static int open_dev_tty(const struct img_file *f, int fd0)
{
	int acc = (int)f->d.flags & O_ACCMODE;
	int fd = open("/dev/tty", acc | O_NOCTTY | O_CLOEXEC);
	char fds[64];

	if (fd >= 0)
		return fd_set_status(fd, f, fd0);
	snprintf(fds, sizeof(fds), "fd %d", fd0);
	warn("%s (/dev/tty): ckpt restore has no controlling terminal to give it: it is /dev/null",
	     fds);
	fd = open("/dev/null", (acc == O_ACCMODE ? O_RDWR : acc) | O_CLOEXEC);
	return fd < 0 ? error_errno(errno, "cannot open /dev/null") : fd;
}

/* /dev/tty of a process whose terminal is a pty of the image: it names
 * the new pty only once the process has it (restore/ctty.c), so the
 * process opens it itself, after. */
static int tty_late(const struct fd_restore *r, const struct img_file *f)
{
	return f->d.kind == CKPT_FD_TTY && f->d.rdev == makedev(5, 0) && r->p->has_ctty &&
	       (r->p->ctty.cflags & CKPT_CTTY_PTY);
}

static void tty_plan_open(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			  int target)
{
	static const char dev_tty[] = "/dev/tty";
	uint64_t fl = (f->d.flags & ~(uint32_t)O_CLOEXEC) | O_NOCTTY;

	(void)r;
	plan_syscall(pl, 0, STUB_OPF_KEEP, PLAN_R(1), SYS_openat,
		     (uint64_t[6]){ (uint64_t)(int64_t)AT_FDCWD, plan_blob(pl, dev_tty, sizeof(dev_tty)),
				    fl });
	plan_what(pl, 0, "open /dev/tty (its new pty) for fd %d", target);
	/* it may have come at target itself (the lowest free fd): dup3
	 * then says EINVAL, and there is nothing to close */
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_MAYFAIL, 0, SYS_dup3,
		     (uint64_t[6]){ 0, (uint64_t)target, 0 });
	plan_what(pl, 0, "put /dev/tty at fd %d", target);
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_IFOK, 0, SYS_close, (uint64_t[6]){ 0 });
	plan_what(pl, 0, "close the first open of /dev/tty");
}

static int tty_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_tty s = state(f);
	const struct img_file *mf = f->d.kind == CKPT_FD_PTMX ? f : master_file(r, s.index);
	struct made_pty *p = find(r, s.index);
	int acc = (int)f->d.flags & O_ACCMODE, fd;

	/* a terminal of the system, by path, as a device (fd-file.c) */
	if (f->d.kind == CKPT_FD_TTY && f->d.rdev == makedev(5, 0))
		return open_dev_tty(f, fd0);
	if (f->d.kind == CKPT_FD_TTY && s.index == ~0u)
		return fd_restore_file.open(r, f, fd0);
	if (!mf)
		return error("fd %d (%s, %s): its pty's master is not in the image", fd0, f->path,
			     fd_file_what(f));
	if (!p && !(p = make_pty(r, mf, fd0)))
		return -EIO;
	if (f->d.kind == CKPT_FD_PTMX)
		fd = fcntl(p->master, F_DUPFD_CLOEXEC, 0);
	else
		fd = ioctl(p->master, TIOCGPTPEER, acc | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s) cannot be made again", fd0, f->path);
	return fd_set_status(fd, f, fd0);
}

/* Every open of a slave is made: lock what was locked, close what was
 * closed (the keeper was the only open of a closed slave). */
static void tty_done(struct fd_restore *r)
{
	struct fd_ptys *ps = r->ptys;

	for (size_t i = 0; ps && i < ps->n; i++) {
		if (ps->p[i].tflags & CKPT_TTY_LOCKED)
			ioctl(ps->p[i].master, TIOCSPTLCK, &(int){ 1 });
		if (ps->p[i].keeper >= 0)
			close(ps->p[i].keeper);
		close(ps->p[i].master);
	}
	if (ps)
		free(ps->p);
	free(ps);
	r->ptys = NULL;
}

const struct fd_kind_restore fd_restore_tty = { .open = tty_open, .late = tty_late,
						 .plan_open = tty_plan_open, .done = tty_done };
