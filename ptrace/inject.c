/*
 * Running syscalls inside a frozen thread, stepped with PTRACE_SYSCALL:
 * it stops at syscall entry and exit and never runs an instruction of
 * the process but a syscall instruction.  How the thread is lent and
 * given back, so that ckpt may die at any instant without harm to it, is
 * borrow.c's.  Safely borrowed, it rests at the gadget, whose
 * rt_sigreturn each injected syscall replaces at its entry stop; the old
 * way, it is pointed at a syscall instruction (ts->code.syscall_insn,
 * found by disassembly in the vdso or libc) each time.  No byte of the
 * process's code is written.
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "ptrace/borrow.h"

int tracee_self_inflicted(pid_t tid, int sig)
{
	siginfo_t si;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE && sig != SIGTRAP &&
	    sig != SIGSYS)
		return 0;
	return ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0 && si.si_code > 0;
}

/*
 * Resume t with PTRACE_SYSCALL until its next syscall stop.  A signal
 * dequeued meanwhile: borrowed safely, every signal is blocked, so it is
 * passed back and the kernel queues it again with its siginfo
 * (kernel/signal.c ptrace_signal: "If the (new) signal is now blocked,
 * requeue it"), all but SIGSTOP, which starts a group stop as it would
 * have.  The old way it is held back (delivering it would build a signal
 * frame from our borrowed registers) and sent again with tgkill after.
 */
static int step_wait(struct tracee *t, int *held)
{
	for (;;) {
		int st, sig, pass = 0;
		pid_t r;

		do
			r = waitpid(t->tid, &st, __WALL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			tracee_note_exit(t->tid, st);
			return -ESRCH;
		}
		if (WSTOPSIG(st) == (SIGTRAP | 0x80))
			return 0;
		if ((st >> 16) == 0) {	/* not a group stop or other event */
			sig = WSTOPSIG(st);
			if (tracee_self_inflicted(t->tid, sig))
				return -EFAULT;	/* it stays in this stop, undelivered */
			if (t->loan && t->loan->blocked)
				pass = sig;
			else
				*held = sig;
		}
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, (void *)(long)pass) < 0)
			return -errno;
	}
}

static int step(struct tracee *t, int *held)
{
	if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
		return -errno;
	return step_wait(t, held);
}

static int syscall_info(pid_t tid, int op, struct __ptrace_syscall_info *info)
{
	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(*info), info) < 0)
		return -errno;
	return info->op == op ? 0 : -EPROTO;
}

/* A syscall cut short by a signal or stop: the kernel restarts it (see
 * arch.h, arch_code.resume).  include/linux/errno.h, kernel-internal. */
static int restarting(long r)
{
	return r == -512 || r == -513 || r == -514 || r == -516;
}

/* At a syscall-entry stop: the gadget's rt_sigreturn becomes nr(a[]). */
static int make_entry(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6])
{
	struct __ptrace_syscall_info info;
	int err;

	if ((err = syscall_info(t->tid, PTRACE_SYSCALL_INFO_ENTRY, &info)) < 0)
		return err;
	if (info.entry.nr == SYS_rt_sigreturn) {
		arch_regs_t r = t->loan->gadget_regs;

		killpoint("inject: at the gadget's entry");
		arch_prep_entry(&r, nr, a, ts->code.arch.resume, t->loan->entry_sp);
		if ((err = tracee_set_regset(t->tid, NT_PRSTATUS, &r, sizeof(r))) < 0)
			return err;
		killpoint("inject: arguments set");
		if ((err = arch_set_entry_nr(t->tid, nr)) < 0)
			return err;
		killpoint("inject: syscall set");
	} else if ((long)info.entry.nr != nr) {
		return -EPROTO;
	}
	return 0;
}

/*
 * Resting at the gadget (or back at it after a syscall): its rt_sigreturn
 * entry comes next, and becomes nr(a[]), returning to the gadget through
 * arch_code.resume.  Cut short, the syscall is restarted by the kernel
 * (x86-64: its entry comes again) or the thread goes round the gadget
 * (aarch64: rt_sigreturn's entry again, made ours once more).
 */
static int call_safe(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6],
		     long *ret, int *held)
{
	struct __ptrace_syscall_info info;
	int err, tries = 0;

	do {
		killpoint("inject: to the next entry");
		if ((err = step(t, held)) < 0)
			return err;
		t->at = TRACEE_AT_ENTRY;
		if ((err = make_entry(ts, t, nr, a)) < 0 || (err = step(t, held)) < 0)
			return err;
		t->at = TRACEE_AT_EXIT;
		if ((err = syscall_info(t->tid, PTRACE_SYSCALL_INFO_EXIT, &info)) < 0)
			return err;
		killpoint("inject: at the exit");
	} while (restarting((long)info.exit.rval) && ++tries < 100);
	*ret = (long)info.exit.rval;
	return 0;
}

/* The old way: point it at the syscall instruction with nr(a[]) set. */
static int call_bare(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6],
		     long *ret, int *held)
{
	struct __ptrace_syscall_info info;
	arch_regs_t r = t->regs;
	size_t len = sizeof(r);
	int err;

	if (!ts->code.syscall_insn)
		return -ENOEXEC;
	arch_prep_syscall(&r, nr, a, ts->code.syscall_insn);
	err = tracee_set_regset(t->tid, NT_PRSTATUS, &r, sizeof(r));
	if (err == 0)
		err = arch_leave_syscall(t->tid);
	if (err == 0)
		err = step(t, held);
	if (err < 0)
		return err;
	t->at = TRACEE_AT_ENTRY;
	if ((err = syscall_info(t->tid, PTRACE_SYSCALL_INFO_ENTRY, &info)) < 0 ||
	    (err = step(t, held)) < 0)
		return err;
	t->at = TRACEE_AT_EXIT;
	if ((err = tracee_get_regset(t->tid, NT_PRSTATUS, &r, &len)) < 0)
		return err;
	*ret = arch_retval(&r);
	return 0;
}

