/*
 * Borrowing a frozen thread to run syscalls in it, so that ckpt dying at
 * any instant (an error, Ctrl-C, kill -9) leaves the thread running its
 * own code exactly as before.  docs/kill-safety.md has the whole argument;
 * the facts it rests on:
 *
 *  - When a tracer dies, exit_ptrace() (kernel/ptrace.c) detaches every
 *    tracee: __ptrace_unlink() clears its syscall tracing and pending
 *    traps and wakes it from whatever ptrace stop it is in (it stops again
 *    only if a group stop is in effect, as it then should).  It runs on
 *    with the registers it has at that instant.  Nothing kills it: we never
 *    set PTRACE_O_EXITKILL.  A syscall stop's exit code (SIGTRAP|0x80 with
 *    PTRACE_O_TRACESYSGOOD) is no valid signal, so none is sent
 *    (ptrace_report_syscall -> send_sig -> EINVAL); a signal-delivery stop
 *    delivers its signal only if we had not waited for it yet (our wait
 *    clears its exit code: docs/kill-safety.md section 1).
 *
 *  - So a borrowed thread must never hold registers whose continuation is
 *    harmful.  Before borrowing it we write below its stack pointer (below
 *    the red zone, in the dead stack the kernel itself puts signal frames
 *    in) a real rt_sigframe (arch_sigframe_build) holding its registers as
 *    it would resume them (an interrupted syscall restarted as after a
 *    signal without handler: arch_fixup_restart; an rseq critical section
 *    aborted, as the kernel does after a preemption), its own signal mask
 *    (PTRACE_GETSIGMASK returns saved_sigmask while a ppoll/pselect/
 *    sigsuspend has its temporary mask in place), its FP state, and a
 *    uc_stack that do_sigaltstack() rejects, which restore_altstack()
 *    ignores (kernel/signal.c): the alternate stack stays as it is.
 *
 *  - The thread then rests at a sigreturn gadget of its own code with its
 *    stack pointer at that frame: resumed as is, it sigreturns into itself
 *    (arch/x86/kernel/signal_64.c and arch/arm64/kernel/signal.c
 *    rt_sigreturn: registers, mask, FP state from the frame; orig_ax / the
 *    syscall number set to "none", so no restart logic applies to them).
 *    Each injected syscall replaces the gadget's rt_sigreturn at its
 *    syscall-entry stop, returning to the gadget: resumed at the entry or
 *    the exit stop, the thread runs that syscall (every one injected is
 *    harmless to complete unsupervised) and then sigreturns into itself.
 *
 *  - Every signal is blocked while it is borrowed (PTRACE_SETSIGMASK, set
 *    after the gadget registers): a signal that comes stays pending with
 *    its siginfo and is delivered with its own registers afterwards.
 *
 *  - Giving it back: its mask first (while it would still sigreturn), then
 *    PTRACE_INTERRUPT (so TIF_SIGPENDING sends it through the signal path),
 *    then its own registers: on x86-64 the kernel's restart logic then sees
 *    the frozen state (restart_block intact); arm64 gets them resolved, as
 *    its kernel rewound the syscall before the stop.  Last, the stack bytes
 *    we wrote over are put back, while it is stopped with its own
 *    registers; if ckpt dies before, they are dead stack.
 *
 * What it costs the thread when ckpt dies while it is borrowed: a
 * syscall it was in restarts as after a signal, which the kernel cannot
 * do for restart_syscall: a relative sleep asks for the time left, other
 * waits on a timeout start it again (arch_fixup_restart).  Without a
 * gadget, or when the frame cannot be had, the thread is borrowed the old
 * way (foreign registers, not safe), and -v says so.
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "ptrace/borrow.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

/* Every signal; the kernel leaves SIGKILL and SIGSTOP out itself. */
static const uint64_t all_blocked = ~0ull;

/*
 * A thread stopped inside an rseq critical section is aborted by the
 * kernel on its way back to user space, since it was preempted
 * (kernel/rseq.c rseq_ip_fixup): give it the abort handler's address, as
 * our own stops in between would have the kernel forget the section.
 */
