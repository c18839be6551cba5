/*
 * eventfd (its count, EFD_SEMAPHORE), signalfd (its mask) and timerfd
 * (clock, time left, interval, TFD_TIMER_ABSTIME, expirations not read
 * yet): made in ckpt, their status flags (O_NONBLOCK) set as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

/* include/uapi/linux/timerfd.h; Debian 12's glibc headers lack it */
#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif

static int make_eventfd(const struct img_file *f, int fd0)
{
	struct ckpt_fd_eventfd s;
	int fd;

	fd_state(f, &s, sizeof(s));
	fd = eventfd(0, EFD_CLOEXEC | (s.semaphore ? EFD_SEMAPHORE : 0));
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make an eventfd", fd0, f->path);
	if (s.count && write(fd, &s.count, sizeof(s.count)) != sizeof(s.count)) {
		close(fd);
		return error_errno(errno, "fd %d (%s): cannot give the eventfd its count %llu", fd0,
				   f->path, (unsigned long long)s.count);
	}
	return fd_set_status(fd, f, fd0);
}

static int make_signalfd(const struct img_file *f, int fd0)
{
	struct ckpt_fd_signalfd s;
	int fd;

	fd_state(f, &s, sizeof(s));
	/* the kernel's sigset: 8 bytes, bit n-1 = signal n, as stored */
	fd = (int)syscall(SYS_signalfd4, -1, &s.sigmask, sizeof(s.sigmask), SFD_CLOEXEC);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make a signalfd", fd0, f->path);
	return fd_set_status(fd, f, fd0);
}

static struct timespec ts(int64_t ns)
{
	return (struct timespec){ ns / 1000000000, ns % 1000000000 };
}

/*
 * The time left runs from the restore, as for every timer the process
 * had (the process did not run meanwhile); but an absolute wall-clock
 * timer (TFD_TIMER_ABSTIME on CLOCK_REALTIME) is due at the same date.
 */
static int arm(int fd, const struct ckpt_fd_timerfd *s)
{
	struct itimerspec its = { .it_interval = ts(s->interval_ns) };
	int64_t at = s->value_ns;

	if (s->settime_flags & TFD_TIMER_ABSTIME) {
		struct timespec now;
		clockid_t c = s->clockid == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME :
			      s->clockid == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : s->clockid;

		if (c == CLOCK_REALTIME) {
			at += s->now_ns;
		} else {
			if (clock_gettime(c, &now) < 0)
				return -errno;
			at += (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
		}
	}
	its.it_value = ts(at);
	return timerfd_settime(fd, (int)s->settime_flags, &its, NULL) < 0 ? -errno : 0;
}

static int make_timerfd(const struct img_file *f, int fd0)
{
	struct ckpt_fd_timerfd s;
	int fd, ret = 0;

	fd_state(f, &s, sizeof(s));
	fd = timerfd_create(s.clockid, TFD_CLOEXEC);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make a timerfd on clock %d", fd0, f->path,
				   s.clockid);
	if (s.value_ns && (ret = arm(fd, &s)) < 0)
		ret = error_errno(ret, "fd %d (%s): cannot arm the timer again", fd0, f->path);
	/* After arming, which clears them (fs/timerfd.c timerfd_setup);
	 * needs CONFIG_CHECKPOINT_RESTORE. */
	if (ret == 0 && s.ticks && ioctl(fd, TFD_IOC_SET_TICKS, &s.ticks) < 0)
		ret = error_errno(errno, "fd %d (%s): cannot give the timer back its %llu unread expirations",
				  fd0, f->path, (unsigned long long)s.ticks);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd_set_status(fd, f, fd0);
}

static int event_open(struct fd_restore *r, const struct img_file *f, int fd)
{
	(void)r;
	switch (f->d.kind) {
	case CKPT_FD_EVENTFD:
		return make_eventfd(f, fd);
	case CKPT_FD_SIGNALFD:
		return make_signalfd(f, fd);
	}
	return make_timerfd(f, fd);
}

const struct fd_kind_restore fd_restore_event = { .open = event_open };
