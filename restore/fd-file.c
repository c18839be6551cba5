/*
 * Files reopened by path (regular files, directories, devices, O_PATH),
 * and files made again from the image (a file deleted while open, a
 * memfd).  When root restores another user's process, ckpt has taken
 * that user's filesystem credentials for this (restore/files.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/fd.h"

/* open(2) flags to open again what the image's flags describe.  A file
 * made with O_TMPFILE (__O_TMPFILE | O_DIRECTORY, still in its flags) is
 * reopened as the regular file it is: open() would take them as "create
 * one more", and glibc aborts when that comes without a mode. */
int fd_reopen_flags(uint32_t flags)
{
	int f = (int)flags & ~REOPEN_DROP;

	if ((f & O_TMPFILE) == O_TMPFILE)
		f &= ~O_TMPFILE;
	return f | O_CLOEXEC;
}

static int reopen_file(const struct img_file *f, int fd0, const struct restore_opts *o)
{
	int acc = (int)f->d.flags & O_ACCMODE, fd;
	struct stat sb;

	if (stat(f->path, &sb) < 0)
		return error_errno(errno, "file \"%s\" (fd %d) cannot be reopened", f->path, fd0);
	if (acc != O_RDONLY && (uint64_t)sb.st_size != f->d.size && !o->ignore_file_changes &&
	    !o->rollback_files)
		return error("file \"%s\" (fd %d) has changed size since the dump (%llu, now %llu bytes): "
			     "use --rollback-files to truncate it back or --ignore-file-changes",
			     f->path, fd0, (unsigned long long)f->d.size, (unsigned long long)sb.st_size);
	fd = files_open_path(f->path, fd_reopen_flags(f->d.flags));
	if (fd == -EACCES && geteuid() == 0)
		return error_errno(-fd, "file \"%s\" (fd %d) cannot be reopened with the process's own "
				   "credentials (it may have been opened for it by a more privileged parent, "
				   "which only an image signed by this machine's key may say)",
				   f->path, fd0);
	if (fd < 0)
		return error_errno(-fd, "file \"%s\" (fd %d) cannot be reopened", f->path, fd0);
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

/* A mapping of the image that writes to memfd f, or may be made to: a
 * shared one, writable or MAYWRITE. */
static int mapped_for_writing(const struct img *img, const struct img_file *f)
{
	for (uint32_t k = 0; k < img->h.nprocs; k++)
		for (uint32_t i = 0; i < img->procs[k].d.nvmas; i++) {
			const struct img_vma *v = &img->procs[k].vmas[i];

			if ((v->d.flags & (CKPT_VMA_MEMFD | CKPT_VMA_SHARED)) ==
				    (CKPT_VMA_MEMFD | CKPT_VMA_SHARED) &&
			    ((v->d.prot & PROT_WRITE) || (v->d.flags & CKPT_VMA_MAYWRITE)) &&
			    v->d.dev == f->d.dev && v->d.ino == f->d.ino)
				return 1;
		}
	return 0;
}

/* A memfd: made again with its name, contents, offset and seals.
 * F_SEAL_FUTURE_WRITE refuses new writable shared mappings but keeps
 * those made before it (memfd_create(2)): with such a mapping in the
 * image, it (and F_SEAL_SEAL, which must come after it) is added only
 * once every process has made its mappings (fd_restore_seal). */
static int recreate_memfd(struct fd_restore *r, const struct img_file *f, int fd0)
{
	const char *name = !strncmp(f->path, "/memfd:", 7) ? f->path + 7 : f->path;
	unsigned seals = CKPT_FILEF_SEALS(f->d.fflags), later = 0;
	int fd = memfd_create(name, MFD_CLOEXEC | (seals ? MFD_ALLOW_SEALING : 0));
	int ret;

	if ((seals & F_SEAL_FUTURE_WRITE) && mapped_for_writing(r->img, f))
		later = seals & (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
	seals &= ~later;
	r->seals_later[f->d.id - 1] = later;

	if (fd < 0)
		return error_errno(errno, "cannot recreate memfd \"%s\" (%s)", name, fd_label(fd0).s);
	ret = write_all(fd, f->data, (size_t)f->d.data_len);
	if (ret == 0 && lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0)
		ret = -errno;
	/* memfd_create(2) makes it 0777 whatever the umask */
	if (ret == 0 && fchmod(fd, f->d.mode & 07777) < 0)
		warn("memfd \"%s\" (%s): cannot restore its mode %04o (%s)", name, fd_label(fd0).s,
		     f->d.mode & 07777, strerror(errno));
	/* F_SEAL_SEAL last: it forbids adding the others. */
	if (ret == 0 && seals && fcntl(fd, F_ADD_SEALS, seals & ~F_SEAL_SEAL) < 0)
		ret = -errno;
	if (ret == 0 && (seals & F_SEAL_SEAL) && fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) < 0)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return error_errno(ret, "cannot recreate memfd \"%s\" (%s)", name, fd_label(fd0).s);
	}
	/* The open file description's own flags (O_RDONLY reopen, O_APPEND)
	 * cannot be had on a memfd without /proc: reopen it with them. */
	if (((int)f->d.flags & O_ACCMODE) != O_RDWR || (f->d.flags & O_APPEND)) {
		char self[64];
		int re;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		re = open(self, fd_reopen_flags(f->d.flags) & ~O_NOFOLLOW);
		if (re >= 0) {
			lseek(re, (off_t)f->d.pos, SEEK_SET);
			close(fd);
			fd = re;
		}
	}
	return fd;
}

