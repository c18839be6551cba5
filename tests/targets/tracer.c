/*
 * tracer PID FILE: be PID's tracer (PTRACE_SEIZE, which does not stop it),
 * create FILE, and keep the tracee running until it exits or we are
 * killed; the kernel detaches it then (ptrace(2), "Detaching").  Used to
 * check that ckpt refuses a process somebody else already traces and
 * leaves both alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: tracer PID FILE\n");
		return 2;
	}
	pid = (pid_t)atoi(argv[1]);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
		perror("tracer: PTRACE_SEIZE");
		return 1;
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror("tracer: ready file");
		return 1;
	}
	close(fd);
	for (;;) {
		int st, sig;

		if (waitpid(pid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 0 : 1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return 0;
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (st >> 16 == PTRACE_EVENT_STOP) {
			/* A group-stop: stay stopped as without a tracer. */
			ptrace(PTRACE_LISTEN, pid, 0, 0);
			continue;
		}
		/* A signal on its way: deliver it as the kernel would. */
		ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
	}
}
