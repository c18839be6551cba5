/*
 * LD_PRELOAD for tests (image.bats): the disk under the image always
 * SLOWDISK_LAG_MIB MiB behind the writing, without a slow disk.  A
 * sync_file_range(2) that waits for a range (SYNC_FILE_RANGE_WAIT_AFTER,
 * ckpt's write-behind) returns only once the file has grown that far
 * past the range's end, then calls the real one.
 *
 * Counted in bytes written, not in seconds: a disk of so many MB/s on
 * the wall clock is behind only if ckpt writes faster than that, and a
 * forked dump's workers are SCHED_IDLE for 3 s, nice 10 after: on a
 * busy machine they wrote slower than a 16 MB/s virtual disk, which was
 * never 32 MiB behind (23 MiB at most, under two CPU hogs at load 14).
 * Here the lag is the same whatever CPU ckpt gets.
 *
 * The writing's end: the file stops growing while a wait goes on (the
 * other workers are done and the waiting one holds the rest up); after
 * STALL_S without growth the disk has caught up, and waits return at
 * once until the file grows again.  Not built by the Makefile (no main:
 * tests/targets/ would link it): the test compiles it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longer than a SCHED_IDLE worker goes without a CPU on a busy machine
 * (the grace's 3 s at most): a stall is the end, not a starved writer. */
#define STALL_S	5.0

static off64_t stalled = -1;	/* the size the file stopped at, or -1 */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static off64_t size_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (off64_t)st.st_size : -1;
}

/* Until the file of fd reaches size, or stops growing (the end). */
static void wait_size(int fd, off64_t size)
{
	off64_t last = -1, cur;
	double since = now();

	while ((cur = size_of(fd)) >= 0 && cur < size) {
		if (cur == __atomic_load_n(&stalled, __ATOMIC_RELAXED))
			return;
		if (cur != last) {
			last = cur;
			since = now();
		} else if (now() - since > STALL_S) {
			__atomic_store_n(&stalled, cur, __ATOMIC_RELAXED);
			fprintf(stderr, "slowdisk: no write for %.0f s at %lld MiB: the disk caught up\n",
				STALL_S, (long long)(cur >> 20));
			return;
		}
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	static int (*real)(int, off64_t, off64_t, unsigned int);
	const char *e = getenv("SLOWDISK_LAG_MIB");
	off64_t lag = e ? (off64_t)atoll(e) << 20 : 0;

	if (!real)
		real = (int (*)(int, off64_t, off64_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
	if (lag > 0 && (flags & SYNC_FILE_RANGE_WAIT_AFTER))
		wait_size(fd, off + n + lag);
	return real(fd, off, n, flags);
}
