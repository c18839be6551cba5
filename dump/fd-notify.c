/*
 * inotify instances: every watch from /proc/PID/fdinfo ("inotify wd:%x
 * ino:%lx sdev:%x mask:%x ignored_mask:0 fhandle-bytes:%x fhandle-type:%x
 * f_handle:<hex>", fs/notify/fdinfo.c inotify_fdinfo, all in hex), each
 * resolved to a path: the file handle opened with open_by_handle_at(2)
 * (CAP_DAC_READ_SEARCH) through a mount of its filesystem, and that
 * path checked to be the same inode in the process's root.  Restore adds
 * the watches again by path, in the same wd order (restore/fd-notify.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

/* fs/notify/fdinfo.c: at most MAX_HANDLE_SZ (128) bytes of handle */
#define HANDLE_MAX	128

struct watch {
	struct ckpt_inotify_watch w;
	uint32_t sdev;		/* the kernel's s_dev: major << 20 | minor */
	uint32_t hbytes;
	int htype;
	unsigned char handle[HANDLE_MAX];
};

static int parse_handle(const char *hex, struct watch *w)
{
	for (uint32_t i = 0; i < w->hbytes; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		w->handle[i] = (unsigned char)v;
	}
	return 0;
}

/* One "inotify wd:..." line: 1 when it is one, 0 when not, -1 if damaged. */
static int parse_watch(const char *l, struct watch *w)
{
	unsigned wd, sdev, mask, ign;
	unsigned long long ino;
	const char *h;
	int n = 0;

	memset(w, 0, sizeof(*w));
	if (strncmp(l, "inotify wd:", 11))
		return 0;
	if (sscanf(l, "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:%x%n", &wd, &ino, &sdev,
		   &mask, &ign, &n) != 5)
		return -1;
	w->w.wd = (int32_t)wd;
	w->w.mask = mask;
	w->w.ino = ino;
	w->sdev = sdev;
	/* no handle: the filesystem cannot encode one (exportfs_encode_fid) */
	if (!(h = strstr(l + n, "fhandle-bytes:")) || h > strchrnul(l, '\n') ||
	    sscanf(h, "fhandle-bytes:%x fhandle-type:%x", &w->hbytes, (unsigned *)&w->htype) != 2 ||
	    w->hbytes > HANDLE_MAX || !(h = strstr(h, "f_handle:")))
		w->hbytes = 0;
	else if (parse_handle(h + 9, w) < 0)
		return -1;
	return 1;
}

/* "\040" in a mountinfo field: the byte it stands for (fs/proc_namespace.c mangle) */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++)
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	*o = 0;
}

/* The watched file opened from its handle through ckpt's mounts of
 * device sdev: an O_PATH fd, or -errno (the last open_by_handle_at's). */
