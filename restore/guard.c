/*
 * The restore guardian: a fork of ckpt restore, made before the first
 * process of a tree, that makes a killed restore of the tree all or
 * nothing.  Until ckpt lets the processes go, each is ckpt's tracee with
 * PTRACE_O_EXITKILL, so a ckpt that dies kills them all (ptrace(2)); but
 * the threads are let go one PTRACE_DETACH at a time, and no one call
 * lets them all go: a ckpt killed between two detaches would leave the
 * processes already let go running and the others dead (a parent seeing
 * its child die of SIGKILL).  So before the first detach ckpt journals
 * every process (PID and start time) in memory shared with the guardian,
 * and once the last is let go it tells the guardian so.  The guardian
 * waits for end of file on a pipe (ckpt gone, however it died); if ckpt
 * had not said it was done, it kills every journaled process that is
 * still the same one (its start time: a PID used again is never hit),
 * and whatever they made meanwhile, so that none of them exists.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/log.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "restore/guard.h"

struct rguard_entry {
	pid_t pid;
	uint64_t start;		/* /proc/PID/stat starttime */
};

struct rguard_journal {
	int done;		/* ckpt is done: touch nothing */
	uint32_t n, max;	/* an entry is whole before it counts */
	struct rguard_entry e[];
};

static volatile struct rguard_journal *journal;
static size_t journal_size;
static pid_t guardian;
static int guard_pipe = -1;

/* A process to kill: its pidfd, opened before its start time was checked
 * (so it is that process, not one that has its PID since). */
struct victim {
	pid_t pid;
	int fd;
};

struct victims {
	struct victim *v;
	size_t n;
};

static int is_victim(const struct victims *vs, pid_t pid)
{
	for (size_t i = 0; i < vs->n; i++)
		if (vs->v[i].pid == pid)
			return 1;
	return 0;
}

/* Stop pid if it is still the process that started at start (0: any
 * whose parent is still a victim); a stopped process can neither end (its
 * children would go to another parent) nor make more. */
static void stop_victim(struct victims *vs, pid_t pid, uint64_t start)
{
	struct proc_stat st;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return;
	if (proc_read_stat(pid, &st) < 0 || (start ? st.start_time != start : !is_victim(vs, st.ppid)) ||
	    syscall(SYS_pidfd_send_signal, fd, SIGSTOP, NULL, 0) < 0) {
		close(fd);
		return;
	}
	vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	vs->v[vs->n++] = (struct victim){ pid, fd };
}

/* Every thread of pid stopped, or gone: a fork it had under way is over
 * (its child is in /proc), and it makes no other. */
static int all_stopped(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int ret = 1;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 1;
	while (ret && (de = readdir(d))) {
		struct proc_stat st;

		if (atoi(de->d_name) > 0 && proc_read_stat(atoi(de->d_name), &st) == 0)
			ret = strchr("tTZXx", st.state) != NULL;
	}
	closedir(d);
	return ret;
}

/* Children of victims, stopped and made victims too; how many. */
static size_t stop_children(struct victims *vs)
{
	size_t before = vs->n;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		pid_t pid = atoi(de->d_name);
		struct proc_stat st;

		if (pid > 0 && !is_victim(vs, pid) && proc_read_stat(pid, &st) == 0 &&
		    is_victim(vs, st.ppid))
			stop_victim(vs, pid, 0);
	}
	closedir(d);
	return vs->n - before;
}

static void sweep(const volatile struct rguard_journal *j)
{
	struct victims vs = { 0 };
	size_t added;

	for (uint32_t i = 0; i < j->n && i < j->max; i++)
		stop_victim(&vs, j->e[i].pid, j->e[i].start);
	/* What those let go made before they stopped: their children, and
	 * theirs (a second of waiting at most per round on a busy machine). */
	do {
		for (int t = 0; t < 1000; t++) {
			size_t i = 0;

			while (i < vs.n && all_stopped(vs.v[i].pid))
				i++;
			if (i == vs.n)
				break;
			usleep(1000);
		}
		added = stop_children(&vs);
	} while (added);
	for (size_t i = 0; i < vs.n; i++) {
		syscall(SYS_pidfd_send_signal, vs.v[i].fd, SIGKILL, NULL, 0);
		close(vs.v[i].fd);
	}
	if (vs.n)
		debug("restore guardian: killed %zu processes of a restore left half done", vs.n);
	free(vs.v);
}

int rguard_start(uint32_t max)
{
	volatile struct rguard_journal *j;
	size_t size = sizeof(*j) + max * sizeof(j->e[0]);
	pid_t child;

	j = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (j == MAP_FAILED)
		return -errno;
	j->max = max;
	child = guardian_fork(&guard_pipe);
	if (child < 0) {
		munmap((void *)j, size);
		return (int)child;
	}
	if (child == 0) {
		if (!j->done)
			sweep(j);
		_exit(0);
	}
	journal = j;
	journal_size = size;
	guardian = child;
	return 0;
}

int rguard_note(pid_t pid)
{
	struct proc_stat st;
	uint32_t n;
	int ret;

	if (!journal)
		return 0;
	if ((n = journal->n) >= journal->max)
		return -ENOSPC;
	if ((ret = proc_read_stat(pid, &st)) < 0)
		return ret;
	journal->e[n].pid = pid;
	journal->e[n].start = st.start_time;
	__atomic_store_n(&journal->n, n + 1, __ATOMIC_RELEASE);
	return 0;
}

void rguard_stop(void)
{
	if (!journal)
		return;
	journal->done = 1;
	close(guard_pipe);
	guard_pipe = -1;
	while (waitpid(guardian, NULL, 0) < 0 && errno == EINTR)
		;
	munmap((void *)journal, journal_size);
	journal = NULL;
}
