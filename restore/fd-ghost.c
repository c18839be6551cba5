/*
 * What was removed while the process held it, made again: a deleted file
 * from the data in the image (holes, owner, mode, times as they were),
 * one inode however many opens of it the process had; a removed
 * directory (an open one, or the working directory) as an empty one.
 * Each is made under a name, opened, and removed again, so the process
 * sees "path (deleted)" as before.  All of it with the process's
 * credentials (restore/files.c): the image cannot make a file owned by
 * anyone the restoring credentials could not make it for (fchown(2)
 * needs CAP_CHOWN to give a file away), nor keep a setgid bit for a
 * group they are not in (the kernel drops it, chmod(2)).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

/* The places tried for what is made under a name: its own path, a
 * name beside it, one in /tmp.  mk makes it (0 or -1 with errno). */
static int make_named(const char *path, int (*mk)(char *name, int first, int *fd), char **made,
		      int *fd)
{
	char *name = NULL;
	int ret = -1, err = 0;

	for (int i = 0; i < 3 && ret < 0; i++) {
		free(name);
		name = NULL;
		if (asprintf(&name, i == 0 ? "%s" : i == 1 ? "%s.ckpt-XXXXXX" : "/tmp/ckpt-XXXXXX",
			     path) < 0)
			break;
		if ((ret = mk(name, i == 0, fd)) < 0 && (!err || i == 0))
			err = errno;
	}
	if (ret < 0) {
		free(name);
		errno = err;
		return -1;
	}
	*made = name;
	return 0;
}

static int mk_file(char *name, int first, int *fd)
{
	/* 0600 until it is written and opened as the process had it */
	*fd = first ? open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) :
		      mkostemp(name, O_CLOEXEC);
	return *fd < 0 ? -1 : 0;
}

static int mk_dir(char *name, int first, int *fd)
{
	(void)fd;
	if (first)
		return mkdir(name, 0700);
	return mkdtemp(name) ? 0 : -1;
}

/* fd reopened through /proc with flags (its own access mode and status
 * flags), at pos: the new fd, or -errno. */
