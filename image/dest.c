/*
 * Where an image is written (image.h): the destination FILE is replaced
 * only by a complete image, and only if it is a regular file (or absent).
 *
 *  - A regular file (or none): the image is written to a file with no name
 *    (open(2) O_TMPFILE in FILE's directory), so that a dump killed at any
 *    point leaves nothing behind; once complete and fsync'd it gets a name
 *    (linkat(2) of /proc/self/fd/N, which needs no privilege, unlike
 *    AT_EMPTY_PATH) and is renamed over FILE.  Where the filesystem has no
 *    O_TMPFILE, it is written under that name from the start.  The name,
 *    FILE.ckpt-tmp-PID, says which ckpt made it: the next dump to FILE
 *    removes those of a ckpt no longer running, and the guardian of a
 *    killed dump (dump/guard.c) its own at once.
 *  - A character or block device, or a FIFO, is written to as a stream,
 *    like "-": never replaced (`-o /dev/null` must stay /dev/null).
 *  - A directory or a socket is refused.
 * A symbolic link stands for what it points to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "image/image.h"

#define TMP_TAG	".ckpt-tmp-"

char *img_tmp_name(const char *dest, pid_t owner)
{
	char *name;

	if (asprintf(&name, "%s" TMP_TAG "%d", dest, (int)owner) < 0)
		return NULL;
	return name;
}

static int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		ret = -errno;
	close(fd);
	return ret;
}

/* Whether pid is a running ckpt (which may still be writing its file). */
static int ckpt_running(pid_t pid)
{
	char path[64], *comm;
	int yes = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_file(path, &comm, NULL) < 0)
		return 0;
	yes = !strncmp(comm, "ckpt", 4);
	free(comm);
	return yes;
}

void img_remove_stale_tmp(const char *dest)
{
	char *copy = xstrdup(dest), *dcopy = xstrdup(dest), *base = basename(copy);
	char *dir = dirname(dcopy);
	size_t blen = strlen(base), tlen = strlen(TMP_TAG);
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		char *end, *path;
		long pid;

		if (strncmp(de->d_name, base, blen) || strncmp(de->d_name + blen, TMP_TAG, tlen))
			continue;
		pid = strtol(de->d_name + blen + tlen, &end, 10);
		if (*end || pid <= 0 || pid == getpid() || ckpt_running((pid_t)pid))
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) >= 0) {
			if (unlink(path) == 0)
				debug("removed \"%s\", left by a dump that did not finish", path);
			free(path);
		}
	}
	if (d)
		closedir(d);
	free(copy);
	free(dcopy);
}

/* What FILE is: 0 a regular file or nothing (write beside it), 1 a
 * stream, or the error printed. */
static int classify(const char *path, char **dest)
{
	struct stat sb;

	*dest = NULL;
	if (lstat(path, &sb) < 0) {
		if (errno != ENOENT)
			return error_errno(errno, "cannot write \"%s\"", path);
		*dest = xstrdup(path);
		return 0;
	}
	if (S_ISLNK(sb.st_mode)) {
		if (!(*dest = realpath(path, NULL)))
			return error_errno(errno, "cannot write \"%s\": where the symbolic link points",
					   path);
		if (stat(*dest, &sb) < 0)
			return error_errno(errno, "cannot write \"%s\"", *dest);
	} else {
		*dest = xstrdup(path);
	}
	if (S_ISREG(sb.st_mode))
		return 0;
	if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) || S_ISFIFO(sb.st_mode))
		return 1;
	return error("cannot write \"%s\": it is a %s, not a file", path,
		     S_ISDIR(sb.st_mode) ? "directory" : S_ISSOCK(sb.st_mode) ? "socket" : "special file");
}

int img_dest_open(struct img_writer *w, const char *path)
{
	char *dest, *dir;
	int ret = classify(path, &dest);

	if (ret < 0) {
		free(dest);
		return ret;
	}
	w->path = dest;
	if (ret == 1) {
		/* Blocks on a FIFO until someone reads it (as a shell would). */
		w->fd = open(dest, O_WRONLY | O_CLOEXEC);
		if (w->fd < 0)
			return error_errno(errno, "cannot open \"%s\"", dest);
		w->is_stream = w->owns_fd = 1;
		return 0;
	}
	img_remove_stale_tmp(dest);
	dir = xstrdup(dest);
	w->fd = getenv("CKPT_NO_O_TMPFILE") ? -1 :
		open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	free(dir);
	if (w->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && !getenv("CKPT_NO_O_TMPFILE"))
		return error_errno(errno, "cannot create \"%s\"", dest);
	/* No O_TMPFILE here: a named file from the start. */
	if (!(w->tmp = img_tmp_name(dest, getpid())))
		return -ENOMEM;
	unlink(w->tmp);
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		ret = -errno;
		free(w->tmp);
		w->tmp = NULL;
		return error_errno(ret, "cannot create \"%s\"", dest);
	}
	return 0;
}

/* Replace the destination with the temporary file, if the destination
 * is still a regular file or nothing. */
static int replace(struct img_writer *w)
{
	struct stat sb;
	int exists = lstat(w->path, &sb) == 0;

	if (exists && !S_ISREG(sb.st_mode))
		return error("cannot write \"%s\": it is no longer a regular file", w->path);
	if (exists ? rename(w->tmp, w->path) == 0 :
	    renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path, RENAME_NOREPLACE) == 0)
		return 0;
	if (!exists && errno == EEXIST)	/* appeared meanwhile: look again */
		return replace(w);
	if (!exists && errno == EINVAL && rename(w->tmp, w->path) == 0)
		return 0;	/* a filesystem without RENAME_NOREPLACE */
	return error_errno(errno, "cannot rename \"%s\" to \"%s\"", w->tmp, w->path);
}

int img_dest_commit(struct img_writer *w)
{
	char proc[64];
	int ret;

	if (!w->tmp) {
		/* Named only now that it is complete. */
		if (!(w->tmp = img_tmp_name(w->path, getpid())))
			return -ENOMEM;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
		unlink(w->tmp);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp, AT_SYMLINK_FOLLOW) < 0) {
			ret = -errno;
			free(w->tmp);
			w->tmp = NULL;
			return error_errno(ret, "cannot give a name to the image of \"%s\"", w->path);
		}
		killpoint("image: named");
	}
	if (close(w->fd) < 0)
		return error_errno(errno, "cannot write \"%s\"", w->path);
	w->fd = -1;
	if ((ret = replace(w)) < 0)
		return ret;
	killpoint("image: renamed");
	free(w->tmp);
	w->tmp = NULL;
	if (!w->no_sync && (ret = fsync_dir_of(w->path)) < 0)
		return error_errno(ret, "cannot fsync the directory of \"%s\"", w->path);
	return 0;
}

void img_dest_abandon(struct img_writer *w)
{
	if (w->tmp) {
		unlink(w->tmp);
		free(w->tmp);
		w->tmp = NULL;
	}
	if (w->fd >= 0 && (!w->is_stream || w->owns_fd))
		close(w->fd);
	w->fd = -1;
}
