/*
 * A trip: a few syscalls only a thread can answer, run in many threads at
 * once with one ptrace stop each.  Borrowing (borrow.c, inject.c) steps
 * each syscall with PTRACE_SYSCALL, two stops, and gives the thread back
 * through one more: with 1,000 threads and two syscalls each that was
 * 5,000 stops, most of the freeze.
 *
 * The thread gets, in dead stack below its red zone (as borrow.c writes
 * there), a chain of signal frames (arch_sigframe_build) and registers
 * that run the first syscall at the process's own `syscall; ret`
 * (arch_code.call, found with the gadget, ptrace/gadget.c).  The return
 * goes to the gadget, whose rt_sigreturn takes the next frame: the next
 * syscall at the same place, every signal blocked; the last frame holds
 * the thread's own registers and signal mask, exactly borrow.c's frame.
 * So from the first register write on, the thread resumed runs the
 * syscalls (each harmless to complete) and sigreturns into itself,
 * traced or not: ckpt dying at any instant leaves it as a borrowed thread
 * (docs/kill-safety.md), but for a kept signal (below).  No byte of code
 * is written.
 *
 * What stops it at the end: a signal ckpt sends it first, while every
 * signal is blocked, which its own mask lets in and whose delivery does
 * nothing (SIG_IGN, or SIG_DFL of a signal whose default is to ignore;
 * the caller says which).  The last rt_sigreturn puts its own mask back,
 * the kernel dequeues the signal on the way out, and a traced thread
 * stops there (signal-delivery stop) with its own registers; untraced, it
 * drops the signal (kernel/signal.c get_signal: the action is to ignore).
 * Signals are dequeued from the thread's own queue before the process's,
 * lowest number first (pick_signal says which is used).  In that stop,
 * inside get_signal as a freeze's interrupt stop is, the thread gets its
 * frozen registers (x86-64: the kernel's restart logic then sees the state
 * it was frozen in, as borrow.c's give-back arranges) and its stack
 * bytes, and stays there until the release, whose PTRACE_DETACH (or
 * PTRACE_CONT) with no signal discards ours.  A signal of the process
 * that gets in first (one sent to the thread during the freeze, lower
 * than ours) stops it the same way: it is kept there and delivered at the
 * release (tracee.deliver); ours stays pending, to be dropped as ignored.
 * Should ckpt die (kill -9, OOM) between that stop and the release, the
 * kept signal is lost: our waitpid cleared the stop's exit code
 * (kernel/exit.c wait_task_stopped), exit_ptrace leaves it at 0, and the
 * woken thread's ptrace_signal cancels the signal.  Only a ckpt that
 * lives on delivers it: tracee_release, or, on the tracer-exit release
 * of dump/tracer.c, tracee_forget detaching such threads with their
 * signal before the exit.  To do: requeue it with the signal blocked
 * (PTRACE_SETSIGMASK, then PTRACE_CONT(sig): a dying ckpt leaves it
 * pending), or have the guardian tgkill() it after ckpt's death.
 *
 * An rt_sigreturn forgets the thread's restart_block (restore_sigcontext):
 * a thread that needs it (arch_needs_restart_block: cut short in a
 * relative sleep, a poll, a futex wait with a timeout) is left to
 * borrowing, as is one already borrowed, in a job-control stop, whose
 * mask blocks every such signal, whose frames do not fit in writable
 * memory, or every thread when the process has no arch_code.call.
 *
 * The syscalls' return values are not seen (rt_sigreturn replaces them):
 * each writes its output to the thread's scratch bytes, which are filled
 * first with what no syscall leaves there, so that the caller tells a
 * failure by its mark.
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "ptrace/borrow.h"

/* A leg's way: planned, its stack bytes read (LENT) and written over
 * (WRITTEN), on the trip, given back with its own registers (BACK, then
 * DONE once its outputs are read), or gone. */
