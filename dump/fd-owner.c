/*
 * Who gets a file's SIGIO and SIGURG (F_SETOWN, F_SETOWN_EX) and with
 * which signal (F_SETSIG): kept on the open file description, so read on
 * ckpt's copy of it.  A program that asked for O_ASYNC notification (or
 * SIGURG on a socket) would otherwise get no signal after restore,
 * silently.  The owner must be a process of the image, or the process
 * group one leads: restore gives it that process's PID then
 * (restore/fd-owner.c); a thread as owner (F_OWNER_TID) is refused.
 */
#include <fcntl.h>

#include "dump/fd.h"

static int of_image(const struct fd_dump *c, pid_t pid)
{
	if (pid == c->p->d.pid)
		return 1;
	for (uint32_t i = 0; c->img->tasks && i < c->img->ntasks; i++)
		if (c->img->tasks[i].pid == pid)
			return 1;
	return 0;
}

void fd_owner_collect(struct fd_dump *c, struct dfile *d)
{
	struct f_owner_ex o;
	int sig;

	/* a new open of the inode (d->reopened) has no owner of the process's */
	if (d->copy < 0 || d->reopened || fcntl(d->copy, F_GETOWN_EX, &o) < 0)
		return;
	sig = fcntl(d->copy, F_GETSIG);
	if (sig > 0 && sig <= 64)
		d->f->d.fown = (uint32_t)sig;
	if (!o.pid)
		return;
	if (o.type == F_OWNER_TID) {
		if (!d->cannot)
			d->cannot = "its SIGIO owner (F_SETOWN_EX) is one thread (F_OWNER_TID), which "
				    "ckpt does not give back";
		return;
	}
	if (!of_image(c, o.pid) || o.pid >= 1 << (32 - CKPT_FOWN_ID_SHIFT)) {
		if (!d->cannot)
			d->cannot = "its SIGIO owner (F_SETOWN) is a process or process group "
				    "outside the image";
		return;
	}
	d->f->d.fown |= (o.type == F_OWNER_PGRP ? CKPT_FOWN_GROUP : CKPT_FOWN_PROCESS) |
			(uint32_t)o.pid << CKPT_FOWN_ID_SHIFT;
}
