/*
 * The ATTRS section (image/format.h): attributes of the process and of
 * each thread that ckpt_proc and ckpt_thread have no field for.  What
 * /proc and syscalls made from outside tell is read here; what only the
 * process can ask (securebits, the child-subreaper flag, the THP and
 * membarrier state, a thread's timer slack when /proc/TID/timerslack_ns
 * is not ours to read) is asked from inside by dump_attrs_remote(), which
 * remote.c calls while it is set up to run syscalls in the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "dump/dump.h"

#define IOPRIO_WHO_PROCESS	1	/* include/uapi/linux/ioprio.h */
/* include/uapi/linux/membarrier.h (Linux 6.3) */
#define MEMBARRIER_CMD_GET_REGISTRATIONS	(1 << 9)
#ifndef PR_GET_THP_DISABLE
#define PR_GET_THP_DISABLE	42
#endif
#define SLACK_UNKNOWN	UINT64_MAX

/* The number in buf (freed), or -EINVAL. */
static int number(char *buf, long long *v)
{
	char *end;
	int ret;

	errno = 0;
	*v = strtoll(buf, &end, 10);
	ret = end == buf || errno ? -EINVAL : 0;
	free(buf);
	return ret;
}

/* A number from the file at path (relative to dirfd; a /proc file made in
 * one piece: timerslack_ns, oom_score_adj, loginuid), or -errno. */
static int read_number(int dirfd, const char *path, long long *v)
{
	char *buf;
	int ret;

	if ((ret = read_file_once_at(dirfd, path, &buf, NULL)) < 0)
		return ret;
	return number(buf, v);
}

static int read_deadline(struct ckpt_thread_attrs *t)
{
	struct ckpt_sched_attr sa = { 0 };

	if (syscall(SYS_sched_getattr, t->tid, &sa, sizeof(sa), 0) < 0)
		return error_errno(errno, "thread %d: cannot read its SCHED_DEADLINE parameters", t->tid);
	t->dl_runtime = sa.runtime;
	t->dl_deadline = sa.deadline;
	t->dl_period = sa.period;
	/* The flags of the policy itself: reset-on-fork, reclaim, overrun
	 * (SCHED_FLAG_* 1, 2, 4); utilization clamps are not kept. */
	t->sched_flags = sa.flags & 7;
	return 0;
}

int dump_thread_attrs(struct img_proc *p, size_t i, pid_t tid, int procfd)
{
	char path[32], *buf;
	struct ckpt_thread_attrs *t = &p->tattrs[i];
	long long v;
	long r;
	int ret;

	t->tid = tid;
	/* From the one read of each thread's status (collect.c). */
	if (p->threads[i].no_new_privs > 0)
		t->flags |= CKPT_TATTR_NO_NEW_PRIVS;
	/* Any thread's, through /proc/TID: CAP_SYS_NICE for another
	 * process's (fs/proc/base.c timerslack_ns_show); or asked
	 * from inside (dump_attrs_remote). */
	snprintf(path, sizeof(path), "%d/timerslack_ns", t->tid);
	if (taskfiles_read(tid, TASKFILE_SLACK, &buf) == 0)
		ret = number(buf, &v);
	else
		ret = read_number(procfd, path, &v);
	t->timer_slack_ns = ret == 0 ? (uint64_t)v : SLACK_UNKNOWN;
	errno = 0;
	r = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, t->tid);
	if (r < 0)
		return error_errno(errno, "thread %d: cannot read its I/O priority", t->tid);
	t->ioprio = (uint32_t)r;
	if ((p->threads[i].d.sched_policy & ~(uint32_t)SCHED_RESET_ON_FORK) == SCHED_DEADLINE &&
	    (ret = read_deadline(t)) < 0)
		return ret;
	return 0;
}

int dump_collect_attrs(pid_t live, struct img_proc *p, size_t nthreads)
{
	struct ckpt_attrs *a = &p->attrs;
	char path[64];
	long long v;
	int ret;

	p->has_attrs = 1;
	a->nthreads = (uint32_t)nthreads;
	p->tattrs = xzalloc(a->nthreads * sizeof(*p->tattrs));
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", live);
	if ((ret = read_number(AT_FDCWD, path, &v)) < 0)
		return error_errno(ret, "cannot read %s", path);
	a->oom_score_adj = (int32_t)v;
	/* Only with audit (CONFIG_AUDIT): nothing to restore without it. */
	snprintf(path, sizeof(path), "/proc/%d/loginuid", live);
	if (read_number(AT_FDCWD, path, &v) == 0) {
		a->loginuid = (uint32_t)v;
		a->flags |= CKPT_ATTR_LOGINUID;
	}
	return 0;
}

/*
 * mlockall(MCL_FUTURE) (and MCL_ONFAULT) live in mm->def_flags, which no
 * file shows: only a mapping made in the process would tell, and a page
 * mapped there and unmapped again is a change a kill -9 or a Ctrl-C of
 * ckpt between the two would leave behind (docs/kill-safety.md).  So it is
 * not asked: a process with locked memory (VmLck, locked_kb) is the one
 * that may have called it, and is told so.  Restore still honours
 * CKPT_ATTR_LOCK_FUTURE in an image that has it.
 */
static void warn_lock_future(const struct img_proc *p, uint64_t locked_kb)
{
	if (locked_kb)
		warn("process %d has locked memory: whether it called mlockall(MCL_FUTURE) cannot be "
		     "seen without changing it, so mappings it makes after restore may not be locked",
		     p->d.pid);
}

int dump_attrs_remote(struct img_proc *p, struct tracee_set *ts, uint64_t locked_kb, long dumpable)
{
	struct ckpt_attrs *a = &p->attrs;
	struct tracee *t0 = &ts->t[0];
	long r;
	int ret;

	/* prctl(2): 2 is what the kernel sets for a set-user-ID program with
	 * fs.suid_dumpable = 2; PR_SET_DUMPABLE takes only 0 and 1. */
	if (dumpable == 2)
		return error("the process is dumpable for root only (fs.suid_dumpable 2 after a "
			     "set-user-ID exec): PR_SET_DUMPABLE cannot set that back");
	a->dumpable = dumpable > 0;
	if ((ret = dump_rcall(ts, t0, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, &r)) < 0)
		return ret;
	a->securebits = r > 0 ? (uint32_t)r : 0;
	if ((ret = dump_rcall(ts, t0, SYS_prctl, PR_GET_THP_DISABLE, 0, 0, 0, &r)) < 0)
		return ret;
	a->thp_disable = r > 0 ? (uint32_t)r : 0;
	if (p->subreaper)	/* remote.c asked, for the tree's tasks too */
		a->flags |= CKPT_ATTR_SUBREAPER;
	/* Linux >= 6.3; before, nothing tells (the README says so). */
	if ((ret = dump_rcall(ts, t0, SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0, 0,
			      &r)) < 0)
		return ret;
	if (r >= 0) {
		a->membarrier = (uint32_t)r;
		a->flags |= CKPT_ATTR_MEMBARRIER;
	}
	for (uint32_t i = 0; i < ts->n && i < a->nthreads; i++) {
		if (p->tattrs[i].timer_slack_ns != SLACK_UNKNOWN)
			continue;
		if ((ret = dump_rcall(ts, &ts->t[i], SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, &r)) < 0)
			return ret;
		p->tattrs[i].timer_slack_ns = r > 0 ? (uint64_t)r : 0;
	}
	warn_lock_future(p, locked_kb);
	return 0;
}
