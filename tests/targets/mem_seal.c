/*
 * mseal(2) (Linux >= 6.10): a written read-write mapping and a read-only
 * one, sealed.  After restore both are still sealed (VmFlags "sl";
 * munmap, mprotect and mremap fail with EPERM) and keep their data.
 * --probe: exit 0 when this kernel has mseal, 1 otherwise.
 */
#include <sys/syscall.h>

#include "target.h"
#include "mem.h"

#ifndef SYS_mseal
#define SYS_mseal	462	/* every architecture's */
#endif

static void check_sealed(const char *what, char *m, size_t len)
{
	char flags[512];
	void *r;

	vmflags(m, flags, sizeof(flags));
	CHECK(strstr(flags, "sl") != NULL, "%s: VmFlags \"%s\" without sl", what, flags);
	CHECK(munmap(m, len) < 0 && errno == EPERM, "%s: munmap not refused (%s)", what, strerror(errno));
	CHECK(mprotect(m, len, PROT_READ | PROT_EXEC) < 0 && errno == EPERM,
	      "%s: mprotect not refused (%s)", what, strerror(errno));
	r = mremap(m, len, 2 * len, MREMAP_MAYMOVE);
	CHECK(r == MAP_FAILED && errno == EPERM, "%s: mremap not refused (%s)", what, strerror(errno));
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 4 * (size_t)page;
	char *rw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (rw == MAP_FAILED || ro == MAP_FAILED)
		return 2;
	pat_fill(rw, len, 1);
	pat_fill(ro, len, 2);
	if (mprotect(ro, len, PROT_READ) < 0)
		return 2;
	if (syscall(SYS_mseal, rw, len, 0) < 0 || syscall(SYS_mseal, ro, len, 0) < 0) {
		if (argc > 1 && !strcmp(argv[1], "--probe"))
			return 1;
		target_fail("mseal: %s", strerror(errno));
		return target_exit();
	}
	if (argc > 1 && !strcmp(argv[1], "--probe"))
		return 0;
	target_wait();
	CHECK(pat_check(rw, len, 1) < 0 && pat_check(ro, len, 2) < 0, "sealed data differs");
	check_sealed("read-write", rw, len);
	check_sealed("read-only", ro, len);
	printf("mem_seal: ok\n");
	return target_exit();
}
