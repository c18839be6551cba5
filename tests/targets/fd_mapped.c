/*
 * Files the process maps but holds no descriptor of, checked after
 * restore by how they behave (all under DIR):
 *   memfd    a memfd "ckpt-mapped" of 3 pages ('a', 'b', 'c'), mode 0640,
 *            sealed against shrinking and growing and against more seals,
 *            mapped MAP_SHARED twice: A (all of it, read-write) and B
 *            (pages 1-2, read-only from a read-write fd), then closed.
 *            After: both mappings are of one inode named
 *            "/memfd:ckpt-mapped (deleted)" in /proc/self/maps, with the
 *            bytes they had; B can be made writable (mprotect) and a
 *            store through one is seen through the other
 *   deleted  a file DIR/gone of 4 pages ('h', 'i', a hole, 'k'), mode
 *            0604, mtime 2001-09-09, mapped MAP_SHARED (S: pages 0-1) and
 *            MAP_PRIVATE (P: all, page 0 written "own"), then removed and
 *            closed.  After: both mappings are of one inode named
 *            "DIR/gone (deleted)", P keeps its own page 0 and sees the
 *            file (and a store through S) elsewhere; nothing restore made
 *            is left in DIR
 *   both     the two at once
 *   future   a memfd "ckpt-future" of a page of 'f' mapped MAP_SHARED
 *            read-write (F), then sealed F_SEAL_FUTURE_WRITE | F_SEAL_SEAL
 *            (which keep mappings made before them) and closed.  After:
 *            F can still be written; the seals hold: no write(2), no new
 *            writable shared mapping, a read-only one allowed
 *   futurefd the same, the memfd kept open at fd 10
 *   fork     memfd, then a child forked (it maps the memfd too, no fd):
 *            after GO the child stores 'C' at A[2 * 4096 + 1] and ends; the
 *            parent, once it has, must see it (one memfd in both), then
 *            checks as memfd
 *   forkfd   the same, but the child keeps the memfd open at fd 10 (the
 *            parent only maps it): the child writes 'D' at offset 5
 *            through its fd, which the parent must see in A
 * With a third argument "anon": dumped without the right to read them
 * (not root), the mappings are anonymous memory with the same bytes, the
 * two memfd mappings still one memory; only that is checked.
 * As root (who may open /proc/self/map_files: CAP_CHECKPOINT_RESTORE) it
 * also opens each file again through its mapping: the memfd's seals,
 * mode and size (ftruncate refused by the seals, a write through the new
 * fd seen in both mappings); the deleted file's mode, size, mtime, hole
 * and link count 0.
 * Usage: fd_mapped DIR CASE [anon]
 */
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "target.h"

#define PG	4096
#define T_MTIME	1000000000l	/* 2001-09-09 */
#define SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static char dir[4096], path[4200];
static char *ma, *mb, *ms, *mp, *mf;
static int anon;	/* expected as anonymous memory, not the files */

static int fail_setup(const char *what)
{
	target_fail("cannot set up %s: %s", what, strerror(errno));
	return -1;
}

static int setup_memfd(int keep)
{
	int fd = memfd_create("ckpt-mapped", MFD_ALLOW_SEALING);
	char page[PG];

	for (int i = 0; i < 3; i++) {
		memset(page, 'a' + i, PG);
		if (fd < 0 || write(fd, page, PG) != PG)
			return fail_setup("memfd");
	}
	if (fchmod(fd, 0640) < 0 || fcntl(fd, F_ADD_SEALS, SEALS) < 0 ||
	    (ma = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    (mb = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, PG)) == MAP_FAILED ||
	    (keep ? dup2(fd, 10) != 10 : 0) || close(fd) < 0)
		return fail_setup("memfd");
	return 0;
}

