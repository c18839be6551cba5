/*
 * The controlling terminal (CTTY section, dump/ctty.c).  A terminal
 * outside the image (the one the job ran in) becomes the terminal
 * ckpt restore runs in, /dev/tty: the restored root process is in ckpt
 * restore's session (a child of it) and so has that terminal; it gets it
 * as its foreground process group when it was the foreground job, with
 * its termios (the raw mode of a REPL or an editor, which the program
 * set once and does not set again), and SIGWINCH when its new window's
 * size is not the old one's (readline and curses ask and redraw).  A root that led its
 * session leads a new one: it takes the terminal from ckpt restore's
 * session (TIOCSCTTY with force, CAP_SYS_ADMIN; tty_ioctl(4)) when ckpt
 * restore is the foreground job, else it has none.  A pty of the image is
 * made again (restore/fd-tty.c): a process that led its session takes
 * it as its controlling terminal itself, in its plan, once its fds are
 * in place (TIOCSCTTY acts on the caller's session).  Whatever does not
 * come back is said.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "ptrace/proc.h"
#include "restore/restore.h"

/* A terminal outside the image, for the root p: ckpt restore's own. */
void ctty_open(struct ctty *ct, const struct img_proc *p, const struct restore_opts *o)
{
	memset(ct, 0, sizeof(*ct));
	ct->fd = -1;
	/* --detach: ckpt restore leaves; ckpt run keeps its terminal */
	ct->skip = o->detach || o->supervised;
	if (!p->has_ctty || (p->ctty.cflags & CKPT_CTTY_PTY) || ct->skip)
		return;
	ct->fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (ct->fd < 0)
		return;
	ct->fg = tcgetpgrp(ct->fd) == getpgrp();
	ct->steal = p->d.sid == p->d.pid && ct->fg;
}

void ctty_close(struct ctty *ct)
{
	if (ct->fd >= 0)
		close(ct->fd);
	ct->fd = -1;
}

/* The child, a new session's leader (async-signal-safe). */
void ctty_child(const struct ctty *ct)
{
	if (ct->steal)
		ioctl(ct->fd, TIOCSCTTY, 1);
}

/* The first fd of p on the slave of pty index of the image, or -1. */
static int slave_fd(const struct img *img, const struct img_proc *p, uint32_t index)
{
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct img_file *f = img_file(img, p->fds[i].d.file);
		struct ckpt_fd_tty s;

		if (!f || f->d.kind != CKPT_FD_TTY || f->d.policy != CKPT_FPOL_EXACT)
			continue;
		fd_state(f, &s, sizeof(s));
		if (s.index == index)
			return p->fds[i].d.fd;
	}
	return -1;
}

/* The leader of the group that had the pty's foreground, not the
 * session's leader (whose TIOCSCTTY gave it its own group): it takes the
 * foreground back itself, in its session by then (its terminal inherited
 * from its parent).  Its stub blocks every signal, so TIOCSPGRP from the
 * background raises no SIGTTOU (tty_check_change). */
void ctty_plan_fg(struct plan *pl, const struct img *img, const struct img_proc *p)
{
	int fd;

	if (!p->has_ctty || !(p->ctty.cflags & CKPT_CTTY_PTY) || p->d.sid == p->d.pid ||
	    p->ctty.tpgid != p->d.pid || p->d.pgid != p->d.pid ||
	    (fd = slave_fd(img, p, p->ctty_tty.index)) < 0)
		return;
	plan_syscall(pl, 0, STUB_OPF_MAYFAIL, PLAN_R(2), SYS_ioctl,
		     (uint64_t[6]){ (uint64_t)fd, TIOCSPGRP,
				    plan_blob(pl, &p->ctty.tpgid, sizeof(p->ctty.tpgid)) });
	plan_what(pl, 0, "make its group %d its terminal's foreground group", p->ctty.tpgid);
}

