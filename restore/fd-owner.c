/*
 * A file's SIGIO owner and signal (format.h CKPT_FOWN_*, read by
 * dump/fd-owner.c), set again by each process holding the file, through
 * its stub, once every process of the image is made: the owner is one of
 * them, named by the PID it has now (a process restored alone may get
 * another).  The process sets them itself, so the kernel records its
 * credentials for the signal's permission check (fs/fcntl.c sigio_perm),
 * as when it set them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "restore/fd.h"

/*
 * O_ASYNC was set on the file where ckpt made it, at another fd number:
 * the kernel keeps that number for the signal's si_fd (fs/fcntl.c
 * fasync_insert_entry), so the process sets it again itself, at its own
 * fd (F_SETFL calls ->fasync only when O_ASYNC changes: off, then on).
 */
static int async_again(const struct img_file *f, int fd, const struct pidfd_finish *o)
{
	uint64_t fl = f->d.flags & ~(uint32_t)O_ACCMODE;
	char what[96];
	int ret;

	if (!(fl & O_ASYNC))
		return 0;
	snprintf(what, sizeof(what), "set O_ASYNC again on fd %d, for its signals' si_fd", fd);
	if ((ret = o->syscall(o->arg, SYS_fcntl, (uint64_t[6]){ (uint64_t)fd, F_SETFL, fl & ~(uint64_t)O_ASYNC },
			      NULL, what)) < 0)
		return ret;
	return o->syscall(o->arg, SYS_fcntl, (uint64_t[6]){ (uint64_t)fd, F_SETFL, fl }, NULL, what);
}

/*
 * The owner, process now (as the process sees it), or with group the
 * process group it leads: only if it leads one again (getpgid in the
 * process; restore/spawn.c makes a leader lead a group of the PID it has
 * now, a new one too), never a group of others (ckpt restore's), whom
 * the signal must not reach.  F_SETOWN of an ID nobody has
 * sets no owner without an error (fs/fcntl.c f_setown): read back.
 */
static int owner_again(const struct img_file *f, int fd, int group, pid_t now,
		       const struct pidfd_finish *o)
{
	long who = now, got = 0;
	struct f_owner_ex ex;
	char what[96];
	int ret, ok;

	if (group && (ret = o->syscall(o->arg, SYS_getpgid, (uint64_t[6]){ (uint64_t)now }, &got,
				       "get the process group of a SIGIO owner")) < 0)
		return ret;
	if (group && got != now)
		return error("fd %d (%s): its SIGIO owner, the process group process %d led, was not "
			     "made again (that process is %d now, in group %ld)", fd, f->path,
			     (int)(f->d.fown >> CKPT_FOWN_ID_SHIFT), now, got);
	who = group ? -who : who;
	snprintf(what, sizeof(what), "give fd %d's SIGIO to %s %ld (F_SETOWN)", fd,
		 group ? "process group" : "process", group ? -who : who);
	if ((ret = o->syscall(o->arg, SYS_fcntl, (uint64_t[6]){ (uint64_t)fd, F_SETOWN,
			      (uint64_t)who }, NULL, what)) < 0)
		return ret;
	/* F_GETOWN_EX, not F_GETOWN: a group's F_GETOWN is minus its ID,
	 * which a small one makes look like an error (fcntl(2) BUGS) */
	snprintf(what, sizeof(what), "read fd %d's SIGIO owner back (F_GETOWN_EX)", fd);
	if ((ret = o->syscall(o->arg, SYS_fcntl, (uint64_t[6]){ (uint64_t)fd, F_GETOWN_EX,
			      o->scratch }, NULL, what)) < 0)
		return ret;
	if ((ret = o->read(o->arg, o->scratch, &ex, sizeof(ex))) < 0)
		return error_errno(ret, "cannot %s", what);
	ok = ex.type == (group ? F_OWNER_PGRP : F_OWNER_PID) && ex.pid == now;
	return ok ? 0 : error("fd %d (%s): cannot give its SIGIO to %s %d again: there is none now",
			      fd, f->path, group ? "process group" : "process", now);
}

int fd_owner_finish(const struct img *img, const struct img_proc *p, const struct pidfd_finish *o)
{
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct ckpt_fd *d = &p->fds[i].d;
		const struct img_file *f = img_file(img, d->file);
		uint32_t sig = f->d.fown & CKPT_FOWN_SIGMASK;
		pid_t id = (pid_t)(f->d.fown >> CKPT_FOWN_ID_SHIFT), now;
		int group = !!(f->d.fown & CKPT_FOWN_GROUP);
		char what[96];
		int ret;

		/* once per file in the process; a file ckpt gave no exact copy of
		 * (a lost one, ckpt restore's own terminal) is not the process's */
		if (!f->d.fown || img_file_fd(p, d->file) != d->fd || f->d.policy != CKPT_FPOL_EXACT)
			continue;
		snprintf(what, sizeof(what), "set signal %u for fd %d's SIGIO (F_SETSIG)", sig, d->fd);
		if (sig && (ret = o->syscall(o->arg, SYS_fcntl, (uint64_t[6]){ (uint64_t)d->fd,
					     F_SETSIG, sig }, NULL, what)) < 0)
			return ret;
		if (!id)
			continue;
		if ((now = o->now(o->arg, id)) <= 0)
			return error("fd %d (%s): its SIGIO owner, %s %d, was not made", d->fd, f->path,
				     group ? "the process group of" : "process", id);
		if ((ret = owner_again(f, d->fd, group, now, o)) < 0 || (ret = async_again(f, d->fd, o)) < 0)
			return ret;
	}
	return 0;
}
