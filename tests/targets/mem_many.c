/*
 * More mappings than a process may have open descriptors.
 * Usage: mem_many ANON FILES SAME DIR [FORK [MADV]]
 *   ANON   anonymous pages, every other one read-only: ANON mappings
 *          (mprotect splits one mapping), each page holding its index
 *   FILES  files DIR/f<i> of one page, each mapped privately, read-only,
 *          and closed: FILES mappings of as many files
 *   SAME   mappings of one file, DIR/same (16 pages), in descending
 *          page order so that no two merge
 * After GO every page must hold what it held, every mapping must still
 * be there with its protection (counted in /proc/self/maps), and the
 * read-write pages must still be writable.
 * FORK 1: a child forked after the setup, holding the same mappings,
 * checks them too (a tree: each process's mapped files reach its own
 * stub); the parent fails if the child does.
 * MADV 1: three anonymous pages in the middle, one mapping each, get
 * MADV_DONTDUMP, MADV_WIPEONFORK and MADV_HUGEPAGE: after restore their
 * VmFlags (smaps) must say so again and the DONTDUMP page must be zeros
 * (the program opted out of checkpointing it): among 60,000 mappings,
 * the flags of one must not be lost.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

#define PAGE	4096ul

static unsigned long nanon, nfiles, nsame;
static unsigned char *anon, *files, *same;

/* MADV 1: advice on three pages, and the VmFlag each must show. */
static const struct { int advice; const char *flag; } madv[] = {
	{ MADV_DONTDUMP, "dd" }, { MADV_WIPEONFORK, "wf" }, { MADV_HUGEPAGE, "hg" },
};
static int advised;

/* Page index of advice k: even (writable) pages around the middle. */
static unsigned long madv_page(int k)
{
	return ((nanon / 2) & ~1ul) + 2ul * (unsigned long)k;
}

/* Whether the VmFlags of the mapping at page i of anon have flag. */
static int has_flag(unsigned long i, const char *flag)
{
	unsigned long a = (unsigned long)anon + i * PAGE, s, e;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') > strchr(line, '-')) {
			in = a >= s && a < e;
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			char want[8];

			snprintf(want, sizeof(want), " %s", flag);
			for (char *p = line + 8; (p = strstr(p, want)); p += 3)
				found |= p[3] == ' ' || p[3] == '\n';
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Lines of /proc/self/maps that start inside [lo, hi), by protection. */
static void count_maps(unsigned long lo, unsigned long hi, unsigned long *ro, unsigned long *rw)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	*ro = *rw = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start;
		char perms[8];

		if (sscanf(line, "%lx-%*x %7s", &start, perms) != 2 || start < lo || start >= hi)
			continue;
		if (perms[1] == 'w')
			(*rw)++;
		else
			(*ro)++;
	}
	if (f)
		fclose(f);
}

