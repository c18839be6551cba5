/*
 * The benchmark's target: a process with N MiB of data that spins in a
 * tight clock loop and reports what it sees.
 *
 *   bench-target -m MIB -s STATE [-d text|random] [-t FRAC] [-r FRAC] [-T MS] [-H] [-p]
 *                [-n THREADS] [-M MAPPINGS] [-R GIB]
 *
 *   -m MIB     size of its one anonymous mapping
 *   -d KIND    page contents (data.h): text (compressible, default) or random
 *   -t FRAC    fraction of the pages written at start (spread evenly; 1)
 *   -r FRAC    fraction of the written pages that a rewrite writes again (0.01)
 *   -T MS      also rewrite every MS milliseconds
 *   -H         transparent huge pages (MADV_HUGEPAGE); 4 KiB pages otherwise
 *   -p         die with the parent (PR_SET_PDEATHSIG)
 *   -n N       also N threads, each asleep in pause() (what a dump must
 *              stop, read and inject into one by one)
 *   -M N       also N one-page mappings, every other one written, their
 *              protections alternating so that none merge
 *   -R GIB     also a MAP_NORESERVE reservation of GIB GiB with one page
 *              written in every 64 MiB: a big heap with little touched
 *   -s STATE   prefix of the files it writes (each by write+rename):
 *     STATE          "pid ADDR LEN TOUCHED" once the data is in place
 *     STATE.gap      "SEQ NS AT" on SIGUSR1: the largest gap between two
 *                    consecutive CLOCK_MONOTONIC readings since the last
 *                    report (the pause as the target saw it) and the
 *                    reading it began at; then resets
 *     STATE.rw       "SEQ PAGES NS" after each rewrite (SIGUSR2 or -T)
 *     STATE.restored "NS PID" once, when it finds it has been restored:
 *                    NS is its first CLOCK_REALTIME reading after the
 *                    restore, comparable with the benchmark's wall clock
 *     STATE.swept    "NS SUM" right after that: it has read one word of
 *                    every page of its mapping, in order (its first work
 *                    after a restore: what a lazy restore makes slower),
 *                    NS the CLOCK_REALTIME reading when it was done
 *
 * Restored is told apart from merely paused by the parent: after a gap of
 * more than 2 ms on either clock it compares getppid() with the parent it
 * started with (a restored process is the child of ckpt or CRIU, or of
 * init).  The wall clock, because CRIU restores into a time namespace
 * whose CLOCK_MONOTONIC goes on from the dump: there the monotonic gap
 * of a restore is about nothing, and a monotonic stamp is not comparable
 * with the benchmark's clock.  With -p it
 * dies with its starting parent (PR_SET_PDEATHSIG), so a killed benchmark
 * leaves no target behind; not for CRIU, which restores the setting, and
 * whose restored process would then die as soon as criu restore -d exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "data.h"

static volatile sig_atomic_t want_gap, want_rewrite;
static const char *state;
static int kind = DATA_TEXT;
static struct vocab vocab;

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void on_usr1(int sig)
{
	(void)sig;
	want_gap = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	want_rewrite = 1;
}

/* Write a small file whole: readers never see it half written. */
static void put(const char *suffix, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(const char *suffix, const char *fmt, ...)
{
	char path[4096], tmp[4200], buf[256];
	va_list ap;
	int fd, n;

	snprintf(path, sizeof(path), "%s%s", state, suffix);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "bench-target: cannot write '%s': %s\n", path, strerror(errno));
		exit(1);
	}
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* The scale options: threads, mappings, a reservation.  0 or -1. */
static int scale(unsigned long nthreads, unsigned long nmaps, unsigned long gib)
{
	pthread_attr_t at;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 << 10);
	for (unsigned long i = 0; i < nthreads; i++) {
		pthread_t t;

		if (pthread_create(&t, &at, sleeper, NULL)) {
			fprintf(stderr, "bench-target: thread %lu of %lu: cannot create it\n", i, nthreads);
			return -1;
		}
	}
	for (unsigned long i = 0; i < nmaps; i++) {
		unsigned char *m = mmap(NULL, BENCH_PAGE, i & 1 ? PROT_READ : PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED) {
			perror("bench-target: mmap");
			return -1;
		}
		if (!(i & 1))
			m[0] = 1;
	}
	if (gib) {
		size_t len = (size_t)gib << 30;
		unsigned char *r = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (r == MAP_FAILED) {
			perror("bench-target: mmap of the reservation");
			return -1;
		}
		for (size_t o = 0; o < len; o += 64u << 20)
			r[o + BENCH_PAGE] = 1;
	}
	return 0;
}

/* Read one word of every page: the sum, so the reads are not dropped. */
static uint64_t sweep(const unsigned char *mem, size_t len)
{
	uint64_t sum = 0;

	for (size_t o = 0; o < len; o += BENCH_PAGE)
		sum += *(const volatile uint64_t *)(mem + o);
	return sum;
}

/* Page i of npages is written iff the evenly spread fraction f picks it. */
static int picked(uint64_t i, double f)
{
	return (uint64_t)((double)(i + 1) * f) > (uint64_t)((double)i * f);
}

