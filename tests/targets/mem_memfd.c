/*
 * A memfd mapped MAP_SHARED (fd 10, 1 MiB, a pattern, sealed against
 * shrinking): after restore the fd and the mapping must still be the same
 * memory (writes through either show in the other), the fd still a memfd
 * ("/memfd:ckpt-test" in /proc/self/fd, its seals), and no file on disk.
 */
#include <sys/mman.h>

#include "target.h"
#include "mem.h"

#define LEN	(1ul << 20)

int main(void)
{
	static unsigned char buf[4096];
	unsigned char *m;
	char link[256];
	ssize_t n;
	int fd, seals;

	fd = memfd_create("ckpt-test", MFD_ALLOW_SEALING);
	if (fd < 0 || dup2(fd, 10) != 10 || ftruncate(10, LEN) < 0) {
		target_fail("memfd: %s", strerror(errno));
		return target_exit();
	}
	close(fd);
	m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 10, 0);
	if (m == MAP_FAILED || fcntl(10, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		target_fail("mmap/seal memfd: %s", strerror(errno));
		return target_exit();
	}
	pat_fill(m, LEN, 21);
	target_wait();

	CHECK(pat_check(m, LEN, 21) < 0, "mapping: pattern differs");
	n = pread(10, buf, sizeof(buf), 8192);
	CHECK(n == sizeof(buf) && !memcmp(buf, m + 8192, sizeof(buf)),
	      "fd 10 does not read what the mapping holds");
	memset(m + 4096, 0x77, 100);
	CHECK(pread(10, buf, 100, 4096) == 100 && buf[0] == 0x77 && buf[99] == 0x77,
	      "a write through the mapping does not show through fd 10");
	CHECK(pwrite(10, "memfd", 5, 100000) == 5 && !memcmp(m + 100000, "memfd", 5),
	      "a write through fd 10 does not show in the mapping");
	n = readlink("/proc/self/fd/10", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK(!strncmp(link, "/memfd:ckpt-test", 16), "fd 10 is \"%s\", not the memfd", link);
	seals = fcntl(10, F_GET_SEALS);
	CHECK(seals >= 0 && (seals & F_SEAL_SHRINK), "fd 10: seals %#x (%s), want F_SEAL_SHRINK",
	      seals, seals < 0 ? strerror(errno) : "ok");
	return target_exit();
}