static int open_handle(const struct watch *w)
{
	unsigned maj = w->sdev >> 20, min = w->sdev & 0xfffff;
	struct file_handle *fh = xzalloc(sizeof(*fh) + HANDLE_MAX);
	char *buf = NULL, *save = NULL;
	int ret = -ENOENT;

	fh->handle_bytes = w->hbytes;
	fh->handle_type = w->htype;
	memcpy(fh->f_handle, w->handle, w->hbytes);
	if (read_file("/proc/self/mountinfo", &buf, NULL) < 0) {
		free(fh);
		return -errno;
	}
	for (char *l = strtok_r(buf, "\n", &save); l && ret < 0; l = strtok_r(NULL, "\n", &save)) {
		char mnt[4096];
		unsigned ma, mi;
		int mfd;

		if (sscanf(l, "%*d %*d %u:%u %*s %4095s", &ma, &mi, mnt) != 3 || ma != maj || mi != min)
			continue;
		unescape(mnt);
		/* not O_PATH: open_by_handle_at takes no O_PATH mount_fd (EBADF) */
		if ((mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		ret = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
		if (ret < 0)
			ret = -errno;
		close(mfd);
	}
	free(buf);
	free(fh);
	return ret;
}

/*
 * w's path as the process sees it, checked to name the watched inode:
 * into *path, 0; else -1 with why in *why.
 */
static int resolve(const struct fd_dump *c, struct watch *w, char **path, const char **why)
{
	char link[64], root[4200];
	struct stat a, b;
	int fd;

	*path = NULL;
	if (!w->hbytes) {
		*why = "its filesystem gives no file handle for a watched file, so ckpt cannot find its path";
		return -1;
	}
	if ((fd = open_handle(w)) < 0) {
		*why = fd == -EPERM ? "finding a watched file's path needs CAP_DAC_READ_SEARCH (open_by_handle_at)" :
		       fd == -ESTALE ? "a watched file was deleted" :
				       "ckpt cannot open a watched file from its handle (open_by_handle_at)";
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (fstat(fd, &a) < 0 || a.st_ino != w->w.ino || xreadlink(link, path) < 0 || (*path)[0] != '/') {
		close(fd);
		*why = "ckpt cannot find the path of a watched file";
		return -1;
	}
	close(fd);
	snprintf(root, sizeof(root), "/proc/%d/root%s", c->pid, *path);
	if (lstat(root, &b) < 0 || b.st_dev != a.st_dev || b.st_ino != a.st_ino) {
		*why = "a watched file has no path the process can see (deleted, or outside its root)";
		return -1;
	}
	w->w.dev = a.st_dev;
	w->w.path_len = (uint32_t)strlen(*path);
	return 0;
}

static int cmp_wd(const void *a, const void *b)
{
	return ((const struct watch *)a)->w.wd - ((const struct watch *)b)->w.wd;
}

/* The watches of d's fdinfo, in wd order: the count, or -1 after a message. */
static int read_watches(struct dfile *d, struct watch **out)
{
	size_t cap = 8, n = 0;
	struct watch *w = xmalloc(cap * sizeof(*w));

	for (const char *l = d->fdinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int ret;

		if (n == cap)
			w = xrealloc(w, (cap *= 2) * sizeof(*w));
		if ((ret = parse_watch(l, &w[n])) < 0) {
			free(w);
			return error("fd %d (%s): cannot read a watch in /proc/PID/fdinfo: \"%.80s\"",
				     d->fd, d->link, l);
		}
		n += (size_t)ret;
	}
	qsort(w, n, sizeof(*w), cmp_wd);
	*out = w;
	return (int)n;
}

static int inotify_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_inotify s = { 0 };
	struct watch *w = NULL;
	int n, queued = 0;

	if ((n = read_watches(d, &w)) < 0)
		return n;
	s.nwatches = (uint32_t)n;
	dfile_set_state(d, &s, sizeof(s));
	for (int i = 0; i < n; i++) {
		const char *why = NULL;
		char *path = NULL;

		/* restore hands the numbers out again by adding and removing
		 * watches up to each one (restore/fd-notify.c) */
		if (w[i].w.wd < 1 || w[i].w.wd > CKPT_MAX_WD) {
			dfile_what(d, "an inotify instance with watch descriptor %d", w[i].w.wd);
			d->cannot = "its watch descriptors go beyond what restore can hand out again (1 to 1048576)";
			break;
		}
		if (resolve(c, &w[i], &path, &why) < 0) {
			dfile_what(d, "an inotify instance watching inode %llu on device %u:%u (wd %d)",
				   (unsigned long long)w[i].w.ino, w[i].sdev >> 20, w[i].sdev & 0xfffff,
				   w[i].w.wd);
			d->cannot = why;
			free(path);
			break;
		}
		dfile_add_state(d, &w[i].w, sizeof(w[i].w));
		dfile_add_state(d, path, w[i].w.path_len);
		free(path);
	}
	free(w);
	/* FIONREAD: the bytes of events queued (fs/notify/inotify/inotify_user.c
	 * inotify_ioctl); the kernel has no call to queue them again */
	if (!d->cannot && ioctl(d->copy, FIONREAD, &queued) == 0 && queued > 0) {
		dfile_what(d, "an inotify instance with %d bytes of events not read yet", queued);
		d->cannot = "the kernel cannot queue its unread events again";
	}
	return 0;
}

static int notify_collect(struct fd_dump *c, struct dfile *d)
{
	return inotify_collect(c, d);
}

const struct fd_kind_dump fd_dump_notify = { .collect = notify_collect };
