/*
 * A tree that changes between two dumps (incremental dumps of a tree,
 * docs/trees.md 2.5).  The parent fills a private region of 1024 pages and
 * a MAP_SHARED anonymous one of 16, forks A and E; each writes pages of its
 * own (the rest stays shared copy-on-write with the parent) and a page of
 * the shared region.  Then DIR/ready.  On DIR/step2: E exits (the parent
 * reaps it), the parent and A write more pages (A also overwrites a shared
 * page the parent wrote before: only the parent's uffd saw the first
 * write), and the parent forks B, which writes pages of its own.  Then
 * DIR/ready2.  After GO each process checks every page of both regions
 * (word 0 the value, word 1 the page number: zeros or another process's
 * page both show), a child says what failed in DIR/NAME.result, and the
 * parent prints "tree_incr: ok" once A and B exited 0.  With "alone", A
 * exits after its writes of step 2 and no B is made (the parent writes
 * B's shared page): the second dump is of the parent alone, its parent
 * image a tree's.
 * Usage: tree_incr DIR [alone]
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

#define NPAGES	1024u
#define NSHM	16u
#define PS	4096u

enum who { PARENT, A, B };

static uint32_t *region, *shm;
static const char *dir;
static int alone;

/* Word 0 of private page i in process w, once everything was written.
 * Pages from ZERO on the parent only reads (present, all zero: never
 * stored for it); A writes some of them. */
#define ZERO	1000u
static uint32_t want(unsigned i, enum who w)
{
	if (w == A && i >= ZERO && i < ZERO + 10)
		return 7000 + i;		/* A, where the parent has zeros */
	if (i >= ZERO)
		return 0;
	if (w == A && i < 10)
		return 1000 + i;		/* A, before the first dump */
	if (w == A && i >= 20 && i < 30)
		return 4000 + i;		/* A, after it */
	if (w == B && i >= 40 && i < 50)
		return 5000 + i;		/* B, new after the first dump */
	if (w != A && i >= 100 && i < 110)
		return 2000 + i;		/* the parent, after A's fork */
	if (w != A && i >= 200 && i < 220)
		return 3000 + i;		/* the parent, before B's fork */
	return i * 7 + 1;
}

/* Word 0 of shared page i, the same for all. */
static uint32_t want_shm(unsigned i)
{
	static const uint32_t v[NSHM] = { 12, 21, 31, 41, 0, 77 };

	return v[i];
}

static void put(uint32_t *base, unsigned i, uint32_t v)
{
	base[i * PS / 4] = v;
	base[i * PS / 4 + 1] = i;
}

static int check(enum who w, char *why, size_t len)
{
	int bad = 0;

	size_t at = 0;

	for (unsigned i = 0; i < NPAGES; i++)
		if (region[i * PS / 4] != want(i, w) || region[i * PS / 4 + 1] != (want(i, w) ? i : 0)) {
			/* the first few, enough to tell which kind of page */
			if (bad++ < 2 || (i % 10 == 0 && at < len - 80))
				at += (size_t)snprintf(why + at, len - at, "%sprivate page %u: %u/%u, want %u/%u",
						       at ? "; " : "", i, region[i * PS / 4],
						       region[i * PS / 4 + 1], want(i, w), i);
		}
	for (unsigned i = 0; i < NSHM; i++)
		if (shm[i * PS / 4] != want_shm(i) || shm[i * PS / 4 + 1] != (want_shm(i) ? i : 0)) {
			if (!bad++ && !at)
				snprintf(why, len, "shared page %u: %u/%u, want %u", i, shm[i * PS / 4],
					 shm[i * PS / 4 + 1], want_shm(i));
		}
	return bad;
}

static int exists(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void create(const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) >= 0)
		close(fd);
}

static void wait_file(const char *name)
{
	while (!exists(name))
		target_sleep_ms(5);
}