/*
 * A further memfd file of an inode an earlier one made (the same dev and
 * ino at dump: in a tree, a memfd one process only maps and another
 * holds an fd of; or /proc/self/fd/N opened again): one more open of
 * that memfd, with its own flags and offset.  *fd: it, or -errno after a
 * message; 0 when there is none.
 */
static int memfd_again(const struct fd_restore *r, const struct img_file *f, int fd0, int *fd)
{
	for (uint32_t j = 0; j + 1 < f->d.id; j++) {
		const struct img_file *o = &r->img->files[j];
		char self[64];

		if (o->d.kind != CKPT_FD_MEMFD || o->d.policy != CKPT_FPOL_EXACT || o->d.dev != f->d.dev ||
		    o->d.ino != f->d.ino || r->src[j] < 0)
			continue;
		snprintf(self, sizeof(self), "/proc/self/fd/%d", r->src[j]);
		*fd = open(self, fd_reopen_flags(f->d.flags) & ~O_NOFOLLOW);
		if (*fd >= 0 && lseek(*fd, (off_t)f->d.pos, SEEK_SET) < 0) {
			int err = errno;

			close(*fd);
			*fd = -1;
			errno = err;
		}
		if (*fd < 0)
			*fd = error_errno(errno, "cannot open memfd \"%s\" (%s) again", f->path,
					  fd_label(fd0).s);
		return 1;
	}
	return 0;
}

/* A device node deleted while open: made again where it was (beside it
 * if its name is taken now), opened, deleted again.  mknod(2) of a
 * device needs CAP_MKNOD: without it, refused by name. */
static int remake_node(const struct img_file *f, int fd0, int flags)
{
	mode_t mode = (mode_t)(f->d.mode & (S_IFMT | 0777));
	char *path = xstrdup(f->path);
	int fd = -1, err = mknod(path, mode, (dev_t)f->d.rdev) < 0 ? errno : 0;

	if (err == EEXIST) {
		free(path);
		path = NULL;
		if (asprintf(&path, "%s.ckpt-node-%d", f->path, getpid()) < 0)
			return -ENOMEM;
		err = mknod(path, mode, (dev_t)f->d.rdev) < 0 ? errno : 0;
	}
	/* only what this made is opened and removed */
	if (!err) {
		fd = open(path, flags);
		err = fd < 0 ? errno : 0;
		unlink(path);
	}
	if (fd < 0)
		error_errno(err, "fd %d (\"%s\", a device node %u:%u deleted while open) cannot be made "
			    "again%s", fd0, f->path, major(f->d.rdev), minor(f->d.rdev),
			    err == EPERM ? " (mknod needs CAP_MKNOD)" : "");
	free(path);
	return fd < 0 ? -err : fd;
}

