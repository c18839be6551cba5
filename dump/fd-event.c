/*
 * eventfd, signalfd and timerfd: all their state is in /proc/PID/fdinfo
 * (fs/eventfd.c, fs/signalfd.c, fs/timerfd.c: *_show_fdinfo), but for a
 * timer's time left, which timerfd_gettime(2) on ckpt's copy reads as the
 * kernel keeps it (an expired periodic timer shows 0 in fdinfo until it
 * is read or asked).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

/*
 * Before Linux 6.5 fdinfo does not say whether an eventfd is
 * EFD_SEMAPHORE; its reads do.  With the process frozen, on ckpt's copy
 * (non-blocking meanwhile): add 2 and read.  A semaphore gives 1: read 1
 * again, and it is back at count.  Otherwise it gives it all: put count
 * back.  A waiter woken meanwhile finds nothing more than before
 * (ep_send_events polls each ready file again before reporting it).
 */
static int probe_semaphore(struct dfile *d, uint64_t count, uint32_t *sem)
{
	int fl = fcntl(d->copy, F_GETFL), ret = 0;
	uint64_t two = 2, v = 0;

	if (fl < 0 || fcntl(d->copy, F_SETFL, fl | O_NONBLOCK) < 0)
		return error_errno(errno, "fd %d (%s): cannot probe the eventfd", d->fd, d->link);
	if (count > UINT64_MAX - 3 || write(d->copy, &two, 8) != 8 || read(d->copy, &v, 8) != 8)
		ret = error_errno(errno, "fd %d (%s): cannot probe the eventfd", d->fd, d->link);
	else if ((*sem = v == 1) ? read(d->copy, &v, 8) != 8 :
		 count && write(d->copy, &count, 8) != 8)
		ret = error_errno(errno, "fd %d (%s): cannot put the eventfd's count %llu back",
				  d->fd, d->link, (unsigned long long)count);
	fcntl(d->copy, F_SETFL, fl);
	return ret;
}

static int eventfd_collect(struct dfile *d)
{
	struct ckpt_fd_eventfd s = { 0 };
	uint64_t sem;
	int ret;

	if (fdinfo_u64(d, "eventfd-count:", 16, &s.count) < 0)
		return error("fd %d (%s): /proc/PID/fdinfo shows no eventfd-count", d->fd, d->link);
	if (fdinfo_u64(d, "eventfd-semaphore:", 10, &sem) == 0)
		s.semaphore = !!sem;
	else if ((ret = probe_semaphore(d, s.count, &s.semaphore)) < 0)
		return ret;
	dfile_set_state(d, &s, sizeof(s));
	return 0;
}

static int signalfd_collect(struct dfile *d)
{
	struct ckpt_fd_signalfd s;

	if (fdinfo_u64(d, "sigmask:", 16, &s.sigmask) < 0)
		return error("fd %d (%s): /proc/PID/fdinfo shows no sigmask", d->fd, d->link);
	dfile_set_state(d, &s, sizeof(s));
	return 0;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* The clock an alarm clock runs on (they can be read, not always armed). */
static clockid_t readable_clock(clockid_t c)
{
	return c == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : c == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : c;
}

static int timerfd_collect(struct dfile *d)
{
	struct ckpt_fd_timerfd s = { 0 };
	struct itimerspec its;
	struct timespec now;
	uint64_t clk, fl;

	/* First: it forwards an expired periodic timer (fs/timerfd.c
	 * timerfd_gettime), adding the expirations to ticks. */
	if (timerfd_gettime(d->copy, &its) < 0)
		return error_errno(errno, "fd %d (%s): cannot read the timer", d->fd, d->link);
	if (fdinfo_u64(d, "clockid:", 10, &clk) < 0 || fdinfo_u64(d, "settime flags:", 8, &fl) < 0)
		return error("fd %d (%s): /proc/PID/fdinfo shows no clockid", d->fd, d->link);
	/* ticks as they are now, after the forward */
	free(d->fdinfo);
	d->fdinfo = NULL;
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", d->copy);
		if (read_file(path, &d->fdinfo, NULL) < 0 || fdinfo_u64(d, "ticks:", 10, &s.ticks) < 0)
			return error("fd %d (%s): cannot read its expirations", d->fd, d->link);
	}
	s.clockid = (int32_t)clk;
	s.settime_flags = (uint32_t)fl;
	s.interval_ns = ns(&its.it_interval);
	s.value_ns = ns(&its.it_value);
	if (clock_gettime(readable_clock((clockid_t)clk), &now) == 0)
		s.now_ns = ns(&now);
	dfile_set_state(d, &s, sizeof(s));
	return 0;
}

static int event_collect(struct fd_dump *c, struct dfile *d)
{
	(void)c;
	switch (d->f->d.kind) {
	case CKPT_FD_EVENTFD:
		return eventfd_collect(d);
	case CKPT_FD_SIGNALFD:
		return signalfd_collect(d);
	}
	return timerfd_collect(d);
}

const struct fd_kind_dump fd_dump_event = { .collect = event_collect };
