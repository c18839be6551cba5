/*
 * Terminals.  A pseudo-terminal whose master the image holds is restored
 * as a new pty (its number may differ): the master (TIOCGPTN: its
 * number, TIOCGPTLCK, TIOCGPKT, whether its slave has been closed) and
 * each open of its slave (/dev/pts/N, major 136-143: the same number)
 * carry the pty's termios and window size, which the kernel keeps once
 * per pty (TCGETS and TIOCGWINSZ on a master answer for its slave,
 * tty_mode_ioctl); the master carries the bytes buffered both ways
 * (common/ptyq.c: read and put back at once).  A slave whose master is
 * not in the image is the terminal the job runs in, outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ptyq.h"
#include "common/util.h"
#include "dump/fd.h"
#include "ptrace/proc.h"

/* Unix98 pty slaves: majors 136-143 (Documentation/admin-guide/devices.txt) */
static uint32_t pty_index(dev_t rdev)
{
	unsigned maj = major(rdev);

	return maj >= 136 && maj <= 143 ? (maj - 136) * 256 + minor(rdev) : ~0u;
}

static struct ckpt_fd_tty tty_state(const struct dfile *d)
{
	struct ckpt_fd_tty s;

	memcpy(&s, d->f->state, sizeof(s));
	return s;
}

void dump_tty_termios(struct ckpt_fd_tty *s, const struct termios *t)
{
	s->iflag = t->c_iflag;
	s->oflag = t->c_oflag;
	s->cflag = t->c_cflag;
	s->lflag = t->c_lflag;
	s->line = t->c_line;
	memcpy(s->cc, t->c_cc, MIN(sizeof(s->cc), sizeof(t->c_cc)));
	s->ispeed = (uint32_t)cfgetispeed(t);
	s->ospeed = (uint32_t)cfgetospeed(t);
}

static int tty_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_tty s = { .index = ~0u };
	struct winsize ws = { 0 };
	struct termios t;
	int v = 0;

	(void)c;
	if (d->f->d.kind == CKPT_FD_PTMX) {
		struct pollfd p = { .fd = d->copy, .events = POLLIN };

		if (ioctl(d->copy, TIOCGPTN, &s.index) < 0)
			return error_errno(errno, "fd %d (%s): cannot read its pty number", d->fd, d->link);
		if (ioctl(d->copy, TIOCGPTLCK, &v) == 0 && v)
			s.tflags |= CKPT_TTY_LOCKED;
		if (ioctl(d->copy, TIOCGPKT, &v) == 0 && v)
			s.tflags |= CKPT_TTY_PACKET;
		/* n_tty_poll: EPOLLHUP once the other side was closed */
		if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
			s.tflags |= CKPT_TTY_HUP;
		dfile_what(d, "the master of pty %u", s.index);
	} else {
		s.index = pty_index(d->st.st_rdev);
		fd_dump_node_deleted(d);
		/* A terminal of the system (/dev/console, /dev/ttyN,
		 * /dev/ttyS*) is reopened by path, checked to be the same
		 * device; /dev/tty is the controlling terminal, whichever
		 * the process has when it opens it (restore/fd-tty.c). */
		if (d->st.st_rdev == makedev(5, 0))
			dfile_what(d, "the controlling terminal (/dev/tty)");
		else if (s.index == ~0u && !(d->f->d.fflags & CKPT_FILEF_NODE_DELETED))
			dfile_what(d, "the terminal %u:%u, reopened by path", major(d->st.st_rdev),
				   minor(d->st.st_rdev));
	}
	/* restore makes the pty with the default N_TTY (tty_ldisc.h) */
	if (s.index != ~0u && ioctl(d->copy, TIOCGETD, &v) == 0 && v != 0 && !d->cannot) {
		d->cannot = "its line discipline is not N_TTY (TIOCGETD): not restored";
		d->outside = s.index == ~0u;
	}
	/* A terminal of the system keeps its own termios (restore does not
	 * set it); its driver may answer EIO (a serial port without its
	 * hardware: /dev/ttyS0 in the arm64 guest). */
	if (tcgetattr(d->copy, &t) == 0)
		dump_tty_termios(&s, &t);
	else if (s.index != ~0u || d->f->d.kind == CKPT_FD_PTMX)
		return error_errno(errno, "fd %d (%s): cannot read its termios", d->fd, d->link);
	if (ioctl(d->copy, TIOCGWINSZ, &ws) == 0) {
		s.rows = ws.ws_row;
		s.cols = ws.ws_col;
		s.xpixel = ws.ws_xpixel;
		s.ypixel = ws.ws_ypixel;
	}
	dfile_set_state(d, &s, sizeof(s));
	return 0;
}

/* A master of pty index in the image so far (this process, or one of a
 * tree dumped before it). */
