/*
 * File locks of every kind, at fixed numbers, on files in DIR:
 *   10  DIR/flock     flock(LOCK_EX)
 *   11  DIR/posix     POSIX (F_SETLK) write lock on bytes 10-29, read lock
 *                     from byte 100 to the end
 *   12  DIR/ofd       OFD (F_OFD_SETLK) write lock on bytes 0-4; 13 a dup
 *   14  DIR/shared    flock(LOCK_SH)
 *   15  DIR/lease     opened read-only, a read lease (F_SETLEASE), and
 *   16  DIR/wlease    opened read-write, a write lease: with the argument
 *                     "lease" only (root or the file's owner)
 * After GO: a child forked now finds every lock held, by this process
 * (F_GETLK names its PID), and nothing more; the lease is there
 * (F_GETLEASE); then this process unlocks each, and a second child finds
 * them free.
 * Usage: fd_locks DIR [lease]
 */
#include <sys/file.h>
#include <sys/wait.h>

#include "target.h"

static const char *dir;
static int lease;

static int open_at(const char *name, int flags, int want)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CREAT, 0644);
	if (fd < 0 || (want >= 0 && dup2(fd, want) != want)) {
		target_fail("cannot open %s: %s", path, strerror(errno));
		exit(target_exit());
	}
	if (want >= 0 && fd != want)
		close(fd);
	return want >= 0 ? want : fd;
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

static void setup(void)
{
	char buf[200] = "";

	open_at("flock", O_RDWR, 10);
	open_at("posix", O_RDWR, 11);
	open_at("ofd", O_RDWR, 12);
	open_at("shared", O_RDONLY, 14);
	if (write(11, buf, sizeof(buf)) != sizeof(buf))
		target_fail("cannot write posix: %s", strerror(errno));
	if (flock(10, LOCK_EX | LOCK_NB) < 0 || flock(14, LOCK_SH | LOCK_NB) < 0)
		target_fail("cannot flock: %s", strerror(errno));
	if (setlk(11, F_SETLK, F_WRLCK, 10, 20) < 0 || setlk(11, F_SETLK, F_RDLCK, 100, 0) < 0)
		target_fail("cannot take POSIX locks: %s", strerror(errno));
	if (setlk(12, F_OFD_SETLK, F_WRLCK, 0, 5) < 0 || dup2(12, 13) != 13)
		target_fail("cannot take an OFD lock: %s", strerror(errno));
	if (lease) {
		open_at("lease", O_RDONLY, 15);
		if (fcntl(15, F_SETLEASE, F_RDLCK) < 0)
			target_fail("cannot take a lease: %s", strerror(errno));
		open_at("wlease", O_RDWR, 16);
		if (fcntl(16, F_SETLEASE, F_WRLCK) < 0)
			target_fail("cannot take a write lease: %s", strerror(errno));
	}
}

/* What another open of DIR/name finds at [start, start+len) for type. */
static struct flock probe(const char *name, int cmd, short type, off_t start, off_t len)
{
	int fd = open_at(name, O_RDWR, -1);
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &fl) < 0)
		target_fail("%s: F_GETLK: %s", name, strerror(errno));
	close(fd);
	return fl;
}

static int can_flock(const char *name, int op)
{
	int fd = open_at(name, O_RDONLY, -1), ok = flock(fd, op | LOCK_NB) == 0;

	if (!ok && errno != EWOULDBLOCK)
		target_fail("%s: flock: %s", name, strerror(errno));
	close(fd);
	return ok;
}

/* In a child: the locks as another process sees them. */
static void child_check(pid_t owner, int held)
{
	struct flock fl;

	CHECK(can_flock("flock", LOCK_SH) == !held, "flock: %s", held ? "not held" : "still held");
	CHECK(can_flock("shared", LOCK_SH), "shared: a shared flock refused");
	CHECK(can_flock("shared", LOCK_EX) == !held, "shared: %s", held ? "not held" : "still held");
	fl = probe("posix", F_GETLK, F_RDLCK, 15, 1);
	CHECK(held ? fl.l_type == F_WRLCK && fl.l_pid == owner && fl.l_start == 10 && fl.l_len == 20 :
		     fl.l_type == F_UNLCK,
	      "posix 15: type %d pid %d start %ld len %ld (owner %d)", fl.l_type, (int)fl.l_pid,
	      (long)fl.l_start, (long)fl.l_len, (int)owner);
	fl = probe("posix", F_GETLK, F_WRLCK, 30, 70);
	CHECK(fl.l_type == F_UNLCK, "posix 30-99: locked (type %d)", fl.l_type);
	fl = probe("posix", F_GETLK, F_RDLCK, 5000, 1);
	CHECK(fl.l_type == F_UNLCK, "posix 5000: a read lock refused");
	fl = probe("posix", F_GETLK, F_WRLCK, 5000, 1);
	CHECK(held ? fl.l_type == F_RDLCK && fl.l_pid == owner && fl.l_start == 100 && fl.l_len == 0 :
		     fl.l_type == F_UNLCK,
	      "posix 5000: type %d pid %d start %ld len %ld", fl.l_type, (int)fl.l_pid,
	      (long)fl.l_start, (long)fl.l_len);
	fl = probe("ofd", F_OFD_GETLK, F_RDLCK, 2, 1);
	CHECK(held ? fl.l_type == F_WRLCK && fl.l_pid == -1 && fl.l_start == 0 && fl.l_len == 5 :
		     fl.l_type == F_UNLCK,
	      "ofd 2: type %d pid %d start %ld len %ld", fl.l_type, (int)fl.l_pid, (long)fl.l_start,
	      (long)fl.l_len);
	fl = probe("ofd", F_OFD_GETLK, F_WRLCK, 5, 10);
	CHECK(fl.l_type == F_UNLCK, "ofd 5-14: locked");
}

static void in_child(int held)
{
	pid_t owner = getpid(), c = fork();
	int st;

	if (c == 0) {
		target_failures = 0;
		child_check(owner, held);
		_exit(target_failures ? 1 : 0);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		target_fail("the child's checks failed (locks %s)", held ? "held" : "released");
}

static void check(void)
{
	in_child(1);
	if (lease) {
		CHECK(fcntl(15, F_GETLEASE) == F_RDLCK, "lease: F_GETLEASE %d", fcntl(15, F_GETLEASE));
		CHECK(fcntl(16, F_GETLEASE) == F_WRLCK, "wlease: F_GETLEASE %d", fcntl(16, F_GETLEASE));
	}
	/* the process can still unlock what it holds */
	CHECK(flock(10, LOCK_UN) == 0 && flock(14, LOCK_UN) == 0, "flock: cannot unlock");
	CHECK(setlk(11, F_SETLK, F_UNLCK, 0, 0) == 0, "posix: cannot unlock");
	CHECK(setlk(13, F_OFD_SETLK, F_UNLCK, 0, 0) == 0, "ofd: cannot unlock through the dup");
	in_child(0);
	if (lease)
		CHECK(fcntl(15, F_SETLEASE, F_UNLCK) == 0 && fcntl(16, F_SETLEASE, F_UNLCK) == 0,
		      "lease: cannot give it up: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fd_locks DIR [lease]\n");
		return 2;
	}
	dir = argv[1];
	lease = argc > 2 && !strcmp(argv[2], "lease");
	setup();
	if (target_failures)
		return target_exit();
	target_wait();
	check();
	return target_exit();
}