static double arg_frac(const char *s)
{
	char *end;
	double f = strtod(s, &end);

	if (*end || f < 0 || f > 1) {
		fprintf(stderr, "bench-target: '%s': not a fraction in [0, 1]\n", s);
		exit(2);
	}
	return f;
}

int main(int argc, char **argv)
{
	double touch = 1, rewrite = 0.01;
	uint64_t mib = 0, every_ns = 0, max_gap = 0, max_at = 0, gen = 0, touched = 0;
	unsigned gap_seq = 0, rw_seq = 0;
	pid_t ppid0 = getppid();
	int restored = 0, huge = 0, pdeath = 0, forks = 0, c;
	unsigned long nthreads = 0, nmaps = 0, gib = 0;
	unsigned char *mem;
	size_t len;

	while ((c = getopt(argc, argv, "m:d:t:r:T:s:Hpf:n:M:R:")) != -1) {
		switch (c) {
		case 'n':
			nthreads = strtoul(optarg, NULL, 10);
			break;
		case 'M':
			nmaps = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			gib = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			mib = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			if (!strcmp(optarg, "text"))
				kind = DATA_TEXT;
			else if (!strcmp(optarg, "random"))
				kind = DATA_RANDOM;
			else {
				fprintf(stderr, "bench-target: data is text or random\n");
				return 2;
			}
			break;
		case 't':
			touch = arg_frac(optarg);
			break;
		case 'r':
			rewrite = arg_frac(optarg);
			break;
		case 'T':
			every_ns = strtoull(optarg, NULL, 10) * 1000000ull;
			break;
		case 's':
			state = optarg;
			break;
		case 'H':
			huge = 1;
			break;
		case 'p':
			pdeath = 1;
			break;
		case 'f':
			forks = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!mib || !state) {
		fprintf(stderr, "usage: bench-target -m MIB -s STATE [-d text|random] [-t FRAC]"
				" [-r FRAC] [-T MS] [-H] [-p] [-f N] [-n THREADS] [-M MAPPINGS] [-R GIB]\n");
		return 2;
	}
	if (pdeath && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != ppid0))
		return 1;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	len = (size_t)mib << 20;
	/* 4 KiB pages whatever THP says, unless asked: a heap usually is. */
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("bench-target: mmap");
		return 1;
	}
	madvise(mem, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	vocab_init(&vocab);
	for (uint64_t i = 0; i < len / BENCH_PAGE; i++) {
		if (!picked(i, touch))
			continue;
		fill_page(mem + i * BENCH_PAGE, kind, &vocab, i, 0);
		touched++;
	}
	/* -f N: a tree, N children that share all of it copy-on-write and
	 * wait, dying with this process (restored so too). */
	for (int i = 0; i < forks; i++)
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			signal(SIGUSR1, SIG_IGN);
			signal(SIGUSR2, SIG_IGN);
			for (;;)
				pause();
		}
	if (scale(nthreads, nmaps, gib) < 0)
		return 1;
	put("", "%d %#lx %zu %llu\n", getpid(), (unsigned long)mem, len, (unsigned long long)touched);

	uint64_t last = now_ns(), next_rw = every_ns ? last + every_ns : UINT64_MAX;
	uint64_t wall_last = clock_ns(CLOCK_REALTIME);

	for (;;) {
		uint64_t t = now_ns(), gap = t - last, wall = clock_ns(CLOCK_REALTIME);
		int wall_gap = wall - wall_last > 2000000;

		last = t;
		wall_last = wall;
		if (gap > max_gap) {
			max_gap = gap;
			max_at = t - gap;
		}
		if ((gap > 2000000 || wall_gap) && !restored && getppid() != ppid0) {
			restored = 1;
			put(".restored", "%llu %d\n", (unsigned long long)wall, getpid());
			uint64_t sum = sweep(mem, len);

			put(".swept", "%llu %llu\n", (unsigned long long)clock_ns(CLOCK_REALTIME),
			    (unsigned long long)sum);
			last = now_ns();
			wall_last = clock_ns(CLOCK_REALTIME);
			max_gap = 0;
			continue;
		}
		if (want_gap) {
			/* A fresh reading first: a freeze that fell between
			 * the last one and the signal counts too. */
			uint64_t u = now_ns(), g = u - last > max_gap ? u - last : max_gap;

			if (u - last > max_gap)
				max_at = last;
			last = u;
			/* Reset before the report appears: the benchmark may
			 * freeze the process as soon as it sees it. */
			want_gap = 0;
			max_gap = 0;
			put(".gap", "%u %llu %llu\n", ++gap_seq, (unsigned long long)g,
			    (unsigned long long)max_at);
		}
		if (want_rewrite || t >= next_rw) {
			uint64_t n = 0, k = 0;

			want_rewrite = 0;
			gen++;
			for (uint64_t i = 0; i < len / BENCH_PAGE; i++) {
				if (!picked(i, touch))
					continue;
				if (picked(k++, rewrite)) {
					fill_page(mem + i * BENCH_PAGE, kind, &vocab, i, gen);
					n++;
				}
			}
			/* The rewrite is the target's own work, not a pause. */
			max_gap = 0;
			last = now_ns();
			if (every_ns)
				next_rw = last + every_ns;
			put(".rw", "%u %llu %llu\n", ++rw_seq, (unsigned long long)n,
			    (unsigned long long)(last - t));
		}
	}
}
