/*
 * A prototype of the snapshot without fork of docs/snapshot.md 2b, to
 * measure it and to try its checks; not part of ckpt, not run by bench/run.
 * It is cooperative: the job makes its own userfaultfd and shadow, which
 * ckpt would inject.
 *
 *   bench-snapshot-proto MIB [fork]
 *
 * The job writes a generation number into the first and last word of
 * every page of MIB MiB, page after page, as fast as it can, and checks
 * before each write that the page holds what it wrote last (whole, never
 * zero, never older).  At the cut it moves its memory aside
 * (MREMAP_DONTUNMAP), registers the original range (MISSING) and goes on.
 * The server, another process as ckpt would be, takes the uffd with
 * pidfd_getfd, serves each fault by process_vm_readv of the shadow page
 * and UFFDIO_COPY, and writes the "image" (a buffer) from the shadow in
 * 1 MiB blocks, each given back (UFFDIO_COPY, EEXIST: that page is back
 * already) once read.  The image must be the cut: pages before the one the
 * job was at hold generation g, the others g-1.
 *
 * PROTO_RA=N (1-64): a fault gives back the N pages from the one touched.
 * With "fork" the job forks at the cut instead and the server reads the
 * copy (what --fork does).  PROTO_WRONG=1 reads each block from the job
 * 2 ms after giving it back: the cut check must then fail.
 *
 * It prints the pause (the job's own clock around the cut), the time to
 * write the image, faults served, wrong pages, and the job's writes per
 * second before, during and after.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG	4096ul
#define WORDS	(PG / 8)
#define BLK	(1ul << 20)

/* What the job tells the server at the cut. */
struct cut {
	int fd;			/* the uffd, in the job's table */
	pid_t copy;		/* fork: the copy to read */
	uint64_t orig, shadow, len;
	uint64_t gen, k;	/* pages < k hold gen, the others gen - 1 */
	double pause_s, rate_before;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-snapshot-proto: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("write to a pipe");
}

static void get(int fd, void *buf, size_t len)
{
	if (read(fd, buf, len) != (ssize_t)len)
		die("read from a pipe");
}

/* ---------------------------------------------------------------- the job */

static int use_fork;

