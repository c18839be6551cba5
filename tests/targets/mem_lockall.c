/*
 * mlockall(MCL_CURRENT | MCL_FUTURE), with "onfault" also MCL_ONFAULT.
 * Dump cannot see MCL_FUTURE without changing the process (it warns); what
 * is checked after restore is what it had: a mapping made before the dump
 * is locked ("lf" only with MCL_ONFAULT) and resident where it was touched,
 * and a second thread's stack guard (PROT_NONE, locked too) comes back
 * locked as it was (no "lf" without MCL_ONFAULT).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "target.h"
#include "mem.h"

#define PAGES	4

static atomic_int ready, go;
static int names_lf;	/* smaps says "lf" for mlock2(MLOCK_ONFAULT) */

static void *worker(void *arg)
{
	(void)arg;
	atomic_store(&ready, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	return NULL;
}

static int has_flag(const char *flags, const char *f)
{
	size_t n = strlen(f);

	for (const char *p = flags; (p = strstr(p, f)); p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
			return 1;
	return 0;
}

/* Every PROT_NONE mapping: locked, and ONFAULT only if asked. */
static void check_none_locked(int onfault)
{
	char line[512], flags[256];
	unsigned long s, e;
	char perms[5];
	FILE *f = fopen("/proc/self/maps", "r");
	int seen = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) != 3 || strcmp(perms, "---p"))
			continue;
		vmflags((void *)s, flags, sizeof(flags));
		seen++;
		CHECK(has_flag(flags, "lo") && (!names_lf || has_flag(flags, "lf") == onfault),
		      "PROT_NONE mapping %lx-%lx: VmFlags %s", s, e, flags);
	}
	if (f)
		fclose(f);
	CHECK(seen, "no PROT_NONE mapping (a thread stack's guard) to check");
}

int main(int argc, char **argv)
{
	int onfault = argc > 1 && !strcmp(argv[1], "onfault");
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[PAGES];
	char flags[256];
	pthread_t t;
	char *m;

	if (mlockall(MCL_CURRENT | MCL_FUTURE | (onfault ? MCL_ONFAULT : 0)) < 0) {
		target_fail("mlockall: %s", strerror(errno));
		return target_exit();
	}
	/* Made under MCL_FUTURE, so locked; its first page touched. */
	m = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		target_fail("mmap: %s", strerror(errno));
		return target_exit();
	}
	m[0] = 1;
	/* Before the dump: only a kernel whose smaps names "lf" tells ckpt
	 * of MCL_ONFAULT (the arm64 guest's shows "??"); without it the
	 * restored mapping is locked and filled, which is all it can be. */
	vmflags(m, flags, sizeof(flags));
	names_lf = has_flag(flags, "lf");
	if (pthread_create(&t, NULL, worker, NULL)) {
		target_fail("pthread_create");
		return target_exit();
	}
	while (!atomic_load(&ready))
		target_sleep_ms(1);
	target_wait();
	vmflags(m, flags, sizeof(flags));
	CHECK(has_flag(flags, "lo"), "a locked mapping is not locked after restore: VmFlags %s", flags);
	CHECK(has_flag(flags, "lf") == names_lf, "a locked mapping: VmFlags %s (MCL_ONFAULT %d)",
	      flags, onfault);
	CHECK(m[0] == 1, "the locked mapping's data was not restored");
	if ((names_lf || !onfault) && mincore(m, PAGES * page, vec) == 0)
		for (int i = 0; i < PAGES; i++)
			CHECK((vec[i] & 1) == (!onfault || i == 0),
			      "page %d of a locked mapping resident: %d (MCL_ONFAULT %d)",
			      i, vec[i] & 1, onfault);
	check_none_locked(onfault);
	atomic_store(&go, 1);
	pthread_join(t, NULL);
	printf("mem_lockall: ok\n");
	return target_exit();
}
