/*
 * Files reopened by path at restore (regular files, directories, devices
 * without state, O_PATH descriptors) and files whose contents go into the
 * image (a file deleted while open, a memfd).
 */
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

/* The contents of a deleted file or memfd, read through the magic link
 * (which opens the inode itself, whatever the fd's access mode). */
static int read_contents(struct dfile *d)
{
	struct img_file *f = d->f;
	char path[64];
	int fd, ret;

	if (f->d.size > CKPT_MAX_FILEDATA) {
		d->cannot = "its contents are larger than an image holds (4 GiB)";
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->copy);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot read its contents", d->fd, d->link);
	f->data = xmalloc((size_t)f->d.size + 1);
	f->d.data_len = f->d.size;
	ret = pread_all(fd, f->data, (size_t)f->d.size, 0);
	close(fd);
	return ret < 0 ? error_errno(ret, "fd %d (%s): cannot read its contents", d->fd, d->link) : 0;
}

static int file_collect(struct fd_dump *c, struct dfile *d)
{
	struct img_file *f = d->f;
	long seals;

	(void)c;
	switch (f->d.kind) {
	case CKPT_FD_MEMFD:
		strip_deleted(f->path);
		seals = fcntl(d->copy, F_GET_SEALS);
		f->d.fflags |= (uint32_t)(seals > 0 ? seals & 0xff : 0) << 8;
		return read_contents(d);
	case CKPT_FD_GHOST:
		strip_deleted(f->path);
		return read_contents(d);
	case CKPT_FD_DEVICE:
		fd_dump_node_deleted(d);
		if (reopenable_device(d->st.st_rdev) || S_ISBLK(f->d.mode))
			return 0;
		dfile_what(d, "a character device (%u:%u)", major(d->st.st_rdev), minor(d->st.st_rdev));
		d->cannot = "ckpt does not know what state this device keeps";
		return 0;
	case CKPT_FD_PATH:
		if (d->st.st_nlink == 0 && !S_ISDIR(d->st.st_mode)) {
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