/* The cut, at page i of generation gen: memory aside, or a fork. */
static void cut(uint64_t *m, size_t len, uint64_t gen, size_t i, struct cut *ct)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct uffdio_register reg = { .range = { (uintptr_t)m, len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	double t = now();

	ct->orig = ct->shadow = (uintptr_t)m;
	ct->len = len;
	ct->gen = gen;
	ct->k = i + 1;
	if (use_fork) {
		if ((ct->copy = fork()) == 0) {
			pause();
			_exit(0);
		}
	} else {
		ct->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (ct->fd < 0 || ioctl(ct->fd, UFFDIO_API, &api) < 0)
			die("userfaultfd");
		/* new_address 0: with MREMAP_DONTUNMAP the kernel reads it. */
		ct->shadow = (uintptr_t)mremap(m, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
		if ((void *)ct->shadow == MAP_FAILED)
			die("mremap");
		if (ioctl(ct->fd, UFFDIO_REGISTER, &reg) < 0)
			die("UFFDIO_REGISTER");
	}
	ct->pause_s = now() - t;
}

static void job(size_t len, int req, int rep, int done)
{
	uint64_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t writes = 0;
	struct cut ct = { 0 };
	int stage = 0;	/* 0 before the cut, 1 during the dump, 2 after */
	double t0;
	char c;

	if (m == MAP_FAILED)
		die("mmap");
	madvise(m, len, MADV_NOHUGEPAGE);
	memset(m, 0, len);
	put(rep, "r", 1);
	fcntl(req, F_SETFL, O_NONBLOCK);
	fcntl(done, F_SETFL, O_NONBLOCK);
	t0 = now();
	for (uint64_t gen = 1;; gen++) {
		for (size_t i = 0; i < len / PG; i++) {
			uint64_t *p = m + i * WORDS;
			double r;

			if (p[0] != gen - 1 || p[WORDS - 1] != gen - 1) {
				fprintf(stderr, "job: page %zu holds %lu/%lu, wrote %lu\n", i,
					(unsigned long)p[0], (unsigned long)p[WORDS - 1],
					(unsigned long)gen - 1);
				_exit(2);
			}
			p[0] = p[WORDS - 1] = gen;
			writes++;
			if (stage == 0 && (i & 63) == 0 && read(req, &c, 1) == 1) {
				ct.rate_before = (double)writes / (now() - t0);
				cut(m, len, gen, i, &ct);
				put(rep, &ct, sizeof(ct));
			} else if (stage == 1 && read(done, &c, 1) == 1) {
				/* The server is done: the shadow (or the copy) goes. */
				if (use_fork) {
					kill(ct.copy, SIGKILL);
					waitpid(ct.copy, NULL, 0);
				} else {
					munmap((void *)ct.shadow, len);
				}
			} else if (stage != 2 || (i & 63) || now() - t0 < 0.5) {
				continue;
			}
			r = (double)writes / (now() - t0);
			if (stage > 0)
				put(rep, &r, sizeof(r));
			if (stage == 2)
				pause();
			stage++;
			writes = 0;
			t0 = now();
		}
	}
}

/* ---------------------------------------------------------------- the server */

static pid_t jp;
static struct cut ct;
static int uf;
static uint64_t faults;
static volatile int stop;

/* Give [off, off+len) back from buf; a page already back is skipped. */
static void give_back(uint64_t off, const char *buf, uint64_t len)
{
	while (len) {
		struct uffdio_copy c = { ct.orig + off, (uintptr_t)buf, len, 0, 0 };
		uint64_t n;

		if (ioctl(uf, UFFDIO_COPY, &c) == 0)
			return;
		if (errno != EEXIST && errno != EAGAIN)
			die("UFFDIO_COPY");
		/* c.copy: bytes copied before the page that stopped it */
		n = c.copy > 0 ? (uint64_t)c.copy : 0;
		if (errno == EEXIST)
			n += PG;
		off += n;
		buf += n;
		len -= n;
	}
}

static void read_cut(void *buf, uint64_t off, uint64_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(ct.shadow + off), len };

	if (process_vm_readv(ct.copy ? ct.copy : jp, &l, 1, &r, 1, 0) != (ssize_t)len)
		die("process_vm_readv");
}

static void *serve(void *arg)
{
	static char page[64 * PG];
	/* PROTO_RA=N: a fault gives back N pages from the one touched (1-64) */
	const char *ra_env = getenv("PROTO_RA");
	uint64_t ra = ra_env ? strtoul(ra_env, NULL, 10) : 1;

	(void)arg;
	ra = ra < 1 ? 1 : ra > 64 ? 64 : ra;
	while (!stop) {
		struct pollfd p = { uf, POLLIN, 0 };
		struct uffd_msg msg;
		uint64_t off, n;

		if (poll(&p, 1, 10) <= 0 || read(uf, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		off = (msg.arg.pagefault.address & ~(PG - 1)) - ct.orig;
		n = ct.len - off < ra * PG ? ct.len - off : ra * PG;
		read_cut(page, off, n);
		give_back(off, page, n);
		faults++;
	}
	return NULL;
}

/* The image from the cut, each block given back once read. */
static void write_image(char *img, size_t len)
{
	int wrong = getenv("PROTO_WRONG") != NULL;

	for (uint64_t off = 0; off < len; off += BLK) {
		read_cut(img + off, off, BLK);
		if (use_fork)
			continue;
		give_back(off, img + off, BLK);
		if (wrong) {
			struct iovec l = { img + off, BLK }, r = { (void *)(ct.orig + off), BLK };

			usleep(2000);
			if (process_vm_readv(jp, &l, 1, &r, 1, 0) != (ssize_t)BLK)
				die("process_vm_readv");
		}
	}
}

static size_t wrong_pages(const char *img, size_t len)
{
	size_t bad = 0;

	for (size_t i = 0; i < len / PG; i++) {
		const uint64_t *p = (const uint64_t *)(img + i * PG);
		uint64_t want = i < ct.k ? ct.gen : ct.gen - 1;

		bad += p[0] != want || p[WORDS - 1] != want;
	}
	return bad;
}

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoull(argv[1], NULL, 10) : 256) << 20, bad;
	int req[2], rep[2], done[2], st, pfd;
	double t0, t1, during, after;
	pthread_t th;
	char *img, c;

	use_fork = argc > 2 && !strcmp(argv[2], "fork");
	if (len < BLK || pipe(req) || pipe(rep) || pipe(done) || !(img = malloc(len)))
		die("usage: bench-snapshot-proto MIB [fork]");
	if ((jp = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		job(len, req[0], rep[1], done[0]);
	}
	get(rep[0], &c, 1);
	usleep(300000);
	t0 = now();
	put(req[1], "s", 1);
	get(rep[0], &ct, sizeof(ct));
	if (!use_fork) {
		pfd = (int)syscall(SYS_pidfd_open, jp, 0);
		if ((uf = (int)syscall(SYS_pidfd_getfd, pfd, ct.fd, 0)) < 0)
			die("pidfd_getfd");
		if (pthread_create(&th, NULL, serve, NULL))
			die("pthread_create");
	}
	write_image(img, len);
	t1 = now();
	put(done[1], "d", 1);
	get(rep[0], &during, sizeof(during));
	stop = 1;
	if (!use_fork)
		pthread_join(th, NULL);
	get(rep[0], &after, sizeof(after));
	bad = wrong_pages(img, len);
	kill(jp, SIGKILL);
	waitpid(jp, &st, 0);
	printf("mode=%s MiB=%zu pause_ms=%.3f image_s=%.3f faults=%lu wrong_pages=%zu "
	       "writes_per_s_before=%.0f during=%.0f after=%.0f job=%s\n",
	       use_fork ? "fork" : "shadow", len >> 20, ct.pause_s * 1e3, t1 - t0,
	       (unsigned long)faults, bad, ct.rate_before, during, after,
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "ok" : "FAILED");
	return bad || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL;
}
