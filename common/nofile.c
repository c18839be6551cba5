/*
 * RLIMIT_NOFILE's soft limit, raised for a dump's while (the threads'
 * /proc files, ptrace/taskfiles.c; a copy of each of the job's files,
 * dump/fd.c) and put back after it: a `ckpt run` supervisor lives on,
 * and a job it starts later by exec would inherit the raised limit.
 */
#include <sys/resource.h>

#include "common/util.h"

static struct rlimit saved;
static int raised;

uint64_t nofile_raise(uint64_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	if (!raised)
		saved = rl;
	rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)want);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return getrlimit(RLIMIT_NOFILE, &rl) < 0 ? 0 : rl.rlim_cur;
	raised = 1;
	return rl.rlim_cur;
}

void nofile_restore(void)
{
	struct rlimit rl;

	if (!raised)
		return;
	raised = 0;
	/* The hard limit as it is now: only the soft one was ours. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = MIN(saved.rlim_cur, rl.rlim_max);
	setrlimit(RLIMIT_NOFILE, &rl);
}
