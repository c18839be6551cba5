/*
 * Running syscalls inside a frozen thread.  We point the thread at an
 * existing syscall instruction (ts->syscall_insn, found by disassembly in
 * the vdso or libc) and step it with PTRACE_SYSCALL: it stops at syscall
 * entry and at syscall exit, and never executes the instruction after.
 * No byte of the target is written.
 */
#include <elf.h>
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "common/log.h"
#include "ptrace/tracee.h"


/* Resume with PTRACE_SYSCALL until the next syscall stop; signals that
 * arrive meanwhile are held back (delivering one now would build a signal
 * frame from our borrowed registers) and sent again with tgkill after. */
static int step_to_syscall_stop(struct tracee *t, int *held)
{
	for (;;) {
		int st;
		pid_t r;

		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			return -errno;
		do
			r = waitpid(t->tid, &st, __WALL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80))
			return 0;
		if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP)
			*held = WSTOPSIG(st);
	}
}

int tracee_syscall(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6], long *ret)
{
	arch_regs_t r = t->regs;
	struct __ptrace_syscall_info info;
	int held = 0, err;
	size_t len;

	if (!ts->syscall_insn)
		return -ENOEXEC;
	arch_prep_syscall(&r, nr, a, ts->syscall_insn);
	err = tracee_set_regset(t->tid, NT_PRSTATUS, &r, sizeof(r));
	if (err == 0)
		err = arch_leave_syscall(t->tid);
	if (err < 0)
		return err;
	t->injecting = 1;
	err = step_to_syscall_stop(t, &held);
	if (err == 0 && (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) < 0 ||
			 info.op != PTRACE_SYSCALL_INFO_ENTRY))
		err = -EPROTO;
	if (err == 0)
		err = step_to_syscall_stop(t, &held);
	if (err == 0) {
		len = sizeof(r);
		err = tracee_get_regset(t->tid, NT_PRSTATUS, &r, &len);
		*ret = arch_retval(&r);
	}
	if (held)
		tgkill(ts->pid, t->tid, held);
	return err;
}

int tracee_inject_end(struct tracee *t)
{
	int err, st;
	pid_t r;

	if (!t->injecting)
		return 0;
	/* Our registers back first, then route the thread through the
	 * signal path into an interrupt stop: when it is later let go, the
	 * kernel's restart handling sees the original registers, exactly as
	 * if we had never run anything (where the kernel keeps "in a
	 * syscall" apart from them, as arm64 does, that is "not in one",
	 * as it was at the freeze stop). */
	err = tracee_set_regset(t->tid, NT_PRSTATUS, &t->regs, sizeof(t->regs));
	if (err == 0)
		err = arch_leave_syscall(t->tid);
	if (err < 0)
		return err;
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
		return -errno;
	for (;;) {
		do
			r = waitpid(t->tid, &st, __WALL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			break;
		/* A signal got in first: it is delivered with the thread's
		 * own registers now, as it would have been. */
		if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)((st >> 16) ? 0 : WSTOPSIG(st))) < 0)
			return -errno;
	}
	t->injecting = 0;
	return 0;
}
