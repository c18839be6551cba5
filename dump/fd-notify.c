/*
 * inotify instances: every watch from /proc/PID/fdinfo ("inotify wd:%x
 * ino:%lx sdev:%x mask:%x ignored_mask:0 fhandle-bytes:%x fhandle-type:%x
 * f_handle:<hex>", fs/notify/fdinfo.c inotify_fdinfo, all in hex), each
 * resolved to a path: the file handle opened with open_by_handle_at(2)
 * (CAP_DAC_READ_SEARCH) through a mount of its filesystem, and that
 * path checked to be the same inode in the process's root.  Restore adds
 * the watches again by path, in the same wd order (restore/fd-notify.c).
 *
 * fanotify instances the same way: their fanotify_init flags and every
 * mark from fdinfo ("fanotify flags:%x event-flags:%x", then "fanotify
 * ino:%lx sdev:%x mflags:%x mask:%x ignored_mask:%x" + handle for a
 * file, "fanotify mnt_id:%x ..." for a mount, "fanotify sdev:%x ..." for a
 * filesystem: fanotify_fdinfo), a mount's path from the process's
 * mountinfo.
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

/* A watched inode as fdinfo shows it (fs/notify/fdinfo.c show_mark_fhandle). */
struct fh {
	uint64_t ino;
	uint32_t sdev;		/* the kernel's s_dev: major << 20 | minor */
	uint32_t hbytes;	/* 0: no handle */
	int htype;
	unsigned char handle[HANDLE_MAX];
};

struct watch {
	struct ckpt_inotify_watch w;
	struct fh fh;
};

/* "fhandle-bytes:%x fhandle-type:%x f_handle:<hex>" in line l after
 * `from`, if it has one: 0, or -1 if damaged.  None: the filesystem
 * cannot encode one (exportfs_encode_fid), hbytes 0. */
static int parse_fh(const char *l, const char *from, struct fh *fh)
{
	const char *h = strstr(from, "fhandle-bytes:");

	fh->hbytes = 0;
	if (!h || h > strchrnul(l, '\n') ||
	    sscanf(h, "fhandle-bytes:%x fhandle-type:%x", &fh->hbytes, (unsigned *)&fh->htype) != 2 ||
	    fh->hbytes > HANDLE_MAX || !(h = strstr(h, "f_handle:"))) {
		fh->hbytes = 0;
		return 0;
	}
	h += 9;
	for (uint32_t i = 0; i < fh->hbytes; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -1;
		fh->handle[i] = (unsigned char)v;
	}
	return 0;
}

/* One "inotify wd:..." line: 1 when it is one, 0 when not, -1 if damaged. */
static int parse_watch(const char *l, struct watch *w)
{
	unsigned wd, sdev, mask, ign;
	unsigned long long ino;
	int n = 0;

	memset(w, 0, sizeof(*w));
	if (strncmp(l, "inotify wd:", 11))
		return 0;
	if (sscanf(l, "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:%x%n", &wd, &ino, &sdev,
		   &mask, &ign, &n) != 5)
		return -1;
	w->w.wd = (int32_t)wd;
	w->w.mask = mask;
	w->w.ino = w->fh.ino = ino;
	w->fh.sdev = sdev;
	return parse_fh(l, l + n, &w->fh) < 0 ? -1 : 1;
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
static int open_handle(const struct fh *w)
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
 * into *path (its st_dev into *dev), 0; else -1 with why in *why.
 */
static int resolve(const struct fd_dump *c, const struct fh *w, char **path, uint64_t *dev,
		   const char **why)
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
	if (fstat(fd, &a) < 0 || a.st_ino != w->ino || xreadlink(link, path) < 0 || (*path)[0] != '/') {
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
	*dev = a.st_dev;
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
		if (resolve(c, &w[i].fh, &path, &w[i].w.dev, &why) < 0) {
			dfile_what(d, "an inotify instance watching inode %llu on device %u:%u (wd %d)",
				   (unsigned long long)w[i].w.ino, w[i].fh.sdev >> 20,
				   w[i].fh.sdev & 0xfffff, w[i].w.wd);
			d->cannot = why;
			free(path);
			break;
		}
		w[i].w.path_len = (uint32_t)strlen(path);
		dfile_add_state(d, &w[i].w, sizeof(w[i].w));
		dfile_add_state(d, path, w[i].w.path_len);
		free(path);
	}
	free(w);
	/* FIONREAD: the bytes of events queued (fs/notify/inotify/inotify_user.c
	 * inotify_ioctl); the kernel has no call to queue them again */
	if (!d->cannot && ioctl(d->copy, FIONREAD, &queued) == 0 && queued > 0) {
		dfile_what(d, "an inotify instance with %d bytes of events not read yet", queued);
		d->lossy = "the kernel cannot queue its unread events again";
	}
	return 0;
}

/* ---- fanotify ---- */

/* include/uapi/linux/fanotify.h */
#define MARK_INODE	0x000u
#define MARK_MOUNT	0x010u
#define MARK_FILESYSTEM	0x100u

struct fmark {
	struct ckpt_fanotify_mark m;
	struct fh fh;		/* an inode mark's inode */
	int mnt_id;		/* a mount mark's mount */
};

/* One mark line of fs/notify/fdinfo.c fanotify_fdinfo ("fanotify ino:..
 * sdev:..", "fanotify mnt_id:..", "fanotify sdev:.."): 1, 0 when l is
 * none, -1 if damaged. */
