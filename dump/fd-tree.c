/*
 * Open files shared by several processes of a tree (issue 12): a file
 * opened before a fork is one open file description in parent and child
 * (one offset, one set of status flags, one end of a pipe).  It is one
 * FILE in the image, named by the fds of every process holding it, and
 * restore makes it once.  kcmp(2) KCMP_FILE tells whether two fds of two
 * processes are the same description (both frozen: nothing changes under
 * it); the path of each FILE (the fd's link) narrows the candidates.
 */
#include <string.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump/fd.h"

/* An fd of another process of the image holding file id, or -1. */
static int holder_fd(const struct img *img, const struct img_proc *self, uint32_t id, pid_t *pid)
{
	for (uint32_t q = 0; q < img->h.nprocs; q++) {
		const struct img_proc *o = &img->procs[q];

		if (o == self)
			continue;
		for (uint32_t k = 0; k < o->d.nfds; k++)
			if (o->fds[k].d.file == id) {
				*pid = o->d.pid;
				return o->fds[k].d.fd;
			}
	}
	return -1;
}

uint32_t fd_tree_shared(const struct img *img, const struct img_proc *p, pid_t pid, int fd,
			const char *link)
{
	for (uint32_t i = 0; img->h.nprocs > 1 && i < img->nfiles; i++) {
		const struct img_file *f = &img->files[i];
		pid_t other = 0;
		int ofd;

		if (!f->path || strcmp(f->path, link) ||
		    (ofd = holder_fd(img, p, f->d.id, &other)) < 0)
			continue;
		if (syscall(SYS_kcmp, other, pid, KCMP_FILE, ofd, fd) == 0)
			return f->d.id;
	}
	return 0;
}
