/*
 * The stops of one thread while the others run: after the release,
 * --snapshot's freeing behind and its end, the reaping of a --fork copy,
 * --track's undo and the guardian's stop one thread and borrow it
 * (ptrace/borrow.c: a frame and scratch written below its stack pointer,
 * the old bytes put back after the call).  The process's other threads run
 * meanwhile: were one's live stack in that span, what it wrote there in
 * those microseconds would be overwritten by our frame, then undone by the
 * bytes put back (docs/kill-safety.md 1).  The freeze's check (tracee_roomy)
 * saw every stack pointer of that moment; here the others are not looked
 * at, and the borrowed one's stack pointer may have moved since (a leader
 * running user-level threads on stacks carved next to another kernel
 * thread's: M:N runtimes, Go's m0).
 *
 * So, while every thread is frozen, tracee_lone_note finds the mapping
 * that holds t[0]'s stack pointer and keeps it when it is the process's
 * [stack] and no other thread's stack pointer is in it (a glibc main
 * thread); with one thread, anywhere.  Only [stack]: another thread's
 * stack pointer may move into any other mapping after the freeze (a
 * goroutine stack in the heap, run by a thread that waited on its own
 * stack at the freeze), while no runtime we know puts another thread's
 * stack in the main thread's.  A lone stop borrows the thread only when its
 * stack pointer is still in that mapping and what the borrow writes lies
 * in it too (nothing read when it is 64 KiB from the mapping's start);
 * else it freezes every thread and borrows one whose span holds no other's
 * stack pointer, as the freeze does.  What it cannot see: a thread made
 * after the freeze with its stack carved in that mapping (in [stack], or
 * anywhere when the process had one thread at the freeze).
 */
#include <errno.h>
#include <stdint.h>

#include "common/log.h"
#include "ptrace/borrow.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"

void tracee_lone_note(struct tracee_set *ts)
{
	const struct tracee *t = &ts->t[0];
	uint64_t sp = arch_sp(&t->regs), lo = 0, hi = UINT64_MAX;
	int stack = 0;

	ts->code.lone_tid = t->tid;
	/* The bytes below a stack pointer are what a thread writes: the
	 * mapping of sp - 1 (sp may be the very end of its mapping). */
	if (ts->n > 1 && (proc_vma_of(t->tid, sp - 1, &lo, &hi, &stack) < 0 || !stack)) {
		debug("thread %d's stack pointer is not in [stack]: stopping it after the release "
		      "stops every thread", t->tid);
		lo = hi = 0;
	}
	for (size_t i = 1; i < ts->n && hi; i++) {
		uint64_t usp = arch_sp(&ts->t[i].regs);

		if (lo < usp && usp <= hi) {
			debug("thread %d's stack pointer is in the mapping of thread %d's: stopping "
			      "thread %d after the release stops every thread", ts->t[i].tid, t->tid, t->tid);
			lo = hi = 0;
		}
	}
	ts->code.lone_lo = lo;
	ts->code.lone_hi = hi;
}

/* Can t[0], stopped alone, be borrowed while the others run? */
static int room(const struct tracee_set *ts)
{
	const struct tracee_code *c = &ts->code;
	const struct tracee *t = &ts->t[0];
	uint64_t sp = arch_sp(&t->regs);

	if (t->tid != c->lone_tid || sp <= c->lone_lo || sp > c->lone_hi)
		return 0;
	/* Far enough above the mapping's start for any borrow: nothing read
	 * (the common case costs no syscall). */
	return sp - c->lone_lo >= TRACEE_ROOM_MAX || tracee_lend_lo(ts, t) >= c->lone_lo;
}

/* Every thread frozen: one whose borrow would hold no other's stack
 * pointer to t[0] (the leader when it can). */
static int pick(struct tracee_set *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		struct tracee *t = &ts->t[i], tmp;

		if (tracee_crowded(ts, t, tracee_lend_lo(ts, t)))
			continue;
		tmp = ts->t[0];
		ts->t[0] = *t;
		*t = tmp;
		return 0;
	}
	return -EBUSY;
}

int tracee_freeze_lone(pid_t pid, pid_t live, const struct tracee_code *code,
		       struct tracee_set *ts, unsigned patience_ms, int lone_only)
{
	int ret = tracee_freeze_one_patient(pid, live, ts, patience_ms);

	if (ret < 0)
		return ret;
	ts->code = *code;
	if (room(ts)) {
		ts->lone = 1;
		return 0;
	}
	debug("thread %d of %d: what a borrow writes below its stack pointer may hold another "
	      "thread's stack: %s", ts->t[0].tid, pid,
	      lone_only ? "not stopped for this" : "every thread stopped for it");
	tracee_release(ts, 0);
	/* Freeing behind, one stop per 2 MiB: every thread stopped each
	 * time would be worse for the process than the memory held until
	 * the end's one stop. */
	if (lone_only)
		return -EBUSY;
	if ((ret = tracee_freeze(pid, ts)) < 0)
		return ret;
	ts->code = *code;
	if ((ret = pick(ts)) < 0)
		tracee_release(ts, 0);
	return ret;
}
