/*
 * Files whose readiness signals a process asked for (O_ASYNC, F_SETOWN,
 * F_SETSIG), at fixed numbers:
 *   10, 11  a pipe, read end 10 owned by the process, F_SETSIG SIGRTMIN+1,
 *           O_ASYNC and O_NONBLOCK
 *   12, 13  a unix socket pair, 12 owned by the process's group (it leads
 *           one of its own), O_ASYNC, the default SIGIO
 * After GO the owners and signals read back as the process and group it
 * is now (restored under another PID: the new one), and a write to 11
 * and to 13 brings SIGRTMIN+1 with si_fd 10 and SIGIO: each its fd's
 * signal, with the fd the process set O_ASYNC on.  Prints "fd_owner: ok".
 * With "pid", 12's owner is the process too.  Restored under another
 * PID it leads a group of its new PID (restore/spawn.c): 12's group
 * owner is that group.
 * With "outside", 10's owner is the parent, O_ASYNC off (dump refuses);
 * with "thread", its own thread by id (F_OWNER_TID: refused too).
 * Usage: fd_owner [pid|outside|thread]
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "target.h"

static volatile sig_atomic_t rt_fd = -1, io_count;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	rt_fd = si->si_fd;
}

static void on_io(int sig)
{
	(void)sig;
	io_count++;
}

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want) {
		target_fail("cannot make fd %d: %s", want, strerror(errno));
		exit(target_exit());
	}
	close(fd);
}

static void owned(int fd, int type, pid_t pid, int sig)
{
	struct f_owner_ex o = { 0 };

	if (fcntl(fd, F_GETOWN_EX, &o) < 0 || (int)o.type != type || o.pid != pid)
		target_fail("fd %d: owner %d of type %d, not %d of type %d", fd, o.pid, o.type, pid,
			    type);
	if (fcntl(fd, F_GETSIG) != sig)
		target_fail("fd %d: signal %d, not %d", fd, fcntl(fd, F_GETSIG), sig);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct sigaction sa = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO };
	int p[2], sp[2];

	sigaction(SIGRTMIN + 1, &sa, NULL);
	signal(SIGIO, on_io);
	if (setpgid(0, 0) < 0 || pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		target_fail("setup: %s", strerror(errno));
	at(p[0], 10);
	at(p[1], 11);
	at(sp[0], 12);
	at(sp[1], 13);
	if (fcntl(10, F_SETOWN, getpid()) < 0 || fcntl(10, F_SETSIG, SIGRTMIN + 1) < 0 ||
	    fcntl(10, F_SETFL, O_ASYNC | O_NONBLOCK) < 0 ||
	    fcntl(12, F_SETOWN, strcmp(mode, "pid") ? -getpgrp() : getpid()) < 0 ||
	    fcntl(12, F_SETFL, O_ASYNC) < 0)
		target_fail("fcntl: %s", strerror(errno));
	/* O_ASYNC off first: the parent (the test) gets no signal when the
	 * target is killed and the pipe's write end closes */
	if (!strcmp(mode, "outside") &&
	    (fcntl(10, F_SETFL, O_NONBLOCK) < 0 || fcntl(10, F_SETOWN, getppid()) < 0))
		target_fail("fcntl: %s", strerror(errno));
	if (!strcmp(mode, "thread"))
		fcntl(10, F_SETOWN_EX, &(struct f_owner_ex){ F_OWNER_TID, (pid_t)syscall(SYS_gettid) });
	target_wait();

	owned(10, F_OWNER_PID, getpid(), SIGRTMIN + 1);
	if (strcmp(mode, "pid"))
		owned(12, F_OWNER_PGRP, getpgrp(), 0);
	else
		owned(12, F_OWNER_PID, getpid(), 0);
	/* each signal is sent in write, to this process: it has come when
	 * write returns (the loop only lets a slow machine be slow) */
	if (write(11, "x", 1) != 1 || write(13, "y", 1) != 1)
		target_fail("write: %s", strerror(errno));
	for (int i = 0; i < 200 && (rt_fd < 0 || !io_count); i++)
		target_sleep_ms(5);
	CHECK(rt_fd == 10, "SIGRTMIN+1 for the pipe: si_fd %d, not 10", (int)rt_fd);
	CHECK(io_count >= 1, "no SIGIO for the socket");
	if (!target_failures)
		printf("fd_owner: ok\n");
	return target_exit();
}