/*
 * A session leader whose terminal is a pty of the image, when another
 * group had its foreground: that group's id in its plan's data, which it
 * gives the pty once every process is made (spawn.c finish_proc), with
 * every signal blocked (no SIGTTOU).  Whoever leads that group may be
 * gone (a pipeline's first command, `true | cat`: the group is made again
 * by a helper, restore/plan.c) or hold no fd on the pty; the session
 * leader holds one (its TIOCSCTTY) and the group is in its session.
 */
uint64_t ctty_session_fg(struct plan *pl, const struct img *img, const struct img_proc *p)
{
	if (!p->has_ctty || !(p->ctty.cflags & CKPT_CTTY_PTY) || p->d.sid != p->d.pid ||
	    p->ctty.tpgid <= 0 || p->ctty.tpgid == p->d.pgid || ctty_slave_fd(img, p) < 0)
		return 0;
	return plan_blob(pl, &p->ctty.tpgid, sizeof(p->ctty.tpgid));
}

int ctty_slave_fd(const struct img *img, const struct img_proc *p)
{
	return p->has_ctty ? slave_fd(img, p, p->ctty_tty.index) : -1;
}

/* In the plan of p, a session leader whose terminal is a pty of the
 * image: TIOCSCTTY on the first of its fds on that pty's slave. */
void ctty_plan(struct plan *pl, const struct img *img, const struct img_proc *p)
{
	int fd;

	if (!p->has_ctty || !(p->ctty.cflags & CKPT_CTTY_PTY) || p->d.sid != p->d.pid ||
	    (fd = slave_fd(img, p, p->ctty_tty.index)) < 0)
		return;
	/* may fail (not a session leader after all): said at the end */
	plan_syscall(pl, 0, STUB_OPF_MAYFAIL, 0, SYS_ioctl, (uint64_t[6]){ (uint64_t)fd, TIOCSCTTY, 0 });
	plan_what(pl, 0, "take pty %u's slave (fd %d) as its controlling terminal", p->ctty_tty.index,
		  fd);
}

static void set_termios(const struct ctty *ct, const struct img_proc *p)
{
	const struct ckpt_fd_tty *s = &p->ctty_tty;
	struct termios t;

	if (tcgetattr(ct->fd, &t) < 0)
		return;
	t.c_iflag = s->iflag;
	t.c_oflag = s->oflag;
	t.c_cflag = (t.c_cflag & (CBAUD | CBAUDEX)) | (s->cflag & ~(tcflag_t)(CBAUD | CBAUDEX));
	t.c_lflag = s->lflag;
	memcpy(t.c_cc, s->cc, MIN(sizeof(s->cc), sizeof(t.c_cc)));
	/* the line's speed is the terminal's own, not the old one's */
	if (tcsetattr(ct->fd, TCSADRAIN, &t) < 0)
		warn("process %d: cannot give the terminal its termios (%s mode): %s", p->d.pid,
		     s->lflag & ICANON ? "canonical" : "raw", strerror(errno));
	else
		debug("process %d: the terminal has its termios again (%s%s)", p->d.pid,
		      s->lflag & ICANON ? "canonical" : "raw", s->lflag & ECHO ? ", echo" : ", no echo");
}

/*
 * A root in a process group it did not lead (a command of a shell without
 * job control, `sh -c 'prog; ...'`, a pipeline's later command): that
 * group's leader is not made (image/tree.c: the root is in ckpt restore's
 * group), so it is in ckpt restore's group, the foreground or background
 * job that ckpt restore is on the terminal: what a shell's job control
 * sees and stops (^Z) together.  Said once.
 */
static void in_restore_group(const struct ctty *ct, const struct img *img,
			     const struct img_proc *p, int was_fg)
{
	const char *now = ct->fg ? "the terminal's foreground job" : "in the background";
	char leader[64] = "whose leader is not in the image";

	for (uint32_t i = 0; img->tasks && i < img->ntasks; i++)
		if (img->tasks[i].pid == p->d.pgid)
			snprintf(leader, sizeof(leader), "led by process %d of the image", p->d.pgid);
	info("process %d was in process group %d, %s: it is in ckpt restore's group, %s%s",
	     p->d.pid, p->d.pgid, leader, now,
	     was_fg == ct->fg ? "" : was_fg ? " (it was the foreground job)" : " (it was in the background)");
}

