/*
 * The benchmark's limits: what the machine allows for the work a dump or a
 * restore must do, measured on the same sizes and the same data.
 * Each command prints "key=value" lines (seconds, bytes) for bench/run.
 *
 *   bench-limits memcpy MIB
 *       memcpy between two buffers already in memory
 *   bench-limits readv PID ADDR LEN FILE
 *       process_vm_readv of [ADDR, ADDR+LEN) of PID into one buffer; write()
 *       of that buffer to FILE in 1 MiB pieces (page cache, no fsync); then
 *       both in turn, 1 MiB at a time: what a dump without compression must
 *       do, at best overlapped (the slower of the first two), else in turn
 *   bench-limits writev MIB FILE
 *       a child maps MIB fresh (never touched) MiB; process_vm_writev fills
 *       them from a buffer, then read() of FILE (in the page cache) fills
 *       another fresh mapping of the child's size: the least a restore from
 *       the page cache must do (page faults included)
 *   bench-limits fork MIB [huge]
 *       fork() of a process with MIB MiB of 4 KiB (or huge) pages written:
 *       what a --fork dump cannot avoid while the process is frozen
 *   bench-limits snapshot MIB [huge]
 *       the pieces of a snapshot without fork, on MIB MiB written in this
 *       process (the costs are the mm's, whoever asks): mremap
 *       MREMAP_DONTUNMAP of the mapping to a shadow plus UFFDIO_REGISTER
 *       MISSING of the original (the pause), 4096 faults served by a copy
 *       out and UFFDIO_COPY back (the job's wait per write), the rest put
 *       back in 2 MiB pieces (the background: half by UFFDIO_COPY, half by
 *       UFFDIO_MOVE), the shadow unmapped, then the alternatives on the
 *       same mapping: UFFDIO_WRITEPROTECT of all of it, and fork()
 *   bench-limits compress KIND MIB CODEC LEVEL THREADS
 *       compress MIB MiB of the target's data (data.h) in 1 MiB blocks, as
 *       ckpt does, on THREADS threads; LEVEL 0 is ckpt's default (1)
 */
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "data.h"

#define BLOCK (1u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-limits: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned char *map_huge(size_t len, int touch, int huge)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (touch)
		for (size_t i = 0; i < len; i += BENCH_PAGE)
			p[i] = (unsigned char)(i >> 12 | 1);
	return p;
}

/* process_vm_readv (or writev) of LEN bytes between BUF and PID's ADDR. */
static void vm_copy(pid_t pid, unsigned char *buf, unsigned long addr, size_t len, int to_pid)
{
	for (size_t off = 0; off < len;) {
		/* One call moves at most MAX_RW_COUNT (2 GiB - 4 KiB). */
		size_t n = len - off < (1ul << 30) ? len - off : (1ul << 30);
		struct iovec l = { buf + off, n }, r = { (void *)(addr + off), n };
		ssize_t done = to_pid ? process_vm_writev(pid, &l, 1, &r, 1, 0) :
					process_vm_readv(pid, &l, 1, &r, 1, 0);

		if (done <= 0)
			die(to_pid ? "process_vm_writev" : "process_vm_readv");
		off += (size_t)done;
	}
}

static unsigned char *map(size_t len, int touch)
{
	return map_huge(len, touch, 0);
}

static int cmd_memcpy(size_t len)
{
	unsigned char *a = map(len, 1), *b = map(len, 1);
	double t = now();

	memcpy(b, a, len);
	printf("memcpy_s=%.6f\nbytes=%zu\n", now() - t, len);
	return 0;
}

static int cmd_readv(pid_t pid, unsigned long addr, size_t len, const char *file)
{
	unsigned char *buf = map(len, 1);
	struct iovec l, r;
	double t;
	int fd;

	t = now();
	vm_copy(pid, buf, addr, len, 0);
	printf("readv_s=%.6f\n", now() - t);

	/* write() alone, from memory already read, into a new file */
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(file);
	t = now();
	for (size_t off = 0; off < len; off += BLOCK)
		if (write(fd, buf + off, BLOCK) != BLOCK)
			die(file);
	printf("write_s=%.6f\n", now() - t);
	close(fd);
	unlink(file);

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(file);
	t = now();
	for (size_t off = 0; off < len; off += BLOCK) {
		l = (struct iovec){ buf, BLOCK };
		r = (struct iovec){ (void *)(addr + off), BLOCK };
		if (process_vm_readv(pid, &l, 1, &r, 1, 0) != BLOCK)
			die("process_vm_readv");
		if (write(fd, buf, BLOCK) != BLOCK)
			die(file);
	}
	printf("readv_write_s=%.6f\nbytes=%zu\n", now() - t, len);
	close(fd);
	unlink(file);
	return 0;
}