static void rseq_abort(pid_t tid, arch_regs_t *r)
{
	struct { uint64_t ptr; uint32_t size, sig, flags, pad; } conf = { 0 };
	struct { uint32_t cpu_id_start, cpu_id; uint64_t rseq_cs; } area;
	struct { uint32_t version, flags; uint64_t start_ip, post_commit_offset, abort_ip; } cs;
	uint64_t ip = arch_ip(r);

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(conf), &conf) < 0 || !conf.ptr ||
	    mem_read(tid, conf.ptr, &area, sizeof(area)) < 0 || !area.rseq_cs ||
	    mem_read(tid, area.rseq_cs, &cs, sizeof(cs)) < 0)
		return;
	if (ip >= cs.start_ip && ip - cs.start_ip < cs.post_commit_offset)
		arch_set_ip(r, cs.abort_ip);
}

int tracee_lent_span(const struct tracee *t, uint64_t *lo, uint64_t *hi)
{
	const struct tracee_loan *l = t->loan;

	if (!l || !l->nlent)
		return 0;
	*lo = l->lent[0].lo;
	for (int i = 1; i < l->nlent; i++)
		*lo = MIN(*lo, l->lent[i].lo);
	*hi = arch_sp(&t->regs);
	return 1;
}

const struct tracee *tracee_crowded(const struct tracee_set *ts, const struct tracee *t, uint64_t lo)
{
	uint64_t sp = arch_sp(&t->regs), ulo, uhi;

	for (size_t i = 0; i < ts->n; i++) {
		const struct tracee *u = &ts->t[i];
		uint64_t usp = arch_sp(&u->regs);

		if (u == t)
			continue;
		if ((lo <= usp && usp <= sp) ||
		    (tracee_lent_span(u, &ulo, &uhi) && lo <= uhi && ulo <= sp))
			return u;
	}
	return NULL;
}

/*
 * Remember the bytes of [lo, hi) of t's memory before we write there;
 * -EBUSY, nothing written, when [lo, t's stack pointer] holds another
 * thread's stack pointer (the top of its live stack would be
 * overwritten: a kill of ckpt before the bytes are put back leaves it
 * corrupted) or meets what another thread lent (its frame would be
 * overwritten, or its "original" bytes be our frame): tracee_crowded;
 * or, the others running (ts->lone), leaves the mapping tracee_freeze_lone
 * found room in (never: it checked).
 * tracee_roomy() refuses such a set before anything is written.
 */
static int lend(struct tracee_set *ts, struct tracee *t, uint64_t lo, uint64_t hi)
{
	struct tracee_loan *l = t->loan;
	size_t len = hi - lo;
	uint8_t *buf;
	int ret;

	if (tracee_crowded(ts, t, lo) || (ts->lone && lo < ts->code.lone_lo))
		return -EBUSY;
	buf = xmalloc(len);
	ret = mem_read(t->tid, lo, buf, len);

	if (ret < 0) {
		free(buf);
		return ret;
	}
	l->lent[l->nlent].lo = lo;
	l->lent[l->nlent].len = len;
	l->lent[l->nlent].bytes = buf;
	l->nlent++;
	return 0;
}

static void unlend(struct tracee *t)
{
	struct tracee_loan *l = t->loan;

	while (l->nlent > 0) {
		l->nlent--;
		if (mem_write(t->tid, l->lent[l->nlent].lo, l->lent[l->nlent].bytes,
			      l->lent[l->nlent].len) < 0)
			debug("thread %d: cannot put back the stack bytes it lent", t->tid);
		free(l->lent[l->nlent].bytes);
	}
}

