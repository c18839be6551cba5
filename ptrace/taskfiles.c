/*
 * The /proc files of each thread that a dump reads while the process is
 * frozen (its wchan, status and timer slack), opened before the freeze.
 * With 1,000 threads the opens were a third of ckpt's CPU time in /proc
 * (path_openat, the proc inodes and seq_files made: some 11% of a dump's
 * CPU against 14% for all the reads); opened early, a frozen thread's
 * file costs a read and a close.
 *
 * Nothing is read early: a /proc file made in one piece (single_open)
 * makes its text at the first read, from the task as it is then
 * (fs/seq_file.c seq_read_iter, fs/proc/base.c proc_single_show), so what
 * a dump reads is the frozen thread's state as before.  A file opened for
 * a thread that has ended since is bound to that task (its struct pid),
 * not to a new thread given the same TID: its read fails (ESRCH) and the
 * caller opens the file anew, as for a thread that started after.
 *
 * A file read stays open until taskfiles_close(), which the dump calls
 * once the process runs again: closing a /proc file (its seq_file and
 * proc inode let go) cost some 2 us, 2,000-3,000 of them in the pause
 * with 1,000 threads.  dump/fd.c counts them (taskfiles_held) when it
 * raises RLIMIT_NOFILE for its copies of the job's files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
#include "ptrace/proc.h"

/* fds left to the rest of the dump (the files of the job's fds are
 * copied later, dump/fd.c) */
#define SPARE_FDS	1024

/* fd[w]: the open file; -1: none; READ(fd): read, still open. */
struct tfiles {
	pid_t tid;
	int fd[TASKFILE_N];
};

#define READ(fd)	(-(fd) - 2)

static struct tfiles *tf;
static size_t ntf;

static int by_tid(const void *a, const void *b)
{
	const struct tfiles *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* How many threads' files fit under RLIMIT_NOFILE (raised to its hard
 * limit at most, until the dump's end: nofile_restore), SPARE_FDS left. */
static size_t room(size_t want)
{
	uint64_t cur = nofile_raise((uint64_t)want * TASKFILE_N + SPARE_FDS);

	return cur <= SPARE_FDS ? 0 : MIN(want, (size_t)(cur - SPARE_FDS) / TASKFILE_N);
}

static int open_one(int taskfd, int procfd, pid_t tid, int which)
{
	char path[48];

	/* timerslack_ns is in /proc/TID only (fs/proc/base.c
	 * tgid_base_stuff); the others through /proc/PID/task, a shorter
	 * walk. */
	if (which == TASKFILE_SLACK)
		snprintf(path, sizeof(path), "%d/timerslack_ns", tid);
	else
		snprintf(path, sizeof(path), "%d/%s", tid, which == TASKFILE_WCHAN ? "wchan" : "status");
	return openat(which == TASKFILE_SLACK ? procfd : taskfd, path, O_RDONLY | O_CLOEXEC);
}

void taskfiles_open(pid_t pid, size_t nthreads)
{
	char path[48];
	struct dirent *de;
	size_t cap;
	int procfd;
	DIR *d;

	taskfiles_close();
	if (!(cap = room(nthreads)))
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return;
	if ((procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		closedir(d);
		return;
	}
	tf = xmalloc(cap * sizeof(*tf));
	while (ntf < cap && (de = readdir(d))) {
		struct tfiles *t = &tf[ntf];
		pid_t tid = (pid_t)atoi(de->d_name);
		int full = 0;

		if (tid <= 0)
			continue;
		t->tid = tid;
		for (int w = 0; w < TASKFILE_N; w++)
			if ((t->fd[w] = open_one(dirfd(d), procfd, tid, w)) < 0)
				full |= errno == EMFILE || errno == ENFILE;
		ntf++;
		if (full)
			break;
	}
	close(procfd);
	closedir(d);
	qsort(tf, ntf, sizeof(*tf), by_tid);
}

int taskfiles_read(pid_t tid, int which, char **buf)
{
	struct tfiles key = { .tid = tid }, *t;
	int fd, ret;

	if (!ntf || !(t = bsearch(&key, tf, ntf, sizeof(*tf), by_tid)) || t->fd[which] < 0)
		return -ENOENT;
	/* Read once, by one thread of ours (each file of each thread has
	 * one reader); closed by taskfiles_close, after the pause. */
	fd = t->fd[which];
	t->fd[which] = READ(fd);
	ret = read_fd_once(fd, buf, NULL);
	return ret;
}

size_t taskfiles_held(void)
{
	size_t n = 0;

	for (size_t i = 0; i < ntf; i++)
		for (int w = 0; w < TASKFILE_N; w++)
			n += tf[i].fd[w] != -1;
	return n;
}

void taskfiles_close(void)
{
	for (size_t i = 0; i < ntf; i++)
		for (int w = 0; w < TASKFILE_N; w++)
			if (tf[i].fd[w] >= 0)
				close(tf[i].fd[w]);
			else if (tf[i].fd[w] < -1)
				close(READ(tf[i].fd[w]));
	free(tf);
	tf = NULL;
	ntf = 0;
}