static int setup_future(int keep)
{
	int fd = memfd_create("ckpt-future", MFD_ALLOW_SEALING);
	char page[PG];

	memset(page, 'f', PG);
	if (fd < 0 || write(fd, page, PG) != PG ||
	    (mf = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0 ||
	    (keep ? dup2(fd, 10) != 10 : 0) || close(fd) < 0)
		return fail_setup("future");
	return 0;
}

static int setup_deleted(void)
{
	struct timespec t[2] = { { T_MTIME, 0 }, { T_MTIME, 0 } };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char page[PG];

	for (int i = 0; i < 4; i++) {
		memset(page, 'h' + i, PG);
		if (fd < 0 || (i != 2 && pwrite(fd, page, PG, (off_t)i * PG) != PG))
			return fail_setup("deleted");
	}
	if ((ms = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    (mp = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		return fail_setup("deleted");
	memcpy(mp, "own", 3);
	if (fchmod(fd, 0604) < 0 || fsync(fd) < 0 || futimens(fd, t) < 0 || unlink(path) < 0 ||
	    close(fd) < 0)
		return fail_setup("deleted");
	return 0;
}

/* The /proc/self/maps line of address a: its inode and path into *ino
 * and name; 0, or -1 when there is none. */
static int maps_of(const void *a, unsigned long *ino, char *name, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[8192];
	int ret = -1;

	while (f && ret < 0 && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		int n = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu %n", &lo, &hi, ino, &n) < 3 ||
		    (unsigned long)a < lo || (unsigned long)a >= hi)
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(name, len, "%s", line + n);
		ret = 0;
	}
	if (f)
		fclose(f);
	return ret;
}

/* x and y are mappings of one inode named want. */
static void same_file(const char *what, const void *x, const void *y, const char *want)
{
	unsigned long ix = 0, iy = 0;
	char nx[4200] = "", ny[4200] = "";

	CHECK(maps_of(x, &ix, nx, sizeof(nx)) == 0 && maps_of(y, &iy, ny, sizeof(ny)) == 0,
	      "%s: mappings missing from /proc/self/maps", what);
	CHECK(!strcmp(nx, want) && !strcmp(ny, want), "%s: mappings of \"%s\" and \"%s\", want \"%s\"",
	      what, nx, ny, want);
	CHECK(ix && ix == iy, "%s: the mappings are of inodes %lu and %lu, want one", what, ix, iy);
}

/* The file behind mapping a, opened again through /proc/self/map_files
 * (root only: proc(5)), or -1. */
static int open_mapped(const void *a, size_t len)
{
	char p[96];

	snprintf(p, sizeof(p), "/proc/self/map_files/%lx-%lx", (unsigned long)a,
		 (unsigned long)a + len);
	return open(p, O_RDWR);
}

static void check_memfd(void)
{
	struct stat st;
	int fd;

	if (!anon)
		same_file("memfd", ma, mb, "/memfd:ckpt-mapped (deleted)");
	CHECK(ma[0] == 'a' && ma[PG] == 'b' && ma[2 * PG] == 'c' && mb[0] == 'b' && mb[PG] == 'c',
	      "memfd: contents differ (%c%c%c %c%c)", ma[0], ma[PG], ma[2 * PG], mb[0], mb[PG]);
	if (geteuid() == 0 && !anon) {
		fd = open_mapped(ma, 3 * PG);
		CHECK(fd >= 0, "memfd: cannot open it through map_files: %s", strerror(errno));
		CHECK(fcntl(fd, F_GET_SEALS) == SEALS, "memfd: seals %#x, want %#x",
		      fcntl(fd, F_GET_SEALS), SEALS);
		CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 3 * PG,
		      "memfd: mode %04o size %ld, want 0640 %d", st.st_mode & 07777, (long)st.st_size,
		      3 * PG);
		CHECK(ftruncate(fd, PG) < 0 && errno == EPERM, "memfd: shrunk despite its seal");
		CHECK(pwrite(fd, "Z", 1, 0) == 1 && ma[0] == 'Z', "memfd: a write through an fd is not in A");
		CHECK(pwrite(fd, "z", 1, PG + 1) == 1 && mb[1] == 'z',
		      "memfd: a write through an fd is not in B");
		close(fd);
	}
	CHECK(mprotect(mb, 2 * PG, PROT_READ | PROT_WRITE) == 0,
	      "memfd: B cannot be made writable: %s", strerror(errno));
	mb[0] = 'X';
	ma[2 * PG] = 'Y';
	CHECK(ma[PG] == 'X' && mb[PG] == 'Y', "memfd: A and B are not one memory (%c %c)", ma[PG],
	      mb[PG]);
}

static void check_future(int keep)
{
	const int want = F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	int fd = keep ? 10 : -1;
	void *m;

	if (!anon)
		same_file("future", mf, mf, "/memfd:ckpt-future (deleted)");
	CHECK(mf[0] == 'f', "future: contents differ (%c)", mf[0]);
	mf[0] = 'g';
	if (!keep && geteuid() == 0)
		fd = open_mapped(mf, PG);
	if (fd < 0)
		return;
	CHECK(fcntl(fd, F_GET_SEALS) == want, "future: seals %#x, want %#x", fcntl(fd, F_GET_SEALS),
	      want);
	CHECK(pwrite(fd, "h", 1, 1) < 0 && errno == EPERM, "future: written despite its seal");
	CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
	      errno == EPERM, "future: mapped writable anew despite its seal");
	m = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED && ((char *)m)[0] == 'g',
	      "future: a new read-only mapping is not the memfd F maps");
	if (!keep)
		close(fd);
}

