/*
 * Device nodes reopened by path, checked against their device number,
 * at fixed descriptor numbers:
 *   10  /dev/console, write-only (nothing is written to it)
 *   11  /dev/ttyS0, read-only, O_NONBLOCK
 *   12  DIR/null-node, a node of /dev/null (1:3) made here and deleted
 *       while open: made again at restore, deleted again
 *   13  DIR/tty1-node, a node of /dev/tty1 (4:1) likewise
 * After GO: each fd is the same device with its flags, the deleted
 * nodes are still deleted (st_nlink 0, no name left in DIR), /dev/null
 * still takes writes, and the terminals are terminals.
 * Usage: fd_devnode DIR
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "target.h"

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

static int node(const char *dir, const char *name, dev_t dev, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mknod(path, S_IFCHR | 0600, dev) < 0)
		return -1;
	fd = open(path, flags | O_NOCTTY);
	unlink(path);
	return fd;
}

static void same(int fd, dev_t dev, int flags, int deleted)
{
	struct stat st;

	CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dev,
	      "fd %d: not device %u:%u", fd, major(dev), minor(dev));
	CHECK((fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == flags, "fd %d: flags %#o, want %#o",
	      fd, fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), flags);
	CHECK(!deleted || st.st_nlink == 0, "fd %d: its node is not deleted", fd);
}

int main(int argc, char **argv)
{
	char path[4096];

	if (argc < 2 || at(open("/dev/console", O_WRONLY | O_NOCTTY), 10) < 0 ||
	    at(open("/dev/ttyS0", O_RDONLY | O_NOCTTY | O_NONBLOCK), 11) < 0 ||
	    at(node(argv[1], "null-node", makedev(1, 3), O_RDWR), 12) < 0 ||
	    at(node(argv[1], "tty1-node", makedev(4, 1), O_RDONLY), 13) < 0) {
		fprintf(stderr, "fd_devnode: cannot set up: %s\n", strerror(errno));
		return 2;
	}
	target_wait();
	same(10, makedev(5, 1), O_WRONLY, 0);
	same(11, makedev(4, 64), O_RDONLY | O_NONBLOCK, 0);
	same(12, makedev(1, 3), O_RDWR, 1);
	same(13, makedev(4, 1), O_RDONLY, 1);
	CHECK(write(12, "x", 1) == 1, "fd 12: /dev/null takes no write");
	/* a serial port without its hardware answers EIO (TCGETS) */
	for (int fd = 10; fd <= 13; fd++)
		CHECK(fd == 12 || isatty(fd) || errno == EIO, "fd %d: not a terminal: %s", fd,
		      strerror(errno));
	snprintf(path, sizeof(path), "%s/null-node", argv[1]);
	CHECK(access(path, F_OK) < 0, "%s is there again", path);
	snprintf(path, sizeof(path), "%s/tty1-node", argv[1]);
	CHECK(access(path, F_OK) < 0, "%s is there again", path);
	return target_exit();
}