enum { NOT_TAKEN, PLANNED, LENT, WRITTEN, RUNNING, BACK, DONE, GONE };

struct leg {
	struct tracee *t;
	int state, sig;
	uint64_t mask;		/* its own signal mask */
	arch_regs_t call;	/* registers that run the first syscall */
	arch_regs_t back;	/* the registers it gets back */
	uint64_t lo, scratch;	/* [lo, lo + len): the stack bytes it lends */
	size_t len;
	uint8_t *bytes;		/* what goes there */
	uint8_t *orig;		/* what was there */
};

static const uint64_t all_blocked = ~0ull;

#define BIT(sig)	(1ull << ((sig) - 1))

/* Never: what the kernel cannot leave pending without effect (SIGCONT
 * continues a stopped process and stop signals flush SIGCONT at send
 * time, kernel/signal.c prepare_signal), and real-time signals. */
static const uint64_t never = BIT(SIGKILL) | BIT(SIGSTOP) | BIT(SIGCONT) | BIT(SIGTSTP) |
			      BIT(SIGTTIN) | BIT(SIGTTOU) | ~0ull << 31;

/*
 * SIGCHLD where it can be: should a signal of the process come first and
 * ours stay pending (see the top), that is the one signal `ckpt run`
 * never takes for a preemption (run/signals.c), when the process is held.
 * Else the lowest: it comes before more of the process's own.
 */
static int pick_signal(uint64_t sigs, uint64_t mask)
{
	uint64_t ok = sigs & ~mask & ~never;

	if (ok & BIT(SIGCHLD))
		return SIGCHLD;
	return ok ? __builtin_ctzll(ok) + 1 : 0;
}

/* The chain of frames and the registers that start it; 0, or why not. */
static int plan(struct tracee_set *ts, struct leg *g, const struct tracee_tcall *calls,
		size_t ncalls, const void *in, size_t len)
{
	struct tracee *t = g->t;
	const struct arch_code *c = &ts->code.arch;
	struct arch_sigframe f[TRACEE_TRIP_MAX] = { 0 };
	uint64_t a[TRACEE_TRIP_MAX][6], below = arch_sp(&t->regs) - ARCH_RED_ZONE, hi;
	arch_regs_t resolved;
	int ret = 0;

	g->scratch = (below - len) & ~15ull;
	for (size_t k = 0; k < ncalls; k++) {
		memcpy(a[k], calls[k].a, sizeof(a[k]));
		if (calls[k].out >= 0)
			a[k][calls[k].out] = g->scratch + calls[k].out_off;
	}
	tracee_loan_regs(t, &resolved, &g->back);
	/* f[k] is what the rt_sigreturn after syscall k reads. */
	f[ncalls - 1].fp = t->fp;
	f[ncalls - 1].fplen = t->fplen;
	ret = arch_sigframe_build(&f[ncalls - 1], t->tid, g->scratch, &resolved, g->mask, c->gadget);
	for (size_t k = ncalls - 1; ret == 0 && k-- > 0;) {
		arch_regs_t r = t->regs;

		arch_prep_call(&r, calls[k + 1].nr, a[k + 1], c, &f[k + 1]);
		ret = arch_sigframe_build(&f[k], 0, f[k + 1].lo, &r, all_blocked, c->gadget);
	}
	if (ret == 0) {
		g->call = t->regs;
		arch_prep_call(&g->call, calls[0].nr, a[0], c, &f[0]);
		g->lo = f[0].lo;
		hi = MAX(g->scratch + len, f[ncalls - 1].hi);
		g->len = hi - g->lo;
		g->bytes = xzalloc(g->len);
		g->orig = xmalloc(g->len);
		memcpy(g->bytes + (g->scratch - g->lo), in, len);
		for (size_t k = 0; k < ncalls; k++)
			memcpy(g->bytes + (f[k].lo - g->lo), f[k].bytes, f[k].hi - f[k].lo);
	}
	for (size_t k = 0; k < ncalls; k++)
		free(f[k].bytes);
	return ret;
}

