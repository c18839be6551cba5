/*
 * eventfd, signalfd and timerfd state, at fixed descriptor numbers:
 *   10  eventfd, count 5, O_NONBLOCK: one read gives 5, then EAGAIN
 *   11  eventfd, count 3, EFD_SEMAPHORE | O_NONBLOCK: 1, 1, 1, EAGAIN
 *   12  eventfd, count 2^40 (64 bits kept), blocking
 *   13  signalfd for SIGUSR1 and SIGRTMIN+2, O_NONBLOCK; SIGUSR1 blocked
 *       and pending at the dump: read after restore, then EAGAIN; its
 *       mask in fdinfo unchanged
 *   14  timerfd, CLOCK_MONOTONIC, one-shot, 2 s left at the dump: at most
 *       2 s left, and it fires
 *   15  timerfd, CLOCK_MONOTONIC, every 50 ms, not read for 400 ms before
 *       the dump: the first read gives at least 8 expirations
 *   16  timerfd, CLOCK_REALTIME, TFD_TIMER_ABSTIME at start + 60 s: due at
 *       that date still (the test waits 2 s between dump and restore:
 *       a timer restarted with the time left would be 2 s late), and
 *       still absolute
 *   17  timerfd, fired once (one-shot), not read: disarmed, 1 expiration
 *   18  timerfd, TFD_NONBLOCK, never armed: EAGAIN
 * Usage: fd_event
 */
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "target.h"

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int arm(int fd, int flags, long long value_ns, long long interval_ns)
{
	struct itimerspec its = {
		{ interval_ns / 1000000000, interval_ns % 1000000000 },
		{ value_ns / 1000000000, value_ns % 1000000000 },
	};

	return timerfd_settime(fd, flags, &its, NULL);
}

static uint64_t rd(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, 8) == 8 ? v : (uint64_t)-1;
}

/* fdinfo's "sigmask:" of one of our fds */
static unsigned long long sigmask_of(int fd)
{
	const char *p = strstr(target_fdinfo(fd), "sigmask:");

	return p ? strtoull(p + 8, NULL, 16) : 0;
}

int main(void)
{
	uint64_t big = 1ull << 40, abs_at;
	struct signalfd_siginfo si;
	struct itimerspec its;
	sigset_t m;
	unsigned long long mask;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	abs_at = now_ns(CLOCK_REALTIME) / 1000000000 + 60;
	if (at(eventfd(5, EFD_NONBLOCK), 10) < 0 || at(eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK), 11) < 0 ||
	    at(eventfd(0, 0), 12) < 0 || write(12, &big, 8) != 8 ||
	    at(signalfd(-1, &m, SFD_NONBLOCK), 13) < 0 ||
	    at(timerfd_create(CLOCK_MONOTONIC, 0), 14) < 0 || arm(14, 0, 2000000000, 0) ||
	    at(timerfd_create(CLOCK_MONOTONIC, 0), 15) < 0 || arm(15, 0, 50000000, 50000000) ||
	    at(timerfd_create(CLOCK_REALTIME, 0), 16) < 0 ||
	    arm(16, TFD_TIMER_ABSTIME, (long long)abs_at * 1000000000, 0) ||
	    at(timerfd_create(CLOCK_MONOTONIC, 0), 17) < 0 || arm(17, 0, 10000000, 0) ||
	    at(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), 18) < 0) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	mask = sigmask_of(13);
	raise(SIGUSR1);
	target_sleep_ms(400);
	target_wait();

	CHECK(rd(10) == 5 && rd(10) == (uint64_t)-1 && errno == EAGAIN, "eventfd 10: not 5, then EAGAIN");
	CHECK(rd(11) == 1 && rd(11) == 1 && rd(11) == 1 && rd(11) == (uint64_t)-1 && errno == EAGAIN,
	      "semaphore eventfd 11: not 1, 1, 1, then EAGAIN");
	CHECK(!(fcntl(12, F_GETFL) & O_NONBLOCK) && rd(12) == big, "eventfd 12: not 2^40, blocking");
	CHECK(sigmask_of(13) == mask, "signalfd 13 mask %#llx, want %#llx", sigmask_of(13), mask);
	CHECK(read(13, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR1,
	      "signalfd 13: the pending SIGUSR1 is not there");
	CHECK(read(13, &si, sizeof(si)) < 0 && errno == EAGAIN, "signalfd 13: more than SIGUSR1");
	/* (0 if it fired already: a slow restore, or no dump at all) */
	CHECK(timerfd_gettime(14, &its) == 0 && its.it_value.tv_sec < 2 + (its.it_value.tv_nsec == 0),
	      "timerfd 14: %ld.%09ld s left, want at most 2", (long)its.it_value.tv_sec,
	      its.it_value.tv_nsec);
	CHECK(rd(14) == 1, "timerfd 14 did not fire once");
	{
		uint64_t n = rd(15);

		CHECK(n >= 8 && n != (uint64_t)-1, "timerfd 15: %llu expirations, want 8 or more",
		      (unsigned long long)n);
	}
	{
		double want = (double)abs_at - now_ns(CLOCK_REALTIME) / 1e9, left;

		timerfd_gettime(16, &its);
		left = (double)its.it_value.tv_sec + its.it_value.tv_nsec / 1e9;
		CHECK(left > want - 0.5 && left < want + 0.5,
		      "timerfd 16 (absolute): due in %.3f s, want %.3f s", left, want);
		CHECK(strstr(target_fdinfo(16), "settime flags: 01"), "timerfd 16 is no longer TFD_TIMER_ABSTIME");
	}
	CHECK(timerfd_gettime(17, &its) == 0 && !its.it_value.tv_sec && !its.it_value.tv_nsec,
	      "timerfd 17 is armed again");
	CHECK(rd(17) == 1, "timerfd 17: its unread expiration is gone");
	CHECK(rd(18) == (uint64_t)-1 && errno == EAGAIN, "timerfd 18: not EAGAIN");
	return target_exit();
}
