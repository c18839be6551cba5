/*
 * pidfds: which process one names, from /proc/PID/fdinfo ("Pid:", -1 once
 * the process has exited and been reaped: kernel/pid.c pidfd_show_fdinfo),
 * its flags (PIDFD_NONBLOCK = O_NONBLOCK, PIDFD_THREAD = O_EXCL,
 * include/uapi/linux/pidfd.h) in the file's.  Restored (restore/fd-pidfd.c):
 * a pidfd of the process itself, of any other process of the image, of a
 * thread of one (PIDFD_THREAD, Linux 6.9: its Pid: is the thread's id),
 * and of a process that has exited.  Refused by name: a process or thread
 * outside the image (it may not exist at restore).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

/* The image's task index of pid, or -1. */
static int task_of(const struct img *img, pid_t pid)
{
	for (uint32_t i = 0; img->tasks && i < img->ntasks; i++)
		if (img->tasks[i].pid == pid)
			return (int)i;
	return -1;
}

/* /proc/PID/stat field 22, starttime (proc(5)); 0 if unknown. */
static uint64_t start_time(pid_t pid)
{
	unsigned long long v = 0;
	char path[64], *buf = NULL, *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, &buf, NULL) < 0)
		return 0;
	/* after comm's closing parenthesis: field 3 on */
	if ((p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &v) != 1)
		v = 0;
	free(buf);
	return v;
}

/* Whether tid is a thread of process pid other than its main one. */
static int thread_of(pid_t pid, pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return tid != pid && stat(path, &st) == 0;
}

/* The process of the image (frozen: its threads stay) tid is a thread
 * of, the holder first; 0 if none. */
static pid_t thread_owner(const struct img *img, pid_t self, pid_t tid)
{
	if (thread_of(self, tid))
		return self;
	for (uint32_t i = 0; img->tasks && i < img->ntasks; i++)
		if (thread_of(img->tasks[i].pid, tid))
			return img->tasks[i].pid;
	return 0;
}

static int pidfd_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_pidfd s = { 0 };
	pid_t self = c->p->d.pid, owner;
	char *v = strstr(d->fdinfo ? d->fdinfo : "", "\nPid:");

	if (!v)
		return error("fd %d (%s): /proc/PID/fdinfo shows no Pid (Linux 5.3 has it)", d->fd,
			     d->link);
	s.pid = (int32_t)strtol(v + 5, NULL, 10);
	if (s.pid > 0)
		s.start_time = start_time(s.pid);
	dfile_set_state(d, &s, sizeof(s));
	if (s.pid == -1) {
		dfile_what(d, "a pidfd of a process that has exited");
		return 0;
	}
	dfile_what(d, "a pidfd of PID %d", s.pid);
	if (s.pid == 0) {
		d->cannot = "it names a process outside ckpt's PID namespace";
		return 0;
	}
	if (s.pid == self) {
		s.pflags = CKPT_PIDFD_SELF;
		dfile_set_state(d, &s, sizeof(s));
		dfile_what(d, "a pidfd of the process itself");
		return 0;
	}
	if ((owner = thread_owner(c->img, self, s.pid))) {
		/* fdinfo names a thread only for PIDFD_THREAD (pidfd_open
		 * gives others EINVAL or ENOENT) */
		s.pflags = CKPT_PIDFD_THREAD;
		dfile_set_state(d, &s, sizeof(s));
		dfile_what(d, "a pidfd of thread %d of PID %d", s.pid, owner);
		return 0;
	}
	if (task_of(c->img, s.pid) < 0) {
		dfile_what(d, "a pidfd of PID %d, outside the image", s.pid);
		d->cannot = "the process it names is not dumped with it (it may not exist at restore)";
	}
	return 0;
}

const struct fd_kind_dump fd_dump_pidfd = { .collect = pidfd_collect };