/*
 * n transfers between local l[i] and remote r[i], 512 to a call; only
 * pages the process itself may read and write (no /proc/PID/mem: the
 * thread must be able to use what we write).  A batch that fails is
 * redone one by one: ok[i] says which went through.
 */
static void batch(pid_t pid, const struct iovec *l, const struct iovec *r, uint8_t *ok, size_t n,
		  int wr)
{
	for (size_t lo = 0; lo < n; lo += 512) {
		int k = (int)MIN((size_t)512, n - lo);

		memset(ok + lo, 1, (size_t)k);
		if (mem_rw_plain(pid, l + lo, r + lo, k, wr) == 0)
			continue;
		for (int i = 0; i < k; i++)
			ok[lo + i] = mem_rw_plain(pid, l + lo + i, r + lo + i, 1, wr) == 0;
	}
}

enum { ORIG_IN, BYTES_OUT, SCRATCH_IN, ORIG_OUT };

/* One of the four moves of the stack bytes, for the legs in state
 * `from`; those that went through go to state `to`.  SCRATCH_IN reads
 * the scratch bytes into out. */
static void move(pid_t pid, struct leg *g, size_t n, int what, int from, int to, void *out,
		 size_t len)
{
	struct iovec *l = xmalloc((n ? n : 1) * sizeof(*l)), *r = xmalloc((n ? n : 1) * sizeof(*r));
	size_t *idx = xmalloc((n ? n : 1) * sizeof(*idx)), k = 0;
	uint8_t *ok = xmalloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		if (g[i].state != from)
			continue;
		if (what == SCRATCH_IN) {
			l[k] = (struct iovec){ (uint8_t *)out + i * len, len };
			r[k] = (struct iovec){ (void *)(uintptr_t)g[i].scratch, len };
		} else {
			l[k] = (struct iovec){ what == BYTES_OUT ? g[i].bytes : g[i].orig, g[i].len };
			r[k] = (struct iovec){ (void *)(uintptr_t)g[i].lo, g[i].len };
		}
		idx[k++] = i;
	}
	batch(pid, l, r, ok, k, what == BYTES_OUT || what == ORIG_OUT);
	for (size_t j = 0; j < k; j++) {
		if (ok[j])
			g[idx[j]].state = to;
		else if (what == ORIG_OUT)
			debug("thread %d: cannot put back the stack bytes it lent", g[idx[j]].t->tid);
	}
	free(l);
	free(r);
	free(idx);
	free(ok);
}

/* Still in its freeze stop, never resumed: as it was. */
static void untouch(struct leg *g)
{
	tracee_set_regset(g->t->tid, NT_PRSTATUS, &g->t->regs, sizeof(g->t->regs));
	ptrace(PTRACE_SETSIGMASK, g->t->tid, sizeof(uint64_t), &g->mask);
	g->state = LENT;
}

/* Registers that run the chain, every signal blocked, our signal sent,
 * and on its way. */
static int start(pid_t pid, struct leg *g)
{
	pid_t tid = g->t->tid;
	int ret;

	if ((ret = tracee_set_regset(tid, NT_PRSTATUS, &g->call, sizeof(g->call))) < 0)
		return ret;
	killpoint("trip: at the first syscall");
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &all_blocked) < 0 ||
	    (killpoint("trip: signals blocked"), tgkill(pid, tid, g->sig) < 0) ||
	    (killpoint("trip: signal sent"), ptrace(PTRACE_CONT, tid, 0, 0) < 0)) {
		ret = -errno;
		untouch(g);
		return ret;
	}
	g->state = RUNNING;
	return 0;
}

/*
 * Up to the signal-delivery stop that ends the trip, then its own
 * registers.  On the way: a SIGSTOP (which no mask blocks) is passed on,
 * to start the group stop it would have; the group stop's report and any
 * other event are passed over, as a stepped thread's are (inject.c).
 */
