/*
 * The controlling terminal of a process (the CTTY section): which
 * terminal it is (/proc/PID/stat tty_nr) and its foreground process group
 * (tpgid), and, read through a descriptor of the process that is that
 * terminal, its termios and window size; whether it is a pty of the
 * image.  Restore gives the process the terminal it is restored from, or
 * the pty made again (restore/ctty.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "dump/fd.h"
#include "image/fdkind.h"
#include "ptrace/proc.h"

/* termios and window size through a new open of fd of pid (O_NOCTTY: no
 * process gets a terminal from it). */
static int read_terminal(pid_t pid, int fd, struct ckpt_fd_tty *s)
{
	struct winsize ws = { 0 };
	struct termios t;
	char path[64];
	int tfd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	tfd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (tfd < 0)
		return -errno;
	if (tcgetattr(tfd, &t) < 0) {
		close(tfd);
		return -errno;
	}
	dump_tty_termios(s, &t);
	if (ioctl(tfd, TIOCGWINSZ, &ws) == 0) {
		s->rows = ws.ws_row;
		s->cols = ws.ws_col;
		s->xpixel = ws.ws_xpixel;
		s->ypixel = ws.ws_ypixel;
	}
	close(tfd);
	return 0;
}

int dump_collect_ctty(pid_t pid, const struct img *img, struct img_proc *p)
{
	struct proc_stat st;
	int ret = proc_read_stat(pid, &st);

	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/stat", pid);
	if (!st.tty_nr)
		return 0;
	p->has_ctty = 1;
	p->ctty = (struct ckpt_ctty){ .rdev = st.tty_nr, .tpgid = st.tpgid };
	memset(&p->ctty_tty, 0, sizeof(p->ctty_tty));
	p->ctty_tty.index = ~0u;
	/* The first descriptor on the terminal tells its state. */
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct img_file *f = img_file(img, p->fds[i].d.file);
		struct ckpt_fd_tty s;

		if (!f || f->d.kind != CKPT_FD_TTY || f->d.rdev != st.tty_nr)
			continue;
		if (f->d.policy == CKPT_FPOL_EXACT && f->d.state_len == sizeof(s)) {
			fd_state(f, &s, sizeof(s));
			p->ctty_tty.index = s.index;
			p->ctty.cflags |= CKPT_CTTY_PTY;
		}
		if (read_terminal(pid, p->fds[i].d.fd, &p->ctty_tty) == 0)
			p->ctty.cflags |= CKPT_CTTY_TERMIOS;
		break;
	}
	debug("controlling terminal %u:%u, foreground group %d%s%s", (unsigned)(st.tty_nr >> 8) & 0xfff,
	      (st.tty_nr & 0xff) | ((st.tty_nr >> 12) & 0xfff00), st.tpgid,
	      p->ctty.cflags & CKPT_CTTY_PTY ? ", a pty of the image" : "",
	      p->ctty.cflags & CKPT_CTTY_TERMIOS ? "" : ", its termios unknown (no fd on it)");
	return 0;
}
