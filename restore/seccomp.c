/*
 * Restoring the SECCOMP section (image/format.h): the process's filters,
 * installed by the leader once it has made every thread, oldest first,
 * each with SECCOMP_FILTER_FLAG_TSYNC, so that all threads share them as
 * they did.  The stub and ckpt go on making syscalls in the process
 * after that: ckpt traces it with PTRACE_O_SUSPEND_SECCOMP (spawn.c),
 * which needs CAP_SYS_ADMIN, so the filters act from the detach on.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.h"
#include "restore/trust.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH	(1UL << 4)	/* Linux 5.7 */
#endif

static_assert(sizeof(struct sock_filter) == sizeof(struct ckpt_bpf_insn), "sock_filter size");

int seccomp_check(const struct img_proc *p, const struct trust *t)
{
	if (p->nseccomp && geteuid() != 0)
		return error("the process has seccomp filters: only root can restore them "
			     "(CAP_SYS_ADMIN, for PTRACE_O_SUSPEND_SECCOMP)");
	/* Installed by root's stub, without no_new_privs, a filter binds a
	 * setuid program the process runs later (seccomp(2): why an
	 * unprivileged process must set no_new_privs first). */
	if (p->nseccomp && !trust_as_root(t))
		return error("the process has seccomp filters, and the image is not signed by this "
			     "machine's key: root's restore installs them only on root's word");
	return 0;
}

void plan_seccomp(struct plan *pl, const struct img_proc *p)
{
	for (uint32_t i = 0; i < p->nseccomp; i++) {
		const struct img_seccomp *f = &p->seccomp[i];
		struct sock_fprog prog = { .len = (unsigned short)f->d.len };
		uint64_t insns = plan_data(pl, f->insns, f->d.len * sizeof(*f->insns));

		prog.filter = (struct sock_filter *)(uintptr_t)insns;
		/* TSYNC_ESRCH: a thread that cannot take it fails the call
		 * instead of its tid coming back as a success. */
		plan_op(pl, 0, 0, 4, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			f->d.flags | SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
			plan_data_reloc(pl, &prog, sizeof(prog), offsetof(struct sock_fprog, filter)),
			0, 0, 0);
		plan_what(pl, 0, "install seccomp filter %u of %u", i + 1, p->nseccomp);
	}
}
