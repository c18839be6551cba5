/*
 * A fanotify instance (root: CAP_SYS_ADMIN) at fd 10, FAN_CLASS_NOTIF |
 * FAN_NONBLOCK, events opened O_RDONLY, with three kinds of marks on MNT
 * (a filesystem of the test's own, quiet):
 *   MNT/d        file mark: FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD
 *   MNT/quiet    file mark ignoring FAN_CLOSE_NOWRITE (survives modify)
 *   MNT          mount mark: FAN_CLOSE_NOWRITE
 *   MNT          filesystem mark: FAN_ACCESS
 * After GO: the same marks (fdinfo) and flags; writing MNT/d/x gives
 * FAN_CLOSE_WRITE on it; opening and closing MNT/quiet gives nothing;
 * reading MNT/other gives FAN_ACCESS and FAN_CLOSE_NOWRITE on it.
 * Output: "fd_fanotify: ok".  Usage: fd_fanotify MNT
 */
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>

#include "target.h"

static char mnt[3000];

static const char *in(const char *name)
{
	return target_path(mnt, name);
}


/* Events on fd until want (bits) were seen for path, or 10 s: the bits
 * seen for path; any event on another file is a failure. */
static uint64_t events_for(int fd, const char *path, uint64_t want)
{
	uint64_t seen = 0;

	while ((seen & want) != want) {
		struct pollfd p = { fd, POLLIN, 0 };
		char buf[4096];
		ssize_t n;

		if (poll(&p, 1, 10000) != 1 || (n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n)) {
			char link[64], got[4096] = "";

			snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
			if (m->fd >= 0 && readlink(link, got, sizeof(got) - 1) < 0)
				got[0] = 0;
			if (m->fd >= 0)
				close(m->fd);
			if (strcmp(got, path))
				target_fail("event %#llx on \"%s\", want one on %s",
					    (unsigned long long)m->mask, got, path);
			else
				seen |= m->mask;
		}
	}
	return seen;
}

static void drain(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n))
			if (m->fd >= 0)
				close(m->fd);
}

static int touch(const char *path, int flags, int rw)
{
	char c = 'x';
	int fd = open(path, flags, 0644);

	if (fd < 0 || (rw == 1 && write(fd, &c, 1) != 1) || (rw == 2 && read(fd, &c, 1) != 1)) {
		target_fail("%s: %s", path, strerror(errno));
		return -1;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	char before[2048], after[2048];
	uint64_t seen;
	int fd;

	if (argc < 2) {
		target_fail("usage: fd_fanotify MNT");
		return target_exit();
	}
	snprintf(mnt, sizeof(mnt), "%s", argv[1]);
	mkdir(in("d"), 0755);
	touch(in("quiet"), O_WRONLY | O_CREAT, 1);
	touch(in("other"), O_WRONLY | O_CREAT, 1);
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (fd < 0 || dup2(fd, 10) != 10 ||
	    fanotify_mark(10, FAN_MARK_ADD, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD, AT_FDCWD, in("d")) ||
	    fanotify_mark(10, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			  FAN_CLOSE_NOWRITE, AT_FDCWD, in("quiet")) ||
	    fanotify_mark(10, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_NOWRITE, AT_FDCWD, mnt) ||
	    fanotify_mark(10, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_ACCESS, AT_FDCWD, mnt)) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	close(fd);
	drain(10);
	target_fdinfo_lines(10, "fanotify ", before, sizeof(before));
	target_wait();

	target_fdinfo_lines(10, "fanotify ", after, sizeof(after));
	CHECK(!strcmp(before, after), "marks\n%swant\n%s", after, before);
	CHECK(fcntl(10, F_GETFL) & O_NONBLOCK, "fd 10 is no longer FAN_NONBLOCK");
	CHECK(strstr(target_fdinfo(10), "fanotify flags:2 event-flags:"),
	      "fd 10: not FAN_CLASS_NOTIF | FAN_NONBLOCK:\n%s", target_fdinfo(10));
	touch(in("d/x"), O_WRONLY | O_CREAT, 1);
	seen = events_for(10, in("d/x"), FAN_CLOSE_WRITE);
	CHECK(seen == FAN_CLOSE_WRITE, "d/x: events %#llx, want FAN_CLOSE_WRITE",
	      (unsigned long long)seen);
	/* nothing for quiet: the next event is other's */
	touch(in("quiet"), O_RDONLY, 0);
	touch(in("other"), O_RDONLY, 2);
	seen = events_for(10, in("other"), FAN_ACCESS | FAN_CLOSE_NOWRITE);
	CHECK(seen == (FAN_ACCESS | FAN_CLOSE_NOWRITE),
	      "other: events %#llx, want FAN_ACCESS | FAN_CLOSE_NOWRITE", (unsigned long long)seen);
	if (!target_failures)
		printf("fd_fanotify: ok\n");
	return target_exit();
}
