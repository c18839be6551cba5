/*
 * Shared by the test targets.  Protocol with the bats tests:
 *   - the target sets up its state, then creates $CKPT_READY (a file)
 *   - it then waits until $CKPT_GO exists (polling; that also keeps it in
 *     nanosleep a lot, which restore has to handle)
 *   - after GO it checks its state and exits 0, or prints what differs
 *     on stderr and exits 1.
 * The test dumps (usually --kill) between READY and GO, restores, creates
 * GO, and gets the verdict as the exit status of `ckpt restore`.
 */
#ifndef CKPT_TEST_TARGET_H
#define CKPT_TEST_TARGET_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int target_failures;

__attribute__((format(printf, 1, 2), unused))
static void target_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "target %d: FAIL: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	target_failures++;
}

#define CHECK(cond, ...) do { if (!(cond)) target_fail(__VA_ARGS__); } while (0)

__attribute__((unused))
static void target_ready(void)
{
	const char *p = getenv("CKPT_READY");

	if (p) {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0)
			close(fd);
	}
}

/* True once $CKPT_GO exists (or right away when it is not set). */
__attribute__((unused))
static int target_go(void)
{
	const char *p = getenv("CKPT_GO");

	return !p || access(p, F_OK) == 0;
}

__attribute__((unused))
static void target_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Ready, then wait for GO. */
__attribute__((unused))
static void target_wait(void)
{
	target_ready();
	while (!target_go())
		target_sleep_ms(5);
}

/*
 * Ready, then wait for GO without a syscall until restored: a dump that
 * counts the process's syscalls (dump/quiet.c) sees none.  It spins on
 * CLOCK_MONOTONIC (the vdso); only after a gap of 2 ms (a freeze, a busy
 * machine) does it ask getppid(), which that dump does not count: a new
 * parent means restored.  Then GO as target_wait.
 */
__attribute__((unused))
static void target_wait_spinning(void)
{
	pid_t ppid0 = getppid();
	struct timespec ts;
	long long last = -1, t;

	target_ready();
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = ts.tv_sec * 1000000000ll + ts.tv_nsec;
		if (last >= 0 && t - last > 2000000 && getppid() != ppid0)
			break;
		last = t;
	}
	while (!target_go())
		target_sleep_ms(5);
}

/* /proc/self/fdinfo/FD of one of our fds, in a static buffer ("" if
 * unreadable; at most 4095 bytes). */
__attribute__((unused))
static const char *target_fdinfo(int fd)
{
	static char buf[4096];
	char path[64];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
	if (f >= 0)
		close(f);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* The lines of fd's fdinfo starting with prefix, sorted (the kernel
 * lists inotify watches and fanotify marks newest first), into buf. */
__attribute__((unused))
static void target_fdinfo_lines(int fd, const char *prefix, char *buf, size_t len)
{
	char all[4096], *lines[32], *save = NULL;
	int k = 0;

	snprintf(all, sizeof(all), "%s", target_fdinfo(fd));
	for (char *l = strtok_r(all, "\n", &save); l && k < 32; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, prefix, strlen(prefix)))
			lines[k++] = l;
	for (int i = 0; i < k; i++)
		for (int j = i + 1; j < k; j++)
			if (strcmp(lines[i], lines[j]) > 0) {
				char *t = lines[i];

				lines[i] = lines[j];
				lines[j] = t;
			}
	buf[0] = 0;
	for (int i = 0; i < k; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s\n", lines[i]);
}

/* dir/name, in one of four static buffers (four may be used at once). */
__attribute__((unused))
static const char *target_path(const char *dir, const char *name)
{
	static char buf[4][4200];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

__attribute__((unused))
static int target_exit(void)
{
	if (target_failures)
		fprintf(stderr, "target %d: %d check(s) failed\n", (int)getpid(), target_failures);
	return target_failures ? 1 : 0;
}

#endif
