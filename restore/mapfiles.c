/*
 * The files behind a process's mappings, for the restore stub.  A process
 * may map tens of thousands of files, far more than ckpt or the stub may
 * have open (RLIMIT_NOFILE): each is opened here, checked unchanged, and
 * queued on a socket (SCM_RIGHTS, MAP_FDS_PER_MSG per message) before the
 * fork, then closed; the stub takes one message at a time, maps what
 * needs its files and closes them (plan.c plan_maps).  Neither holds more
 * than one message's worth at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"
#include "restore/restore.h"

static uint64_t mtime_ns(const struct stat *sb)
{
	return (uint64_t)sb->st_mtim.tv_sec * 1000000000ull + (uint64_t)sb->st_mtim.tv_nsec;
}

static int is_map_file(const struct img_vma *v)
{
	return (v->d.flags & CKPT_VMA_FILE) && !(v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL |
								CKPT_VMA_MEMFD));
}

/* A shared mapping that writes to its file, or may be made to (MAYWRITE):
 * its file is opened for writing. */
static int writes_file(const struct img_vma *v)
{
	return (v->d.flags & CKPT_VMA_SHARED) &&
	       ((v->d.prot & PROT_WRITE) || (v->d.flags & CKPT_VMA_MAYWRITE));
}

/* f is the memfd or deleted file (the one carrying the inode) that
 * mapping v maps. */
static int recreates(const struct img_file *f, const struct img_vma *v)
{
	struct ckpt_fd_ghost g = { 0 };

	if (f->d.dev != v->d.dev || f->d.ino != v->d.ino || f->d.policy != CKPT_FPOL_EXACT)
		return 0;
	if (f->d.kind == CKPT_FD_GHOST && f->d.state_len)
		fd_state(f, &g, sizeof(g));
	return f->d.kind == CKPT_FD_MEMFD || (f->d.kind == CKPT_FD_GHOST && !g.inode_of);
}

/* The recreated file src for a mapping: opened again for writing when
 * the mapping writes (the process's own fd may be read-only), else for
 * reading; a duplicate if /proc will not. */
static int open_recreated(int src, int wr)
{
	char self[64];
	int fd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", src);
	if ((fd = open(self, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC)) >= 0)
		return fd;
	return fcntl(src, F_DUPFD_CLOEXEC, 0);
}

static int by_path(const void *a, const void *b, void *arg)
{
	const struct img_proc *p = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(p->vmas[x].path, p->vmas[y].path);

	return c ? c : (x > y) - (x < y);
}

/*
 * owner[i]: the file mapping whose descriptor mapping i shares, i itself
 * when it opens its own: the first mapping of the same path, or for one
 * that writes a shared mapping the first that does.  By sorting, not by
 * comparing every pair: a process may have tens of thousands.
 */
static uint32_t *map_owners(const struct img_proc *p)
{
	uint32_t *owner = xmalloc((p->d.nvmas + 1) * sizeof(*owner)), *idx, n = 0;

	idx = xmalloc((p->d.nvmas + 1) * sizeof(*idx));
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		owner[i] = i;
		if (is_map_file(&p->vmas[i]))
			idx[n++] = i;
	}
	qsort_r(idx, n, sizeof(*idx), by_path, (void *)p);
	for (uint32_t g = 0, e; g < n; g = e) {
		int64_t any = -1, wr = -1;

		for (e = g; e < n && !strcmp(p->vmas[idx[e]].path, p->vmas[idx[g]].path); e++) {
			uint32_t i = idx[e];
			int w = writes_file(&p->vmas[i]);

			if (!w && any >= 0)
				owner[i] = (uint32_t)any;
			else if (w && wr >= 0)
				owner[i] = (uint32_t)wr;
			else {
				any = any < 0 ? i : any;
				wr = w && wr < 0 ? i : wr;
			}
		}
	}
	free(idx);
	return owner;
}

/* The files of one message: sent on the socket, then closed here (the
 * queue holds them: their count is not ckpt's, nor the stub's yet). */
