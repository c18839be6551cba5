/*
 * A file deleted while open: DIR/ghost is written (20000 bytes, mode
 * MODE, 0640 by default), opened O_RDWR at fd 10, read to offset 1234, and unlinked.
 * After restore fd 10 still reads the whole contents and continues at
 * 1234, /proc/self/fd/10 names the old path with " (deleted)", the file
 * has no links and its mode, and nothing is left in DIR: restore must not
 * leave the file it recreated behind.  With "replaced", the test has put
 * a new file at the old path meanwhile: it must be left alone, and the
 * link need only start with the old path (restore had to use another
 * name to recreate the file).
 * Usage: fd_deleted DIR [MODE [replaced]]
 */
#include <dirent.h>
#include <sys/stat.h>

#include "target.h"
#include "mem.h"

#define LEN	20000

int main(int argc, char **argv)
{
	static unsigned char data[LEN], buf[LEN];
	char path[4096], want_link[4200], link[4200];
	struct stat sb;
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int fd, replaced = argc > 3 && !strcmp(argv[3], "replaced");
	mode_t mode = argc > 2 ? (mode_t)strtoul(argv[2], NULL, 8) : 0640;
	size_t plen;

	if (argc < 2) {
		fprintf(stderr, "usage: fd_deleted DIR [MODE [replaced]]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/ghost", argv[1]);
	snprintf(want_link, sizeof(want_link), "%s (deleted)", path);
	pat_fill(data, LEN, 9);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, LEN) != LEN || fchmod(fd, mode) < 0 || dup2(fd, 10) != 10 ||
	    lseek(10, 1234, SEEK_SET) != 1234 || unlink(path) < 0) {
		target_fail("cannot set up %s: %s", path, strerror(errno));
		return target_exit();
	}
	close(fd);
	target_wait();

	n = readlink("/proc/self/fd/10", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	plen = strlen(path);
	if (replaced)
		CHECK(!strncmp(link, path, plen) && strlen(link) >= plen + 10 &&
		      !strcmp(link + strlen(link) - 10, " (deleted)"),
		      "/proc/self/fd/10 is \"%s\", want \"%s... (deleted)\"", link, path);
	else
		CHECK(!strcmp(link, want_link), "/proc/self/fd/10 is \"%s\", want \"%s\"", link,
		      want_link);
	if (fstat(10, &sb) < 0) {
		target_fail("fd 10 is not open");
		return target_exit();
	}
	CHECK(S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == mode,
	      "fd 10: mode %o, want a regular file with %o", sb.st_mode, mode);
	CHECK(sb.st_nlink == 0, "fd 10: the file has %lu links, want 0", (unsigned long)sb.st_nlink);
	CHECK(sb.st_size == LEN, "fd 10: size %lld, want %d", (long long)sb.st_size, LEN);
	CHECK(lseek(10, 0, SEEK_CUR) == 1234, "fd 10: offset %lld, want 1234",
	      (long long)lseek(10, 0, SEEK_CUR));
	n = read(10, buf, 100);
	CHECK(n == 100 && !memcmp(buf, data + 1234, 100), "fd 10: read at 1234 is wrong (%zd)", n);
	n = pread(10, buf, LEN, 0);
	CHECK(n == LEN && !memcmp(buf, data, LEN), "fd 10: contents differ (%zd bytes read)", n);
	CHECK(fcntl(10, F_GETFL) >= 0 && (fcntl(10, F_GETFL) & O_ACCMODE) == O_RDWR,
	      "fd 10 is not O_RDWR");
	CHECK(pwrite(10, "ok", 2, LEN) == 2, "fd 10: write: %s", strerror(errno));
	if (replaced) {
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		CHECK(n == 4 && !memcmp(buf, "new\n", 4), "the new %s was changed", path);
	} else {
		CHECK(access(path, F_OK) < 0, "%s exists again", path);
	}
	d = opendir(argv[1]);
	while (d && (de = readdir(d)))
		CHECK(!strstr(de->d_name, "ghost") || (replaced && !strcmp(de->d_name, "ghost")),
		      "%s/%s was left behind", argv[1], de->d_name);
	if (d)
		closedir(d);
	return target_exit();
}