int tracee_unlend_in(const struct tracee *t, pid_t other)
{
	const struct tracee_loan *l = t->loan;

	for (int i = l ? l->nlent - 1 : -1; i >= 0; i--) {
		int ret = mem_write(other, l->lent[i].lo, l->lent[i].bytes, l->lent[i].len);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static void drop_loan(struct tracee *t)
{
	if (!t->loan)
		return;
	for (int i = 0; i < t->loan->nlent; i++)
		free(t->loan->lent[i].bytes);
	free(t->loan->ext);
	free(t->loan);
	t->loan = NULL;
}

/* The frame and the gadget registers; 0, or why not (then the old way). */
static int lend_safely(struct tracee_set *ts, struct tracee *t, const arch_regs_t *resolved)
{
	struct tracee_loan *l = t->loan;
	struct arch_sigframe f = { 0 };
	uint64_t below = arch_sp(&t->regs) - ARCH_RED_ZONE;
	int ret;

	if (!ts->code.arch.gadget)
		return -ENOEXEC;
	if ((ret = arch_sigframe_build(&f, t->tid, below, resolved, l->mask, ts->code.arch.gadget)) < 0)
		return ret;
	l->entry_sp = f.entry_sp;
	l->scratch = (f.lo - TRACEE_SCRATCH) & ~15ull;
	ret = lend(ts, t, l->scratch, f.hi);
	if (ret == 0)
		ret = mem_write(t->tid, f.lo, f.bytes, f.hi - f.lo);
	free(f.bytes);
	if (ret < 0)
		return ret;
	killpoint("borrow: frame written");
	l->gadget_regs = t->regs;
	arch_prep_gadget(&l->gadget_regs, ts->code.arch.gadget, f.sp);
	if ((ret = tracee_set_regset(t->tid, NT_PRSTATUS, &l->gadget_regs, sizeof(l->gadget_regs))) < 0)
		return ret;
	l->safe = 1;
	killpoint("borrow: at the gadget");
	if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(uint64_t), &all_blocked) < 0)
		return -errno;
	l->blocked = 1;
	killpoint("borrow: signals blocked");
	return 0;
}

void tracee_loan_regs(const struct tracee *t, arch_regs_t *resolved, arch_regs_t *back)
{
	*resolved = t->known ? t->rseq_regs : t->regs;
	/* Inside an rseq critical section a thread is in no syscall: either
	 * fixup applies, not both. */
	if (!t->known)
		rseq_abort(t->tid, resolved);
	*back = *resolved;
	arch_resolve_restart(t->tid, resolved, t->wchan);
	arch_fixup_restart(resolved);
	if (!ARCH_RESTART_AFTER_STOP)
		*back = *resolved;
}

/*
 * Where a syscall discards part of the register state (arm64: SVE beyond
 * v0-v31 on every syscall entry, arch/arm64/kernel/syscall.c
 * fp_user_discard), a thread that runs our syscalls would lose it: that
 * regset is read as it is when the thread is lent and written back once
 * it has its own registers again.  Every injection comes through here:
 * the freeze's, a --fork copy's clone and its reaping after the release,
 * --snapshot's and --track's (the freeze's own syscalls are also put back
 * from the image, dump/remote.c).  A CPU without the set: nothing read.
 */
static void save_ext(struct tracee *t)
{
	size_t len = 0;

	for (unsigned i = 0; i < arch_nregsets; i++)
		if (ARCH_SYSCALL_DISCARDS_NOTE && arch_regsets[i].type == ARCH_SYSCALL_DISCARDS_NOTE)
			len = arch_regsets[i].maxlen;
	if (!len)
		return;
	t->loan->ext = xmalloc(len);
	if (tracee_get_regset(t->tid, ARCH_SYSCALL_DISCARDS_NOTE, t->loan->ext, &len) < 0) {
		free(t->loan->ext);
		t->loan->ext = NULL;
		return;
	}
	t->loan->extlen = len;
}

static void put_ext(struct tracee *t)
{
	const struct tracee_loan *l = t->loan;

	if (l->ext && tracee_set_regset(t->tid, ARCH_SYSCALL_DISCARDS_NOTE, l->ext, l->extlen) < 0)
		debug("thread %d: cannot put back its registers (note type %#x)", t->tid,
		      ARCH_SYSCALL_DISCARDS_NOTE);
}

