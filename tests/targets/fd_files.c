/*
 * Open files at fixed descriptor numbers, each with state to keep:
 *   10  DIR/data, O_RDWR, read 1000 bytes: the next read continues there
 *   11  DIR/log, O_WRONLY | O_APPEND: still O_APPEND, writes append even
 *       after seeking to 0
 *   12  DIR/data, O_RDONLY | O_CLOEXEC: keeps FD_CLOEXEC (and 10 and 11,
 *       without it, do not get it)
 *   13  DIR itself, O_RDONLY | O_DIRECTORY: the same directory, usable
 *       with openat
 *   14  /dev/null, O_WRONLY
 *   15  DIR/data, O_RDWR | O_SYNC | O_NONBLOCK | O_NOATIME
 *   20  DIR/data again, O_RDONLY, at offset 5000 (a second open file
 *       description of the same file keeps its own offset)
 * Every one keeps all its F_GETFL flags.
 * Usage: fd_files DIR
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "target.h"
#include "mem.h"

#define DATA_LEN	16384

struct want {
	int fd;
	int flags;	/* F_GETFL */
	int cloexec;
	off_t pos;
	struct stat st;
};

static int place(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) != at)
		return -1;
	if (fd != at)
		close(fd);
	return at;
}

int main(int argc, char **argv)
{
	static unsigned char data[DATA_LEN], buf[DATA_LEN];
	static const int fds[] = { 10, 11, 12, 13, 14, 15, 20 };
	struct want w[7];
	char path[4096], log[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: fd_files DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/data", argv[1]);
	snprintf(log, sizeof(log), "%s/log", argv[1]);
	pat_fill(data, DATA_LEN, 3);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, DATA_LEN) != DATA_LEN) {
		target_fail("cannot write %s: %s", path, strerror(errno));
		return target_exit();
	}
	close(fd);
	if (place(open(path, O_RDWR), 10) < 0 ||
	    place(open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644), 11) < 0 ||
	    place(open(path, O_RDONLY), 12) < 0 || fcntl(12, F_SETFD, FD_CLOEXEC) < 0 ||
	    place(open(argv[1], O_RDONLY | O_DIRECTORY), 13) < 0 ||
	    place(open("/dev/null", O_WRONLY), 14) < 0 ||
	    place(open(path, O_RDWR | O_SYNC | O_NONBLOCK | O_NOATIME), 15) < 0 ||
	    place(open(path, O_RDONLY), 20) < 0) {
		target_fail("cannot open the files: %s", strerror(errno));
		return target_exit();
	}
	CHECK(read(10, buf, 1000) == 1000, "read fd 10");
	CHECK(write(11, "line 1\n", 7) == 7, "write fd 11");
	CHECK(lseek(20, 5000, SEEK_SET) == 5000, "lseek fd 20");
	for (int i = 0; i < 7; i++) {
		w[i].fd = fds[i];
		w[i].flags = fcntl(fds[i], F_GETFL);
		w[i].cloexec = fcntl(fds[i], F_GETFD) & FD_CLOEXEC;
		w[i].pos = lseek(fds[i], 0, SEEK_CUR);
		fstat(fds[i], &w[i].st);
	}
	if (target_failures)
		return target_exit();
	target_wait();

	for (int i = 0; i < 7; i++) {
		int fl = fcntl(w[i].fd, F_GETFL), fdfl = fcntl(w[i].fd, F_GETFD);

		if (fl < 0 || fdfl < 0 || fstat(w[i].fd, &sb) < 0) {
			target_fail("fd %d is not open", w[i].fd);
			continue;
		}
		CHECK(sb.st_dev == w[i].st.st_dev && sb.st_ino == w[i].st.st_ino &&
		      sb.st_rdev == w[i].st.st_rdev && (sb.st_mode & S_IFMT) == (w[i].st.st_mode & S_IFMT),
		      "fd %d is another file (dev %#lx ino %lu, was dev %#lx ino %lu)", w[i].fd,
		      (unsigned long)sb.st_dev, (unsigned long)sb.st_ino,
		      (unsigned long)w[i].st.st_dev, (unsigned long)w[i].st.st_ino);
		CHECK(fl == w[i].flags, "fd %d: flags %#o, want %#o", w[i].fd, fl, w[i].flags);
		CHECK((fdfl & FD_CLOEXEC) == w[i].cloexec, "fd %d: FD_CLOEXEC is %s, want %s", w[i].fd,
		      fdfl & FD_CLOEXEC ? "set" : "clear", w[i].cloexec ? "set" : "clear");
		if (w[i].fd != 14 && w[i].fd != 13)
			CHECK(lseek(w[i].fd, 0, SEEK_CUR) == w[i].pos, "fd %d: offset %lld, want %lld",
			      w[i].fd, (long long)lseek(w[i].fd, 0, SEEK_CUR), (long long)w[i].pos);
	}
	/* fd 10 reads on where it stopped, and writes there too. */
	n = read(10, buf, 100);
	CHECK(n == 100 && !memcmp(buf, data + 1000, 100),
	      "fd 10: read after restore got %zd bytes, not the file's bytes 1000..1099", n);
	CHECK(write(10, "RW", 2) == 2 && pread(12, buf, 2, 1100) == 2 && !memcmp(buf, "RW", 2),
	      "fd 10: write after restore did not land at offset 1100");
	/* fd 20 has its own offset. */
	n = read(20, buf, 100);
	CHECK(n == 100 && !memcmp(buf, data + 5000, 100),
	      "fd 20: read after restore is not the file's bytes 5000..5099");
	/* fd 11 appends wherever its offset is. */
	lseek(11, 0, SEEK_SET);
	CHECK(write(11, "line 2\n", 7) == 7, "fd 11: write after restore: %s", strerror(errno));
	fd = open(log, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	CHECK(n == 14 && !memcmp(buf, "line 1\nline 2\n", 14),
	      "log is \"%.*s\", want \"line 1\\nline 2\\n\" (O_APPEND lost?)", (int)(n > 0 ? n : 0),
	      (char *)buf);
	/* fd 13 is the directory. */
	fd = openat(13, "data", O_RDONLY);
	CHECK(fd >= 0, "openat(fd 13, \"data\"): %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	/* fd 14 is /dev/null. */
	CHECK(fstat(14, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(1, 3),
	      "fd 14 is not /dev/null");
	CHECK(write(14, buf, 1000) == 1000, "fd 14: write: %s", strerror(errno));
	return target_exit();
}
