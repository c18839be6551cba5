/*
 * Restoring the ATTRS and GUARDS sections (image/format.h): the ops the
 * stub runs for them, and attrs_check(), which refuses before anything is
 * made what this restore may not give.  Order matters: THP before any
 * memory is made; the audit login id and oom_score_adj while the stub is
 * still ckpt's (root may set them), by the leader before it starts the
 * other threads, which inherit them; a thread's I/O priority and timer
 * slack before its credentials, its capabilities around them (caps.c),
 * no_new_privs after them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.h"
#include "restore/trust.h"

#define IOPRIO_WHO_PROCESS	1	/* include/uapi/linux/ioprio.h */
#define IOPRIO_CLASS_RT		1
#define IOPRIO_CLASS(p)		(((p) >> 13) & 7)
#define MADV_GUARD_INSTALL	102	/* include/uapi/asm-generic/mman-common.h, 6.13 */
#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE	41
#endif
/* include/uapi/linux/membarrier.h: the registering commands */
static const unsigned membarrier_registers[] = { 1u << 2, 1u << 4, 1u << 6, 1u << 8 };

/* A number in one of our own /proc files, or def. */
static long long own_number(const char *name, long long def)
{
	char path[64], *buf;
	long long v = def;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if (read_file(path, &buf, NULL) == 0) {
		v = strtoll(buf, NULL, 10);
		free(buf);
	}
	return v;
}

/* The login id differs from ckpt's, and (root, an image only its owner's)
 * from the owner's own uid, which its login session gives it. */
static int loginuid_differs(const struct img_proc *p, const struct trust *t)
{
	if (!(p->attrs.flags & CKPT_ATTR_LOGINUID))
		return 0;
	if (trust_owner_rules(t) && p->attrs.loginuid == trust_owner(t))
		return 0;
	return (uint32_t)own_number("loginuid", -1) != p->attrs.loginuid;
}

static int guards_fit(const struct img_proc *p)
{
	for (uint32_t i = 0; i < p->nguards; i++) {
		const struct img_vma *v = img_find_vma(p, p->guards[i].start);

		if (!v || p->guards[i].end > v->d.end || (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL)))
			return error("image is corrupted: guard region %#llx-%#llx is not inside a mapping",
				     (unsigned long long)p->guards[i].start,
				     (unsigned long long)p->guards[i].end);
	}
	return 0;
}

int attrs_check(const struct img_proc *p, const struct trust *t)
{
	const struct ckpt_attrs *a = &p->attrs;
	/* root restoring an image only its owner's: what its owner may set */
	const char *note = trust_owner_rules(t) ? ", and the image is not signed by this machine's key" : "";

	if (guards_fit(p) < 0 || caps_check(p, t) < 0 || seccomp_check(p, t) < 0)
		return -1;
	if (!p->has_attrs || trust_as_root(t))
		return 0;
	if (loginuid_differs(p, t))
		return error("the process's audit login id (loginuid) was %u, ckpt's is %lld: only root "
			     "(CAP_AUDIT_CONTROL) can set it%s", a->loginuid, own_number("loginuid", -1),
			     note);
	if (a->oom_score_adj < own_number("oom_score_adj", 0))
		return error("the process's oom_score_adj was %d, below ckpt's own %lld: only root "
			     "(CAP_SYS_RESOURCE) can lower it%s", a->oom_score_adj,
			     own_number("oom_score_adj", 0), note);
	for (uint32_t i = 0; i < a->nthreads; i++)
		if (IOPRIO_CLASS(p->tattrs[i].ioprio) == IOPRIO_CLASS_RT)
			return error("thread %d had a real-time I/O priority: only root can set it%s",
				     p->tattrs[i].tid, note);
	return 0;
}

void plan_attrs_mm(struct plan *pl, const struct img_proc *p)
{
	uint32_t thp = p->attrs.thp_disable;

	/* Before any memory is made, so that none is made of huge pages. */
	if (!p->has_attrs || !thp)
		return;
	plan_op(pl, 0, STUB_OPF_MAYFAIL, 0, SYS_prctl, PR_SET_THP_DISABLE, 1, thp & 2, 0, 0, 0);
	plan_what(pl, 0, "disable transparent huge pages (prctl PR_SET_THP_DISABLE, flags %u)", thp & 2);
}

void plan_attrs_guards(struct plan *pl, const struct img_proc *p)
{
	for (uint32_t i = 0; i < p->nguards; i++) {
		const struct ckpt_range *g = &p->guards[i];

		plan_op(pl, 0, 0, 0, SYS_madvise, g->start, g->end - g->start, MADV_GUARD_INSTALL, 0, 0, 0);
		plan_what(pl, 0, "install guard region %#lx-%#lx (MADV_GUARD_INSTALL, Linux >= 6.13)",
			  (unsigned long)g->start, (unsigned long)g->end);
	}
}

/*
 * mm->def_flags: every mapping made from now on is locked, so last, once
 * the stub has made all of the image's (and with the process's own ids
 * and RLIMIT_MEMLOCK when an owner restores it: mlockall(2) refuses
 * without room, and the restore says so as for any lock).  Without
 * MCL_CURRENT it locks nothing there is (mm/mlock.c apply_mlockall_flags).
 */