int tracee_borrow(struct tracee_set *ts, struct tracee *t)
{
	struct tracee_loan *l = xzalloc(sizeof(*l));
	arch_regs_t resolved;
	int ret;

	t->loan = l;
	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(uint64_t), &l->mask) < 0) {
		ret = -errno;
		drop_loan(t);
		return ret;
	}
	tracee_loan_regs(t, &resolved, &l->back);
	save_ext(t);
	ret = lend_safely(ts, t, &resolved);
	if (ret == -EBUSY) {	/* nothing written: as it was */
		drop_loan(t);
		return ret;
	}
	t->injecting = 1;
	t->at = TRACEE_AT_STOP;
	/* Failed at the gadget: safe as it is, the caller gives it back. */
	if (ret == 0 || l->safe)
		return ret;
	if (ts->code.arch.gadget)
		debug("thread %d: borrowed without a frame to return to (%s): a kill of ckpt now would harm it",
		      t->tid, strerror(-ret));
	/* The old way: nothing written that matters (put back anyway). */
	unlend(t);
	drop_loan(t);
	return 0;
}

int tracee_scratch(struct tracee_set *ts, struct tracee *t, uint64_t *addr)
{
	int ret;

	if (!t->injecting && (ret = tracee_borrow(ts, t)) < 0)
		return ret;
	if (!t->loan) {
		/* Borrowed the old way: dead stack below the red zone. */
		uint64_t hi = arch_sp(&t->regs) - ARCH_RED_ZONE;

		t->loan = xzalloc(sizeof(*t->loan));
		t->loan->back = t->regs;
		if ((ret = lend(ts, t, (hi - TRACEE_SCRATCH) & ~15ull, hi)) < 0) {
			drop_loan(t);	/* nothing lent: asked again later */
			return ret;
		}
		t->loan->scratch = (hi - TRACEE_SCRATCH) & ~15ull;
	}
	*addr = t->loan->scratch;
	return 0;
}

int tracee_doomed_sp(struct tracee_set *ts, struct tracee *t, uint64_t *sp)
{
	struct tracee_loan *l;
	struct arch_sigframe f = { 0 };
	arch_regs_t r;
	int ret;

	if (!t->injecting && (ret = tracee_borrow(ts, t)) < 0)
		return ret;
	l = t->loan;
	if (!l || !l->safe)
		return -ENOEXEC;
	if (!l->doomed_sp) {
		r = l->gadget_regs;
		arch_prep_syscall(&r, SYS_exit_group, (uint64_t[6]){ 0 }, ts->code.arch.gadget_syscall);
		if ((ret = arch_sigframe_build(&f, 0, l->scratch, &r, all_blocked, ts->code.arch.gadget)) < 0)
			return ret;
		ret = lend(ts, t, f.lo, f.hi);
		if (ret == 0)
			ret = mem_write(t->tid, f.lo, f.bytes, f.hi - f.lo);
		free(f.bytes);
		if (ret < 0)
			return ret;
		l->doomed_sp = f.entry_sp;	/* the copy starts at resume */
	}
	*sp = l->doomed_sp;
	return 0;
}

/*
 * The lowest byte a borrow of t writes, worked out as lend_safely() and
 * tracee_doomed_sp() do, nothing written: its frame below the red zone
 * and the scratch below that, and for t[0] (the thread a --fork copy is
 * cloned from, dump/fork.c) the copy's exit frame below the scratch; the
 * scratch alone when the frame cannot be had (borrowed the old way).  The
 * frame's size does not depend on the register values, only on the
 * stack pointer and the FP state, read from the thread.
 */
uint64_t tracee_lend_lo(const struct tracee_set *ts, const struct tracee *t)
{
	struct arch_sigframe f = { 0 };
	uint64_t below = arch_sp(&t->regs) - ARCH_RED_ZONE, lo;

	if (!ts->code.arch.gadget ||
	    arch_sigframe_build(&f, t->tid, below, &t->regs, 0, ts->code.arch.gadget) < 0)
		return (below - TRACEE_SCRATCH) & ~15ull;
	free(f.bytes);
	lo = (f.lo - TRACEE_SCRATCH) & ~15ull;
	if (t != &ts->t[0])
		return lo;
	f = (struct arch_sigframe){ 0 };
	if (arch_sigframe_build(&f, 0, lo, &t->regs, all_blocked, ts->code.arch.gadget) < 0)
		return lo;	/* tracee_doomed_sp fails the same way, writing nothing */
	free(f.bytes);
	return f.lo;
}

