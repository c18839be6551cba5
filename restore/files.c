/*
 * The restored process's file descriptors and the files its mappings
 * need.  Everything is opened here, in ckpt, before the fork: a missing
 * or changed file is a clear error while nothing exists yet.  The forked
 * child then only moves descriptors into place (files_install_child).
 * When root restores another user's process, files are opened with that
 * user's filesystem credentials, so the process gets no more access than
 * it had.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.h"

/* Flags that made sense when the file was first opened, not on reopening. */
#define REOPEN_DROP (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)

/* open(2) flags to open again what the image's flags describe.  A file
 * made with O_TMPFILE (__O_TMPFILE | O_DIRECTORY, still in its flags) is
 * reopened as the regular file it is: open() would take them as "create
 * one more", and glibc aborts when that comes without a mode. */
static int reopen_flags(uint32_t flags)
{
	int f = (int)flags & ~REOPEN_DROP;

	if ((f & O_TMPFILE) == O_TMPFILE)
		f &= ~O_TMPFILE;
	return f | O_CLOEXEC;
}

static uint64_t mtime_ns(const struct stat *sb)
{
	return (uint64_t)sb->st_mtim.tv_sec * 1000000000ull + (uint64_t)sb->st_mtim.tv_nsec;
}

static int reopen_file(const struct img_fd *f, const struct restore_opts *o)
{
	int acc = (int)f->d.flags & O_ACCMODE, fd;
	struct stat sb;

	if (stat(f->path, &sb) < 0)
		return error_errno(errno, "file \"%s\" (fd %d) cannot be reopened", f->path, f->d.fd);
	if (acc != O_RDONLY && (uint64_t)sb.st_size != f->d.size && !o->ignore_file_changes &&
	    !o->rollback_files)
		return error("file \"%s\" (fd %d) has changed size since the dump (%llu, now %llu bytes): "
			     "use --rollback-files to truncate it back or --ignore-file-changes",
			     f->path, f->d.fd, (unsigned long long)f->d.size,
			     (unsigned long long)sb.st_size);
	fd = open(f->path, reopen_flags(f->d.flags));
	if (fd < 0 && errno == EACCES && geteuid() == 0)
		return error_errno(errno, "file \"%s\" (fd %d) cannot be reopened with the process's own "
				   "credentials (it may have been opened for it by a more privileged parent)",
				   f->path, f->d.fd);
	if (fd < 0)
		return error_errno(errno, "file \"%s\" (fd %d) cannot be reopened", f->path, f->d.fd);
	if (acc != O_RDONLY && o->rollback_files && (uint64_t)sb.st_size > f->d.size &&
	    ftruncate(fd, (off_t)f->d.size) < 0) {
		int err = errno;

		close(fd);
		return error_errno(err, "cannot truncate \"%s\" back to %llu bytes", f->path,
				   (unsigned long long)f->d.size);
	}
	if (S_ISREG(sb.st_mode) && lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0) {
		int err = errno;

		close(fd);
		return error_errno(err, "cannot seek in \"%s\"", f->path);
	}
	return fd;
}

/* A file deleted while open: recreate it from the image, open it, and
 * delete it again, so the process sees "path (deleted)" as before. */
static int recreate_ghost(const struct img_fd *f)
{
	char *path = NULL;
	int wfd = -1, fd;

	if (asprintf(&path, "%s", f->path) >= 0)
		wfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, f->d.mode & 07777);
	if (wfd < 0) {
		free(path);
		path = NULL;
		if (asprintf(&path, "%s.ckpt-ghost-XXXXXX", f->path) >= 0)
			wfd = mkostemp(path, O_CLOEXEC);
	}
	if (wfd < 0) {
		free(path);
		path = NULL;
		if (asprintf(&path, "/tmp/ckpt-ghost-XXXXXX") >= 0)
			wfd = mkostemp(path, O_CLOEXEC);
	}
	if (wfd < 0) {
		free(path);
		return error_errno(errno, "cannot recreate deleted file \"%s\" (fd %d)", f->path, f->d.fd);
	}
	/* Its own mode, not one our umask or mkostemp chose. */
	if (fchmod(wfd, f->d.mode & 07777) < 0)
		warn("deleted file \"%s\" (fd %d): cannot restore its mode", f->path, f->d.fd);
	fd = write_all(wfd, f->data, (size_t)f->d.size);
	if (fd == 0) {
		char self[64];

		/* Reopen through /proc for the original access mode. */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", wfd);
		fd = open(self, reopen_flags(f->d.flags));
		if (fd < 0)
			fd = -errno;
	}
	unlink(path);
	close(wfd);
	if (fd >= 0 && lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0) {
		close(fd);
		fd = -errno;
	}
	if (fd < 0)
		error_errno(fd, "cannot recreate deleted file \"%s\" (fd %d)", f->path, f->d.fd);
	free(path);
	return fd;
}

