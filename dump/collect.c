/*
 * Process and thread state that /proc and ptrace give us without running
 * anything in the target: ids, credentials, limits, mm layout, registers,
 * signal masks, pending signals, rseq registration.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "dump/dump.h"

static int read_proc_file(pid_t pid, const char *name, char **buf, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return read_file(path, buf, len);
}

/* Pending signals of one queue, without dequeuing them (ptrace(2)):
 * read 32 at a time onto the stack, *out malloc'd only for those there
 * (a 4 KiB buffer per thread was a page fault each, 1,000 with 1,000
 * threads, for queues nearly always empty). */
static int peek_pending(pid_t tid, int shared, uint8_t (**out)[CKPT_SIGINFO_SIZE], uint32_t *n)
{
	struct __ptrace_peeksiginfo_args a = { .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0 };
	uint8_t (*buf)[CKPT_SIGINFO_SIZE] = NULL, part[32][CKPT_SIGINFO_SIZE];
	uint32_t cnt = 0;

	for (;;) {
		long r;

		a.off = cnt;
		a.nr = 32;
		r = tracee_call(PTRACE_PEEKSIGINFO, tid, &a, part);
		if (r < 0) {
			free(buf);
			return (int)r;
		}
		if (r > 0) {
			buf = xrealloc(buf, (cnt + (uint32_t)r) * sizeof(*buf));
			memcpy(buf + cnt, part, (size_t)r * sizeof(*buf));
		}
		cnt += (uint32_t)r;
		if (r < 32)
			break;
	}
	*out = buf;
	*n = cnt;
	return 0;
}

int dump_collect_proc(pid_t live, struct img_proc *p, struct tracee_set *ts,
		      struct proc_status *status)
{
	pid_t pid = ts->pid;
	struct proc_stat st;
	struct proc_status *ss = status;
	uint64_t rlim[CKPT_NRLIMIT][2];
	struct stat sb;
	char path[64], *buf;
	size_t len;
	int ret;

