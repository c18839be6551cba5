/*
 * A file the process is writing: FILE gets 3000 bytes through fd 10
 * (O_WRONLY).  The bats tests change or delete FILE between dump and
 * restore.  After GO the target checks that fd 10 is FILE at offset
 * 3000, prints "size N" (FILE's size as fd 10 sees it) and appends
 * "after\n" at its offset, so the test can tell what the process saw.
 * Usage: fd_changed FILE
 */
#include <sys/stat.h>

#include "target.h"

#define LEN	3000

int main(int argc, char **argv)
{
	char buf[LEN];
	struct stat before, sb;

	if (argc < 2) {
		fprintf(stderr, "usage: fd_changed FILE\n");
		return 2;
	}
	for (int i = 0; i < LEN; i++)
		buf[i] = i % 60 == 59 ? '\n' : (char)('a' + i % 26);
	if (dup2(open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644), 10) != 10 ||
	    write(10, buf, LEN) != LEN || fstat(10, &before) < 0) {
		target_fail("cannot write %s: %s", argv[1], strerror(errno));
		return target_exit();
	}
	target_wait();

	if (fstat(10, &sb) < 0) {
		target_fail("fd 10 is not open");
		return target_exit();
	}
	CHECK(sb.st_dev == before.st_dev && sb.st_ino == before.st_ino, "fd 10 is another file");
	CHECK(lseek(10, 0, SEEK_CUR) == LEN, "fd 10: offset %lld, want %d",
	      (long long)lseek(10, 0, SEEK_CUR), LEN);
	CHECK((fcntl(10, F_GETFL) & O_ACCMODE) == O_WRONLY, "fd 10 is not O_WRONLY");
	printf("size %lld\n", (long long)sb.st_size);
	CHECK(write(10, "after\n", 6) == 6, "fd 10: write: %s", strerror(errno));
	return target_exit();
}
