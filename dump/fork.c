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
 *
 * Should ckpt die first, the copy must never run the program (it would be
 * a second instance of the job): it starts where the borrowed thread
 * returns from clone, the sigreturn gadget, with a stack pointer at an
 * exit frame (tracee_doomed_sp) and every signal blocked (the thread's
 * mask while borrowed, ptrace/borrow.c), so it sigreturns into
 * exit_group(0) at once.  The guardian (guard.c) then reaps it.
 */
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "dump/guard.h"

/* The copy's registers: exit_group(0) at a syscall instruction. */
static int doom(const struct tracee_code *code, pid_t child)
{
	uint64_t insn = code->arch.gadget ? code->arch.gadget_syscall : code->syscall_insn;
	arch_regs_t r;
	size_t len = sizeof(r);
	int ret;

	if ((ret = tracee_get_regset(child, NT_PRSTATUS, &r, &len)) < 0)
		return ret;
	arch_prep_syscall(&r, SYS_exit_group, (uint64_t[6]){ 0 }, insn);
	if ((ret = tracee_set_regset(child, NT_PRSTATUS, &r, sizeof(r))) < 0)
		return ret;
	return arch_leave_syscall(child);
}

int fork_settle(pid_t pid, pid_t *child, const struct tracee_code *code)
{
	uint64_t t = now_ns();
	int st, ret;

	killpoint("fork: copy to settle");
	/* Auto-attached: its first stop comes before any user instruction. */
	if ((ret = tracee_wait(*child, &st, __WALL)) < 0)
		/* A SIGINT/TERM/HUP (sigguard) ends the wait: the copy is
		 * the guardian's to kill, as for any interruption. */
		return error_errno(ret, "cannot wait for the forked copy");
	if (!WIFSTOPPED(st)) {
		guard_note_copy(pid, 0, GUARD_COPY_NONE);
		*child = 0;
		return error("the forked copy of the process died");
	}
	/* Stopped, it is ours: it exits at once if let go (no frame needed
	 * any more). */
	if ((ret = doom(code, *child)) < 0)
		return error_errno(ret, "cannot prepare the forked copy");
	debug("the forked copy %d stopped and doomed in %.2f ms", *child, (now_ns() - t) / 1e6);
	return 0;
}

int fork_copy(struct tracee_set *ts, pid_t *child, int refusal_ok, int *settle)
{
	struct tracee *t0 = &ts->t[0];
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE, r;
	uint64_t a[6] = { 0 };	/* clone(flags 0, newsp): a fork, no exit signal */
	int ret;

	*settle = 0;
	if ((ret = tracee_doomed_sp(ts, t0, &a[1])) < 0) {
		a[1] = 0;	/* same stack semantics as fork */
		debug("the forked copy gets no exit frame (%s): a kill of ckpt would let it run the program",
		      strerror(-ret));
	}
	if (ts->suspend_seccomp)
		opts |= PTRACE_O_SUSPEND_SECCOMP;
	if ((ret = (int)tracee_call(PTRACE_SETOPTIONS, t0->tid, 0, (void *)opts)) < 0)
		return error_errno(ret, "cannot trace clone events");
	guard_note_clone(ts);
	killpoint("fork: clone next");
	ret = tracee_syscall(ts, t0, SYS_clone, a, &r);
	tracee_call(PTRACE_SETOPTIONS, t0->tid, 0, (void *)(opts & ~PTRACE_O_TRACECLONE));
	if (ret == 0 && r < 0 && refusal_ok) {
		/* The clone ran and failed (RLIMIT_NPROC, pids.max, strict
		 * overcommit): nothing was made, the thread is given back. */
		guard_note_copy(ts->pid, 0, GUARD_COPY_NONE);
		debug("the kernel refused the fork (%s): the process stays frozen while its memory is written",
		      strerror((int)-r));
		if ((ret = tracee_inject_end(t0)) < 0)
			return error_errno(ret, "thread %d: cannot give it its registers back", t0->tid);
		return 1;
	}
	if (ret == 0 && r < 0)
		ret = (int)r;
	if (ret < 0) {
		guard_note_copy(ts->pid, 0, GUARD_COPY_NONE);
		return error_errno(ret, "cannot fork the process");
	}
	*child = (pid_t)r;
	guard_note_copy(ts->pid, *child, GUARD_COPY_KNOWN);
	killpoint("fork: copy made");
	/*
	 * Its memory, the image's, loses our frames now, while the bytes
	 * they hid are at hand (the loan); process_vm_writev needs no stop.
	 * Its first stop and its doom can wait for the release (the caller
	 * calls fork_settle() then): a copy not run yet needs a CPU to reach
	 * that stop, and at load 17 one waited 253 ms for it, all of it in
	 * the process's pause.  Until then it is no risk: killed, ckpt
	 * leaves it to run from the clone's return into the exit frame
	 * (exit_group at once), as a kill at "fork: copy made" always did.
	 * Without that frame it is stopped and doomed now, frozen.
	 */
	if ((ret = tracee_unlend_in(t0, *child)) < 0)
		return error_errno(ret, "cannot prepare the forked copy");
	if (a[1])
		*settle = 1;
	else if ((ret = fork_settle(ts->pid, child, &ts->code)) < 0)
		return ret;
	if ((ret = tracee_inject_end(t0)) < 0)
		return error_errno(ret, "thread %d: cannot give it its registers back", t0->tid);
	debug("memory is read from the forked copy %d", *child);
	return 0;
}