	/* The process through a live thread (see tracee_freeze); the
	 * leader's start time: the process's identity. */
	if ((ret = proc_read_stat(live, &st)) < 0 || (ret = proc_read_status(live, ss)) < 0)
		return error_errno(ret, "cannot read /proc/%d", pid);
	if (live != pid) {
		struct proc_stat lst;

		if ((ret = proc_read_stat(pid, &lst)) < 0)
			return error_errno(ret, "cannot read /proc/%d", pid);
		st.start_time = lst.start_time;
		memcpy(st.comm, lst.comm, sizeof(st.comm));
	}
	if (ts->leader_gone)
		p->d.flags |= CKPT_PROC_LEADER_GONE;
	/* Its memory-error kill policy (prctl PR_MCE_KILL), for ATTRS: task
	 * flags PF_MCE_PROCESS and PF_MCE_EARLY (include/linux/sched.h),
	 * which stat shows; the live thread's stand for all (new threads
	 * inherit them). */
	if (st.flags & 0x00000080)
		p->attrs.flags |= CKPT_ATTR_MCE_KILL | (st.flags & 0x08000000 ? CKPT_ATTR_MCE_EARLY : 0);
	p->d.pid = pid;
	p->d.start_time = st.start_time;
	p->d.track_fd = -1;
	p->d.ppid = st.ppid;
	p->d.pgid = st.pgrp;
	p->d.sid = st.session;
	p->d.umask = ss->umask;
	memcpy(p->d.uid, ss->uid, sizeof(ss->uid));
	memcpy(p->d.gid, ss->gid, sizeof(ss->gid));
	p->d.ngroups = ss->ngroups;
	p->groups = xmemdup(ss->groups, ss->ngroups * sizeof(uint32_t));
	p->d.cap_inh = ss->cap_inh;
	p->d.cap_prm = ss->cap_prm;
	p->d.cap_eff = ss->cap_eff;
	p->d.cap_bnd = ss->cap_bnd;
	p->d.cap_amb = ss->cap_amb;
	p->d.start_code = st.start_code;
	p->d.end_code = st.end_code;
	p->d.start_data = st.start_data;
	p->d.end_data = st.end_data;
	p->d.start_brk = st.start_brk;
	p->d.brk = st.start_brk;	/* the real value comes from brk(0) */
	p->d.start_stack = st.start_stack;
	p->d.arg_start = st.arg_start;
	p->d.arg_end = st.arg_end;
	p->d.env_start = st.env_start;
	p->d.env_end = st.env_end;
	memcpy(p->d.comm, st.comm, sizeof(p->d.comm));
	/* Under our ptrace stop a job-control stop shows as 't': ask the
	 * threads how they were found instead. */
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].group_stop)
			p->d.flags |= CKPT_PROC_STOPPED;

	ret = proc_read_limits(live, rlim, CKPT_NRLIMIT);
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/limits", pid);
	for (int i = 0; i < CKPT_NRLIMIT; i++) {
		p->d.rlim[i].cur = rlim[i][0];
		p->d.rlim[i].max = rlim[i][1];
	}

	snprintf(path, sizeof(path), "/proc/%d/exe", live);
	if (xreadlink(path, &p->exe) < 0) {
		p->exe = xstrdup("");
		p->d.flags |= CKPT_PROC_NO_EXE;
	} else if (stat(path, &sb) == 0) {
		p->d.exe_dev = sb.st_dev;
		p->d.exe_ino = sb.st_ino;
		p->d.exe_size = (uint64_t)sb.st_size;
		p->d.exe_mtime_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec;
	}
	p->d.exe_len = (uint32_t)strlen(p->exe);
	snprintf(path, sizeof(path), "/proc/%d/cwd", live);
	if ((ret = xreadlink(path, &p->cwd)) < 0)
		return error_errno(ret, "cannot read the working directory");
	/* removed (rmdir) while it was the cwd: restore makes one to enter */
	if (stat(path, &sb) == 0 && path_was_removed(p->cwd, &sb))
		p->d.flags |= CKPT_PROC_CWD_DELETED;
	p->d.cwd_len = (uint32_t)strlen(p->cwd);
	/* chroot: its root as ckpt sees it; "/" when the same as ckpt's. */
	snprintf(path, sizeof(path), "/proc/%d/root", live);
	if ((ret = xreadlink(path, &p->root)) < 0)
		return error_errno(ret, "cannot read its root directory (%s)", path);
	if (!strcmp(p->root, "/"))
		p->root[0] = 0;
	p->d.root_len = (uint32_t)strlen(p->root);

	if ((ret = read_proc_file(live, "cmdline", &p->cmdline, &len)) < 0)
		return error_errno(ret, "cannot read /proc/%d/cmdline", pid);
	p->d.cmdline_len = (uint32_t)len;
	if ((ret = read_proc_file(live, "auxv", &buf, &len)) < 0)
		return error_errno(ret, "cannot read /proc/%d/auxv", pid);
	p->auxv = (uint8_t *)buf;
	p->d.auxv_len = (uint32_t)len;
	if (read_proc_file(live, "personality", &buf, NULL) == 0) {
		p->d.personality = (uint32_t)strtoul(buf, NULL, 16);
		free(buf);
	}
	ret = peek_pending(ts->t[0].tid, 1, &p->pending, &p->d.npending);
	if (ret < 0)
		return error_errno(ret, "cannot read pending signals");
	return 0;
}

/*
 * Each register set is read into buf (the largest any may be: x86-64's
 * XSAVE area is given 16 KiB) and kept at the size the kernel gave (the
 * kernel fills all of that): a zeroed 16 KiB per thread was 4 page faults
 * each, 4,000 with 1,000 threads.
 */