int tracee_syscall(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6], long *ret)
{
	int held = 0, err;

	if (!t->injecting && (err = tracee_borrow(ts, t)) < 0)
		return err;
	if (t->loan && t->loan->safe)
		err = call_safe(ts, t, nr, a, ret, &held);
	else
		err = call_bare(ts, t, nr, a, ret, &held);
	if (held)
		tgkill(ts->pid, t->tid, held);
	return err;
}

/*
 * The same syscall in n borrowed threads at once: each stop of one thread
 * is waited for while the others run to theirs, instead of one round trip
 * after another (with 1,000 threads those were most of the freeze).  Each
 * thread goes through exactly the states call_safe() takes it through, so
 * ckpt dying at any point leaves each as safe as one at a time would.
 * After a failure no thread is started again: each is left stopped (at
 * an entry or exit stop, t->at says which) for tracee_inject_end().
 */
int tracee_syscall_each(struct tracee_set *ts, struct tracee **tv, size_t n, long nr,
			const uint64_t (*a)[6], long *ret)
{
	enum { IDLE, TO_ENTRY, TO_EXIT };
	struct __ptrace_syscall_info info;
	uint8_t *state;
	int *held, err = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (!tv[i]->injecting || !tv[i]->loan || !tv[i]->loan->safe)
			break;
	if (i < n) {	/* not all borrowed safely: one at a time */
		for (i = 0; i < n && err == 0; i++)
			err = tracee_syscall(ts, tv[i], nr, a[i], &ret[i]);
		return err;
	}
	state = xzalloc(n);
	held = xzalloc(n * sizeof(*held));
	/* To the gadget's rt_sigreturn entry, all at once. */
	for (i = 0; i < n && err == 0; i++) {
		killpoint("inject: to the next entry");
		if (ptrace(PTRACE_SYSCALL, tv[i]->tid, 0, 0) < 0)
			err = -errno;
		else
			state[i] = TO_ENTRY;
	}
	/* Made ours, and on to the exit. */
	for (i = 0; i < n; i++) {
		int e;

		if (state[i] != TO_ENTRY)
			continue;
		state[i] = IDLE;
		if ((e = step_wait(tv[i], &held[i])) == 0) {
			tv[i]->at = TRACEE_AT_ENTRY;
			if (err)
				continue;
			if ((e = make_entry(ts, tv[i], nr, a[i])) == 0) {
				if (ptrace(PTRACE_SYSCALL, tv[i]->tid, 0, 0) == 0)
					state[i] = TO_EXIT;
				else
					e = -errno;
			}
		}
		if (e < 0 && !err)
			err = e;
	}
	for (i = 0; i < n; i++) {
		int e;

		if (state[i] != TO_EXIT)
			continue;
		if ((e = step_wait(tv[i], &held[i])) == 0) {
			tv[i]->at = TRACEE_AT_EXIT;
			e = syscall_info(tv[i]->tid, PTRACE_SYSCALL_INFO_EXIT, &info);
		}
		if (e == 0) {
			killpoint("inject: at the exit");
			ret[i] = (long)info.exit.rval;
			/* Cut short: again, on its own, as call_safe() does. */
			if (err == 0 && restarting(ret[i]))
				e = call_safe(ts, tv[i], nr, a[i], &ret[i], &held[i]);
		}
		if (e < 0 && !err)
			err = e;
	}
	for (i = 0; i < n; i++)
		if (held[i])
			tgkill(ts->pid, tv[i]->tid, held[i]);
	free(held);
	free(state);
	return err;
}

/* Left at a syscall-entry stop (a failure between the two stops): the
 * syscall there is skipped (number -1) and it goes on to the exit stop. */
static int skip_entry(struct tracee *t)
{
	arch_regs_t r;
	size_t len = sizeof(r);
	int held = 0, err;

	if (t->loan && t->loan->safe) {
		r = t->loan->gadget_regs;
	} else if ((err = tracee_get_regset(t->tid, NT_PRSTATUS, &r, &len)) < 0) {
		return err;
	}
	arch_prep_entry(&r, -1, (uint64_t[6]){ 0 }, arch_ip(&r), arch_sp(&r));
	if ((err = tracee_set_regset(t->tid, NT_PRSTATUS, &r, sizeof(r))) < 0 ||
	    (err = arch_set_entry_nr(t->tid, -1)) < 0 || (err = step(t, &held)) < 0)
		return err;
	if (held)
		syscall(SYS_tkill, t->tid, held);
	t->at = TRACEE_AT_EXIT;
	return 0;
}

int tracee_inject_end(struct tracee *t)
{
	int err;

	if (!t->injecting)
		return 0;
	if (t->at == TRACEE_AT_ENTRY && (err = skip_entry(t)) < 0)
		return err;
	return tracee_give_back(t);
}

int tracee_inject_end_each(struct tracee **tv, size_t n)
{
	uint8_t *started = xzalloc(n ? n : 1);
	int err = 0;

	/* Those left at an entry stop (after a failure): one at a time. */
	for (size_t i = 0; i < n && err == 0; i++) {
		if (!tv[i]->injecting)
			continue;
		if (tv[i]->at == TRACEE_AT_ENTRY)
			err = tracee_inject_end(tv[i]);
		else if ((err = tracee_give_back_start(tv[i])) == 0)
			started[i] = 1;
	}
	for (size_t i = 0; i < n; i++) {
		int e = started[i] ? tracee_give_back_finish(tv[i]) : 0;

		if (e < 0 && !err)
			err = e;
	}
	free(started);
	return err;
}