static int parse_mark(const char *l, struct fmark *f)
{
	unsigned sdev, mflags, mask, ign, id;
	unsigned long long ino;
	int n = 0;

	memset(f, 0, sizeof(*f));
	if (sscanf(l, "fanotify ino:%llx sdev:%x mflags:%x mask:%x ignored_mask:%x%n", &ino, &sdev,
		   &mflags, &mask, &ign, &n) == 5) {
		f->m.type = MARK_INODE;
		f->fh.ino = f->m.ino = ino;
		f->fh.sdev = sdev;
		if (parse_fh(l, l + n, &f->fh) < 0)
			return -1;
	} else if (sscanf(l, "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &id, &mflags, &mask,
			  &ign) == 4) {
		f->m.type = MARK_MOUNT;
		f->mnt_id = (int)id;
	} else if (sscanf(l, "fanotify sdev:%x mflags:%x mask:%x ignored_mask:%x", &sdev, &mflags, &mask,
			  &ign) == 4) {
		f->m.type = MARK_FILESYSTEM;
		f->fh.sdev = sdev;
	} else {
		return strncmp(l, "fanotify ", 9) || !strncmp(l, "fanotify flags:", 15) ? 0 : -1;
	}
	f->m.mflags = mflags;
	f->m.mask = mask;
	f->m.ignored_mask = ign;
	return 1;
}

/* The mount point of the process's mount id (id >= 0) or of its first
 * mount of device sdev: 0 with *path, -1. */
static int mount_point(pid_t pid, int id, uint32_t sdev, char **path)
{
	char file[64], *buf = NULL, *save = NULL;
	int ret = -1;

	snprintf(file, sizeof(file), "/proc/%d/mountinfo", pid);
	if (read_file(file, &buf, NULL) < 0)
		return -1;
	for (char *l = strtok_r(buf, "\n", &save); l && ret < 0; l = strtok_r(NULL, "\n", &save)) {
		char mnt[4096];
		unsigned ma, mi;
		int mid;

		if (sscanf(l, "%d %*d %u:%u %*s %4095s", &mid, &ma, &mi, mnt) != 4 ||
		    (id >= 0 ? mid != id : ma != sdev >> 20 || mi != (sdev & 0xfffff)))
			continue;
		unescape(mnt);
		*path = xstrdup(mnt);
		ret = 0;
	}
	free(buf);
	return ret;
}

/* A mark's path (inode: from its handle; mount: its mount point; a
 * filesystem: a mount point of it), its dev and ino: 0, or -1 with why. */
static int mark_path(const struct fd_dump *c, struct fmark *f, char **path, const char **why)
{
	char root[4200];
	struct stat st;

	*path = NULL;
	if (f->m.type == MARK_INODE)
		return resolve(c, &f->fh, path, &f->m.dev, why);
	if (mount_point(c->pid, f->m.type == MARK_MOUNT ? f->mnt_id : -1, f->fh.sdev, path) < 0) {
		*why = "ckpt cannot find the mount a mark is on in the process's mountinfo";
		return -1;
	}
	snprintf(root, sizeof(root), "/proc/%d/root%s", c->pid, *path);
	if (stat(root, &st) < 0) {
		*why = "ckpt cannot find the mount a mark is on";
		return -1;
	}
	f->m.dev = st.st_dev;
	f->m.ino = st.st_ino;
	return 0;
}

static int fanotify_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_fanotify s = { 0 };
	const char *l = d->fdinfo ? strstr(d->fdinfo, "fanotify flags:") : NULL;
	int queued = 0;

	if (!l || sscanf(l, "fanotify flags:%x event-flags:%x", &s.init_flags, &s.event_flags) != 2)
		return error("fd %d (%s): /proc/PID/fdinfo shows no fanotify flags", d->fd, d->link);
	dfile_set_state(d, &s, sizeof(s));
	for (l = d->fdinfo; l && *l && !d->cannot; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *why = NULL;
		struct fmark f;
		char *path = NULL;
		int ret = parse_mark(l, &f);

		if (ret < 0)
			return error("fd %d (%s): cannot read a mark in /proc/PID/fdinfo: \"%.80s\"",
				     d->fd, d->link, l);
		if (!ret)
			continue;
		if (mark_path(c, &f, &path, &why) < 0) {
			dfile_what(d, "a fanotify instance with a %s mark it cannot find",
				   f.m.type == MARK_INODE ? "file" : f.m.type == MARK_MOUNT ? "mount" :
				   "filesystem");
			d->cannot = why;
		} else {
			f.m.path_len = (uint32_t)strlen(path);
			dfile_add_state(d, &f.m, sizeof(f.m));
			dfile_add_state(d, path, f.m.path_len);
			s.nmarks++;
			memcpy(d->f->state, &s, sizeof(s));
		}
		free(path);
	}
	/* FIONREAD: the bytes of events queued (fanotify_ioctl); permission
	 * events waiting for an answer count too */
	if (!d->cannot && ioctl(d->copy, FIONREAD, &queued) == 0 && queued > 0) {
		dfile_what(d, "a fanotify instance with %d bytes of events not read yet", queued);
		d->lossy = "the kernel cannot queue its unread events again";
	}
	return 0;
}

static int notify_collect(struct fd_dump *c, struct dfile *d)
{
	return d->f->d.kind == CKPT_FD_FANOTIFY ? fanotify_collect(c, d) : inotify_collect(c, d);
}

const struct fd_kind_dump fd_dump_notify = { .collect = notify_collect };