static int collect_regsets(struct img_thread *t, const struct tracee *tr, uint32_t *xstate_size,
			   uint8_t *buf)
{
	pid_t tid = tr->tid;

	t->regsets = xzalloc(arch_nregsets * sizeof(*t->regsets));
	for (unsigned i = 0; i < arch_nregsets; i++) {
		const struct arch_regset_desc *d = &arch_regsets[i];
		struct img_regset *rs = &t->regsets[t->d.nregsets];
		size_t len = d->maxlen;
		int ret;

		/* NT_PRSTATUS (arch_regsets[0]) was read at the freeze. */
		if (i == 0) {
			memcpy(buf, &tr->regs, sizeof(tr->regs));
			len = sizeof(tr->regs);
			ret = 0;
		} else {
			ret = tracee_get_regset(tid, d->type, buf, &len);
		}
		if (ret < 0) {
			if (d->optional && (ret == -ENODEV || ret == -EINVAL))
				continue;
			return error_errno(ret, "thread %d: cannot read %s registers", tid, d->name);
		}
		rs->data = xmemdup(buf, MAX(len, (size_t)1));
		rs->type = d->type;
		rs->len = (uint32_t)len;
		t->d.nregsets++;
		if (i && len > *xstate_size)
			*xstate_size = (uint32_t)len;
	}
	return 0;
}

/*
 * A thread stopped inside an rseq critical section would be aborted by the
 * kernel on its way back to user space (kernel/rseq.c, rseq_ip_fixup):
 * store it as resuming at the abort handler, since a restored thread may
 * run on another CPU and the kernel will not know to abort it.  area: its
 * struct rseq as read (rseq_fixups).
 */
struct rseq_area {
	uint32_t cpu_id_start, cpu_id;
	uint64_t rseq_cs;
};

static void rseq_fixup(struct img_thread *t, struct tracee *tr, const struct rseq_area *area)
{
	pid_t tid = tr->tid;
	struct { uint32_t version, flags; uint64_t start_ip, post_commit_offset, abort_ip; } cs;
	arch_regs_t *regs = (arch_regs_t *)t->regsets[0].data;
	uint64_t ip = arch_ip(regs);

	if (!area->rseq_cs || mem_read(tid, area->rseq_cs, &cs, sizeof(cs)) < 0)
		return;
	if (ip >= cs.start_ip && ip - cs.start_ip < cs.post_commit_offset) {
		debug("thread %d: in an rseq critical section, resumes at %#lx", tid,
		      (unsigned long)cs.abort_ip);
		arch_set_ip(regs, cs.abort_ip);
		arch_set_ip(&tr->rseq_regs, cs.abort_ip);
	}
}

/*
 * Every thread's struct rseq (glibc registers one per thread) read with
 * one process_vm_readv per 512 threads, not one each; where a batch
 * fails, one by one (mem_read, /proc/PID/mem too), an unreadable one
 * skipped as before.  Only a thread inside a critical section (rseq_cs
 * set: rare) costs a read more.
 */
static void rseq_fixups(struct img_proc *p, struct tracee_set *ts)
{
	size_t n = ts->n, *idx = xmalloc(n * sizeof(*idx)), k = 0;
	struct rseq_area *area = xzalloc(n * sizeof(*area));
	struct iovec *l = xmalloc(n * sizeof(*l)), *r = xmalloc(n * sizeof(*r));
	uint8_t *ok = xmalloc(n);

	for (size_t i = 0; i < n; i++) {
		if (!p->threads[i].d.rseq_addr)
			continue;
		l[k] = (struct iovec){ &area[k], sizeof(area[k]) };
		r[k] = (struct iovec){ (void *)(uintptr_t)p->threads[i].d.rseq_addr, sizeof(area[k]) };
		idx[k++] = i;
	}
	for (size_t lo = 0; lo < k; lo += 512) {
		int m = (int)MIN((size_t)512, k - lo);

		memset(ok + lo, 1, (size_t)m);
		if (mem_rw_plain(ts->t[0].tid, l + lo, r + lo, m, 0) == 0)
			continue;
		for (int j = 0; j < m; j++)
			ok[lo + j] = mem_read(ts->t[0].tid, (uint64_t)(uintptr_t)r[lo + j].iov_base,
					      &area[lo + j], sizeof(area[lo + j])) == 0;
	}
	for (size_t j = 0; j < k; j++)
		if (ok[j])
			rseq_fixup(&p->threads[idx[j]], &ts->t[idx[j]], &area[j]);
	free(idx);
	free(area);
	free(l);
	free(r);
	free(ok);
}