static int reopen_at(int fd, uint32_t flags, uint64_t pos)
{
	char self[64];
	int re;

	/* O_NOFOLLOW was for the path it was opened by (Python's
	 * TemporaryFile has it): the magic link is one, ELOOP. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	re = open(self, fd_reopen_flags(flags) & ~O_NOFOLLOW);
	if (re < 0)
		return -errno;
	if (lseek(re, (off_t)pos, SEEK_SET) < 0 && errno != ESPIPE) {
		int err = errno;

		close(re);
		return -err;
	}
	return re;
}

/* The bytes: extents over a file of size (holes between), or all. */
static int write_data(int fd, const struct img_file *f, const struct ckpt_fd_ghost *g)
{
	uint64_t done = 0;

	if (!f->d.state_len)
		return write_all(fd, f->data, (size_t)f->d.data_len);
	if (ftruncate(fd, (off_t)f->d.size) < 0)
		return -errno;
	for (uint32_t i = 0; i < g->nextents; i++) {
		struct ckpt_extent e;
		uint64_t off = 0;

		memcpy(&e, f->state + sizeof(*g) + i * sizeof(e), sizeof(e));
		while (off < e.len) {
			ssize_t n = pwrite(fd, f->data + done + off, (size_t)(e.len - off),
					   (off_t)(e.offset + off));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			off += (uint64_t)n;
		}
		done += e.len;
	}
	return 0;
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
}

/*
 * Owner, mode, times, in that order: chown(2) clears the setuid and
 * setgid bits, and writing or chmod would move the times.  What the
 * restoring credentials cannot give back is said, never forced.
 */
static void set_attrs(int wfd, const struct img_file *f, const struct ckpt_fd_ghost *g, int fd0)
{
	mode_t want = f->d.mode & 07777;
	struct stat st;

	if (f->d.state_len && fstat(wfd, &st) == 0 && (st.st_uid != g->uid || st.st_gid != g->gid) &&
	    fchown(wfd, st.st_uid != g->uid ? g->uid : (uid_t)-1,
		   st.st_gid != g->gid ? g->gid : (gid_t)-1) < 0)
		warn("deleted file \"%s\" (%s): cannot give it back its owner %u:%u (%s): it is %u:%u",
		     f->path, fd_label(fd0).s, g->uid, g->gid, strerror(errno), st.st_uid, st.st_gid);
	if (fchmod(wfd, want) < 0 || fstat(wfd, &st) < 0)
		warn("deleted file \"%s\" (%s): cannot restore its mode %04o (%s)", f->path,
		     fd_label(fd0).s, want, strerror(errno));
	else if ((st.st_mode & 07777) != want)
		warn("deleted file \"%s\" (%s): mode %04o, not %04o (the restoring credentials may "
		     "not set the rest)", f->path, fd_label(fd0).s, st.st_mode & 07777, want);
	if (f->d.state_len) {
		struct timespec t[2] = { ts_of(g->atime_ns), ts_of(f->d.mtime_ns) };

		if (futimens(wfd, t) < 0)
			warn("deleted file \"%s\" (%s): cannot restore its times (%s)", f->path,
			     fd_label(fd0).s, strerror(errno));
	}
}

/* One more open of the inode file inode_of made: with its own flags;
 * where the inode's mode no longer allows them, which its owner may
 * change, for this open only (the process had opened it before that). */
static int reopen_inode(struct fd_restore *r, const struct img_file *f, uint32_t inode_of, int fd0)
{
	int src = r->src[inode_of - 1], fd;
	struct stat st;

	if (src < 0)
		return error("deleted file \"%s\" (%s): the file whose inode it is (file %u) was "
			     "not made", f->path, fd_label(fd0).s, inode_of);
	fd = reopen_at(src, f->d.flags, f->d.pos);
	if (fd == -EACCES && fstat(src, &st) == 0 && fchmod(src, (st.st_mode & 07777) | 0600) == 0) {
		fd = reopen_at(src, f->d.flags, f->d.pos);
		fchmod(src, st.st_mode & 07777);
	}
	return fd < 0 ? error_errno(-fd, "cannot open deleted file \"%s\" (%s) again", f->path,
				    fd_label(fd0).s) : fd;
}

/*
 * The further opens of f's inode by another name (a file with two names,
 * each opened, then both removed): that name linked to the inode while
 * it still has one, opened by it and removed again, so the process sees
 * each fd by its own name.  Made here, ahead of their turn (r->src).
 */
static void open_other_names(struct fd_restore *r, const struct img_file *f, const char *made)
{
	for (uint32_t j = f->d.id; j < r->img->nfiles; j++) {
		const struct img_file *o = &r->img->files[j];
		struct ckpt_fd_ghost g = { 0 };
		int fd;

		if (o->d.kind != CKPT_FD_GHOST || o->d.policy != CKPT_FPOL_EXACT || !o->d.state_len ||
		    r->src[j] >= 0 || !strcmp(o->path, f->path))
			continue;
		fd_state(o, &g, sizeof(g));
		if (g.inode_of != f->d.id || link(made, o->path) < 0)
			continue;	/* reopened through the first name in its turn */
		fd = open(o->path, fd_reopen_flags(o->d.flags) & ~O_NOFOLLOW);
		unlink(o->path);
		if (fd >= 0 && lseek(fd, (off_t)o->d.pos, SEEK_SET) < 0) {
			close(fd);
			fd = -1;
		}
		r->src[j] = fd;
	}
}

int fd_ghost_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_ghost g = { 0 };
	char *made = NULL;
	int wfd = -1, fd;

	if (f->d.state_len)
		fd_state(f, &g, sizeof(g));
	if (g.inode_of)
		return reopen_inode(r, f, g.inode_of, fd0);
	if (make_named(f->path, mk_file, &made, &wfd) < 0)
		return error_errno(errno, "cannot recreate deleted file \"%s\" (%s)", f->path, fd_label(fd0).s);
	fd = write_data(wfd, f, &g);
	/* Opened as the process had it while its mode is still ours. */
	if (fd == 0)
		fd = reopen_at(wfd, f->d.flags, f->d.pos);
	if (fd >= 0)
		open_other_names(r, f, made);
	unlink(made);
	free(made);
	if (fd >= 0)
		set_attrs(wfd, f, &g, fd0);
	close(wfd);
	return fd < 0 ? error_errno(-fd, "cannot recreate deleted file \"%s\" (%s)", f->path,
				    fd_label(fd0).s) : fd;
}

int fd_removed_dir(const char *path, uint32_t mode, uint64_t mtime_ns, int flags, const char *what)
{
	struct timespec t[2] = { { 0, UTIME_OMIT },
				 { (time_t)(mtime_ns / 1000000000ull), (long)(mtime_ns % 1000000000ull) } };
	char *made = NULL;
	int fd, err;

	if (make_named(path, mk_dir, &made, &fd) < 0)
		return error_errno(errno, "cannot make removed %s \"%s\" again", what, path);
	fd = open(made, flags | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	if (fd >= 0 && mode)
		chmod(made, mode & 07777);
	if (fd >= 0 && mtime_ns)
		utimensat(AT_FDCWD, made, t, 0);
	if (rmdir(made) < 0 && fd >= 0) {
		err = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		error_errno(err, "cannot make removed %s \"%s\" again (as \"%s\")", what, path, made);
	else if (strcmp(made, path))
		info("removed %s \"%s\" made again as \"%s\" (its old place was taken or is gone)", what,
		     path, made);
	free(made);
	return fd < 0 ? -err : fd;
}
