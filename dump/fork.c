/*
 * dump --fork: the process's memory is read from a copy-on-write child
 * instead of the process itself, so the process runs on while the image
 * is written; its pause no longer grows with its memory.
 *
 * The child comes from a clone(2) run in the frozen process with no exit
 * signal (flags 0: a fork that sends no SIGCHLD) while ckpt traces clone
 * events, so it is attached and stopped before it runs a single
 * instruction.  Afterwards it is killed, and reaped by a wait4(__WALL)
 * run in the process: no stray signal, no zombie; its copies of the fds
 * close with it.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

int fork_copy(struct tracee_set *ts, pid_t *child)
{
	struct tracee *t0 = &ts->t[0];
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE, r;
	uint64_t a[6] = { 0 };	/* clone(flags 0, same stack semantics as fork) */
	int st, ret;

	if (ts->suspend_seccomp)
		opts |= PTRACE_O_SUSPEND_SECCOMP;
	if ((ret = (int)tracee_call(PTRACE_SETOPTIONS, t0->tid, 0, (void *)opts)) < 0)
		return error_errno(ret, "cannot trace clone events");
	ret = tracee_syscall(ts, t0, SYS_clone, a, &r);
	tracee_call(PTRACE_SETOPTIONS, t0->tid, 0, (void *)(opts & ~PTRACE_O_TRACECLONE));
	if (ret == 0 && r < 0)
		ret = (int)r;
	if (ret == 0)
		ret = tracee_inject_end(t0);
	if (ret < 0)
		return error_errno(ret, "cannot fork the process");
	*child = (pid_t)r;
	/* Auto-attached: its first stop comes before any user instruction. */
	if ((ret = tracee_wait(*child, &st, __WALL)) < 0)
		return error_errno(ret, "cannot wait for the forked copy");
	if (!WIFSTOPPED(st)) {
		*child = 0;
		return error("the forked copy of the process died");
	}
	debug("memory is read from the forked copy %d", *child);
	return 0;
}

void fork_reap(pid_t pid, pid_t live, pid_t child, uint64_t syscall_insn)
{
	struct tracee_set ts = { .pid = pid, .syscall_insn = syscall_insn };
	struct sched_param sp = { 0 };
	uint64_t t;
	long r;
	int st;

	/* Its exit unmaps a copy of all the process's memory, tens of ms
	 * per GiB: on a CPU the process does not want (dump.c). */
	sched_setscheduler(child, SCHED_IDLE, &sp);
	kill(child, SIGKILL);
	while (tracee_wait(child, &st, __WALL) == -EINTR)
		;
	/* We saw it die as its tracer; its parent still holds a zombie.
	 * Freeze one thread alone for one wait4 of that very child. */
	t = now_ns();
	if (tracee_freeze_one(pid, live, &ts) < 0 || !(ts.syscall_insn = syscall_insn)) {
		warn("cannot reap the forked copy %d: it stays a zombie of %d", child, pid);
		return;
	}
	if (tracee_syscall(&ts, &ts.t[0], SYS_wait4,
			   (uint64_t[6]){ (uint64_t)child, 0, __WALL, 0 }, &r) < 0 || r != child)
		warn("cannot reap the forked copy %d: it stays a zombie of %d", child, pid);
	tracee_inject_end(&ts.t[0]);
	tracee_release(&ts, 0);
	debug("the forked copy reaped: one thread frozen again for %.1f ms", (now_ns() - t) / 1e6);
}
