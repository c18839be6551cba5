/*
 * File locks a process holds (the LOCKS section): read from the "lock:"
 * lines of /proc/PID/fdinfo/N, which list, for the open file description
 * behind fd N, its flock(2) and OFD locks and leases and the POSIX locks
 * the process took through it (fs/locks.c show_fd_locks; the format is
 * lock_get_status's, as in /proc/locks, man 5 proc):
 *
 *   lock:	1: FLOCK  ADVISORY  WRITE 1234 fe:00:1100 0 EOF
 *   lock:	2: POSIX  ADVISORY  READ 1234 fe:00:1101 10 29
 *   lock:	3: OFDLCK ADVISORY  WRITE -1 fe:00:1102 0 EOF
 *   lock:	4: LEASE  ACTIVE    READ 1234 fe:00:1103 0 EOF
 *
 * Reading them takes nothing: the dump leaves every lock as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

/* One "lock:" line into l: 0, or what makes it one restore cannot take. */
static const char *parse_line(const char *line, uint32_t file, struct ckpt_lock *l)
{
	char type[16], sub[16], mode[16], dev[32], start[32], end[32];
	long long pid;

	if (sscanf(line, "%*d: %15s %15s %15s %lld %31s %31s %31s", type, sub, mode, &pid, dev, start,
		   end) != 7)
		return "its lock cannot be read from /proc/PID/fdinfo (an unknown format)";
	memset(l, 0, sizeof(*l));
	l->file = file;
	if (!strcmp(type, "FLOCK"))
		l->type = CKPT_LOCK_FLOCK;
	else if (!strcmp(type, "POSIX"))
		l->type = CKPT_LOCK_POSIX;
	else if (!strcmp(type, "OFDLCK"))
		l->type = CKPT_LOCK_OFD;
	else if (!strcmp(type, "LEASE"))
		l->type = CKPT_LOCK_LEASE;
	else
		return "it holds a kind of lock ckpt does not restore (a delegation?)";
	if (l->type == CKPT_LOCK_LEASE && strcmp(sub, "ACTIVE"))
		return "its lease is being broken (another process opened the file)";
	if (l->type != CKPT_LOCK_LEASE && strcmp(sub, "ADVISORY"))
		return "it holds a mandatory lock";
	if (!strcmp(mode, "READ"))
		l->mode = F_RDLCK;
	else if (!strcmp(mode, "WRITE"))
		l->mode = F_WRLCK;
	else
		return "it holds a lock of an unknown mode";
	/* flock and leases always say "0 EOF" */
	l->start = strtoull(start, NULL, 10);
	l->end = !strcmp(end, "EOF") ? CKPT_LOCK_EOF : strtoull(end, NULL, 10);
	if (l->type == CKPT_LOCK_FLOCK || l->type == CKPT_LOCK_LEASE) {
		l->start = 0;
		l->end = CKPT_LOCK_EOF;
	}
	return l->start > l->end ? "its lock has a range ckpt cannot read" : NULL;
}

int fd_collect_locks(struct fd_dump *c, int fd, uint32_t file, const char *fdinfo,
		     struct dfile *d)
{
	struct img_proc *p = c->p;

	for (uint32_t i = 0; i < p->nlocks; i++)
		if (p->locks[i].file == file)
			return 0;	/* another fd of the same open file description */
	for (const char *l = fdinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		struct ckpt_lock lk;
		const char *why;

		if (strncmp(l, "lock:", 5))
			continue;
		if ((why = parse_line(l + 5, file, &lk))) {
			if (!d)	/* a file of another process of the tree: no fd of ours to name */
				return error("fd %d: cannot be restored: %s", fd, why);
			if (!d->cannot)
				d->cannot = why;
			continue;
		}
		/* A lease breaks with the signal F_SETSIG chose: not kept. */
		if (lk.type == CKPT_LOCK_LEASE && d && d->copy >= 0 && fcntl(d->copy, F_GETSIG) > 0 &&
		    !d->cannot)
			d->cannot = "its lease signals its break with F_SETSIG, which ckpt does not restore";
		if (p->nlocks >= CKPT_MAX_LOCKS)
			return error("fd %d: more than %u file locks", fd, CKPT_MAX_LOCKS);
		p->locks = xrealloc(p->locks, (p->nlocks + 1) * sizeof(*p->locks));
		p->locks[p->nlocks++] = lk;
	}
	return 0;
}

void fd_drop_lost_locks(const struct img *img, struct img_proc *p)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->nlocks; i++) {
		const struct img_file *f = img_file(img, p->locks[i].file);

		if (f && f->d.policy == CKPT_FPOL_EXACT)
			p->locks[n++] = p->locks[i];
		else
			debug("file %u: its lock goes with it", p->locks[i].file);
	}
	p->nlocks = n;
	if (!n) {
		free(p->locks);
		p->locks = NULL;
	}
}
