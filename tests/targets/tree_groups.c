/*
 * Sessions and process groups of a tree, including those whose leader
 * has exited (docs/trees.md, 3.4).  The root leads its own session and is
 * a child subreaper.  Its children:
 *   A   leads its own process group
 *   B   in A's group (an earlier sibling's)
 *   Y   in the group of X, which has exited and was reaped
 *   Z   a zombie that led its own group; W in Z's group
 *   S2  in the session of S1, which made it and exited: S2 was orphaned
 *       to the root (the subreaper)
 * Each records its PPID, group and session before the dump and checks
 * them after GO; the root checks every child's exit status (Z's 5) and
 * that it is still a subreaper.  Output: "tree_groups: ok".
 */
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "target.h"

/* Wait for GO, then check the ids this process had. */
static int member(void)
{
	pid_t ppid = getppid(), pgid = getpgrp(), sid = getsid(0);

	while (!target_go())
		target_sleep_ms(5);
	CHECK(getppid() == ppid, "%d: parent %d, was %d", (int)getpid(), (int)getppid(), (int)ppid);
	CHECK(getpgrp() == pgid, "%d: group %d, was %d", (int)getpid(), (int)getpgrp(), (int)pgid);
	CHECK(getsid(0) == sid, "%d: session %d, was %d", (int)getpid(), (int)getsid(0), (int)sid);
	return target_failures ? 1 : 0;
}

/* Fork a member; the parent sets its group too (as shells do). */
static pid_t spawn(pid_t group)
{
	pid_t p = fork();

	if (p == 0) {
		if (group >= 0)
			setpgid(0, group);
		_exit(member());
	}
	if (group >= 0)
		setpgid(p, group);
	return p;
}

static pid_t orphan_in_gone_session(void)
{
	int fd[2];
	pid_t s1, s2 = 0;

	if (pipe(fd) < 0)
		return -1;
	if (!(s1 = fork())) {
		pid_t me = getpid();

		setsid();
		if (!(s2 = fork())) {
			close(fd[0]);
			close(fd[1]);
			/* until S1 is gone: orphaned to the subreaper */
			while (getppid() == me)
				target_sleep_ms(1);
			_exit(member());
		}
		write(fd[1], &s2, sizeof(s2));
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &s2, sizeof(s2)) != sizeof(s2))
		s2 = -1;
	close(fd[0]);
	waitpid(s1, NULL, 0);
	return s2;
}

int main(void)
{
	pid_t a, b, x, y, z, w, s2, me = getpid();
	int st, on = 0;

	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	a = spawn(0);
	b = spawn(a);
	x = spawn(0);
	y = spawn(x);
	kill(x, SIGKILL);
	waitpid(x, NULL, 0);
	if (!(z = fork())) {
		setpgid(0, 0);
		_exit(5);
	}
	setpgid(z, z);
	{
		siginfo_t si;

		waitid(P_PID, z, &si, WEXITED | WNOWAIT);
	}
	w = spawn(z);
	s2 = orphan_in_gone_session();
	/* S2 is the subreaper's once S1 has gone */
	for (int i = 0; i < 2000; i++) {
		char path[64], buf[512], *p;
		int fd, pp = 0;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)s2);
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			close(fd);
			buf[n > 0 ? n : 0] = 0;
			if ((p = strrchr(buf, ')')))
				sscanf(p + 4, "%d", &pp);
		}
		if (pp == me)
			break;
		target_sleep_ms(1);
	}
	target_wait();
	CHECK(getsid(0) == me, "root: session %d", (int)getsid(0));
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, &on) == 0 && on == 1, "root: not a subreaper");
	for (int i = 0; i < 5; i++) {
		pid_t p = (pid_t[]){ a, b, y, w, s2 }[i];

		CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child %d: status %#x", (int)p, st);
	}
	CHECK(waitpid(z, &st, 0) == z && WIFEXITED(st) && WEXITSTATUS(st) == 5, "zombie: status %#x", st);
	CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "a child too many");
	if (!target_failures)
		printf("tree_groups: ok\n");
	return target_exit();
}