/* A directory, a device or an O_PATH descriptor: by path, checked to be
 * the same kind of thing (and the same device).  No terminal reopened
 * becomes ckpt's controlling terminal (O_NOCTTY). */
/* A removed directory an earlier file of the image made again already
 * (the same dev and ino: opened twice, or once by O_PATH): opened again
 * from it, one directory as before: 1 and *fd (or -errno after a
 * message), 0 if none. */
static int removed_dir_again(const struct fd_restore *r, const struct img_file *f, int flags, int fd0,
			     int *fd)
{
	for (uint32_t j = 0; j + 1 < f->d.id; j++) {
		const struct img_file *o = &r->img->files[j];
		char self[64];

		if (!(o->d.fflags & CKPT_FILEF_DELETED) || (o->d.kind != CKPT_FD_DIR && o->d.kind != CKPT_FD_PATH) ||
		    o->d.dev != f->d.dev || o->d.ino != f->d.ino || r->src[j] < 0)
			continue;
		snprintf(self, sizeof(self), "/proc/self/fd/%d", r->src[j]);
		*fd = open(self, (flags & ~O_NOFOLLOW) | O_DIRECTORY | O_CLOEXEC);
		if (*fd < 0)
			*fd = error_errno(errno, "cannot open removed directory \"%s\" (fd %d) again",
					  f->path, fd0);
		return 1;
	}
	return 0;
}

static int reopen_other(const struct fd_restore *r, const struct img_file *f, int fd0)
{
	int flags = fd_reopen_flags(f->d.flags) | (S_ISCHR(f->d.mode) ? O_NOCTTY : 0);
	int dev = f->d.kind == CKPT_FD_DEVICE || f->d.kind == CKPT_FD_TTY;
	int fd;
	struct stat st;

	if ((f->d.fflags & CKPT_FILEF_DELETED) && removed_dir_again(r, f, flags, fd0, &fd))
		return fd;
	if (f->d.fflags & CKPT_FILEF_DELETED)
		return fd_removed_dir(f->path, f->d.mode, f->d.mtime_ns, flags, "directory");
	fd = (f->d.fflags & CKPT_FILEF_NODE_DELETED) ? remake_node(f, fd0, flags) :
	     files_open_path(f->path, flags);
	if (fd < 0 && (f->d.fflags & CKPT_FILEF_NODE_DELETED))
		return fd;
	if (fd < 0)
		return error_errno(-fd, "\"%s\" (fd %d) cannot be reopened", f->path, fd0);
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != (f->d.mode & S_IFMT) ||
	    (dev && st.st_rdev != f->d.rdev)) {
		close(fd);
		return error("\"%s\" (fd %d) is not the same %s as at the dump", f->path, fd0,
			     dev ? "device" : "kind of file");
	}
	/* A directory read partway goes on where it was (the position
	 * is the filesystem's cookie, valid for the same directory). */
	if (f->d.kind == CKPT_FD_DIR && f->d.pos && lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0)
		warn("directory \"%s\" (fd %d): cannot restore its position", f->path, fd0);
	if (f->d.kind == CKPT_FD_DEVICE && S_ISBLK(st.st_mode) && f->d.pos &&
	    lseek(fd, (off_t)f->d.pos, SEEK_SET) < 0)
		warn("device \"%s\" (fd %d): cannot restore its position", f->path, fd0);
	return fd;
}

static int file_open(struct fd_restore *r, const struct img_file *f, int fd)
{
	int again;

	switch (f->d.kind) {
	case CKPT_FD_MEMFD:
		return memfd_again(r, f, fd, &again) ? again : recreate_memfd(r, f, fd);
	case CKPT_FD_FILE:
		return reopen_file(f, fd, r->o);
	case CKPT_FD_GHOST:
		return fd_ghost_open(r, f, fd);
	}
	return reopen_other(r, f, fd);
}

const struct fd_kind_restore fd_restore_file = { .open = file_open };