static int send_files(int sock, int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(MAP_FDS_PER_MSG * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	ssize_t r;

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	r = sendmsg(sock, &m, MSG_DONTWAIT);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	if (r < 0 && errno == ETOOMANYREFS)
		return error_errno(errno, "cannot pass the mapped files to the restore stub "
				   "(more in flight than RLIMIT_NOFILE allows)");
	return r < 0 ? error_errno(errno, "cannot pass the mapped files to the restore stub") : 0;
}

/* The message being made sent, and the next one begun (msg_files[nmsgs]
 * counts its files). */
static int flush(int sock, int *fds, int *n, struct spawn_fds *sf)
{
	int ret = send_files(sock, fds, *n);

	sf->nmsgs++;
	sf->msg_files = xrealloc(sf->msg_files, ((size_t)sf->nmsgs + 1) * sizeof(int));
	sf->msg_files[sf->nmsgs] = 0;
	*n = 0;
	return ret;
}

/* A seqpacket socketpair: one message per batch, read whole.  Room for
 * every message queued at once (SO_SNDBUFFORCE with privileges).  Files
 * in flight count against the sender's RLIMIT_NOFILE unless it has
 * CAP_SYS_RESOURCE (net/unix/scm.c too_many_unix_fds): the soft limit
 * goes up to the hard one, for the restore's while. */
static int open_socket(struct spawn_fds *sf, uint32_t nfiles, int *send_end)
{
	int sv[2], size = (int)MIN(64u << 20, 4096u + nfiles * 8u);

	nofile_raise(UINT64_MAX);	/* put back at restore_spawn's end */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_errno(errno, "cannot create a socket for the mapped files");
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	*send_end = sv[0];
	sf->sock_src = sv[1];
	return 0;
}

/*
 * Files behind mappings: one fd per distinct path, checked unchanged,
 * and queued on a socket for the stub MAP_FDS_PER_MSG at a time, so that
 * neither ckpt nor the stub ever holds more than that many (a process
 * may map tens of thousands of files, far more than either may open).
 */
int mapfiles_open(const struct img *img, const struct img_proc *p, struct spawn_fds *sf,
		  int *next_slot)
{
	uint32_t *owner = map_owners(p), nfiles = 0;
	int fds[MAP_FDS_PER_MSG], n = 0, sock = -1, ret = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++)
		nfiles += is_map_file(&p->vmas[i]) && owner[i] == i;
	sf->msg_files = xzalloc(sizeof(int));
	if (nfiles && (ret = open_socket(sf, nfiles, &sock)) < 0)
		nfiles = 0;
	for (uint32_t i = 0; i < p->d.nvmas && ret == 0; i++) {
		const struct img_vma *v = &p->vmas[i];
		int wr = writes_file(v);
		struct stat sb;

		sf->map_fd[i] = sf->map_msg[i] = -1;
		if (v->d.flags & CKPT_VMA_MEMFD) {
			/* the memfd or deleted file recreated for the inode
			 * (restore/fd-file.c, fd-ghost.c): an fd's, or made
			 * now for the mappings alone; at a slot of its own */
			for (uint32_t j = 0; j < img->nfiles && sf->map_src[i] < 0 && ret == 0; j++) {
				const struct img_file *f = &img->files[j];
				int src = sf->fr->src[j];

				if (!recreates(f, v))
					continue;
				if (src < 0 && (f->d.fflags & CKPT_FILEF_MAPPED) &&
				    (src = fd_restore_mapped(sf->fr, f)) < 0)
					ret = src;
				else if (src >= 0)
					sf->map_src[i] = open_recreated(src, wr);
			}
			if (ret < 0)
				break;
			if (sf->map_src[i] < 0) {
				ret = error("mapping %#lx-%#lx of \"%s\": the file it maps is not in the image",
					    (unsigned long)v->d.start, (unsigned long)v->d.end, v->path);
				break;
			}
			sf->map_fd[i] = (*next_slot)++;
			sf->ntmp++;
			continue;
		}
		if (!is_map_file(v))
			continue;
		if (owner[i] != i) {
			sf->map_msg[i] = sf->map_msg[owner[i]];
			sf->map_pos[i] = sf->map_pos[owner[i]];
			continue;
		}
		/* With the process's credentials (files.c's window). */
		fds[n] = files_open_path(v->path, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		/* ckpt itself at RLIMIT_NOFILE: the message so far goes now,
		 * which closes its files here */
		if (fds[n] == -EMFILE && n > 0) {
			if ((ret = flush(sock, fds, &n, sf)) < 0)
				break;
			fds[n] = files_open_path(v->path, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		}
		/* Only mprotect(PROT_WRITE) needed it: the mapping itself can be
		 * had without, and ckpt says what the process loses. */
		if (fds[n] < 0 && wr && !(v->d.prot & PROT_WRITE) &&
		    (fds[n] == -EACCES || fds[n] == -EROFS || fds[n] == -EPERM)) {
			warn("mapped file \"%s\" cannot be opened for writing (%s): its read-only "
			     "shared mapping %#lx-%#lx can no longer be made writable", v->path,
			     strerror(-fds[n]), (unsigned long)v->d.start, (unsigned long)v->d.end);
			fds[n] = files_open_path(v->path, O_RDONLY | O_CLOEXEC);
		}
		if (fds[n] < 0) {
			ret = error_errno(-fds[n], "mapped file \"%s\" cannot be opened", v->path);
			break;
		}
		if (fstat(fds[n], &sb) == 0 && !(v->d.flags & CKPT_VMA_SHARED) &&
		    ((uint64_t)sb.st_size != v->d.fsize || mtime_ns(&sb) != v->d.mtime_ns))
			ret = error("mapped file \"%s\" has changed since the dump: the process would see other code or data",
				    v->path);
		sf->map_msg[i] = sf->nmsgs;
		sf->map_pos[i] = n++;
		sf->msg_files[sf->nmsgs] = n;
		if (ret == 0 && n == MAP_FDS_PER_MSG)
			ret = flush(sock, fds, &n, sf);
	}
	if (ret == 0 && n)
		ret = flush(sock, fds, &n, sf);
	while (n > 0)
		close(fds[--n]);
	if (sock >= 0)
		close(sock);
	if (sf->sock_src >= 0)
		sf->sock_slot = (*next_slot)++;
	free(owner);
	return ret;
}

int mapfiles_recv_slots(pid_t pid, struct spawn_fds *sf)
{
	char path[64];
	struct dirent *de;
	uint8_t *used;
	int max = 0, n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return error_errno(errno, "cannot read the restore stub's descriptors");
	used = xzalloc(1);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == sf->plan_slot)
			continue;
		if (fd >= max) {
			used = xrealloc(used, (size_t)fd + 1);
			memset(used + max, 0, (size_t)(fd + 1 - max));
			max = fd + 1;
		}
		used[fd] = 1;
	}
	closedir(d);
	for (int fd = 0; n < MAP_FDS_PER_MSG; fd++)
		if (fd >= max || !used[fd])
			sf->recv_fd[n++] = fd;
	free(used);
	return 0;
}