struct by_sp {
	uint64_t sp;
	size_t i;
};

static int by_sp(const void *a, const void *b)
{
	const struct by_sp *x = a, *y = b;

	return x->sp < y->sp ? -1 : x->sp > y->sp;
}

size_t tracee_roomy(const struct tracee_set *ts, struct tracee_tight *tight)
{
	struct by_sp *s = xmalloc((ts->n ? ts->n : 1) * sizeof(*s));
	size_t bad = 0;

	for (size_t i = 0; i < ts->n; i++)
		s[i] = (struct by_sp){ arch_sp(&ts->t[i].regs), i };
	qsort(s, ts->n, sizeof(*s), by_sp);
	for (size_t j = 0; j < ts->n; j++) {
		/* If any stack pointer is in [lo, sp], the nearest one at or
		 * below sp is: one equal above in the order, else the one
		 * just below. */
		const struct by_sp *u = j + 1 < ts->n && s[j + 1].sp == s[j].sp ? &s[j + 1] :
					j > 0 ? &s[j - 1] : NULL;
		uint64_t lo;

		if (!u || s[j].sp - u->sp >= TRACEE_ROOM_MAX)
			continue;
		lo = tracee_lend_lo(ts, &ts->t[s[j].i]);
		if (u->sp < lo)
			continue;
		if (!bad++)
			*tight = (struct tracee_tight){ ts->t[s[j].i].tid, ts->t[u->i].tid,
							s[j].sp - u->sp, s[j].sp - lo };
	}
	free(s);
	return bad;
}

/* Wait for t's interrupt stop; a signal that gets in first is delivered
 * with its own registers, as it would have been. */
static int wait_interrupt(struct tracee *t)
{
	for (;;) {
		int st;
		pid_t r = waitpid(t->tid, &st, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			tracee_note_exit(t->tid, st);
			return -ESRCH;
		}
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* A signal got in first: it is delivered with the thread's own
		 * registers (or dropped by ckpt run's filter, held.c). */
		if (ptrace(PTRACE_CONT, t->tid, 0,
			   (void *)(long)((st >> 16) ? 0 : tracee_pass_signal(t->tid, WSTOPSIG(st)))) < 0)
			return -errno;
	}
}

/* Up to the interrupt stop it is resumed towards (tracee_give_back). */
int tracee_give_back_start(struct tracee *t)
{
	struct tracee_loan *l = t->loan;
	const arch_regs_t *back = l ? &l->back : &t->regs;
	int ret;

	/* Safe: each step leaves a thread that, resumed, sigreturns into
	 * itself, until its own registers go in (see the top comment). */
	if (l && l->blocked && ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(uint64_t), &l->mask) < 0)
		return -errno;
	killpoint("give back: mask");
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
		return -errno;
	killpoint("give back: interrupt");
	if ((ret = arch_leave_syscall(t->tid)) < 0)
		return ret;
	killpoint("give back: out of the syscall");
	if ((ret = tracee_set_regset(t->tid, NT_PRSTATUS, back, sizeof(*back))) < 0)
		return ret;
	killpoint("give back: registers");
	if (ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
		return -errno;
	return 0;
}

/* In that stop, with its own registers: its stack bytes back. */
int tracee_give_back_finish(struct tracee *t)
{
	int ret;

	if ((ret = wait_interrupt(t)) < 0)
		return ret;
	if (t->loan) {
		put_ext(t);
		unlend(t);
	}
	killpoint("give back: stack");
	drop_loan(t);
	t->injecting = 0;
	t->at = TRACEE_AT_STOP;
	return 0;
}

int tracee_give_back(struct tracee *t)
{
	int ret = tracee_give_back_start(t);

	return ret < 0 ? ret : tracee_give_back_finish(t);
}