/* A memfd: made again with its name, contents, offset and seals. */
static int recreate_memfd(const struct img_fd *f)
{
	const char *name = f->path + 7;	/* after "/memfd:" */
	unsigned seals = CKPT_FDF_SEALS(f->d.fflags);
	int fd = memfd_create(name, MFD_CLOEXEC | (seals ? MFD_ALLOW_SEALING : 0));
	int ret;

	if (fd < 0)
		return error_errno(errno, "cannot recreate memfd \"%s\" (fd %d)", name, f->d.fd);
	ret = write_all(fd, f->data, (size_t)f->d.size);
	if (ret == 0 && lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0)
		ret = -errno;
	/* F_SEAL_SEAL last: it forbids adding the others. */
	if (ret == 0 && seals && fcntl(fd, F_ADD_SEALS, seals & ~F_SEAL_SEAL) < 0)
		ret = -errno;
	if (ret == 0 && (seals & F_SEAL_SEAL) && fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) < 0)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return error_errno(ret, "cannot recreate memfd \"%s\" (fd %d)", name, f->d.fd);
	}
	/* The open file description's own flags (O_RDONLY reopen, O_APPEND)
	 * cannot be had on a memfd without /proc: reopen it with them. */
	if (((int)f->d.flags & O_ACCMODE) != O_RDWR || (f->d.flags & O_APPEND)) {
		char self[64];
		int re;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		re = open(self, ((int)f->d.flags & ~REOPEN_DROP) | O_CLOEXEC);
		if (re >= 0) {
			lseek(re, (off_t)f->d.pos, SEEK_SET);
			close(fd);
			fd = re;
		}
	}
	return fd;
}

static int open_fd(const struct img_fd *f, const struct restore_opts *o)
{
	int fd;

	switch (f->d.kind) {
	case CKPT_FD_MEMFD:
		return recreate_memfd(f);
	case CKPT_FD_FILE:
		return reopen_file(f, o);
	case CKPT_FD_GHOST:
		return recreate_ghost(f);
	case CKPT_FD_DIR:
	case CKPT_FD_DEVICE:
		fd = open(f->path, ((int)f->d.flags & ~REOPEN_DROP) | O_CLOEXEC);
		if (fd < 0)
			return error_errno(errno, "\"%s\" (fd %d) cannot be reopened", f->path, f->d.fd);
		/* A directory read partway goes on where it was (the position
		 * is the filesystem's cookie, valid for the same directory). */
		if (f->d.kind == CKPT_FD_DIR && f->d.pos && lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0)
			warn("directory \"%s\" (fd %d): cannot restore its position", f->path, f->d.fd);
		return fd;
	}
	/* tty, pipe, socket...: the same fd of ckpt restore itself if it was
	 * given one, else /dev/null; say so either way. */
	if (f->d.fd < (int)sizeof(o->fd_open_at_start) && o->fd_open_at_start[f->d.fd]) {
		info("fd %d (%s) cannot be restored: it gets ckpt's own fd %d", f->d.fd, f->path, f->d.fd);
		fd = fcntl(f->d.fd, F_DUPFD_CLOEXEC, 0);
	} else {
		info("fd %d (%s) cannot be restored: it gets /dev/null", f->d.fd, f->path);
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	return fd < 0 ? error_errno(errno, "cannot substitute fd %d", f->d.fd) : fd;
}

/* Files behind mappings: one fd per distinct path, checked unchanged. */
static int open_maps(const struct img_proc *p, struct spawn_fds *sf, int *next_slot)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		int wr = (v->d.flags & CKPT_VMA_SHARED) && (v->d.prot & PROT_WRITE);
		struct stat sb;
		uint32_t k;

		sf->map_src[i] = sf->map_slot[i] = -1;
		if (v->d.flags & CKPT_VMA_MEMFD) {
			/* the memfd recreated for the fd with the same identity */
			for (uint32_t j = 0; j < p->d.nfds && sf->map_src[i] < 0; j++)
				if (p->fds[j].d.kind == CKPT_FD_MEMFD && p->fds[j].d.dev == v->d.dev &&
				    p->fds[j].d.ino == v->d.ino && j < (uint32_t)sf->nfds)
					sf->map_src[i] = fcntl(sf->src[j], F_DUPFD_CLOEXEC, 0);
			if (sf->map_src[i] < 0)
				return error("memfd mapping %#lx-%#lx: its memfd is not in the image",
					     (unsigned long)v->d.start, (unsigned long)v->d.end);
			sf->map_slot[i] = (*next_slot)++;
			continue;
		}
		if (!(v->d.flags & CKPT_VMA_FILE) || (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL)))
			continue;
		for (k = 0; k < i; k++)
			if (sf->map_src[k] >= 0 && !strcmp(p->vmas[k].path, v->path) &&
			    (!wr || (p->vmas[k].d.flags & CKPT_VMA_SHARED && p->vmas[k].d.prot & PROT_WRITE)))
				break;
		if (k < i) {
			sf->map_slot[i] = sf->map_slot[k];
			continue;
		}
		sf->map_src[i] = open(v->path, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (sf->map_src[i] < 0)
			return error_errno(errno, "mapped file \"%s\" cannot be opened", v->path);
		if (fstat(sf->map_src[i], &sb) == 0 && !(v->d.flags & CKPT_VMA_SHARED) &&
		    ((uint64_t)sb.st_size != v->d.fsize || mtime_ns(&sb) != v->d.mtime_ns))
			return error("mapped file \"%s\" has changed since the dump: the process would see other code or data",
				     v->path);
		sf->map_slot[i] = (*next_slot)++;
	}
	return 0;
}

