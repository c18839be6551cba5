/*
 * pidfds: which process one names, from /proc/PID/fdinfo ("Pid:", -1 once
 * the process has exited and been reaped: kernel/pid.c pidfd_show_fdinfo),
 * its flags (PIDFD_NONBLOCK = O_NONBLOCK, PIDFD_THREAD = O_EXCL,
 * include/uapi/linux/pidfd.h) in the file's.  Restored (restore/fd-pidfd.c):
 * a pidfd of the process itself, of its parent or an ancestor, or of a
 * child of it in the image (opened by the restored process, by PID: a
 * tree keeps its PIDs), and of a process that has exited.  Refused by
 * name: a process outside the image (it may not exist at restore), and
 * a thread other than the main one.
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

/* Whether task a is b's parent or an ancestor of it. */
static int is_ancestor(const struct img *img, int a, int b)
{
	for (uint32_t n = 0; n < img->ntasks; n++) {
		b = img->tasks[b].parent;
		if (b < 0 || b >= (int)img->ntasks)
			return 0;
		if (b == a)
			return 1;
	}
	return 0;
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

/* Whether tid is a thread of process pid. */
static int thread_of(pid_t pid, pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return stat(path, &st) == 0;
}

static int pidfd_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_pidfd s = { 0 };
	pid_t self = c->p->d.pid;
	char *v = strstr(d->fdinfo ? d->fdinfo : "", "\nPid:");
	int held, named;

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
	if (thread_of(self, s.pid)) {
		dfile_what(d, "a pidfd of its thread %d", s.pid);
		d->cannot = "a pidfd of a thread other than the main one is not restored yet";
		return 0;
	}
	held = task_of(c->img, self);
	named = task_of(c->img, s.pid);
	if (named < 0 || held < 0) {
		dfile_what(d, "a pidfd of PID %d, outside the image", s.pid);
		d->cannot = "the process it names is not dumped with it (it may not exist at restore)";
		return 0;
	}
	/* The process opens it again itself, after its parent made it and
	 * after it made its own children: a sibling's or a grandchild's
	 * may not be there yet. */
	if (!is_ancestor(c->img, named, held) && c->img->tasks[named].parent != held) {
		dfile_what(d, "a pidfd of PID %d of the image, not its parent, ancestor or child",
			   s.pid);
		d->cannot = "a pidfd of a process of the image other than itself, an ancestor or a "
			    "child is not restored yet";
	}
	return 0;
}

const struct fd_kind_dump fd_dump_pidfd = { .collect = pidfd_collect };