static int finish(struct leg *g)
{
	pid_t tid = g->t->tid;

	for (;;) {
		int st, sig, pass = 0;
		pid_t r = waitpid(tid, &st, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			tracee_note_exit(tid, st);
			g->state = GONE;
			return -ESRCH;
		}
		sig = WSTOPSIG(st);
		if ((st >> 16) == 0 && sig != SIGSTOP) {
			int fault = tracee_self_inflicted(tid, sig);

			/* Here with its own registers; a fault leaves it in the
			 * chain: its mask back too.  The release discards ours
			 * and a fault, delivers another. */
			if (fault) {
				ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &g->mask);
				/* The frames before the last carry no FP state
				 * (their rt_sigreturn reset it), and a last one
				 * that failed to restore clears it: its own back. */
				if (ARCH_FRAME_FP_NOTE && g->t->fp &&
				    tracee_set_regset(tid, ARCH_FRAME_FP_NOTE, g->t->fp, g->t->fplen) < 0)
					debug("thread %d: cannot put back its FP state", tid);
			}
			killpoint("trip: at the stop");
			if (tracee_set_regset(tid, NT_PRSTATUS, &g->back, sizeof(g->back)) < 0) {
				g->state = GONE;
				return -errno;
			}
			killpoint("trip: registers back");
			/* A fault: no outputs, only the stack bytes to put back. */
			g->state = fault ? LENT : BACK;
			if (!fault && sig != g->sig) {
				debug("thread %d: its signal %d came before ours: kept in that stop "
				      "until the release", tid, sig);
				g->t->deliver = sig;
			}
			return fault ? -EFAULT : 0;
		}
		if ((st >> 16) == 0)
			pass = sig;
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)pass) < 0)
			return -errno;
	}
}

#define TRIP_CHUNK	64

/* Thread t's leg planned (state PLANNED), if it can take a trip. */
static void prepare(struct tracee_set *ts, struct leg *g, struct tracee *t, uint64_t sigs,
		    const struct tracee_tcall *calls, size_t ncalls, const void *in, size_t len)
{
	g->t = t;
	/* A fault of its own pending (caught in the freeze between raising
	 * it and its delivery): dequeued first at the chain's end, finish()
	 * would take it for one of the chain's and the release discard it. */
	if (t->injecting || t->group_stop || t->deliver || t->fault_pending ||
	    arch_needs_restart_block(&t->regs))
		return;
	if (t->known)
		g->mask = t->sigmask;
	else if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(uint64_t), &g->mask) < 0)
		return;
	if ((g->sig = pick_signal(sigs, g->mask)) && plan(ts, g, calls, ncalls, in, len) == 0)
		g->state = PLANNED;
}

/* What a thread's stack holds of ours, [lo, hi] (hi: its stack
 * pointer); leg: its leg, or NULL. */
struct span {
	uint64_t lo, hi;
	struct leg *leg;
};