static int open_all(const struct img_proc *p, const struct restore_opts *o, struct spawn_fds *sf)
{
	int next, ret, maxfd = 2;

	for (uint32_t i = 0; i < p->d.nfds; i++) {
		int fd = -1;

		/* A dup shares the open file description of an earlier fd;
		 * not so what we substitute: each gets ckpt's own of its number. */
		if ((p->fds[i].d.fflags & CKPT_FDF_DUP) && p->fds[i].d.kind != CKPT_FD_OTHER)
			for (int k = 0; k < sf->nfds; k++)
				if (sf->target[k] == p->fds[i].d.dup_of)
					fd = fcntl(sf->src[k], F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = open_fd(&p->fds[i], o);
		if (fd < 0)
			return fd;
		sf->target[sf->nfds] = p->fds[i].d.fd;
		sf->cloexec[sf->nfds] = !!(p->fds[i].d.fdflags & FD_CLOEXEC);
		sf->src[sf->nfds++] = fd;
		maxfd = MAX(maxfd, p->fds[i].d.fd);
	}
	sf->base = next = maxfd + 1;
	if ((ret = open_maps(p, sf, &next)) < 0)
		return ret;
	sf->exe_src = sf->exe_slot = -1;
	if (!(p->d.flags & CKPT_PROC_NO_EXE)) {
		sf->exe_src = open(p->exe, O_RDONLY | O_CLOEXEC);
		if (sf->exe_src < 0)
			warn("executable \"%s\": %s; /proc/PID/exe will not point to it", p->exe,
			     strerror(errno));
		else
			sf->exe_slot = next++;
	}
	sf->plan_slot = next++;
	return 0;
}

int files_open(const struct img_proc *p, const struct restore_opts *o, struct spawn_fds *sf)
{
	int root = geteuid() == 0 && p->d.uid[3] != 0;
	gid_t saved_groups[NGROUPS_MAX];
	int nsaved = 0, ret;

	memset(sf, 0, sizeof(*sf));
	sf->target = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->src = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->cloexec = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->map_src = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_slot = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->nmaps = (int)p->d.nvmas;
	sf->plan_src = sf->stub_src = sf->exe_src = -1;
	sf->ntmp = (int)(p->d.nfds + p->d.nvmas + 3);
	sf->tmp = xzalloc((size_t)sf->ntmp * sizeof(int));
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		sf->map_src[i] = sf->map_slot[i] = -1;
	if (root) {
		/* Raw syscalls: only this thread's credentials change. */
		nsaved = getgroups(NGROUPS_MAX, saved_groups);
		syscall(SYS_setgroups, p->d.ngroups, p->groups);
		setfsgid(p->d.gid[3]);
		setfsuid(p->d.uid[3]);
	}
	ret = open_all(p, o, sf);
	if (root) {
		setfsuid(0);
		setfsgid(0);
		syscall(SYS_setgroups, nsaved > 0 ? nsaved : 0, saved_groups);
	}
	return ret;
}

/*
 * In the child, between fork and exec: async-signal-safe syscalls only.
 * Every source fd is first copied above everything (so no dup2 clobbers
 * another source), then to its place; everything else is closed.
 */
int files_install_child(struct spawn_fds *sf)
{
	int *tmp = sf->tmp, n = 0, high, i;
	struct rlimit rl;

	high = sf->base + sf->nmaps + 4;
	for (i = 0; i < sf->nfds; i++)
		high = MAX(high, sf->src[i] + 1);
	for (i = 0; i < sf->nmaps; i++)
		high = MAX(high, sf->map_src[i] + 1);
	high = MAX(high, MAX(sf->exe_src, MAX(sf->plan_src, sf->stub_src)) + 1);
	for (i = 0; i < sf->nextra; i++)
		high = MAX(high, MAX(sf->extra_src[i], sf->extra_base + i) + 1);
	for (i = 0; i < sf->nmaps; i++)
		high = MAX(high, sf->map_slot[i] + 1);
	high = MAX(high, MAX(sf->exe_slot, sf->plan_slot) + 1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(high + sf->ntmp + 1)) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)(high + sf->ntmp + 1));
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* tmp: targets' sources, mapping files, exe, plan, stub (in order),
	 * all close-on-exec, above every number we are about to fill. */
