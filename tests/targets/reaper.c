/*
 * reaper CMD [ARG...]: run CMD as a child subreaper (prctl(2),
 * PR_SET_CHILD_SUBREAPER): a process orphaned anywhere below us is
 * reparented here instead of to PID 1, and reaped at once.  For
 * tests/killsafe.bats, which kills `ckpt restore` and then needs the
 * restored process's PID free again: PID 1 (a container's init, the
 * arm64 guest's /init) may reap late or never.  Exits with CMD's status
 * once CMD and every process reparented to us have ended.  With
 * REAPER_LOG=FILE, how each of those others ended goes to FILE, one line
 * each: "PID signal N" or "PID exit N" (tests/lazy.bats: a process must
 * die of ckpt's death, SIGKILL, not of what it found in its memory).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int st, ret = 127;
	pid_t cmd, p;

	if (argc < 2) {
		fprintf(stderr, "usage: reaper CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	cmd = fork();
	if (cmd < 0) {
		perror("reaper: fork");
		return 2;
	}
	if (cmd == 0) {
		execvp(argv[1], argv + 1);
		perror("reaper: exec");
		_exit(127);
	}
	const char *logpath = getenv("REAPER_LOG");
	FILE *log = logpath ? fopen(logpath, "a") : NULL;

	while ((p = wait(&st)) > 0 || errno == EINTR) {
		if (p == cmd)
			ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		else if (p > 0 && log) {
			fprintf(log, "%d %s %d\n", (int)p, WIFSIGNALED(st) ? "signal" : "exit",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			fflush(log);
		}
	}
	return ret;
}
