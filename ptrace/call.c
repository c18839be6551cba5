/*
 * The two ptrace primitives the rest of ckpt uses (everything outside
 * ptrace/ goes through them): one request, and one wait.
 */
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "common/sigguard.h"
#include "ptrace/tracee.h"

long tracee_call(int req, pid_t tid, const void *addr, const void *data)
{
	long r;

	/* PEEK* requests return data that may look like -1: errno tells. */
	errno = 0;
	r = ptrace((enum __ptrace_request)req, tid, (void *)addr, (void *)data);
	if (r == -1 && errno)
		return -errno;
	return r;
}

pid_t tracee_wait(pid_t pid, int *status, int flags)
{
	for (;;) {
		pid_t r = waitpid(pid, status, flags);

		if (r >= 0)
			return r;
		/* A signal ckpt means to act on (^C) ends the wait. */
		if (errno != EINTR || sigguard_fired())
			return -errno;
	}
}
