/*
 * A file opened with O_TMPFILE in DIR (it never had a name): 20000 bytes
 * written, fd 10 at offset 1234.  After restore fd 10 reads the same
 * contents from where it was, is still read-write and unlinked, and DIR
 * holds nothing: restore must not leave the file it recreated behind.
 * Usage: fd_tmpfile DIR
 */
#include <dirent.h>
#include <sys/stat.h>

#include "target.h"
#include "mem.h"

#define LEN	20000

int main(int argc, char **argv)
{
	static unsigned char data[LEN], buf[LEN];
	struct stat sb;
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: fd_tmpfile DIR\n");
		return 2;
	}
	pat_fill(data, LEN, 11);
	fd = open(argv[1], O_TMPFILE | O_RDWR, 0600);
	if (fd < 0 || write(fd, data, LEN) != LEN || dup2(fd, 10) != 10 ||
	    lseek(10, 1234, SEEK_SET) != 1234) {
		target_fail("cannot set up an O_TMPFILE file in %s: %s", argv[1], strerror(errno));
		return target_exit();
	}
	close(fd);
	target_wait();

	if (fstat(10, &sb) < 0) {
		target_fail("fd 10 is not open");
		return target_exit();
	}
	CHECK(S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == 0600,
	      "fd 10: mode %o, want a regular file with 0600", sb.st_mode);
	CHECK(sb.st_nlink == 0, "fd 10: the file has %lu links, want 0", (unsigned long)sb.st_nlink);
	CHECK(sb.st_size == LEN, "fd 10: size %lld, want %d", (long long)sb.st_size, LEN);
	CHECK(lseek(10, 0, SEEK_CUR) == 1234, "fd 10: offset %lld, want 1234",
	      (long long)lseek(10, 0, SEEK_CUR));
	n = pread(10, buf, LEN, 0);
	CHECK(n == LEN && !memcmp(buf, data, LEN), "fd 10: contents differ (%zd bytes read)", n);
	CHECK((fcntl(10, F_GETFL) & O_ACCMODE) == O_RDWR, "fd 10 is not O_RDWR");
	CHECK(pwrite(10, "ok", 2, LEN) == 2, "fd 10: write: %s", strerror(errno));
	d = opendir(argv[1]);
	while (d && (de = readdir(d)))
		CHECK(de->d_name[0] == '.', "%s/%s was left behind", argv[1], de->d_name);
	if (d)
		closedir(d);
	return target_exit();
}
