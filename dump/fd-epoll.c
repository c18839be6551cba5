/*
 * epoll instances: every registration from /proc/PID/fdinfo ("tfd: N
 * events: X data: D", fs/eventpoll.c ep_show_fdinfo), and which open
 * file each one watches: kcmp(KCMP_EPOLL_TFD) tells whether the file now
 * at fd N is the one registered under N.  Restore registers them again
 * by these numbers once every fd is in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

static int epoll_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_epoll s = { 0 };

	(void)c;
	dfile_set_state(d, &s, sizeof(s));
	return 0;
}

/* The file of fd in the process, 0 if it has none. */
static uint32_t file_of(const struct fd_dump *c, int fd)
{
	for (uint32_t i = 0; i < c->p->d.nfds; i++)
		if (c->p->fds[i].d.fd == fd)
			return c->p->fds[i].d.file;
	return 0;
}

/* Registrations of the same fd number before this one (the kernel's
 * toff: one number may be registered again for another file). */
static uint32_t toff(const struct dfile *d, int tfd)
{
	struct ckpt_fd_epoll s;
	uint32_t n = 0;

	memcpy(&s, d->f->state, sizeof(s));
	for (uint32_t i = 0; i < s.nentries; i++) {
		struct ckpt_epoll_entry e;

		memcpy(&e, d->f->state + sizeof(s) + i * sizeof(e), sizeof(e));
		n += e.tfd == tfd;
	}
	return n;
}

static int read_entries(struct fd_dump *c, struct dfile *d)
{
	for (const char *l = d->fdinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		struct kcmp_epoll_slot slot = { .efd = (uint32_t)d->fd };
		struct ckpt_epoll_entry e = { 0 };
		struct ckpt_fd_epoll s;
		unsigned long long data;
		unsigned events;
		int tfd;

		if (sscanf(l, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3)
			continue;
		e.tfd = tfd;
		e.events = events;
		e.data = data;
		slot.tfd = (uint32_t)tfd;
		slot.toff = toff(d, tfd);
		e.file = file_of(c, tfd);
		if (!e.file || syscall(SYS_kcmp, c->pid, c->pid, KCMP_EPOLL_TFD, tfd, &slot) != 0) {
			dfile_what(d, "an epoll instance watching a file no longer at fd %d", tfd);
			d->cannot = "a file it watches was closed or replaced at the fd number it was "
				    "registered under (epoll keeps watching it)";
			return 0;
		}
		memcpy(&s, d->f->state, sizeof(s));
		s.nentries++;
		memcpy(d->f->state, &s, sizeof(s));
		dfile_add_state(d, &e, sizeof(e));
	}
	return 0;
}

static int epoll_link(struct fd_dump *c)
{
	for_each_dfile(c, d, CKPT_FD_EPOLL) {
		int ret = read_entries(c, d);

		if (ret < 0)
			return ret;
	}
	return 0;
}

const struct fd_kind_dump fd_dump_epoll = { .collect = epoll_collect, .link = epoll_link };
