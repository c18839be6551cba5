/*
 * Shared by the pidfd targets (fd_pidfd.c, fd_pidfd_rel.c): pidfd_open(2),
 * pidfd_send_signal(2), what a pidfd names (fdinfo "Pid:",
 * kernel/pid.c pidfd_show_fdinfo) and whether it polls readable (its
 * process, or with PIDFD_THREAD its thread, has ended: pidfd_poll).
 */
#ifndef CKPT_TEST_PIDFD_H
#define CKPT_TEST_PIDFD_H

#include <poll.h>
#include <sys/syscall.h>

#include "target.h"

static int pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

static int send_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* fdinfo's Pid: of fd; -2 if there is none */
static long pid_of(int fd)
{
	const char *p = strstr(target_fdinfo(fd), "\nPid:");

	return p ? strtol(p + 5, NULL, 10) : -2;
}

static int readable(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* fd moved to number n (closed where it was); n, or -1 */
static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

#endif