static const struct img_file *master_of(const struct fd_dump *c, uint32_t index)
{
	for (uint32_t i = 0; i < c->img->nfiles; i++) {
		const struct img_file *f = &c->img->files[i];
		struct ckpt_fd_tty s;

		if (f->d.kind != CKPT_FD_PTMX || !f->state || f->d.state_len != sizeof(s))
			continue;
		memcpy(&s, f->state, sizeof(s));
		if (s.index == index)
			return f;
	}
	return NULL;
}

static int slave_in_process(const struct fd_dump *c, uint32_t index)
{
	for_each_dfile(c, d, CKPT_FD_TTY)
		if (tty_state(d).index == index)
			return 1;
	return 0;
}

/* The bytes buffered in the pty of master d, read through a new open of
 * its slave (when one is open or was: opening a slave never opened would
 * make the master's reads fail with EIO once closed again). */
static int take_bytes(struct dfile *d, int slave_open)
{
	struct ckpt_fd_tty s = tty_state(d);
	char what[300];
	int slave = -1, ret;

	snprintf(what, sizeof(what), "fd %d (%s)", d->fd, d->link);
	if (slave_open || (s.tflags & CKPT_TTY_HUP)) {
		if (s.tflags & CKPT_TTY_LOCKED)
			ioctl(d->copy, TIOCSPTLCK, &(int){ 0 });
		slave = ioctl(d->copy, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (s.tflags & CKPT_TTY_LOCKED)
			ioctl(d->copy, TIOCSPTLCK, &(int){ 1 });
		if (slave < 0)
			return error_errno(errno, "%s: cannot open its slave to read the bytes buffered "
					   "for it (TIOCGPTPEER, Linux 4.13)", what);
	}
	ret = ptyq_take(d->copy, (s.tflags & CKPT_TTY_HUP) ? -1 : slave, what, &d->f->data,
			&s.to_master, &s.to_slave);
	if (slave >= 0)
		close(slave);
	if (ret < 0)
		return ret;
	d->f->d.data_len = (uint64_t)s.to_master + s.to_slave;
	memcpy(d->f->state, &s, sizeof(s));
	if (d->f->d.data_len)
		debug("fd %d (%s): %u bytes buffered for the master, %u for the slave", d->fd, d->link,
		      s.to_master, s.to_slave);
	return 0;
}

/* The process's controlling terminal is a pty whose master the image
 * holds: /dev/tty names it, which only the restored process can open. */
static int ctty_in_image(const struct fd_dump *c)
{
	struct proc_stat st;

	return proc_read_stat(c->pid, &st) == 0 && pty_index(st.tty_nr) != ~0u &&
	       master_of(c, pty_index(st.tty_nr));
}

static int tty_link(struct fd_dump *c)
{
	size_t n = 0, k = 0;
	uint64_t *ino = xzalloc((c->nfiles + 1) * sizeof(*ino));
	pid_t *holder = xzalloc((c->nfiles + 1) * sizeof(*holder));
	pid_t *mate = xzalloc((c->nfiles + 1) * sizeof(*mate));
	int ret;

	for_each_dfile(c, d, CKPT_FD_TTY) {
		uint32_t index = tty_state(d).index;

		/* the process opens it itself once it has its pty again */
		if (d->st.st_rdev == makedev(5, 0) && ctty_in_image(c)) {
			dfile_what(d, "the controlling terminal (/dev/tty), a pty of the image");
			continue;
		}
		if (index == ~0u)
			continue;
		if (!master_of(c, index)) {
			dfile_what(d, "pty %u's slave, whose master is outside the image", index);
			d->cannot = "terminals other than a pty whose master the image holds are not "
				    "restored yet";
			d->outside = 1;
		} else {
			dfile_what(d, "pty %u's slave, its master in the image", index);
		}
	}
	/* Who else holds each master's slave: "/dev/pts/N" links. */
	for_each_dfile(c, d, CKPT_FD_PTMX)
		ino[n++] = tty_state(d).index;
	if ((ret = fd_find_holders(c, "/dev/pts/", ino, n, holder, mate)) < 0) {
		ret = error_errno(ret, "cannot list the other processes' open files");
		goto out;
	}
	for_each_dfile(c, d, CKPT_FD_PTMX) {
		uint32_t index = tty_state(d).index;
		char who[64];

		if (holder[k]) {
			fd_proc_name(holder[k], who, sizeof(who));
			dfile_what(d, "the master of pty %u, whose slave /dev/pts/%u %s holds, outside "
				   "the image", index, index, who);
			d->cannot = "the pty's slave is held by a process outside the image";
		} else if ((ret = take_bytes(d, mate[k] || slave_in_process(c, index))) < 0) {
			goto out;
		}
		k++;
	}
out:
	free(ino);
	free(holder);
	free(mate);
	return ret;
}

const struct fd_kind_dump fd_dump_tty = { .collect = tty_collect, .link = tty_link };