/* Once the root (pid) is made, before it runs: its terminal outside. */
static void handover(const struct ctty *ct, const struct img *img, const struct img_proc *p,
		     pid_t pid)
{
	int was_fg = p->ctty.tpgid == p->d.pgid, leader = p->d.sid == p->d.pid;
	struct winsize ws = { 0 };

	if (ct->skip) {
		debug("process %d: its terminal is ckpt restore's session's, as it is (--detach)",
		      p->d.pid);
		return;
	}
	if (ct->fd < 0) {
		info("process %d had a controlling terminal; ckpt restore has none: it has none now",
		     p->d.pid);
		return;
	}
	if (leader && !ct->steal) {
		info("process %d led its session: it leads a new one without a controlling terminal "
		     "(ckpt restore does not run in the foreground of its terminal)", p->d.pid);
		return;
	}
	if (was_fg && ct->fg && (p->ctty.cflags & CKPT_CTTY_TERMIOS))
		set_termios(ct, p);
	if (!leader && p->d.pgid != p->d.pid)
		in_restore_group(ct, img, p, was_fg);
	if (was_fg && ct->fg && !leader && p->d.pgid == p->d.pid) {
		/* ckpt restore's output after this is a background job's:
		 * TOSTOP in the restored termios must not stop it */
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(ct->fd, pid) < 0)
			warn("process %d: cannot make it the terminal's foreground job: %s", p->d.pid,
			     strerror(errno));
	} else if (was_fg && !ct->fg) {
		info("process %d was its terminal's foreground job; ckpt restore runs in the "
		     "background: it is in the background", p->d.pid);
	}
	/* Another window: the program asks for its size again (and
	 * redraws), as the kernel would tell it on a resize (tiocswinsz);
	 * the same size, nothing to tell. */
	if (ioctl(ct->fd, TIOCGWINSZ, &ws) == 0 && (p->ctty.cflags & CKPT_CTTY_TERMIOS) &&
	    (ws.ws_row != p->ctty_tty.rows || ws.ws_col != p->ctty_tty.cols)) {
		debug("process %d: its window was %ux%u, it is %ux%u now: SIGWINCH", p->d.pid,
		      p->ctty_tty.cols, p->ctty_tty.rows, ws.ws_col, ws.ws_row);
		kill(was_fg && p->d.pgid == p->d.pid ? -pid : pid, SIGWINCH);
	}
}

void ctty_finish(const struct ctty *ct, const struct img *img, const struct img_proc *p, pid_t pid)
{
	if (p->has_ctty && !(p->ctty.cflags & CKPT_CTTY_PTY))
		handover(ct, img, p, pid);
}

/* Once every process runs: which of them had a terminal and has none. */
void ctty_report(const struct img_proc *p, pid_t pid)
{
	struct proc_stat st;

	if (!p->has_ctty || proc_read_stat(pid, &st) < 0)
		return;
	if ((p->ctty.cflags & CKPT_CTTY_PTY) && st.tty_nr && p->ctty.tpgid > 0 &&
	    st.tpgid != p->ctty.tpgid && p->d.sid == p->d.pid)
		info("process %d: its terminal's foreground group is %d, it was %d (that group "
		     "could not be given the terminal again)", p->d.pid, st.tpgid, p->ctty.tpgid);
	if (st.tty_nr)
		return;
	if (p->ctty.cflags & CKPT_CTTY_PTY)
		info("process %d: its controlling terminal, pty %u of the image, is not restored (%s)",
		     p->d.pid, p->ctty_tty.index, p->d.sid == p->d.pid ?
		     "it could not take it" : "it did not lead its session");
}