/* A child's end: its check after GO, what failed in DIR/NAME.result. */
static int child_check(enum who w, const char *name)
{
	char why[400] = "", path[4096];
	int n, fd;

	while (!target_go())
		target_sleep_ms(5);
	if (!(n = check(w, why, sizeof(why))))
		return 0;
	snprintf(path, sizeof(path), "%s/%s.result", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
		dprintf(fd, "%d pages differ, first %s", n, why);
		close(fd);
	}
	return 1;
}

static int child_a(void)
{
	for (unsigned i = 0; i < 10; i++)
		put(region, i, 1000 + i);
	for (unsigned i = ZERO; i < ZERO + 10; i++)
		put(region, i, 7000 + i);
	put(shm, 1, 20);
	create("a1");
	wait_file("step2");
	for (unsigned i = 20; i < 30; i++)
		put(region, i, 4000 + i);
	put(shm, 1, 21);
	put(shm, 5, 77);		/* the parent wrote 99 there before */
	create("a2");
	return alone ? 0 : child_check(A, "A");
}

static int child_e(void)
{
	for (unsigned i = 10; i < 20; i++)
		put(region, i, 6000 + i);
	put(shm, 2, 31);
	create("e1");
	wait_file("step2");
	return 0;
}

static int child_b(void)
{
	for (unsigned i = 40; i < 50; i++)
		put(region, i, 5000 + i);
	put(shm, 3, 41);
	create("b2");
	return child_check(B, "B");
}

static void reaped(pid_t pid, const char *name)
{
	char path[4096], why[400] = "";
	int st = 0, fd;

	snprintf(path, sizeof(path), "%s/%s.result", dir, name);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st),
	      "%s: status %#x: %s", name, st,
	      (fd = open(path, O_RDONLY)) >= 0 && read(fd, why, sizeof(why) - 1) >= 0 ? why : "");
}

int main(int argc, char **argv)
{
	pid_t a, e, b = -1;
	uint32_t zeros = 0;
	char why[400] = "";
	int st, n;

	if (argc < 2)
		return 2;
	dir = argv[1];
	alone = argc > 2 && !strcmp(argv[2], "alone");
	region = mmap(NULL, NPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shm = mmap(NULL, NSHM * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || shm == MAP_FAILED)
		return 2;
	(void)zeros;
	/* 4 KiB pages: the copy-on-write sharing is page by page */
	madvise(region, NPAGES * PS, MADV_NOHUGEPAGE);
	for (unsigned i = 0; i < ZERO; i++)
		put(region, i, i * 7 + 1);
	for (unsigned i = ZERO; i < NPAGES; i++)
		zeros += *(volatile uint32_t *)&region[i * PS / 4];
	if (!(a = fork()))
		return child_a();
	if (!(e = fork()))
		return child_e();
	for (unsigned i = 100; i < 110; i++)
		put(region, i, 2000 + i);
	put(shm, 0, 11);
	put(shm, 5, 99);
	wait_file("a1");
	wait_file("e1");
	target_ready();
	wait_file("step2");
	st = -1;
	CHECK(waitpid(e, &st, 0) == e && WIFEXITED(st) && !WEXITSTATUS(st), "E: status %#x", st);
	for (unsigned i = 200; i < 220; i++)
		put(region, i, 3000 + i);
	put(shm, 0, 12);
	if (alone) {
		put(shm, 3, 41);
		st = -1;
		CHECK(waitpid(a, &st, 0) == a && WIFEXITED(st) && !WEXITSTATUS(st), "A: status %#x", st);
	} else if (!(b = fork())) {
		return child_b();
	}
	wait_file("a2");
	if (!alone)
		wait_file("b2");
	create("ready2");
	while (!target_go())
		target_sleep_ms(5);
	n = check(PARENT, why, sizeof(why));
	CHECK(!n, "parent: %d pages differ, first %s", n, why);
	if (!alone) {
		reaped(a, "A");
		reaped(b, "B");
	}
	if (!target_failures)
		printf("tree_incr: ok\n");
	return target_exit();
}
