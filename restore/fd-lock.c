/*
 * File locks (the LOCKS section): the restored process takes each again
 * itself, in its plan, through the descriptor it was taken through, so
 * that its owner is what it was: the process (POSIX locks, fs/locks.c
 * posix_lock_file: fl_owner is the caller's files_struct) or the open
 * file description (flock, OFD locks), and a lease's f_owner is the
 * process (fcntl F_SETLEASE sets it to the caller).  The ops come once
 * every descriptor is in place and nothing more is closed: closing any
 * fd of a file drops the process's POSIX locks on it (fcntl(2)).
 *
 * Before anything is made, ckpt asks whether another process holds a lock
 * in the way (fd_locks_check), to fail with its name; a lock taken in
 * between makes the process's own op fail, naming the file too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/fd.h"
#include "restore/trust.h"

static struct flock range_of(const struct ckpt_lock *l)
{
	return (struct flock){
		.l_type = (short)l->mode, .l_whence = SEEK_SET, .l_start = (off_t)l->start,
		.l_len = l->end == CKPT_LOCK_EOF ? 0 : (off_t)(l->end - l->start + 1),
	};
}

/* Who holds what is in the way of l, in words, or "" when nobody does. */
static int in_the_way(int fd, const struct ckpt_lock *l, char *who, size_t len)
{
	struct flock fl = range_of(l);

	who[0] = 0;
	if (l->type == CKPT_LOCK_FLOCK) {
		if (flock(fd, (l->mode == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return flock(fd, LOCK_UN) < 0 ? -errno : 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		snprintf(who, len, "another open of the file holds a flock lock on it");
		return 0;
	}
	if (l->type == CKPT_LOCK_LEASE)
		return 0;	/* no way to ask: the process's F_SETLEASE says */
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	if (fl.l_type == F_UNLCK)
		return 0;
	if (fl.l_pid > 0)
		snprintf(who, len, "process %d holds a %s lock there", (int)fl.l_pid,
			 fl.l_type == F_WRLCK ? "write" : "read");
	else
		snprintf(who, len, "another open of the file holds a %s lock there (OFD)",
			 fl.l_type == F_WRLCK ? "write" : "read");
	return 0;
}

/*
 * The stub takes locks before it drops root, but a lease is more than a
 * lock: only the file's owner may take one (or CAP_LEASE, fcntl(2)), and
 * an image restored with its owner's rights only (restore/trust.h) gets
 * no more from ckpt than that owner could take.
 */
static int lease_allowed(const struct fd_restore *r, const struct ckpt_lock *l, int src,
			 const struct img_file *f)
{
	const struct trust *t = r->o ? r->o->trust : NULL;
	struct stat st;

	if (l->type != CKPT_LOCK_LEASE || !trust_owner_rules(t))
		return 0;
	if (fstat(src, &st) < 0)
		return error_errno(errno, "fd %d (\"%s\"): cannot stat it", img_file_fd(r->p, l->file),
				   f->path);
	if (st.st_uid == trust_owner(t))
		return 0;
	return error("fd %d (\"%s\"): cannot take its lease again: the file is not the image "
		     "owner's (uid %u), and the image is not signed by this machine's key",
		     img_file_fd(r->p, l->file), f->path, (unsigned)trust_owner(t));
}

int fd_locks_check(const struct fd_restore *r)
{
	const struct img_proc *p = r->p;

	for (uint32_t i = 0; i < p->nlocks; i++) {
		const struct ckpt_lock *l = &p->locks[i];
		const struct img_file *f = img_file(r->img, l->file);
		int src = r->src[l->file - 1], ret;
		char who[128], what[96];

		if (src < 0)
			continue;	/* opened by the process itself: its op says */
		if ((ret = lease_allowed(r, l, src, f)) < 0)
			return ret;
		img_lock_text(l, what, sizeof(what));
		if ((ret = in_the_way(src, l, who, sizeof(who))) < 0)
			return error_errno(-ret, "fd %d (\"%s\"): cannot test whether its %s is free",
					   img_file_fd(p, l->file), f->path, what);
		if (who[0])
			return error("fd %d (\"%s\"): cannot take its %s again: %s",
				     img_file_fd(p, l->file), f->path, what, who);
	}
	return 0;
}

void fd_plan_locks(struct plan *pl, const struct img *img, const struct img_proc *p)
{
	for (uint32_t i = 0; i < p->nlocks; i++) {
		const struct ckpt_lock *l = &p->locks[i];
		const struct img_file *f = img_file(img, l->file);
		uint64_t fd = (uint64_t)img_file_fd(p, l->file);
		struct flock fl = range_of(l);
		char what[96];

		img_lock_text(l, what, sizeof(what));
		if (l->type == CKPT_LOCK_FLOCK)
			plan_syscall(pl, 0, 0, 0, SYS_flock, (uint64_t[6]){ fd,
				     (l->mode == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB });
		else if (l->type == CKPT_LOCK_LEASE)
			plan_syscall(pl, 0, 0, 0, SYS_fcntl, (uint64_t[6]){ fd, F_SETLEASE, l->mode });
		else
			plan_syscall(pl, 0, 0, PLAN_R(2), SYS_fcntl, (uint64_t[6]){ fd,
				     l->type == CKPT_LOCK_OFD ? F_OFD_SETLK : F_SETLK,
				     plan_blob(pl, &fl, sizeof(fl)) });
		plan_what(pl, 0, "take the %s of \"%s\" (fd %d) again", what, f->path, (int)fd);
	}
}
