/* Helpers shared by every module (see util.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static void *oom(size_t n)
{
	char buf[80];
	int len = snprintf(buf, sizeof(buf), "ckpt: out of memory (%zu bytes)\n", n);

	if (write(STDERR_FILENO, buf, (size_t)len) < 0) {
		/* exiting anyway */
	}
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	return p ? p : oom(n);
}

void *xzalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	return p ? p : oom(n);
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	return p ? p : oom(n);
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void *xmemdup(const void *p, size_t n)
{
	void *q = xmalloc(n);

	if (n)
		memcpy(q, p, n);
	return q;
}

/* All of fd, from where it is (a file never read: its start); once: the
 * file is made in one piece (see read_file_once_at). */
static int read_fd(int fd, char **buf, size_t *len, int once)
{
	size_t cap = 4096, n = 0;
	char *b = xmalloc(cap);

	for (;;) {
		ssize_t r = read(fd, b + n, cap - n - 1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* Short: all of a one-piece file; the read of its end (0)
		 * would be one more syscall for nothing. */
		if (once && n == (size_t)r && n < cap - 1)
			break;
		if (cap - n < 2)
			b = xrealloc(b, cap *= 2);
	}
	b[n] = 0;
	*buf = b;
	if (len)
		*len = n;
	return 0;
}

static int read_whole(int dirfd, const char *path, char **buf, size_t *len, int once)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = read_fd(fd, buf, len, once);
	close(fd);
	return ret;
}

int read_fd_once(int fd, char **buf, size_t *len)
{
	return read_fd(fd, buf, len, 1);
}

int read_file_at(int dirfd, const char *path, char **buf, size_t *len)
{
	return read_whole(dirfd, path, buf, len, 0);
}

int read_file_once_at(int dirfd, const char *path, char **buf, size_t *len)
{
	return read_whole(dirfd, path, buf, len, 1);
}

int read_file(const char *path, char **buf, size_t *len)
{
	return read_file_at(AT_FDCWD, path, buf, len);
}

int xreadlink(const char *path, char **out)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	*out = xstrndup(buf, (size_t)n);
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		p += r;
		off += r;
		len -= (size_t)r;
	}
	return 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int is_all_zero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	/* Pages are 8-byte aligned multiples of 64: OR eight words at a time
	 * so the compiler vectorises, and stop at the first non-zero block. */
	for (i = 0; i + 8 <= len / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return 0;
	for (; i < len / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

int no_pagemap_scan(void)
{
	static int off = -1;

	if (off < 0) {
		const char *e = getenv("CKPT_NO_PAGEMAP_SCAN");

		off = e && *e;
	}
	return off;
}

int iov_gather(const struct iovec *iov, int iovcnt, uint64_t off, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (int i = 0; i < iovcnt && len; i++) {
		size_t l = iov[i].iov_len, n;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = MIN(len, l - (size_t)off);
		memcpy(d, (const uint8_t *)iov[i].iov_base + off, n);
		d += n;
		len -= n;
		off = 0;
	}
	return len == 0;
}
