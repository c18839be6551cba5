/*
 * O_PATH descriptors, in DIR (a directory of the test's):
 *   10  DIR/file, O_PATH
 *   11  DIR/link (a symbolic link to "file"), O_PATH | O_NOFOLLOW
 *   12  DIR itself, O_PATH | O_DIRECTORY, close-on-exec
 *   13  DIR/fifo (a FIFO), O_PATH
 *   15  DIR/sock (a unix socket's file; the socket closed), O_PATH
 * After GO: each is O_PATH on the same inode; 11 is the link itself
 * (readlinkat gives "file"), 12 works as a directory for openat, 10 opens
 * the file's contents through /proc/self/fd/10, 13 is still a FIFO, 15 a
 * socket file.
 * With "deleted": also 14, O_PATH of DIR/gone, removed (dump refuses it).
 * Output: "fd_opath: ok".  Usage: fd_opath DIR [deleted]
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "target.h"

static char dir[3000];

static const char *in(const char *name)
{
	return target_path(dir, name);
}

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	static const int fds[] = { 10, 11, 12, 13, 15 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat want[5], st;
	char buf[64] = "";
	int fd, sk;

	if (argc < 2) {
		target_fail("usage: fd_opath DIR [deleted]");
		return target_exit();
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	fd = open(in("file"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "contents", 8) != 8 || close(fd) < 0 || symlink("file", in("link")) ||
	    mkfifo(in("fifo"), 0600) || at(open(in("file"), O_PATH), 10) < 0 ||
	    at(open(in("link"), O_PATH | O_NOFOLLOW), 11) < 0 ||
	    at(open(dir, O_PATH | O_DIRECTORY), 12) < 0 || fcntl(12, F_SETFD, FD_CLOEXEC) < 0 ||
	    at(open(in("fifo"), O_PATH), 13) < 0) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", in("sock"));
	if ((sk = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || bind(sk, (void *)&sun, sizeof(sun)) < 0 ||
	    close(sk) < 0 || at(open(in("sock"), O_PATH), 15) < 0) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	if (argc > 2 && !strcmp(argv[2], "deleted") &&
	    ((fd = open(in("gone"), O_WRONLY | O_CREAT, 0644)) < 0 || close(fd) < 0 ||
	     at(open(in("gone"), O_PATH), 14) < 0 || unlink(in("gone")))) {
		target_fail("cannot set up fd 14: %s", strerror(errno));
		return target_exit();
	}
	for (int i = 0; i < 5; i++)
		fstat(fds[i], &want[i]);
	target_wait();

	for (int i = 0; i < 5; i++) {
		CHECK(fcntl(fds[i], F_GETFL) & O_PATH, "fd %d is not O_PATH", fds[i]);
		CHECK(fstat(fds[i], &st) == 0 && st.st_ino == want[i].st_ino &&
		      st.st_dev == want[i].st_dev && st.st_mode == want[i].st_mode,
		      "fd %d: not the same inode (mode %o, want %o)", fds[i], st.st_mode,
		      want[i].st_mode);
	}
	CHECK(S_ISLNK(want[1].st_mode), "fd 11 was not the link itself");
	CHECK(readlinkat(11, "", buf, sizeof(buf) - 1) == 4 && !strcmp(buf, "file"),
	      "fd 11: readlinkat gives \"%s\", want \"file\"", buf);
	CHECK(fcntl(12, F_GETFD) == FD_CLOEXEC && fcntl(10, F_GETFD) == 0,
	      "close-on-exec: fd 12 %d, fd 10 %d", fcntl(12, F_GETFD), fcntl(10, F_GETFD));
	fd = openat(12, "file", O_RDONLY);
	CHECK(fd >= 0, "openat(fd 12, \"file\"): %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	memset(buf, 0, sizeof(buf));
	fd = open("/proc/self/fd/10", O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 8 && !strcmp(buf, "contents"),
	      "fd 10 reopened reads \"%s\", want \"contents\"", buf);
	if (fd >= 0)
		close(fd);
	CHECK(S_ISFIFO(want[3].st_mode), "fd 13 was not a FIFO");
	CHECK(S_ISSOCK(want[4].st_mode), "fd 15 was not a socket file");
	if (!target_failures)
		printf("fd_opath: ok\n");
	return target_exit();
}
