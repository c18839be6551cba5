/*
 * LD_PRELOAD for tests (image.bats): the disk under the image as if it
 * took SLOWDISK_MBPS MB/s, without a slow disk.  A virtual queue: a
 * sync_file_range(2) that starts writing (SYNC_FILE_RANGE_WRITE alone,
 * ckpt's write-behind) queues its bytes; one that waits for a range
 * (SYNC_FILE_RANGE_WAIT_AFTER) sleeps until the queue would have written
 * it; fsync(2) of that file until everything would have been, what was
 * never pushed too.  Then each calls the real one.  Not built by the
 * Makefile (no main: tests/targets/ would link it): the test compiles it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NRANGES 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double queue_end, queued;	/* when the queue is written; its bytes */
static int qfd = -1;
static struct {
	off64_t off;
	double done;
} ranges[NRANGES];
static int nranges;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	double d = t - now();

	if (d > 0)
		nanosleep(&(struct timespec){ (time_t)d, (long)((d - (double)(time_t)d) * 1e9) }, NULL);
}

static double rate(void)
{
	const char *e = getenv("SLOWDISK_MBPS");

	return e ? atof(e) * 1e6 : 0;
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	static int (*real)(int, off64_t, off64_t, unsigned int);
	double until = 0;

	if (!real)
		real = (int (*)(int, off64_t, off64_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
	if (rate() <= 0)
		return real(fd, off, n, flags);
	pthread_mutex_lock(&lock);
	qfd = fd;
	if (flags == SYNC_FILE_RANGE_WRITE) {
		double t = now();

		queue_end = (queue_end > t ? queue_end : t) + (double)n / rate();
		queued += (double)n;
		if (nranges < NRANGES) {
			ranges[nranges].off = off;
			ranges[nranges++].done = queue_end;
		}
	}
	if (flags & SYNC_FILE_RANGE_WAIT_AFTER)
		for (int i = 0; i < nranges; i++)
			if (ranges[i].off == off)
				until = ranges[i].done;
	pthread_mutex_unlock(&lock);
	sleep_until(until);
	return real(fd, off, n, flags);
}

int fsync(int fd)
{
	static int (*real)(int);
	struct stat st;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (rate() > 0 && fd == qfd && fstat(fd, &st) == 0) {
		double t = now(), rest;

		pthread_mutex_lock(&lock);
		rest = (double)st.st_size > queued ? (double)st.st_size - queued : 0;
		t = (queue_end > t ? queue_end : t) + rest / rate();
		pthread_mutex_unlock(&lock);
		sleep_until(t);
	}
	return real(fd);
}
