/*
 * The SECCOMP section (image/format.h): the seccomp filters of the
 * process's threads, read with PTRACE_SECCOMP_GET_FILTER (needs
 * CAP_SYS_ADMIN, as the PTRACE_O_SUSPEND_SECCOMP the freeze used).
 * What restore could not give back is refused here, by name: strict
 * mode, threads with different filters, and a filter that hands system
 * calls to a supervisor process (SECCOMP_RET_USER_NOTIF).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

static void free_chain(struct img_seccomp *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(f[i].insns);
	free(f);
}

/* Filter index (0: the newest) of thread tid, into f; 1 past the last. */
static int read_filter(pid_t tid, unsigned long index, struct img_seccomp *f)
{
	struct __ptrace_seccomp_metadata md = { .filter_off = index };
	long n = tracee_call(PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, NULL);

	if (n == -ENOENT)
		return 1;
	if (n < 0)
		return (int)n;
	if (n < 1 || n > 4096)
		return -EPROTO;
	f->insns = xmalloc((size_t)n * sizeof(*f->insns));
	/* struct sock_filter is struct ckpt_bpf_insn on both arches. */
	n = tracee_call(PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, f->insns);
	if (n < 0)
		return (int)n;
	f->d.len = (uint32_t)n;
	/* Only SECCOMP_FILTER_FLAG_LOG is reported (kernel/seccomp.c
	 * seccomp_get_metadata); before Linux 4.16: none known. */
	if (tracee_call(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(md), &md) > 0)
		f->d.flags = (uint32_t)md.flags & SECCOMP_FILTER_FLAG_LOG;
	return 0;
}

/* Every filter of thread tid, oldest first. */
static int read_chain(pid_t tid, struct img_seccomp **out, uint32_t *n)
{
	struct img_seccomp *f = NULL;
	uint32_t cnt = 0;
	int ret;

	for (;;) {
		f = xrealloc(f, (cnt + 1) * sizeof(*f));
		memset(&f[cnt], 0, sizeof(*f));
		if ((ret = read_filter(tid, cnt, &f[cnt])) != 0)
			break;
		cnt++;
	}
	if (ret < 0) {
		free_chain(f, cnt + 1);
		return error_errno(ret, "thread %d: cannot read its seccomp filters", tid);
	}
	for (uint32_t i = 0; i < cnt / 2; i++) {
		struct img_seccomp t = f[i];

		f[i] = f[cnt - 1 - i];
		f[cnt - 1 - i] = t;
	}
	*out = f;
	*n = cnt;
	return 0;
}

static int same_chain(const struct img_seccomp *a, uint32_t na, const struct img_seccomp *b,
		      uint32_t nb)
{
	if (na != nb)
		return 0;
	for (uint32_t i = 0; i < na; i++)
		if (a[i].d.flags != b[i].d.flags || a[i].d.len != b[i].d.len ||
		    memcmp(a[i].insns, b[i].insns, a[i].d.len * sizeof(*a[i].insns)))
			return 0;
	return 1;
}

/* A listener fd belongs to its supervisor: a restored filter would have
 * none, and those calls would fail with ENOSYS instead. */
static int check_notif(const struct img_seccomp *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < f[i].d.len; k++)
			if (f[i].insns[k].code == (BPF_RET | BPF_K) &&
			    (f[i].insns[k].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
				return error("seccomp filter %u hands system calls to a supervisor "
					     "(SECCOMP_RET_USER_NOTIF): cannot be restored", i + 1);
	return 0;
}

int dump_collect_seccomp(struct img_proc *p, const struct tracee_set *ts)
{
	int any = 0, ret = 0;

	/* Each thread's mode from its status, read by dump_collect_threads. */
	for (size_t i = 0; i < ts->n && i < p->d.nthreads; i++) {
		if (p->threads[i].seccomp == SECCOMP_MODE_STRICT)
			return error("thread %d is in seccomp strict mode: cannot be restored",
				     ts->t[i].tid);
		any |= p->threads[i].seccomp == SECCOMP_MODE_FILTER;
	}
	if (!any)
		return 0;
	for (size_t i = 0; i < ts->n && ret == 0; i++) {
		struct img_seccomp *f = NULL;
		uint32_t n = 0;

		if ((ret = read_chain(ts->t[i].tid, &f, &n)) < 0)
			break;
		if (i == 0) {
			p->seccomp = f;
			p->nseccomp = n;
			ret = check_notif(f, n);
			continue;
		}
		if (!same_chain(p->seccomp, p->nseccomp, f, n))
			ret = error("threads %d and %d have different seccomp filters: cannot be restored",
				    ts->t[0].tid, ts->t[i].tid);
		free_chain(f, n);
	}
	return ret;
}
