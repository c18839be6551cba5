/*
 * A directory read partway: DIR/d holds 64 files; fd 10 has returned
 * some of them through getdents64.  After restore the rest must come,
 * each once: together exactly the 64 names, no repeats, none missing.
 * Usage: fd_dirpos DIR
 */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "target.h"

#define NFILES	64

static int seen[NFILES];

/* Read up to len bytes of entries; count each "fNN" name; -1 on error. */
static int read_some(int fd, size_t len)
{
	char buf[4096] __attribute__((aligned(8)));
	long n = syscall(SYS_getdents64, fd, buf, len);

	for (long off = 0; off < n;) {
		struct dirent64 *de = (struct dirent64 *)(buf + off);

		if (de->d_name[0] == 'f')
			seen[atoi(de->d_name + 1) % NFILES]++;
		off += de->d_reclen;
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	char path[4096], f[4200];
	int n, before = 0, total = 0, twice = 0, missing = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: fd_dirpos DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/d", argv[1]);
	mkdir(path, 0755);
	for (int i = 0; i < NFILES; i++) {
		snprintf(f, sizeof(f), "%s/f%02d", path, i);
		close(open(f, O_WRONLY | O_CREAT, 0644));
	}
	if (dup2(open(path, O_RDONLY | O_DIRECTORY), 10) != 10) {
		target_fail("open %s: %s", path, strerror(errno));
		return target_exit();
	}
	/* A few small reads: about a third of the entries. */
	for (int i = 0; i < 4; i++)
		read_some(10, 200);
	for (int i = 0; i < NFILES; i++)
		before += seen[i];
	if (before == 0 || before >= NFILES) {
		target_fail("read %d entries before the dump, want some but not all", before);
		return target_exit();
	}
	target_wait();

	while ((n = read_some(10, 4096)) > 0)
		;
	CHECK(n == 0, "getdents64 after restore: %s", strerror(errno));
	for (int i = 0; i < NFILES; i++) {
		total += seen[i];
		twice += seen[i] > 1;
		missing += !seen[i];
	}
	CHECK(!twice && !missing,
	      "%d of %d names came twice, %d never (%d had been read before the dump)", twice,
	      NFILES, missing, before);
	printf("%d entries before the dump, %d in all\n", before, total);
	return target_exit();
}