void plan_attrs_lock_future(struct plan *pl, const struct img_proc *p)
{
	uint32_t f = p->has_attrs ? p->attrs.flags : 0;

	if (!(f & CKPT_ATTR_LOCK_FUTURE))
		return;
	plan_op(pl, 0, STUB_OPF_MAYFAIL, 0, SYS_mlockall,
		MCL_FUTURE | (f & CKPT_ATTR_LOCK_ONFAULT ? MCL_ONFAULT : 0), 0, 0, 0, 0, 0);
	plan_what(pl, 0, "lock every mapping made from now on (mlockall MCL_FUTURE%s)",
		  f & CKPT_ATTR_LOCK_ONFAULT ? " | MCL_ONFAULT" : "");
}

/* Write text to /proc/self/NAME from the stub: open, write, close. */
static void write_self(struct plan *pl, const char *name, const char *text, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	plan_op(pl, 0, STUB_OPF_KEEP, 1u << 1, SYS_openat, (uint64_t)AT_FDCWD,
		plan_data(pl, path, strlen(path) + 1), O_WRONLY | O_CLOEXEC, 0, 0, 0);
	plan_what(pl, 0, "open %s to set %s", path, what);
	plan_op(pl, 0, STUB_OPF_A0_KEPT, 1u << 1, SYS_write, 0, plan_data(pl, text, strlen(text)),
		strlen(text), 0, 0, 0);
	plan_what(pl, 0, "set %s to %s", what, text);
	plan_op(pl, 0, STUB_OPF_A0_KEPT, 0, SYS_close, 0, 0, 0, 0, 0, 0);
}

void plan_attrs_process(struct plan *pl, const struct img_proc *p)
{
	const struct ckpt_attrs *a = &p->attrs;
	char text[24];

	if (!p->has_attrs)
		return;
	/* Per task, inherited by the threads made after it (and only the
	 * task itself may write its own: fs/proc/base.c loginuid_write). */
	if (loginuid_differs(p, NULL)) {
		snprintf(text, sizeof(text), "%u", a->loginuid);
		write_self(pl, "loginuid", text, "the audit login id");
	}
	if (a->oom_score_adj != own_number("oom_score_adj", 0)) {
		snprintf(text, sizeof(text), "%d", a->oom_score_adj);
		write_self(pl, "oom_score_adj", text, "oom_score_adj");
	}
	/* Before the threads are made: they inherit it (task flags). */
	if (a->flags & CKPT_ATTR_MCE_KILL) {
		plan_op(pl, 0, STUB_OPF_MAYFAIL, 0, SYS_prctl, PR_MCE_KILL, PR_MCE_KILL_SET,
			a->flags & CKPT_ATTR_MCE_EARLY ? PR_MCE_KILL_EARLY : PR_MCE_KILL_LATE, 0, 0, 0);
		plan_what(pl, 0, "set the memory-error kill policy (prctl PR_MCE_KILL)");
	}
	if (a->flags & CKPT_ATTR_SUBREAPER) {
		plan_op(pl, 0, 0, 0, SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0);
		plan_what(pl, 0, "make the process a child subreaper");
	}
	for (size_t i = 0; i < ARRAY_SIZE(membarrier_registers); i++) {
		if (!(a->membarrier & membarrier_registers[i]))
			continue;
		plan_op(pl, 0, STUB_OPF_MAYFAIL, 0, SYS_membarrier, membarrier_registers[i], 0, 0, 0, 0, 0);
		plan_what(pl, 0, "register for membarrier command %#x", membarrier_registers[i]);
	}
}

void plan_attrs_thread(struct plan *pl, uint32_t ti, const struct img_proc *p, uint32_t k)
{
	const struct ckpt_thread_attrs *t = p->has_attrs ? &p->tattrs[k] : NULL;

	plan_caps_pre(pl, ti, p);
	if (!t)
		return;
	/* 0 would ask for the default (prctl(2)); a real-time thread has 0
	 * and gets it again with its policy. */
	if (t->timer_slack_ns) {
		plan_op(pl, ti, 0, 0, SYS_prctl, PR_SET_TIMERSLACK, t->timer_slack_ns, 0, 0, 0, 0);
		plan_what(pl, ti, "set the timer slack of thread %d", t->tid);
	}
	if (t->ioprio) {
		plan_op(pl, ti, STUB_OPF_MAYFAIL, 0, SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, t->ioprio, 0, 0, 0);
		plan_what(pl, ti, "set the I/O priority %#x of thread %d", t->ioprio, t->tid);
	}
}

void plan_attrs_thread_late(struct plan *pl, uint32_t ti, const struct img_proc *p, uint32_t k)
{
	plan_caps_post(pl, ti, p);
	if (!p->has_attrs || !(p->tattrs[k].flags & CKPT_TATTR_NO_NEW_PRIVS))
		return;
	plan_op(pl, ti, 0, 0, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
	plan_what(pl, ti, "set no_new_privs on thread %d", p->tattrs[k].tid);
}
