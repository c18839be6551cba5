/*
 * Files reopened by path at restore (regular files, directories, devices
 * without state, O_PATH descriptors) and files whose contents go into the
 * image (a file deleted while open, a memfd).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

/* Character devices without state, reopening one gives the same thing:
 * null, zero, full, random, urandom (major 1, devices.txt). */
static int reopenable_device(dev_t rdev)
{
	unsigned m = minor(rdev);

	return major(rdev) == 1 && (m == 3 || m == 5 || m == 7 || m == 8 || m == 9);
}

/* "path (deleted)" -> "path" */
static void strip_deleted(char *path)
{
	char *del = strstr(path, " (deleted)");

	if (del && !del[10])
		*del = 0;
}

static int same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * d_path() adds " (deleted)" to the name of a dentry that was unlinked
 * (fs/d_path.c): link names a removed file or directory when it ends so
 * and its path, without it, no longer leads to the inode st describes (a
 * file may be named "x (deleted)" for real).  Then the suffix is cut.
 */
int path_was_removed(char *link, const struct stat *st)
{
	size_t n = strlen(link);
	struct stat now;

	if (n < 10 || strcmp(link + n - 10, " (deleted)") ||
	    (stat(link, &now) == 0 && same_inode(&now, st)))
		return 0;
	link[n - 10] = 0;
	return 1;
}

/* A name of inode st in directory dir, into out: 0, or -1 if none. */
static int link_in_dir(const char *dir, const struct stat *st, char **out)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	struct stat sb;
	int ret = -1;

	while (dp && ret < 0 && (de = readdir(dp)))
		if (de->d_ino == st->st_ino && fstatat(dirfd(dp), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same_inode(&sb, st) && asprintf(out, "%s/%s", strcmp(dir, "/") ? dir : "", de->d_name) > 0)
			ret = 0;
	if (dp)
		closedir(dp);
	return ret;
}

/* path names inode st: then a copy in out. */
static int names_it(const char *path, const struct stat *st, char **out)
{
	struct stat sb;

	if (!path || path[0] != '/' || stat(path, &sb) < 0 || !same_inode(&sb, st))
		return -1;
	*out = xstrdup(path);
	return 0;
}

/*
 * A file unlinked under the name it was opened by that keeps another
 * link (st_nlink > 0): where restore can open it.  Only what is sound to
 * look at without searching the filesystem: its old directory, then the
 * files the process maps and the files of the image read before.
 */
static char *other_link(const struct fd_dump *c, const struct dfile *d)
{
	char *dir = xstrdup(d->f->path), *slash = strrchr(dir, '/'), *out = NULL;

	if (slash)
		slash == dir ? (void)(slash[1] = 0) : (void)(*slash = 0);
	if (slash && link_in_dir(dir, &d->st, &out) == 0) {
		free(dir);
		return out;
	}
	free(dir);
	for (uint32_t i = 0; i < c->p->d.nvmas; i++)
		if ((c->p->vmas[i].d.flags & CKPT_VMA_FILE) && names_it(c->p->vmas[i].path, &d->st, &out) == 0)
			return out;
	for (uint32_t i = 0; i + 1 < d->f->d.id && i < c->img->nfiles; i++)
		if (c->img->files[i].d.kind == CKPT_FD_FILE &&
		    names_it(c->img->files[i].path, &d->st, &out) == 0)
			return out;
	return NULL;
}

/* The contents of a memfd, read through the magic link (which opens the
 * inode itself, whatever the fd's access mode, and leaves the process's
 * offset alone). */
static int open_inode(struct dfile *d)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->copy);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? error_errno(errno, "%s: cannot read its contents", d->name) : fd;
}

static int read_contents(struct dfile *d)
{
	struct img_file *f = d->f;
	int fd, ret;

	if (f->d.size > CKPT_MAX_FILEDATA) {
		d->cannot = "its contents are larger than an image holds (4 GiB)";
		return 0;
	}
	if ((fd = open_inode(d)) < 0)
		return fd;
	f->data = xmalloc((size_t)f->d.size + 1);
	f->d.data_len = f->d.size;
	ret = pread_all(fd, f->data, (size_t)f->d.size, 0);
	close(fd);
	return ret < 0 ? error_errno(ret, "%s: cannot read its contents", d->name) : 0;
}

/*
 * The ranges of fd with data (lseek(2) SEEK_DATA/SEEK_HOLE; a filesystem
 * without them says all of it is data): at most CKPT_MAX_EXTENTS, the
 * last one stretched to the end when there are more.
 */
static struct ckpt_extent *data_extents(int fd, uint64_t size, uint32_t *n, uint64_t *sum)
{
	struct ckpt_extent *e = NULL;
	uint32_t cap = 0;
	off_t at = 0;

