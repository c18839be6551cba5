/*
 * fanotify groups that report file ids instead of descriptors (root:
 * CAP_SYS_ADMIN; MNT a filesystem of the test's own that gives file
 * handles):
 *   10  FAN_REPORT_DFID_NAME | FAN_NONBLOCK, a mark on MNT/d for
 *       FAN_CREATE | FAN_DELETE | FAN_ONDIR (entries of d)
 *   11  FAN_REPORT_FID, a filesystem mark on MNT for FAN_MODIFY
 * After GO: the same flags and marks (fdinfo); creating MNT/d/new gives
 * fd 10 a FAN_CREATE whose record (FAN_EVENT_INFO_TYPE_DFID_NAME) names
 * d by its handle and "new"; writing it gives fd 11 a FAN_MODIFY whose
 * record (FAN_EVENT_INFO_TYPE_FID) is new's handle; no event carries a
 * descriptor (FAN_NOFD).
 * "probe MNT": exit 0 if such groups and marks can be made on MNT here
 * (Linux 5.9 for DFID_NAME, and MNT's filesystem must give handles), 2
 * if not.  Output: "fd_fanotify_fid: ok".  Usage: fd_fanotify_fid [probe] MNT
 */
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>

#include "target.h"

#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME	0xc00	/* include/uapi/linux/fanotify.h, 5.9 */
#endif
#ifndef FAN_EVENT_INFO_TYPE_DFID_NAME
#define FAN_EVENT_INFO_TYPE_DFID_NAME	2
#endif

static char mnt[3000];

static const char *in(const char *name)
{
	return target_path(mnt, name);
}

/* The inode a file handle of an event names, opened through MNT. */
static ino_t handle_ino(struct file_handle *h)
{
	int m = open(mnt, O_RDONLY | O_DIRECTORY), fd;
	struct stat st;

	fd = m < 0 ? -1 : open_by_handle_at(m, h, O_PATH);
	if (m >= 0)
		close(m);
	if (fd < 0 || fstat(fd, &st) < 0) {
		target_fail("cannot open a handle of an event: %s", strerror(errno));
		return 0;
	}
	close(fd);
	return st.st_ino;
}

/* The next event of fd within 10 s: its mask, the inode its record's
 * handle names, the name after it (DFID_NAME). */
static uint64_t next_event(int fd, uint8_t want_type, ino_t *ino, char *name, size_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[4096] __attribute__((aligned(8)));
	struct fanotify_event_metadata *m = (void *)buf;
	struct fanotify_event_info_fid *fid;
	struct file_handle *h;
	ssize_t n;

	*ino = 0;
	name[0] = 0;
	if (poll(&p, 1, 10000) != 1 || (n = read(fd, buf, sizeof(buf))) <= 0 || !FAN_EVENT_OK(m, n))
		return 0;
	CHECK(m->fd == FAN_NOFD, "an event of fd %d carries fd %d", fd, m->fd);
	if (m->event_len < m->metadata_len + sizeof(*fid)) {
		target_fail("an event of fd %d has no file id record", fd);
		return m->mask;
	}
	fid = (void *)(buf + m->metadata_len);
	CHECK(fid->hdr.info_type == want_type, "fd %d: record type %u, want %u", fd,
	      fid->hdr.info_type, want_type);
	h = (struct file_handle *)fid->handle;
	*ino = handle_ino(h);
	if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
		snprintf(name, len, "%s", (char *)h->f_handle + h->handle_bytes);
	return m->mask;
}

static int setup(void)
{
	int a = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_NONBLOCK, O_RDONLY);
	int b = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);

	mkdir(in("d"), 0755);
	if (a < 0 || b < 0 || dup2(a, 10) != 10 || dup2(b, 11) != 11 ||
	    fanotify_mark(10, FAN_MARK_ADD, FAN_CREATE | FAN_DELETE | FAN_ONDIR, AT_FDCWD, in("d")) ||
	    fanotify_mark(11, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_MODIFY, AT_FDCWD, mnt))
		return -1;
	close(a);
	close(b);
	return 0;
}

int main(int argc, char **argv)
{
	char before[2][2048], after[2048], name[256];
	int probe = argc > 2 && !strcmp(argv[1], "probe");
	struct stat d, f;
	uint64_t mask;
	ino_t ino;
	int fd;

	if (argc < 2) {
		target_fail("usage: fd_fanotify_fid [probe] MNT");
		return target_exit();
	}
	snprintf(mnt, sizeof(mnt), "%s", argv[probe ? 2 : 1]);
	if (setup() < 0) {
		if (probe)
			return 2;
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	if (probe)
		return 0;
	/* "fanotify flags:... event-flags:..." and a line per mark */
	for (int i = 0; i < 2; i++)
		target_fdinfo_lines(10 + i, "fanotify ", before[i], sizeof(before[i]));
	target_wait();

	for (int i = 0; i < 2; i++) {
		target_fdinfo_lines(10 + i, "fanotify ", after, sizeof(after));
		CHECK(!strcmp(before[i], after), "fd %d: flags and marks\n%swant\n%s", 10 + i, after,
		      before[i]);
	}
	fd = open(in("d/new"), O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || stat(in("d"), &d) < 0 || fstat(fd, &f) < 0) {
		target_fail("cannot create d/new: %s", strerror(errno));
		return target_exit();
	}
	mask = next_event(10, FAN_EVENT_INFO_TYPE_DFID_NAME, &ino, name, sizeof(name));
	CHECK(mask == FAN_CREATE && ino == d.st_ino && !strcmp(name, "new"),
	      "fd 10: event %#llx on inode %lu name \"%s\", want FAN_CREATE on d (%lu) \"new\"",
	      (unsigned long long)mask, (unsigned long)ino, name, (unsigned long)d.st_ino);
	CHECK(write(fd, "x", 1) == 1, "cannot write d/new: %s", strerror(errno));
	close(fd);
	mask = next_event(11, FAN_EVENT_INFO_TYPE_FID, &ino, name, sizeof(name));
	CHECK(mask == FAN_MODIFY && ino == f.st_ino,
	      "fd 11: event %#llx on inode %lu, want FAN_MODIFY on d/new (%lu)",
	      (unsigned long long)mask, (unsigned long)ino, (unsigned long)f.st_ino);
	if (!target_failures)
		printf("fd_fanotify_fid: ok\n");
	return target_exit();
}