#define UP(fd) ((fd) < 0 ? -1 : fcntl((fd), F_DUPFD_CLOEXEC, high))
	for (i = 0; i < sf->nfds; i++)
		if ((tmp[n++] = UP(sf->src[i])) < 0)
			return -1;
	for (i = 0; i < sf->nmaps; i++)
		tmp[n++] = UP(sf->map_src[i]);
	tmp[n++] = UP(sf->exe_src);
	tmp[n++] = UP(sf->plan_src);
	if ((tmp[n++] = UP(sf->stub_src)) < 0)
		return -1;
	for (i = 0; i < sf->nextra; i++)
		if ((tmp[n++] = UP(sf->extra_src[i])) < 0)
			return -1;
#undef UP
	close_range(0, (unsigned)high - 1, 0);
	n = 0;
	for (i = 0; i < sf->nfds; i++, n++)
		if (dup2(tmp[n], sf->target[i]) < 0)
			return -1;
	for (i = 0; i < sf->nmaps; i++, n++)
		if (tmp[n] >= 0 && dup2(tmp[n], sf->map_slot[i]) < 0)
			return -1;
	if (tmp[n] >= 0 && dup2(tmp[n], sf->exe_slot) < 0)
		return -1;
	n++;
	if (dup2(tmp[n++], sf->plan_slot) < 0)
		return -1;
	/* The stub ELF: close-on-exec is fine for execveat of an ELF file. */
	for (i = 0; i < sf->nextra; i++)
		if (dup2(tmp[n + 1 + i], sf->extra_base + i) < 0)
			return -1;
	return tmp[n];
}

void files_close(struct spawn_fds *sf)
{
	for (int i = 0; i < sf->nfds; i++)
		if (sf->src[i] >= 0)
			close(sf->src[i]);
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0)
			close(sf->map_src[i]);
	if (sf->exe_src >= 0)
		close(sf->exe_src);
	if (sf->plan_src >= 0)
		close(sf->plan_src);
	if (sf->stub_src >= 0)
		close(sf->stub_src);
	free(sf->target);
	free(sf->src);
	free(sf->cloexec);
	free(sf->map_src);
	free(sf->map_slot);
	free(sf->tmp);
	free(sf->extra_src);
	free(sf->slot);
	memset(sf, 0, sizeof(*sf));
}