static void check_deleted(void)
{
	char want[4300];
	struct stat st;
	int fd;

	snprintf(want, sizeof(want), "%s (deleted)", path);
	if (!anon)
		same_file("deleted", ms, mp, want);
	if (geteuid() == 0 && !anon) {
		fd = open_mapped(ms, 2 * PG);
		CHECK(fd >= 0, "deleted: cannot open it through map_files: %s", strerror(errno));
		CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0604 && st.st_size == 4 * PG &&
		      st.st_nlink == 0 && st.st_mtim.tv_sec == T_MTIME,
		      "deleted: mode %04o size %ld links %lu mtime %ld, want 0604 %d 0 %ld",
		      st.st_mode & 07777, (long)st.st_size, (unsigned long)st.st_nlink,
		      (long)st.st_mtim.tv_sec, 4 * PG, T_MTIME);
		CHECK(lseek(fd, 2 * PG, SEEK_DATA) == 3 * PG, "deleted: page 2 is no longer a hole");
		close(fd);
	}
	/* After the hole's check: a read fault on a hole of a tmpfs file
	 * through a mapping, even a private one, fills it (mm/shmem.c
	 * shmem_fault allocates the page). */
	CHECK(ms[0] == 'h' && ms[PG] == 'i' && !memcmp(mp, "ownh", 4) && mp[PG] == 'i' &&
	      mp[2 * PG] == 0 && mp[3 * PG] == 'k', "deleted: contents differ (%c%c %.4s%c%d%c)",
	      ms[0], ms[PG], mp, mp[PG], mp[2 * PG], mp[3 * PG]);
	ms[PG] = 'W';
	ms[0] = 'V';
	CHECK(mp[PG] == (anon ? 'i' : 'W'), "deleted: a store through the shared mapping is %sseen in "
	      "the private one", anon ? "" : "not ");
	CHECK(mp[0] == 'o', "deleted: a store through the shared mapping reached the private copy");
}

int main(int argc, char **argv)
{
	int mem, del, kid, kidfd, fut, st = -1;
	DIR *d;
	struct dirent *de;

	if (argc < 3) {
		fprintf(stderr, "usage: fd_mapped DIR CASE\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	snprintf(path, sizeof(path), "%s/gone", dir);
	anon = argc > 3 && !strcmp(argv[3], "anon");
	kid = !strcmp(argv[2], "fork") ? 1 : !strcmp(argv[2], "forkfd") ? 2 : 0;
	kidfd = kid == 2;
	fut = !strcmp(argv[2], "future") ? 1 : !strcmp(argv[2], "futurefd") ? 2 : 0;
	mem = !strcmp(argv[2], "memfd") || !strcmp(argv[2], "both") || kid;
	del = !strcmp(argv[2], "deleted") || !strcmp(argv[2], "both");
	if ((!mem && !del && !fut) || (mem && setup_memfd(kidfd) < 0) || (del && setup_deleted() < 0) ||
	    (fut && setup_future(fut == 2) < 0))
		return target_fail("no case %s", argv[2]), target_exit();
	if (kid && (kid = fork()) == 0) {
		while (!target_go())
			target_sleep_ms(5);
		if (!kidfd)
			ma[2 * PG + 1] = 'C';
		_exit(kidfd && (fcntl(10, F_GET_SEALS) != SEALS || pwrite(10, "D", 1, 5) != 1));
	}
	if (kid < 0)
		return target_fail("fork: %s", strerror(errno)), target_exit();
	if (kidfd)
		close(10);
	target_wait();
	if (kid > 0)
		CHECK(waitpid(kid, &st, 0) == kid && st == 0 && ma[kidfd ? 5 : 2 * PG + 1] == "CD"[kidfd],
		      "fork: the child's store is not in the parent's mapping (%c, status %#x)",
		      ma[kidfd ? 5 : 2 * PG + 1], st);
	if (mem)
		check_memfd();
	if (del)
		check_deleted();
	if (fut)
		check_future(fut == 2);
	d = opendir(dir);
	while (d && (de = readdir(d)))
		CHECK(strncmp(de->d_name, "gone", 4) && !strstr(de->d_name, "ckpt-"),
		      "%s/%s was left behind", dir, de->d_name);
	if (d)
		closedir(d);
	return target_exit();
}
