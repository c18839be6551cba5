/* Small helpers shared by every module: allocation, whole-file reads. */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Out of memory is not a condition ckpt recovers from: these abort with
 * a message rather than make every caller handle NULL. */
void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* heapwarm.c: bytes of heap in memory before a freeze, kept by the heap
 * from then on (every thread of ours allocating from it); heap_cool()
 * lets it give memory back again. */
void heap_warm(size_t bytes);
void heap_cool(void);
/* nofile.c: RLIMIT_NOFILE's soft limit raised to want (the hard limit at
 * most) for a dump; returns the soft limit now, 0 if unknown.
 * nofile_restore() puts back what it was before the first raise. */
uint64_t nofile_raise(uint64_t want);
void nofile_restore(void);

/* Read a whole (small, /proc) file; NUL-terminated; *len without the NUL.
 * Returns 0 or -errno. */
int read_file(const char *path, char **buf, size_t *len);
int read_file_at(int dirfd, const char *path, char **buf, size_t *len);
/* The same for a /proc file the kernel makes in one piece (single_open:
 * status, wchan, timerslack_ns; not maps or smaps, which come a record
 * at a time): a first read shorter than the buffer is all of it, so
 * open, read, close (a read more per file with 1,000 threads). */
int read_file_once_at(int dirfd, const char *path, char **buf, size_t *len);
/* The same from an open fd never read yet (it stays open). */
int read_fd_once(int fd, char **buf, size_t *len);
/* readlink into a fresh string; 0 or -errno. */
int xreadlink(const char *path, char **out);

/* write/read all of buf, retrying on EINTR and short counts; 0 or -errno
 * (-EIO on a short read at end of file). */
int write_all(int fd, const void *buf, size_t len);
int read_all(int fd, void *buf, size_t len);
int pread_all(int fd, void *buf, size_t len, off_t off);

uint64_t now_ns(void);
int is_all_zero(const void *p, size_t len);

/* CKPT_NO_PAGEMAP_SCAN set (not empty), for tests only (README,
 * "Building"): ckpt acts as on a kernel before 6.7, the arm64 guest's,
 * with neither PAGEMAP_SCAN nor userfaultfd's WP_ASYNC (both came in 6.7):
 * dump reads the page map, --track compares page hashes, check says so. */
int no_pagemap_scan(void);

/* Bytes [off, off + len) of what iov[0..iovcnt) holds end to end, copied
 * to dst: 1, or 0 if it holds fewer. */
struct iovec;
int iov_gather(const struct iovec *iov, int iovcnt, uint64_t off, void *dst, size_t len);

#endif
