/*
 * The ATTRS section (image/format.h): attributes of the process and of
 * each thread that ckpt_proc and ckpt_thread have no field for.  What
 * /proc and syscalls made from outside tell is read here; what only the
 * process can ask (securebits, the child-subreaper flag, the THP and
 * membarrier state, a thread's timer slack when /proc/TID/timerslack_ns
 * is not ours to read, mlockall(MCL_FUTURE)) is asked from inside by
 * dump_attrs_remote(), which remote.c calls while it is set up to run
 * syscalls in the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* A syscall of six arguments in thread t: 0 with *r, or -errno after a message. */
static int rcall6(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6], long *r)
{
	int ret = tracee_syscall(ts, t, nr, a, r);

	return ret < 0 ? error_errno(ret, "thread %d: cannot run syscall %ld in the process", t->tid, nr) : 0;
}

/* VmLck of the process now (kB), or -errno. */
static long long locked_kb(pid_t tid)
{
	struct proc_status st;
	int ret = proc_read_status(tid, &st);

	return ret < 0 ? error_errno(ret, "cannot read /proc/%d/status", tid) : (long long)st.vmlck_kb;
}

/*
 * mlockall(MCL_FUTURE) (and MCL_ONFAULT) live in mm->def_flags, which no
 * file shows: a mapping made now tells.  One page mapped in the process:
 * under MCL_FUTURE it is VM_LOCKED (mm/mmap.c adds def_flags), which VmLck
 * counts, and faulted in at once unless MCL_ONFAULT (mincore says); then
 * unmapped again, the layout as it was.  Asked only of a process with
 * locked memory (was_locked_kb, its VmLck): MCL_FUTURE is almost always
 * set with MCL_CURRENT, or has locked something since (its heap, a
 * thread's stack); a process that set MCL_FUTURE alone and has mapped
 * nothing after is not seen (docs/image-format.md says so).
 */
static int lock_future(struct img_proc *p, struct tracee_set *ts, uint64_t was_locked_kb, uint64_t scratch)
{
	struct tracee *t0 = &ts->t[0];
	long page = sysconf(_SC_PAGESIZE), at, r;
	long long before, kb;
	uint8_t resident = 0;
	int ret;

	if (!was_locked_kb)
		return 0;
	if ((before = locked_kb(t0->tid)) < 0)
		return (int)before;
	if ((ret = rcall6(ts, t0, SYS_mmap, (uint64_t[6]){ 0, (uint64_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0 }, &at)) < 0)
		return ret;
	/* Locked beyond RLIMIT_MEMLOCK: only a VM_LOCKED mapping is refused
	 * so (mm/mmap.c mlock_future_ok); nothing was mapped. */
	if (at == -EAGAIN) {
		p->attrs.flags |= CKPT_ATTR_LOCK_FUTURE;
		return 0;
	}
	if (at < 0 && at > -4096)	/* nothing mapped, nothing learnt */
		return error_errno((int)-at, "cannot map a page in the process to see whether it "
				   "called mlockall(MCL_FUTURE)");
	if ((kb = locked_kb(t0->tid)) < 0)
		ret = (int)kb;
	else if (kb > before) {
		p->attrs.flags |= CKPT_ATTR_LOCK_FUTURE;
		ret = rcall6(ts, t0, SYS_mincore, (uint64_t[6]){ (uint64_t)at, (uint64_t)page, scratch },
			     &r);
		if (ret == 0 && r == 0 && (ret = mem_read(t0->tid, scratch, &resident, 1)) < 0)
			error_errno(ret, "cannot read what mincore said in the process");
		if (ret == 0 && !(resident & 1))
			p->attrs.flags |= CKPT_ATTR_LOCK_ONFAULT;
	}
	if (rcall6(ts, t0, SYS_munmap, (uint64_t[6]){ (uint64_t)at, (uint64_t)page }, &r) < 0 || r < 0)
		return error("cannot unmap the page mapped at %#lx in the process", (unsigned long)at);
	return ret;
}

int dump_attrs_remote(struct img_proc *p, struct tracee_set *ts, uint64_t locked_kb,
		      uint64_t scratch, long dumpable)
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
	return lock_future(p, ts, locked_kb, scratch);
}
