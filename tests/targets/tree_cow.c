/*
 * Memory shared copy-on-write: the parent fills 16 MiB, forks three
 * workers; each writes 10 pages of its own, the parent 10 others.  After
 * GO each checks every page of the region (its own writes, the pattern
 * elsewhere) and, as root, how many of its pages are still the very same
 * physical pages as its parent's (/proc/PID/pagemap): all but the 20
 * written since the fork, as before the dump.  A worker says what failed
 * in DIR/workerN.result (one file each: a file they all had open would
 * be shared by them, and is not yet after restore), the parent prints it.
 * Output: "tree_cow: ok".
 * Usage: tree_cow DIR (where the workers say they are ready)
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

#define NPAGES	4096u
#define PS	4096u

static uint32_t *region;

static uint32_t want(unsigned page, int who)
{
	if (who >= 0 && page >= (unsigned)who * 10 && page < (unsigned)who * 10 + 10)
		return 1000u + (unsigned)who;
	if (who == -1 && page >= 100 && page < 110)
		return 2000;
	return page * 7u + 1;
}

/* Pages of the region whose frame is the one pid has there too. */
static int shared_with(pid_t pid)
{
	char path[64];
	uint64_t *a = malloc(NPAGES * 8), *b = malloc(NPAGES * 8);
	int fa, fb, n = 0;
	off_t at = (off_t)((uintptr_t)region / PS * 8);

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fa = open("/proc/self/pagemap", O_RDONLY);
	fb = open(path, O_RDONLY);
	if (fa < 0 || fb < 0 || pread(fa, a, NPAGES * 8, at) != NPAGES * 8 ||
	    pread(fb, b, NPAGES * 8, at) != NPAGES * 8)
		n = -1;
	for (unsigned i = 0; n >= 0 && i < NPAGES; i++)
		n += (a[i] >> 63) && (a[i] & ((1ull << 55) - 1)) &&
		     (a[i] & ((1ull << 55) - 1)) == (b[i] & ((1ull << 55) - 1));
	close(fa);
	close(fb);
	free(a);
	free(b);
	return n;
}

static int check(int who)
{
	int bad = 0;

	for (unsigned i = 0; i < NPAGES; i++)
		bad += region[i * PS / 4] != want(i, who) || region[i * PS / 4 + 1] != i;
	return bad;
}

static int worker(int k, const char *dir)
{
	char path[4096];
	int fd, n;

	for (unsigned i = (unsigned)k * 10; i < (unsigned)k * 10 + 10; i++)
		region[i * PS / 4] = want(i, k);
	snprintf(path, sizeof(path), "%s/worker%d", dir, k);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) >= 0)
		close(fd);
	while (!target_go())
		target_sleep_ms(5);
	n = check(k);
	snprintf(path, sizeof(path), "%s/worker%d.result", dir, k);
	if (n) {
		dprintf(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), "%d pages differ", n);
		return 1;
	}
	/* The parent does not write after GO: what was shared still is. */
	if (geteuid() == 0 && (n = shared_with(getppid())) != (int)NPAGES - 20) {
		dprintf(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
			"%d pages shared with the parent, want %u", n, NPAGES - 20);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	pid_t w[3];
	int st;

	if (argc < 2)
		return 2;
	region = mmap(NULL, NPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return 2;
	madvise(region, NPAGES * PS, MADV_NOHUGEPAGE);
	for (unsigned i = 0; i < NPAGES; i++) {
		region[i * PS / 4] = want(i, -2);
		region[i * PS / 4 + 1] = i;
	}
	for (int k = 0; k < 3; k++)
		if (!(w[k] = fork()))
			return worker(k, argv[1]);
	for (unsigned i = 100; i < 110; i++)
		region[i * PS / 4] = want(i, -1);
	for (int k = 0; k < 3; k++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/worker%d", argv[1], k);
		while (access(path, F_OK))
			target_sleep_ms(5);
	}
	target_wait();
	st = check(-1);
	CHECK(!st, "parent: %d pages differ", st);
	for (int k = 0; k < 3; k++) {
		char path[4096], why[200] = "";
		int fd;

		snprintf(path, sizeof(path), "%s/worker%d.result", argv[1], k);
		CHECK(waitpid(w[k], &st, 0) == w[k] && WIFEXITED(st) && !WEXITSTATUS(st),
		      "worker %d: status %#x: %s", k, st,
		      (fd = open(path, O_RDONLY)) >= 0 && read(fd, why, sizeof(why) - 1) >= 0 ? why : "");
	}
	if (!target_failures)
		printf("tree_cow: ok\n");
	return target_exit();
}