/*
 * Who waits here is the guardian, or ckpt after its own wait failed: a
 * copy that had to die has no hurry, and one given SCHED_IDLE below gets
 * almost no CPU on a busy machine (weight 3 against 1024 for each normal
 * task): at a load of 100 its exit took more than 5 s, and a copy given
 * up on stayed a zombie of the process for good.  So wait for as long as
 * it takes, up to FORK_ZOMBIE_WAIT_S, while it exists.
 */
#define FORK_ZOMBIE_WAIT_S 600

int fork_until_zombie(pid_t pid)
{
	uint64_t until = now_ns() + (uint64_t)FORK_ZOMBIE_WAIT_S * 1000000000ull;
	char path[64], *buf, *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0;; i++) {
		char st = 0;

		if (read_file(path, &buf, NULL) < 0)
			return -ESRCH;
		if ((p = strrchr(buf, ')')) && p[1])
			st = p[2];
		free(buf);
		if (st == 'Z')
			return 0;
		if (now_ns() > until)
			return -ETIMEDOUT;
		/* 5 ms at first, then 50: a quick exit is seen quickly. */
		usleep(i < 200 ? 5000 : 50000);
	}
}

/* The state letter of /proc/PID/stat, '-' if gone (for debug lines). */
static char proc_state_of(pid_t pid)
{
	struct proc_stat st;

	return proc_read_stat(pid, &st) == 0 ? st.state : '-';
}

/*
 * The process exited after the release (a short one of a tree: sh -c of
 * awk's system(), seq at its end of input): its children, the copy among
 * them, went to its reaper when it did (kernel/exit.c
 * forget_original_parent), which reaps them; nothing stays with it.  1
 * if the copy is still pid's child.
 */
static int copy_left_with(pid_t child, pid_t pid)
{
	struct proc_stat st;

	if (proc_read_stat(child, &st) < 0 || st.ppid != pid) {
		debug("process %d has exited: its forked copy %d is its reaper's", pid, child);
		return 0;
	}
	return 1;
}

void fork_reap(pid_t pid, pid_t live, pid_t child, const struct tracee_code *code)
{
	struct tracee_set ts = { .pid = pid };
	struct sched_param sp = { 0 };
	size_t n;
	int st, ret;
	uint64_t t;
	long r = 0;

	/* Its exit unmaps a copy of all the process's memory, tens of ms
	 * per GiB: on a CPU the process does not want (dump.c). */
	sched_setscheduler(child, SCHED_IDLE, &sp);
	kill(child, SIGKILL);
	/* As its tracer, we see it die (after any stop it had to report); its
	 * parent still holds a zombie.  The guardian, not its tracer, gets
	 * ECHILD and waits for the zombie to show. */
	for (;;) {
		pid_t w = tracee_wait(child, &st, __WALL);

		/* Not cut short by a ^C or kill (sigguard): a zombie still
		 * traced is its tracer's alone to see, and the wait4 below in
		 * its parent would not find it (kernel/exit.c
		 * wait_consider_task): it would stay a zombie of the process
		 * once we are gone.  The copy has SIGKILL: the wait ends. */
		if (w == -EINTR)
			continue;
		if (w < 0 && fork_until_zombie(child) < 0)
			debug("the forked copy %d is not a zombie yet", child);
		if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st))
			break;
	}
	/* Freeze one thread alone for one wait4 of that very child, which
	 * does not block (WNOHANG): the zombie is there. */
	t = now_ns();
	if ((ret = tracee_freeze_lone(pid, live, code, &ts, TRACEE_PATIENCE_MS, 0)) < 0) {
		debug("cannot stop thread %d or %d of %d to reap the forked copy: %s", live, pid, pid,
		      strerror(-ret));
		if (!copy_left_with(child, pid))
			return;
		warn("cannot reap the forked copy %d: it stays a zombie of %d", child, pid);
		return;
	}
	killpoint("fork: reaping");
	if ((ret = tracee_syscall(&ts, &ts.t[0], SYS_wait4,
				 (uint64_t[6]){ (uint64_t)child, 0, __WALL | WNOHANG, 0 }, &r)) < 0 ||
	    r != child) {
		debug("wait4 of the forked copy %d in thread %d: %s, returned %ld (state %c)", child,
		      ts.t[0].tid, ret < 0 ? strerror(-ret) : "run", r, proc_state_of(child));
		r = -1;
	} else {
		guard_note_copy(pid, 0, GUARD_COPY_NONE);
	}
	tracee_inject_end(&ts.t[0]);
	n = ts.n;
	tracee_release(&ts, 0);
	if (r != child)
		warn("cannot reap the forked copy %d: it stays a zombie of %d", child, pid);
	else
		debug("the forked copy reaped: %zu thread(s) frozen again for %.1f ms", n,
		      (now_ns() - t) / 1e6);
}
