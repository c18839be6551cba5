/*
 * A descriptor at a high number: FILE opened O_RDWR at fd N (its
 * RLIMIT_NOFILE raised for it), 100 bytes written.  After GO, fd N must
 * be FILE at offset 100, still writable.
 * Usage: fd_high N FILE
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include "target.h"

int main(int argc, char **argv)
{
	static const char buf[100];
	struct stat before, sb;
	struct rlimit rl;
	int n, fd;

	if (argc < 3) {
		fprintf(stderr, "usage: fd_high N FILE\n");
		return 2;
	}
	n = atoi(argv[1]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= (rlim_t)n) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)n + 1;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dup2(fd, n) != n || write(n, buf, sizeof(buf)) != sizeof(buf) ||
	    fstat(n, &before) < 0) {
		target_fail("cannot open %s at fd %d: %s", argv[2], n, strerror(errno));
		return target_exit();
	}
	close(fd);
	target_wait();

	if (fstat(n, &sb) < 0) {
		target_fail("fd %d is not open", n);
		return target_exit();
	}
	CHECK(sb.st_dev == before.st_dev && sb.st_ino == before.st_ino, "fd %d is another file", n);
	CHECK(lseek(n, 0, SEEK_CUR) == sizeof(buf), "fd %d: offset %lld, want %zu", n,
	      (long long)lseek(n, 0, SEEK_CUR), sizeof(buf));
	CHECK(write(n, "after\n", 6) == 6, "fd %d: write: %s", n, strerror(errno));
	return target_exit();
}
