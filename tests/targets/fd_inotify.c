/*
 * inotify instances, at fixed descriptor numbers, watching DIR:
 *   10  O_NONBLOCK; wd 1 on DIR (IN_CREATE | IN_DELETE), wd 2 on DIR/a
 *       removed again (a gap), wd 3 on DIR/b (IN_ALL_EVENTS), wd 4 on
 *       DIR/c (IN_CLOSE_WRITE), wd 5 on DIR/f (IN_MODIFY | IN_ONESHOT);
 *       its queue read empty before the dump
 *   11  blocking; wd 1 on DIR (IN_CREATE | IN_EXCL_UNLINK)
 * After GO: the same watches (fdinfo: wd, inode, mask) and flags; a file
 * made in DIR gives IN_CREATE with its name on wd 1 of both; a file closed
 * after writing in DIR/c gives IN_CLOSE_WRITE on wd 4; a write to DIR/f
 * gives IN_MODIFY then IN_IGNORED on wd 5 (one-shot); a new watch gets
 * wd 6.
 * Usage: fd_inotify DIR [pending]
 *   pending: an event is left unread on fd 10 at the dump (dump refuses)
 */
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "target.h"

static char dir[3000];

static const char *in(const char *name)
{
	return target_path(dir, name);
}


/* The next event of fd (waiting up to 10 s), one at a time from what
 * one read gives (it gives every event that fits): 0, or -1. */
static int next_event(int fd, struct inotify_event *ev, size_t len)
{
	static char buf[2][4096];
	static size_t have[2], off[2];
	struct pollfd p = { fd, POLLIN, 0 };
	int k = fd == 10 ? 0 : 1;
	struct inotify_event e;
	ssize_t n;

	if (off[k] >= have[k]) {
		if (poll(&p, 1, 10000) != 1 || (n = read(fd, buf[k], sizeof(buf[k]))) <= 0)
			return -1;
		have[k] = (size_t)n;
		off[k] = 0;
	}
	memcpy(&e, buf[k] + off[k], sizeof(e));
	if (sizeof(e) + e.len > len)
		return -1;
	memcpy(ev, buf[k] + off[k], sizeof(e) + e.len);
	off[k] += sizeof(e) + e.len;
	return 0;
}

static int expect(int fd, int wd, uint32_t mask, const char *name)
{
	union {
		struct inotify_event ev;
		char buf[sizeof(struct inotify_event) + 256];
	} u;

	if (next_event(fd, &u.ev, sizeof(u)) < 0) {
		target_fail("fd %d: no event (want wd %d mask %#x)", fd, wd, mask);
		return -1;
	}
	if (u.ev.wd != wd || u.ev.mask != mask || (name && strcmp(u.ev.name, name))) {
		target_fail("fd %d: event wd %d mask %#x name \"%s\", want wd %d mask %#x name \"%s\"",
			    fd, u.ev.wd, u.ev.mask, u.ev.len ? u.ev.name : "", wd, mask, name ? name : "");
		return -1;
	}
	return 0;
}

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int main(int argc, char **argv)
{
	char before10[2048], before11[2048], after[2048];
	int fd, ok;

	if (argc < 2) {
		target_fail("usage: fd_inotify DIR [pending]");
		return target_exit();
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	mkdir(dir, 0755);
	mkdir(in("a"), 0755);
	mkdir(in("b"), 0755);
	mkdir(in("c"), 0755);
	close(open(in("f"), O_WRONLY | O_CREAT, 0644));
	ok = at(inotify_init1(IN_NONBLOCK), 10) == 10 &&
	     inotify_add_watch(10, dir, IN_CREATE | IN_DELETE) == 1 &&
	     inotify_add_watch(10, in("a"), IN_ALL_EVENTS) == 2 &&
	     inotify_add_watch(10, in("b"), IN_ALL_EVENTS) == 3 &&
	     inotify_rm_watch(10, 2) == 0 &&
	     inotify_add_watch(10, in("c"), IN_CLOSE_WRITE) == 4 &&
	     inotify_add_watch(10, in("f"), IN_MODIFY | IN_ONESHOT) == 5 &&
	     at(inotify_init1(0), 11) == 11 &&
	     inotify_add_watch(11, dir, IN_CREATE | IN_EXCL_UNLINK) == 1;
	if (!ok) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	drain(10);	/* wd 2's IN_IGNORED */
	if (argc > 2 && !strcmp(argv[2], "pending"))
		close(open(in("b/pending"), O_WRONLY | O_CREAT, 0644));
	target_fdinfo_lines(10, "inotify ", before10, sizeof(before10));
	target_fdinfo_lines(11, "inotify ", before11, sizeof(before11));
	target_wait();

	target_fdinfo_lines(10, "inotify ", after, sizeof(after));
	CHECK(!strcmp(before10, after), "fd 10: watches\n%swant\n%s", after, before10);
	target_fdinfo_lines(11, "inotify ", after, sizeof(after));
	CHECK(!strcmp(before11, after), "fd 11: watches\n%swant\n%s", after, before11);
	CHECK(fcntl(10, F_GETFL) & O_NONBLOCK, "fd 10 is no longer O_NONBLOCK");
	CHECK(!(fcntl(11, F_GETFL) & O_NONBLOCK), "fd 11 is O_NONBLOCK");
	{
		char buf[64];

		CHECK(read(10, buf, sizeof(buf)) < 0 && errno == EAGAIN, "fd 10: events queued at restore");
	}
	close(open(in("new"), O_WRONLY | O_CREAT, 0644));
	expect(10, 1, IN_CREATE, "new");
	expect(11, 1, IN_CREATE, "new");
	fd = open(in("c/x"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1, "cannot write %s", in("c/x"));
	close(fd);
	expect(10, 4, IN_CLOSE_WRITE, "x");
	fd = open(in("f"), O_WRONLY);
	CHECK(fd >= 0 && write(fd, "y", 1) == 1, "cannot write %s", in("f"));
	close(fd);
	expect(10, 5, IN_MODIFY, NULL);
	expect(10, 5, IN_IGNORED, NULL);
	fd = inotify_add_watch(10, in("a"), IN_ALL_EVENTS);
	CHECK(fd == 6, "a new watch got wd %d, want 6", fd);
	return target_exit();
}