static int cmd_writev(size_t len, const char *file)
{
	int go[2], done[2], fd;
	unsigned char *src = map(len, 1), *dst;
	pid_t child;
	double t;
	char c;

	if (pipe(go) < 0 || pipe(done) < 0)
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		/* Two fresh mappings of its own: no page present, no
		 * copy-on-write sharing with the parent. */
		unsigned char *a = map(len, 0), *b = map(len, 0);

		if (write(done[1], &a, sizeof(a)) != sizeof(a) || read(go[0], &c, 1) != 1)
			_exit(1);
		fd = open(file, O_RDONLY);
		if (fd < 0)
			_exit(1);
		t = now();
		for (size_t off = 0; off < len;) {
			ssize_t n = read(fd, b + off, len - off);

			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		t = now() - t;
		if (write(done[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(done[0], &dst, sizeof(dst)) != sizeof(dst))
		die("pipe");
	t = now();
	vm_copy(child, src, (unsigned long)dst, len, 1);
	printf("writev_fresh_s=%.6f\n", now() - t);
	/* The file is made here, in the page cache, outside the timing. */
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, src, len) != (ssize_t)len || close(fd) < 0)
		die(file);
	if (write(go[1], "g", 1) != 1 || read(done[0], &t, sizeof(t)) != sizeof(t))
		die("pipe");
	printf("fileread_fresh_s=%.6f\nbytes=%zu\n", t, len);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	unlink(file);
	return 0;
}

static int cmd_fork(size_t len, int huge)
{
	unsigned char *p = map_huge(len, 1, huge);
	double t = now(), dt;
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (!child)
		_exit(0);
	dt = now() - t;
	waitpid(child, NULL, 0);
	printf("fork_s=%.6f\nbytes=%zu\n", dt, len);
	munmap(p, len);
	return 0;
}

/* Linux 6.8 include/uapi/linux/userfaultfd.h (bookworm's 6.1 headers lack
 * them): _UFFDIO_MOVE is 0x05, struct uffdio_move is 5 x 64 bits. */
struct bench_uffdio_move {
	uint64_t dst, src, len, mode;
	int64_t move;
};
#define BENCH_UFFDIO_MOVE		_IOWR(UFFDIO, 0x05, struct bench_uffdio_move)
#define BENCH_UFFD_FEATURE_MOVE		(1ull << 16)
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP		4	/* Linux 5.7, include/uapi/linux/mman.h */
#endif
#define SNAP_FAULTS			4096

static int uffd_new(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		die("userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		die("UFFDIO_API");
	return fd;
}

static void uffd_register(int fd, void *p, size_t len, uint64_t mode)
{
	struct uffdio_register reg = { .range = { (uintptr_t)p, len }, .mode = mode };

	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		die("UFFDIO_REGISTER");
}

static void uffd_move(int fd, unsigned char *dst, unsigned char *src, size_t len)
{
	struct bench_uffdio_move m = { (uintptr_t)dst, (uintptr_t)src, len, 0, 0 };

	if (ioctl(fd, BENCH_UFFDIO_MOVE, &m) < 0 || (size_t)m.move != len)
		die("UFFDIO_MOVE");
}

static void uffd_copy(int fd, unsigned char *dst, const unsigned char *src, size_t len)
{
	struct uffdio_copy c = { (uintptr_t)dst, (uintptr_t)src, len, 0, 0 };

	if (ioctl(fd, UFFDIO_COPY, &c) < 0 || (size_t)c.copy != len)
		die("UFFDIO_COPY");
}

struct toucher {
	volatile unsigned char *p;
	double s;
};

/* The job: writes one byte to each page of the last SNAP_FAULTS pages. */
static void *touch_pages(void *arg)
{
	struct toucher *t = arg;
	double t0 = now();

	for (size_t i = 0; i < SNAP_FAULTS; i++)
		t->p[i * BENCH_PAGE] ^= 0;
	t->s = now() - t0;
	return NULL;
}

/* The server: each fault's page copied out of the shadow (for the image),
 * then into the hole from that copy, the job woken (UFFDIO_COPY wakes
 * unless told not to).  UFFDIO_COPY, not UFFDIO_MOVE: a move must be
 * asked by the mm itself (fs/userfaultfd.c userfaultfd_move: "Do not
 * allow cross-mm moves", EINVAL from ckpt), and gets EBUSY for a page
 * shared with a child since its last write (checked on 6.18). */
static void serve_faults(int fd, unsigned char *p, unsigned char *shadow, unsigned char *out)
{
	for (size_t served = 0; served < SNAP_FAULTS;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		struct uffd_msg msg;
		size_t off;

		if (poll(&pfd, 1, -1) < 0 || read(fd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EAGAIN)
				continue;
			die("reading the userfaultfd");
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		off = ((uintptr_t)msg.arg.pagefault.address & ~(uintptr_t)(BENCH_PAGE - 1)) -
		      (uintptr_t)p;
		memcpy(out + served * BENCH_PAGE, shadow + off, BENCH_PAGE);
		uffd_copy(fd, p + off, out + served * BENCH_PAGE, BENCH_PAGE);
		served++;
	}
}

static int cmd_snapshot(size_t len, int huge)
{
	unsigned char *p = map_huge(len, 1, huge), *shadow, *out = map(SNAP_FAULTS * BENCH_PAGE, 1);
	size_t tail = len - SNAP_FAULTS * BENCH_PAGE;
	struct uffdio_writeprotect wp = { .range = { 0, len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	struct uffdio_api probe = { .api = UFFD_API };
	struct toucher tc;
	pthread_t th;
	double t0, t1, t2, t3;
	pid_t child;
	int fd, have_move;

	if (len < 2 * SNAP_FAULTS * BENCH_PAGE)
		die("snapshot needs at least 32 MiB");
	/* A full uffd (kernel accesses served too) needs root or
	 * vm.unprivileged_userfaultfd=1: without one, nothing to measure. */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || ioctl(fd, UFFDIO_API, &probe) < 0) {
		printf("snapshot_absent=1\n");
		return 0;
	}
	close(fd);
	/* Before 6.8 (the arm64 guest's 6.1) no UFFDIO_MOVE: all by COPY. */
	have_move = !!(probe.features & BENCH_UFFD_FEATURE_MOVE);
	if (!have_move)
		printf("move_absent=1\n");
	fd = uffd_new(have_move ? BENCH_UFFD_FEATURE_MOVE : 0);
	t0 = now();
	/* new_address 0: with MREMAP_DONTUNMAP the kernel reads it (a hint),
	 * and glibc passes whatever is in the register when not given. */
	shadow = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (shadow == MAP_FAILED)
		die("mremap MREMAP_DONTUNMAP");
	t1 = now();
	uffd_register(fd, p, len, UFFDIO_REGISTER_MODE_MISSING);
	t2 = now();
	printf("mremap_s=%.6f\nregister_s=%.6f\npause_s=%.6f\n", t1 - t0, t2 - t1, t2 - t0);
	tc.p = p + tail;
	if (pthread_create(&th, NULL, touch_pages, &tc))
		die("pthread_create");
	serve_faults(fd, p, shadow, out);
	pthread_join(th, NULL);
	printf("fault_us=%.3f\n", tc.s / SNAP_FAULTS * 1e6);
	/* The background: half copied back (what ckpt can do), half moved
	 * (what only a thread of the process itself could), 2 MiB a call;
	 * each figure scaled to the whole mapping. */
	t3 = now();
	for (size_t off = 0; off < tail / 2; off += 2u << 20)
		uffd_copy(fd, p + off, shadow + off, 2u << 20);
	t2 = now();
	printf("copy_s=%.6f\n", (t2 - t3) * len / (tail / 2));
	for (size_t off = tail / 2; off < tail; off += 2u << 20) {
		size_t n = tail - off < (2u << 20) ? tail - off : 2u << 20;

		if (have_move)
			uffd_move(fd, p + off, shadow + off, n);
		else
			uffd_copy(fd, p + off, shadow + off, n);
	}
	if (have_move)
		printf("move_s=%.6f\n", (now() - t2) * len / (tail - tail / 2));
	for (size_t i = 0; i < len; i += BENCH_PAGE)
		if (p[i] != (unsigned char)(i >> 12 | 1))
			die("a page came back wrong");
	close(fd);
	t0 = now();
	munmap(shadow, len);
	printf("unmap_shadow_s=%.6f\n", now() - t0);
	fd = uffd_new(0);
	uffd_register(fd, p, len, UFFDIO_REGISTER_MODE_WP);
	wp.range.start = (uintptr_t)p;
	t0 = now();
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) < 0)
		die("UFFDIO_WRITEPROTECT");
	printf("writeprotect_s=%.6f\n", now() - t0);
	close(fd);
	t0 = now();
	if ((child = fork()) < 0)
		die("fork");
	if (!child)
		_exit(0);
	printf("fork_s=%.6f\nbytes=%zu\n", now() - t0, len);
	waitpid(child, NULL, 0);
	return 0;
}

struct job {
	const unsigned char *src;
	size_t nblocks;
	int codec, level;
	size_t out;
};

enum { ZLIB, ZSTD, LZ4 };

static void *compress_job(void *arg)
{
	struct job *j = arg;
	size_t cap = ZSTD_compressBound(BLOCK) + compressBound(BLOCK) + LZ4_compressBound(BLOCK);
	unsigned char *dst = malloc(cap);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	if (!dst || !cctx)
		die("malloc");
	for (size_t b = 0; b < j->nblocks; b++) {
		const unsigned char *s = j->src + b * BLOCK;
		size_t n = 0;

		switch (j->codec) {
		case ZLIB: {
			uLongf o = (uLongf)cap;

			if (compress2(dst, &o, s, BLOCK, j->level ? j->level : 1) != Z_OK)
				die("compress2");
			n = o;
			break;
		}
		case ZSTD:
			n = ZSTD_compressCCtx(cctx, dst, cap, s, BLOCK, j->level ? j->level : 1);
			if (ZSTD_isError(n))
				die("zstd");
			break;
		case LZ4:
			n = (size_t)LZ4_compress_fast((const char *)s, (char *)dst, BLOCK, (int)cap,
						      j->level ? j->level : 1);
			break;
		}
		/* ckpt stores a block that does not shrink raw */
		j->out += n < BLOCK ? n : BLOCK;
	}
	ZSTD_freeCCtx(cctx);
	free(dst);
	return NULL;
}

static int cmd_compress(const char *kindname, size_t len, const char *codecname, int level,
			int threads)
{
	int kind = !strcmp(kindname, "random") ? DATA_RANDOM : DATA_TEXT;
	int codec = !strcmp(codecname, "zlib") ? ZLIB : !strcmp(codecname, "zstd") ? ZSTD : LZ4;
	unsigned char *src = map(len, 0);
	struct vocab *v = malloc(sizeof(*v));
	size_t nblocks = len / BLOCK, out = 0;
	pthread_t tid[256];
	struct job job[256];
	double t;

	if (!v || threads < 1 || threads > 256)
		return 2;
	vocab_init(v);
	for (size_t i = 0; i < len / BENCH_PAGE; i++)
		fill_page(src + i * BENCH_PAGE, kind, v, i, 0);
	t = now();
	for (int i = 0; i < threads; i++) {
		size_t first = nblocks * (size_t)i / (size_t)threads;
		size_t last = nblocks * (size_t)(i + 1) / (size_t)threads;

		job[i] = (struct job){ src + first * BLOCK, last - first, codec, level, 0 };
		if (pthread_create(&tid[i], NULL, compress_job, &job[i]))
			die("pthread_create");
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		out += job[i].out;
	}
	printf("compress_s=%.6f\nbytes=%zu\nout_bytes=%zu\n", now() - t, len, out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "memcpy"))
		return cmd_memcpy(strtoull(argv[2], NULL, 10) << 20);
	if (argc == 6 && !strcmp(argv[1], "readv"))
		return cmd_readv(atoi(argv[2]), strtoul(argv[3], NULL, 0),
				 strtoull(argv[4], NULL, 0), argv[5]);
	if (argc == 4 && !strcmp(argv[1], "writev"))
		return cmd_writev(strtoull(argv[2], NULL, 10) << 20, argv[3]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "fork"))
		return cmd_fork(strtoull(argv[2], NULL, 10) << 20, argc == 4 && !strcmp(argv[3], "huge"));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "snapshot"))
		return cmd_snapshot(strtoull(argv[2], NULL, 10) << 20, argc == 4 && !strcmp(argv[3], "huge"));
	if (argc == 7 && !strcmp(argv[1], "compress"))
		return cmd_compress(argv[2], strtoull(argv[3], NULL, 10) << 20, argv[4],
				    atoi(argv[5]), atoi(argv[6]));
	fprintf(stderr, "usage: bench-limits memcpy MIB | readv PID ADDR LEN FILE |"
			" writev MIB FILE | fork MIB [huge] | snapshot MIB [huge] | compress KIND MIB CODEC LEVEL THREADS\n");
	return 2;
}
