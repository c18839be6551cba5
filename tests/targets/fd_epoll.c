/*
 * epoll instances and what they watch:
 *   18  epoll E1 watching
 *         10  pipe read end ("x" in it)          EPOLLIN              0x1111
 *         12  eventfd (count 1)                  EPOLLIN|EPOLLET      0x2222
 *         13  timerfd (fired, unread)            EPOLLIN|EPOLLONESHOT 0x3333
 *         14  signalfd (SIGUSR1 pending)         EPOLLIN              0x4444
 *         15  epoll E2                           EPOLLIN              0x5555
 *         11  the pipe's write end               EPOLLOUT             0x7777
 *         19  eventfd (count 1)                  EPOLLIN|EPOLLONESHOT 0x8888
 *   15  epoll E2 watching 16, a second pipe's read end ("y" in it),
 *       EPOLLIN|EPOLLEXCLUSIVE 0x6666 (17 is its write end)
 * Before the dump E1 is waited on once: the edge of 12 is consumed, and
 * the one-shots 13 and 19 fire and are disarmed.  After restore each
 * registration is there again (fdinfo: fd, events, data), and waiting
 * reports the same: 0x1111, 0x4444, 0x5555, 0x7777 (and 0x2222 at most
 * once more: an edge is given again when its fd is ready, see README
 * Limits), not the disarmed one-shots; new events come through.
 * With "stale": fd 20, a dup of 10 registered in E1, is closed before
 * the dump (epoll keeps watching the file): dump must refuse it.
 * Usage: fd_epoll [stale]
 */
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "target.h"

#define EPOLLEXCLUSIVE_	(1u << 28)

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The registrations in fdinfo, "tfd events data" per line, sorted (the
 * kernel lists them in the order of its tree, by file address). */
static void registrations(int ep, char *out, size_t len)
{
	char path[64], buf[4096], *l, *save, line[32][64], *sorted[32];
	ssize_t n;
	size_t k = 0, nl = 0;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = open(path, O_RDONLY);
	n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	out[0] = 0;
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int tfd;
		unsigned ev;
		unsigned long long data;

		if (sscanf(l, "tfd: %d events: %x data: %llx", &tfd, &ev, &data) != 3)
			continue;
		/* a fired one-shot comes back waiting for errors and hangups
		 * (epoll_ctl always adds them): README, Limits */
		if ((ev & EPOLLONESHOT) && !(ev & (EPOLLIN | EPOLLOUT)))
			ev &= ~(uint32_t)(EPOLLERR | EPOLLHUP);
		if (nl < 32) {
			snprintf(line[nl], sizeof(line[nl]), "%d %x %llx\n", tfd, ev, data);
			sorted[nl] = line[nl];
			nl++;
		}
	}
	qsort(sorted, nl, sizeof(sorted[0]), cmp_line);
	for (size_t i = 0; i < nl; i++)
		k += (size_t)snprintf(out + k, len - k, "%s", sorted[i]);
}

/* The data of what one wait reports, as a bit set: bit (data >> 12). */
static unsigned wait_set(int ep)
{
	struct epoll_event ev[16];
	unsigned set = 0;
	int n = epoll_wait(ep, ev, 16, 0);

	for (int i = 0; i < n; i++)
		set |= 1u << (ev[i].data.u64 >> 12);
	return set;
}

int main(int argc, char **argv)
{
	int stale = argc > 1 && !strcmp(argv[1], "stale"), p[2], q[2];
	char before1[1024], before2[1024], after1[1024], after2[1024];
	struct itimerspec its = { { 0, 0 }, { 0, 10000000 } };
	uint64_t one = 1;
	unsigned got;
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	if (pipe(p) || at(p[0], 10) < 0 || at(p[1], 11) < 0 || write(11, "x", 1) != 1 ||
	    at(eventfd(1, 0), 12) < 0 || at(timerfd_create(CLOCK_MONOTONIC, 0), 13) < 0 ||
	    timerfd_settime(13, 0, &its, NULL) || at(signalfd(-1, &m, 0), 14) < 0 ||
	    at(epoll_create1(0), 15) < 0 || pipe(q) || at(q[0], 16) < 0 || at(q[1], 17) < 0 ||
	    write(17, "y", 1) != 1 || at(epoll_create1(EPOLL_CLOEXEC), 18) < 0 ||
	    at(eventfd(1, 0), 19) < 0 ||
	    add(15, 16, EPOLLIN | EPOLLEXCLUSIVE_, 0x6666) || add(18, 10, EPOLLIN, 0x1111) ||
	    add(18, 12, EPOLLIN | EPOLLET, 0x2222) || add(18, 13, EPOLLIN | EPOLLONESHOT, 0x3333) ||
	    add(18, 14, EPOLLIN, 0x4444) || add(18, 15, EPOLLIN, 0x5555) ||
	    add(18, 11, EPOLLOUT, 0x7777) || add(18, 19, EPOLLIN | EPOLLONESHOT, 0x8888)) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	if (stale && (dup2(10, 20) != 20 || add(18, 20, EPOLLIN, 0x9999) || close(20))) {
		target_fail("cannot set up the stale registration: %s", strerror(errno));
		return target_exit();
	}
	raise(SIGUSR1);
	target_sleep_ms(50);	/* the timer fires */
	got = wait_set(18);
	CHECK(got == 0x1be, "before the dump: the first wait reported %#x, want 0x1be", got);
	registrations(18, before1, sizeof(before1));
	registrations(15, before2, sizeof(before2));
	target_wait();

	registrations(18, after1, sizeof(after1));
	registrations(15, after2, sizeof(after2));
	CHECK(!strcmp(before1, after1), "E1's registrations were\n%s and are\n%s", before1, after1);
	CHECK(!strcmp(before2, after2), "E2's registrations were\n%s and are\n%s", before2, after2);
	got = wait_set(18) & ~0x4u;	/* the edge of 12, if given again */
	CHECK(got == 0xb2, "after restore a wait reported %#x, want 0xb2 (1111 4444 5555 7777)", got);
	CHECK(!(wait_set(18) & 0x4), "the edge of eventfd 12 was reported twice");
	CHECK(write(12, &one, 8) == 8 && (wait_set(18) & 0x4), "a new edge of eventfd 12 is not reported");
	CHECK(wait_set(15) == 0x40, "E2 does not report its pipe");
	{
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 0x3333 };

		CHECK(epoll_ctl(18, EPOLL_CTL_MOD, 13, &ev) == 0 && (wait_set(18) & 0x8),
		      "one-shot timerfd 13 re-armed is not reported");
	}
	return target_exit();
}
