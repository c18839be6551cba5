/*
 * A file opened read-write and mapped MAP_SHARED read-only: the process
 * may make the mapping writable later (mprotect), since the file was
 * opened for writing (VM_MAYWRITE).  After restore: mprotect(PROT_WRITE)
 * succeeds, a store lands in the file, and the data mapped before is
 * there.  Usage: mem_maywrite DIR
 */
#include <sys/mman.h>

#include "target.h"

#define LEN	8192

int main(int argc, char **argv)
{
	char path[4096], buf[16];
	char *m;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: mem_maywrite DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/shared", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, LEN) < 0 || pwrite(fd, "before", 6, 0) != 6 ||
	    (m = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		target_fail("cannot set up %s: %s", path, strerror(errno));
		return target_exit();
	}
	close(fd);
	target_wait();

	CHECK(!memcmp(m, "before", 6), "the mapping does not show the file");
	if (mprotect(m, LEN, PROT_READ | PROT_WRITE) < 0) {
		target_fail("mprotect(PROT_WRITE): %s", strerror(errno));
		return target_exit();
	}
	memcpy(m + 4096, "after", 5);
	msync(m, LEN, MS_SYNC);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, 5, 4096) == 5 && !memcmp(buf, "after", 5),
	      "a store in the mapping is not in the file");
	printf("mem_maywrite: ok\n");
	return target_exit();
}