static int make_file(const char *path, unsigned long npages, unsigned long tag)
{
	static unsigned long buf[PAGE / sizeof(unsigned long)];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	for (unsigned long p = 0; fd >= 0 && p < npages; p++) {
		buf[0] = tag;
		buf[1] = p;
		if (write(fd, buf, PAGE) != (ssize_t)PAGE) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int setup(const char *dir)
{
	char path[4096];
	int fd;

	/* Between two PROT_NONE pages: no neighbour merges with the first or last. */
	anon = mmap(NULL, (nanon + 2) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || mprotect(anon, PAGE, PROT_NONE) < 0 ||
	    mprotect(anon + (nanon + 1) * PAGE, PAGE, PROT_NONE) < 0)
		return -1;
	anon += PAGE;
	for (unsigned long i = 0; i < nanon; i++) {
		*(unsigned long *)(anon + i * PAGE) = i;
		if (i % 2 && mprotect(anon + i * PAGE, PAGE, PROT_READ) < 0)
			return -1;
	}
	for (int k = 0; advised && k < (int)(sizeof(madv) / sizeof(madv[0])); k++)
		if (madvise(anon + madv_page(k) * PAGE, PAGE, madv[k].advice) < 0 ||
		    !has_flag(madv_page(k), madv[k].flag))
			return -1;
	/* One reservation for the file mappings: they go side by side. */
	files = mmap(NULL, (nfiles + nsame) * PAGE + 1, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (files == MAP_FAILED)
		return -1;
	same = files + nfiles * PAGE;
	for (unsigned long i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/f%lu", dir, i);
		if ((fd = make_file(path, 1, i)) < 0 ||
		    mmap(files + i * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED)
			return -1;
		close(fd);
	}
	if (nsame) {
		snprintf(path, sizeof(path), "%s/same", dir);
		if ((fd = make_file(path, 16, ~0ul)) < 0)
			return -1;
		for (unsigned long i = 0; i < nsame; i++)
			if (mmap(same + i * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
				 (off_t)((15 - i % 16) * PAGE)) == MAP_FAILED)
				return -1;
		close(fd);
	}
	return 0;
}

static void check(void)
{
	unsigned long ro, rw, bad = 0;

	for (unsigned long i = 0; i < nanon; i++)
		bad += *(unsigned long *)(anon + i * PAGE) != (advised && i == madv_page(0) ? 0 : i);
	CHECK(!bad, "%lu of %lu anonymous pages differ", bad, nanon);
	for (int k = 0; advised && k < (int)(sizeof(madv) / sizeof(madv[0])); k++)
		CHECK(has_flag(madv_page(k), madv[k].flag),
		      "the mapping of page %lu of %lu lost its VmFlag %s", madv_page(k), nanon,
		      madv[k].flag);
	count_maps((unsigned long)anon, (unsigned long)anon + nanon * PAGE, &ro, &rw);
	CHECK(ro == nanon / 2 && rw == nanon - nanon / 2,
	      "anonymous pages: %lu read-only and %lu writable mappings, want %lu and %lu", ro, rw,
	      nanon / 2, nanon - nanon / 2);
	for (unsigned long i = 0; i < nanon; i += 2)
		*(unsigned long *)(anon + i * PAGE) += 1;
	bad = 0;
	for (unsigned long i = 0; i < nfiles; i++) {
		unsigned long *p = (unsigned long *)(files + i * PAGE);

		bad += p[0] != i || p[1] != 0;
	}
	CHECK(!bad, "%lu of %lu mapped files differ", bad, nfiles);
	bad = 0;
	for (unsigned long i = 0; i < nsame; i++) {
		unsigned long *p = (unsigned long *)(same + i * PAGE);

		bad += p[0] != ~0ul || p[1] != 15 - i % 16;
	}
	CHECK(!bad, "%lu of %lu mappings of one file differ", bad, nsame);
	count_maps((unsigned long)files, (unsigned long)files + (nfiles + nsame) * PAGE, &ro, &rw);
	CHECK(ro == nfiles + nsame && !rw, "file mappings: %lu read-only and %lu writable, want %lu",
	      ro, rw, nfiles + nsame);
}

int main(int argc, char **argv)
{
	pid_t child = -1;

	if (argc < 5) {
		fprintf(stderr, "usage: mem_many ANON FILES SAME DIR [FORK [MADV]]\n");
		return 2;
	}
	nanon = strtoul(argv[1], NULL, 10);
	nfiles = strtoul(argv[2], NULL, 10);
	nsame = strtoul(argv[3], NULL, 10);
	advised = argc > 6 && atoi(argv[6]) && nanon >= 16;
	if (setup(argv[4]) < 0) {
		target_fail("cannot make the mappings: %s", strerror(errno));
		return target_exit();
	}
	if (argc > 5 && atoi(argv[5]) && (child = fork()) == 0) {
		while (!target_go())
			target_sleep_ms(5);
		check();
		_exit(target_failures ? 1 : 0);
	}
	target_wait();
	check();
	if (child > 0) {
		int st = 0;

		CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "the child's mappings differ (status %#x)", st);
	}
	printf("mem_many: ok\n");
	return target_exit();
}
