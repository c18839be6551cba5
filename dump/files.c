/*
 * Open file descriptors (/proc/PID/fd, /proc/PID/fdinfo).  Regular files
 * and directories are reopened by path at restore; a deleted file's data
 * is stored; a few stateless devices are reopened; everything else (ttys,
 * pipes, sockets...) is recorded so restore can say what it substituted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

static const char *const reopenable_devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
};

static int cmp_fd(const void *a, const void *b)
{
	return ((const struct img_fd *)a)->d.fd - ((const struct img_fd *)b)->d.fd;
}

static int read_fdinfo(pid_t pid, int fd, struct img_fd *f)
{
	char path[64], *buf, *line, *save;
	unsigned long flags = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((ret = read_file(path, &buf, NULL)) < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "pos:", 4))
			f->d.pos = strtoull(line + 4, NULL, 10);
		else if (!strncmp(line, "flags:", 6))
			flags = strtoul(line + 6, NULL, 8);
	}
	free(buf);
	f->d.fdflags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
	f->d.flags = (uint32_t)(flags & ~(unsigned long)O_CLOEXEC);
	return 0;
}

static int read_ghost(pid_t pid, struct img_fd *f)
{
	char path[64];
	int fd, ret;

	/* The magic link opens the deleted inode itself. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, f->d.fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f->data = xmalloc((size_t)f->d.size);
	ret = pread_all(fd, f->data, (size_t)f->d.size, 0);
	close(fd);
	return ret;
}

static int collect_one(pid_t pid, int fd, struct img_fd *f)
{
	char path[64];
	struct stat sb;
	int ret;

	f->d.fd = fd;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if ((ret = xreadlink(path, &f->path)) < 0)
		return ret;
	if (stat(path, &sb) < 0)
		return -errno;
	if ((ret = read_fdinfo(pid, fd, f)) < 0)
		return ret;
	f->d.mode = sb.st_mode;
	f->d.size = (uint64_t)sb.st_size;
	f->d.dev = sb.st_dev;
	f->d.ino = sb.st_ino;
	f->d.mtime_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec;
	f->d.kind = CKPT_FD_OTHER;
	if (S_ISREG(sb.st_mode) && sb.st_nlink == 0 && !strncmp(f->path, "/memfd:", 7)) {
		int mfd = open(path, O_RDONLY | O_CLOEXEC);
		long seals = mfd < 0 ? -1 : fcntl(mfd, F_GET_SEALS);
		char *del = strstr(f->path, " (deleted)");

		if (mfd >= 0)
			close(mfd);
		if (del && !del[10])
			*del = 0;
		f->d.kind = CKPT_FD_MEMFD;
		f->d.fflags |= (uint32_t)(seals > 0 ? seals & 0xff : 0) << 8;
		if ((ret = read_ghost(pid, f)) < 0)
			return ret;
	} else if (S_ISREG(sb.st_mode)) {
		if (sb.st_nlink == 0) {
			char *del = strstr(f->path, " (deleted)");

			if (del && !del[10])
				*del = 0;
			f->d.kind = CKPT_FD_GHOST;
			if ((ret = read_ghost(pid, f)) < 0)
				return ret;
		} else {
			f->d.kind = CKPT_FD_FILE;
		}
	} else if (S_ISDIR(sb.st_mode)) {
		f->d.kind = CKPT_FD_DIR;
	} else if (S_ISCHR(sb.st_mode)) {
		for (size_t i = 0; i < ARRAY_SIZE(reopenable_devices); i++)
			if (!strcmp(f->path, reopenable_devices[i]))
				f->d.kind = CKPT_FD_DEVICE;
	}
	if (f->d.kind != CKPT_FD_GHOST && f->d.kind != CKPT_FD_MEMFD)
		f->d.size = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	f->d.path_len = (uint32_t)strlen(f->path);
	return 0;
}

/*
 * fds that share one open file description (dup, fork, SCM_RIGHTS) must
 * share it again after restore: offset and status flags are its, not the
 * fd's.  kcmp(2) tells; only fds on the same inode are asked.
 */
static void find_dups(pid_t pid, struct img_proc *p)
{
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		struct img_fd *f = &p->fds[i];

		for (uint32_t j = 0; j < i; j++) {
			const struct img_fd *g = &p->fds[j];

			if (g->d.dev != f->d.dev || g->d.ino != f->d.ino || (g->d.fflags & CKPT_FDF_DUP))
				continue;
			if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, g->d.fd, f->d.fd) == 0) {
				f->d.fflags |= CKPT_FDF_DUP;
				f->d.dup_of = g->d.fd;
				break;
			}
		}
	}
}

int dump_collect_fds(pid_t pid, struct img_proc *p)
{
	char path[64];
	struct dirent *de;
	size_t cap = 16;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return error_errno(errno, "cannot list open files");
	p->fds = xzalloc(cap * sizeof(*p->fds));
	while ((de = readdir(d))) {
		int fd, ret;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (p->d.nfds == cap)
			p->fds = xrealloc(p->fds, (cap *= 2) * sizeof(*p->fds));
		memset(&p->fds[p->d.nfds], 0, sizeof(p->fds[0]));
		ret = collect_one(pid, fd, &p->fds[p->d.nfds]);
		if (ret == -ENOENT)	/* closed meanwhile by another process sharing the table */
			continue;
		if (ret == 0 && track_is_ours(p, fd, p->fds[p->d.nfds].path)) {
			/* ckpt's own dirty tracking, not the program's */
			free(p->fds[p->d.nfds].path);
			continue;
		}
		if (ret < 0) {
			closedir(d);
			return error_errno(ret, "cannot read file descriptor %d", fd);
		}
		p->d.nfds++;
	}
	closedir(d);
	qsort(p->fds, p->d.nfds, sizeof(*p->fds), cmp_fd);
	find_dups(pid, p);
	/* Shared mappings of a memfd an fd holds: one memory, as before. */
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		struct img_vma *v = &p->vmas[i];

		if (!(v->d.flags & CKPT_VMA_SHARED) || strncmp(v->path, "/memfd:", 7))
			continue;
		for (uint32_t k = 0; k < p->d.nfds; k++)
			if (p->fds[k].d.kind == CKPT_FD_MEMFD && p->fds[k].d.dev == v->d.dev &&
			    p->fds[k].d.ino == v->d.ino) {
				v->d.flags = (v->d.flags & ~(CKPT_VMA_DELETED | CKPT_VMA_ANON)) | CKPT_VMA_MEMFD;
				break;
			}
	}
	return 0;
}