/* What ptrace tells of a thread: registers, rseq registration. */
static int collect_thread(struct img_thread *t, struct tracee *tr, uint32_t *xstate_size,
			  uint8_t *buf)
{
	struct __ptrace_rseq_configuration rseq;
	int ret;

	t->d.tid = tr->tid;
	if ((ret = collect_regsets(t, tr, xstate_size, buf)) < 0)
		return ret;
	arch_resolve_restart(tr->tid, (arch_regs_t *)t->regsets[0].data, tr->wchan);
	if (arch_in_syscall(tr->tid, &tr->regs))
		t->d.flags |= CKPT_THREAD_IN_SYSCALL;
	tr->rseq_regs = tr->regs;
	memset(&rseq, 0, sizeof(rseq));
	if (tracee_call(PTRACE_GET_RSEQ_CONFIGURATION, tr->tid, (void *)sizeof(rseq), &rseq) >= 0) {
		t->d.rseq_addr = rseq.rseq_abi_pointer;
		t->d.rseq_len = rseq.rseq_abi_size;
		t->d.rseq_sig = rseq.signature;
		t->d.rseq_flags = rseq.flags;
	}
	for (uint32_t k = 1; k < t->d.nregsets; k++)
		if (ARCH_FRAME_FP_NOTE && t->regsets[k].type == ARCH_FRAME_FP_NOTE) {
			tr->fp = t->regsets[k].data;
			tr->fplen = t->regsets[k].len;
		}
	return 0;
}

/*
 * A thread's signal mask and pending signals.  Not from its status
 * (SigBlk, SigPnd), though the side twin reads it: on arm64 a restored
 * thread then missed a signal (state-syscalls.bats "read() with an
 * SA_RESTART handler", twice in the guest; not understood yet).
 */
static int collect_signals(struct img_thread *t, struct tracee *tr)
{
	int ret;

	if ((ret = (int)tracee_call(PTRACE_GETSIGMASK, tr->tid, (void *)sizeof(uint64_t),
				    &t->d.sigmask)) < 0)
		return error_errno(ret, "thread %d: cannot read the signal mask", tr->tid);
	if ((ret = peek_pending(tr->tid, 0, &t->pending, &t->d.npending)) < 0)
		return error_errno(ret, "thread %d: cannot read pending signals", tr->tid);
	for (uint32_t k = 0; k < t->d.npending; k++) {
		siginfo_t si;

		memcpy(&si, t->pending[k], sizeof(si));
		if ((si.si_signo == SIGSEGV || si.si_signo == SIGBUS || si.si_signo == SIGILL ||
		     si.si_signo == SIGFPE || si.si_signo == SIGTRAP || si.si_signo == SIGSYS) &&
		    si.si_code > 0)
			tr->fault_pending = 1;
	}
	/* For borrowing and trips (ptrace/tracee.h). */
	tr->sigmask = t->d.sigmask;
	tr->known = 1;
	return 0;
}

/*
 * A thread's policy, RT priority and nice value.  One sched_getattr gives
 * all three for a normal policy (kernel/sched/syscalls.c get_params: the
 * nice value, priority 0): two syscalls less a thread than getpriority,
 * sched_getscheduler and sched_getparam, which an RT or deadline thread
 * still takes (get_params then gives its priority, not its nice value).
 */
static void sched_side(struct img_thread *t, pid_t tid)
{
	struct ckpt_sched_attr sa = { 0 };
	struct sched_param sp = { 0 };
	int pol;

	if (syscall(SYS_sched_getattr, tid, &sa, sizeof(sa), 0) == 0 &&
	    (sa.policy == SCHED_OTHER || sa.policy == SCHED_BATCH || sa.policy == SCHED_IDLE)) {
		t->d.sched_policy = sa.policy |
				    (sa.flags & SCHED_FLAG_RESET_ON_FORK ? (uint32_t)SCHED_RESET_ON_FORK : 0);
		t->d.nice = sa.nice;
		t->d.sched_priority = 0;
		return;
	}
	errno = 0;
	t->d.nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno)
		t->d.nice = 0;
	pol = sched_getscheduler(tid);
	t->d.sched_policy = pol < 0 ? SCHED_OTHER : (uint32_t)pol;
	if (sched_getparam(tid, &sp) == 0)
		t->d.sched_priority = (uint32_t)sp.sched_priority;
}