	*n = 0;
	*sum = 0;
	while ((uint64_t)at < size) {
		off_t data = lseek(fd, at, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;		/* only a hole is left */
		if (data < 0)
			data = at;	/* cannot tell: data */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		if (hole <= data)
			break;
		if (*n == CKPT_MAX_EXTENTS - 1)
			hole = (off_t)size;
		if (*n == cap)
			e = xrealloc(e, (cap = cap ? cap * 2 : 8) * sizeof(*e));
		e[(*n)++] = (struct ckpt_extent){ (uint64_t)data, (uint64_t)(hole - data) };
		*sum += (uint64_t)(hole - data);
		at = hole;
	}
	return e;
}

/* An earlier file of the image that carries the same deleted inode. */
static uint32_t inode_carrier(const struct img *img, const struct img_file *f)
{
	for (uint32_t i = 0; i + 1 < f->d.id && i < img->nfiles; i++) {
		const struct img_file *o = &img->files[i];
		struct ckpt_fd_ghost s;

		if (o->d.kind != CKPT_FD_GHOST || o->d.dev != f->d.dev || o->d.ino != f->d.ino ||
		    o->d.policy != CKPT_FPOL_EXACT || o->d.state_len < sizeof(s))
			continue;
		memcpy(&s, o->state, sizeof(s));
		if (!s.inode_of)
			return o->d.id;
	}
	return 0;
}

/*
 * A deleted file: its owner, times and the ranges with data, so restore
 * makes it again as it was, holes included (a 1 GiB sparse file with a
 * page written is a page in the image and on disk).  A further open of
 * an inode an earlier file carries (opened twice, or by two names) only
 * names that one: one inode again at restore.
 */
static int collect_ghost(struct fd_dump *c, struct dfile *d)
{
	struct img_file *f = d->f;
	struct ckpt_fd_ghost g = {
		.uid = d->st.st_uid, .gid = d->st.st_gid,
		.atime_ns = (uint64_t)d->st.st_atim.tv_sec * 1000000000ull +
			    (uint64_t)d->st.st_atim.tv_nsec,
	};
	struct ckpt_extent *e;
	uint64_t sum, done = 0;
	int fd, ret = 0;

	strip_deleted(f->path);
	if ((g.inode_of = inode_carrier(c->img, f))) {
		dfile_set_state(d, &g, sizeof(g));
		return 0;
	}
	if ((fd = open_inode(d)) < 0)
		return fd;
	e = data_extents(fd, f->d.size, &g.nextents, &sum);
	if (sum > CKPT_MAX_FILEDATA) {
		d->cannot = "its data is larger than an image holds (4 GiB)";
		goto out;
	}
	f->data = xmalloc((size_t)sum + 1);
	f->d.data_len = sum;
	for (uint32_t i = 0; i < g.nextents && ret == 0; i++) {
		ret = pread_all(fd, f->data + done, (size_t)e[i].len, (off_t)e[i].offset);
		done += e[i].len;
	}
	if (ret < 0) {
		ret = error_errno(ret, "%s: cannot read its contents", d->name);
		goto out;
	}
	dfile_set_state(d, &g, sizeof(g));
	dfile_add_state(d, e, g.nextents * sizeof(*e));
out:
	free(e);
	close(fd);
	return ret;
}

int fd_ghost_recheck(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_ghost g;
	const struct img_file *of;

	if (d->f->d.kind != CKPT_FD_GHOST || d->f->d.state_len < sizeof(g))
		return 0;
	memcpy(&g, d->f->state, sizeof(g));
	if (!g.inode_of || ((of = img_file(c->img, g.inode_of)) && of->d.policy == CKPT_FPOL_EXACT))
		return 0;
	/* what carried the inode is not restored: this one carries it
	 * (or the next open of it does) */
	return collect_ghost(c, d);
}

static int file_collect(struct fd_dump *c, struct dfile *d)
{
	struct img_file *f = d->f;
	char *other;
	long seals;

	switch (f->d.kind) {
	case CKPT_FD_MEMFD:
		strip_deleted(f->path);
		seals = fcntl(d->copy, F_GET_SEALS);
		f->d.fflags |= (uint32_t)(seals > 0 ? seals & 0xff : 0) << 8;
		return read_contents(d);
	case CKPT_FD_GHOST:
		return collect_ghost(c, d);
	case CKPT_FD_FILE:
		if (!path_was_removed(f->path, &d->st))
			return 0;
		if ((other = other_link(c, d))) {
			info("fd %d: \"%s\" was removed but the file is still linked as \"%s\": "
			     "restore opens it there", d->fd, d->link, other);
			free(f->path);
			f->path = other;
			f->d.fflags |= CKPT_FILEF_RELINKED;
			return 0;
		}
		warn("fd %d: \"%s\" was removed and ckpt cannot find the file's other link (not in "
		     "its directory nor among the process's files): restore makes it again from its "
		     "contents, as a deleted file no longer linked there", d->fd, d->link);
		f->d.kind = CKPT_FD_GHOST;
		return collect_ghost(c, d);
	case CKPT_FD_DIR:
		if (path_was_removed(f->path, &d->st)) {
			f->d.fflags |= CKPT_FILEF_DELETED;
			dfile_what(d, "a removed directory");
		}
		return 0;
	case CKPT_FD_DEVICE:
		fd_dump_node_deleted(d);
		if (reopenable_device(d->st.st_rdev) || S_ISBLK(f->d.mode))
			return 0;
		dfile_what(d, "a character device (%u:%u)", major(d->st.st_rdev), minor(d->st.st_rdev));
		d->cannot = "ckpt does not know what state this device keeps";
		return 0;
	case CKPT_FD_PATH:
		if (S_ISDIR(d->st.st_mode) && path_was_removed(f->path, &d->st))
			f->d.fflags |= CKPT_FILEF_DELETED;
		else if (d->st.st_nlink == 0) {
			d->cannot = "the file it names was deleted";
			return 0;
		}
		dfile_what(d, "an O_PATH descriptor of a %s",
			   S_ISLNK(d->st.st_mode) ? "symbolic link" : S_ISDIR(d->st.st_mode) ? "directory" :
			   "file");
		return 0;
	}
	return 0;
}

void fd_dump_node_deleted(struct dfile *d)
{
	if (d->st.st_nlink)
		return;
	/* made again where it was, then deleted again (restore/fd-file.c) */
	strip_deleted(d->f->path);
	d->f->d.fflags |= CKPT_FILEF_NODE_DELETED;
	dfile_what(d, "a device node (%u:%u) deleted while open", major(d->st.st_rdev),
		   minor(d->st.st_rdev));
}

const struct fd_kind_dump fd_dump_file = { .collect = file_collect };