static int by_lo(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void crowded(struct leg *g, const struct span *other)
{
	if (!g || g->state != PLANNED)
		return;
	debug("thread %d: its frames would meet %s %#llx: left to borrowing", g->t->tid,
	      other->leg ? "another's, at" : "a thread's stack or lent bytes, at",
	      (unsigned long long)other->lo);
	g->state = NOT_TAKEN;
	free(g->bytes);
	free(g->orig);
	g->bytes = g->orig = NULL;
}

/*
 * Legs whose frames, from their lowest byte up to the thread's stack
 * pointer, meet those of another leg, or another thread's stack pointer
 * or lent bytes (ts->t[0] is borrowed while the trip runs), are left to
 * borrowing, which writes one thread's frames at a time (borrow.c
 * tracee_crowded).  Stacks that close are user-level threads' or
 * goroutines' (8 KiB, next to each other), and written at once, frames
 * would overwrite each other: a thread would sigreturn with another's
 * registers, and an ORIG_IN read another's frames as "what was there",
 * which ORIG_OUT would leave in place.
 */
static void uncrowd(const struct tracee_set *ts, struct leg *g, size_t n)
{
	struct span *s = xmalloc((ts->n + n + 1) * sizeof(*s));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (g[i].state == PLANNED)
			s[m++] = (struct span){ g[i].lo, arch_sp(&g[i].t->regs), &g[i] };
	for (size_t j = 0; j < ts->n; j++) {
		const struct tracee *u = &ts->t[j];
		uint64_t lo, hi = arch_sp(&u->regs);
		int leg = 0;

		for (size_t i = 0; i < n && !leg; i++)
			leg = g[i].state == PLANNED && g[i].t == u;
		if (leg)
			continue;
		if (!tracee_lent_span(u, &lo, &hi))
			lo = hi;
		s[m++] = (struct span){ lo, hi, NULL };
	}
	qsort(s, m, sizeof(*s), by_lo);
	for (size_t j = 0; j < m; j++)
		for (size_t k = j + 1; k < m && s[k].lo <= s[j].hi; k++) {
			crowded(s[j].leg, &s[k]);
			crowded(s[k].leg, &s[j]);
		}
	free(s);
}

int tracee_trip_each(struct tracee_set *ts, struct tracee **tv, size_t n, uint64_t sigs,
		     const struct tracee_tcall *calls, size_t ncalls, const void *in, size_t len,
		     void *out, uint8_t *done)
{
	struct leg *g = xzalloc((n ? n : 1) * sizeof(*g));
	int err = 0;

	memset(done, 0, n);
	if (!ts->code.arch.gadget || !ts->code.arch.call || !ncalls || ncalls > TRACEE_TRIP_MAX)
		n = 0;
	for (size_t i = 0; i < n; i++)
		prepare(ts, &g[i], tv[i], sigs, calls, ncalls, in, len);
	uncrowd(ts, g, n);
	/* TRIP_CHUNK threads at a time, so that those started run their
	 * trips (on the other CPU) while the next ones are written. */
	for (size_t lo = 0; lo < n && !err; lo += TRIP_CHUNK) {
		size_t k = MIN((size_t)TRIP_CHUNK, n - lo);

		/* What was there, then the frames. */
		move(ts->pid, g + lo, k, ORIG_IN, PLANNED, LENT, NULL, 0);
		move(ts->pid, g + lo, k, BYTES_OUT, LENT, WRITTEN, NULL, 0);
		for (size_t i = lo; i < lo + k; i++) {
			free(g[i].bytes);	/* its heap serves the next ones */
			g[i].bytes = NULL;
		}
		killpoint("trip: frames written");
		for (size_t i = lo; i < lo + k && !err; i++)
			if (g[i].state == WRITTEN)
				err = start(ts->pid, &g[i]);
	}
	for (size_t i = 0; i < n; i++) {
		int e = g[i].state == RUNNING ? finish(&g[i]) : 0;

		if (e < 0 && !err)
			err = e;
	}
	/* The outputs, then the stack bytes back: each thread is stopped
	 * with its own registers, or was never resumed. */
	move(ts->pid, g, n, SCRATCH_IN, BACK, DONE, out, len);
	for (size_t i = 0; i < n; i++) {
		if (g[i].state == BACK && !err)
			err = -EFAULT;
		done[i] = g[i].state == DONE;
		if (g[i].state == BACK || g[i].state == WRITTEN || g[i].state == DONE)
			g[i].state = LENT;
	}
	move(ts->pid, g, n, ORIG_OUT, LENT, NOT_TAKEN, NULL, 0);
	killpoint("trip: stack back");
	for (size_t i = 0; i < n; i++) {
		free(g[i].bytes);
		free(g[i].orig);
	}
	free(g);
	return err;
}