/*
 * What the rest of the kernel tells of thread tid, no ptrace needed: its
 * robust list, scheduling, and from one read of its status (taskfd:
 * /proc/PID/task) its name, seccomp mode and NoNewPrivs.
 */
static void thread_side(struct img_thread *t, pid_t tid, int taskfd)
{
	struct proc_task_status st;
	uint64_t head = 0;
	size_t len = 0;

	/* Readable from outside with ptrace rights (get_robust_list(2)). */
	if (syscall(SYS_get_robust_list, tid, &head, &len) == 0)
		t->d.robust_list = head;
	/* Scheduling: what the user or the program set per thread. */
	sched_side(t, tid);
	if (sched_getaffinity(tid, sizeof(t->d.cpus), (cpu_set_t *)t->d.cpus) == 0)
		t->d.ncpus = sizeof(t->d.cpus) * 8;
	t->seccomp = t->no_new_privs = -1;
	if (proc_read_task_status(taskfd, tid, &st) == 0) {
		memcpy(t->d.comm, st.name, sizeof(t->d.comm) - 1);
		t->seccomp = st.seccomp;
		t->no_new_privs = st.no_new_privs;
	}
}

/*
 * The two halves run side by side: thread_side() and the thread's
 * attributes (attrs.c) of every thread shared by a second thread of ours
 * (dump/twin.c) and this one once its ptrace requests are made (those
 * work only from the tracing thread).  With 1,000 threads the status
 * reads alone are some 25-50 ms of the pause, the attributes 8-25 more
 * (they were a step of their own after this one).
 */
struct side {
	struct img_proc *p;
	const struct tracee_set *ts;
	int taskfd, procfd;
};

static int side_one(void *arg, size_t i)
{
	struct side *s = arg;

	thread_side(&s->p->threads[i], s->ts->t[i].tid, s->taskfd);
	return dump_thread_attrs(s->p, i, s->ts->t[i].tid, s->procfd);
}

int dump_collect_threads(struct img_proc *p, struct tracee_set *ts, uint32_t *xstate_size)
{
	size_t maxlen = 0;
	uint8_t *buf;
	char path[32];
	int taskfd, procfd, ret = 0, ret2;
	struct side side;
	struct twin *twin;

	snprintf(path, sizeof(path), "/proc/%d/task", ts->pid);
	if ((taskfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return error_errno(errno, "cannot open %s", path);
	/* timerslack_ns is in /proc/TID only, not in /proc/PID/task/TID
	 * (fs/proc/base.c: tgid_base_stuff). */
	if ((procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ret = error_errno(errno, "cannot open /proc");
		close(taskfd);
		return ret;
	}
	for (unsigned i = 0; i < arch_nregsets; i++)
		maxlen = MAX(maxlen, (size_t)arch_regsets[i].maxlen);
	buf = xmalloc(maxlen);
	p->d.nthreads = (uint32_t)ts->n;
	p->threads = xzalloc(ts->n * sizeof(*p->threads));
	side = (struct side){ p, ts, taskfd, procfd };
	twin = twin_start(ts->n, side_one, &side);
	for (size_t i = 0; i < ts->n && ret == 0; i++)
		if ((ret = collect_thread(&p->threads[i], &ts->t[i], xstate_size, buf)) == 0)
			ret = collect_signals(&p->threads[i], &ts->t[i]);
	ret2 = twin_finish(twin);
	if (ret == 0)
		ret = ret2;
	free(buf);
	close(taskfd);
	close(procfd);
	if (ret < 0)
		return ret;
	rseq_fixups(p, ts);
	/* Where the CPU keeps what the extended register sets hold: the same
	 * for every thread (one XCR0 per process, Linux's fpu_user_cfg). */
	p->xfeat = xzalloc(CKPT_MAX_XFEAT * sizeof(*p->xfeat));
	p->nxfeat = arch_xsave_layout(p->threads[0].regsets, p->threads[0].d.nregsets, p->xfeat,
				      CKPT_MAX_XFEAT);
	if (!p->nxfeat) {
		free(p->xfeat);
		p->xfeat = NULL;
	}
	return 0;
}
