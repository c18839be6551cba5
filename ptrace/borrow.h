/* Between inject.c (stepping) and borrow.c (lending and giving back). */
#ifndef CKPT_BORROW_H
#define CKPT_BORROW_H

#include "ptrace/tracee.h"

/* Where a borrowed thread waits (struct tracee.at). */
enum { TRACEE_AT_STOP, TRACEE_AT_ENTRY, TRACEE_AT_EXIT };

struct tracee_loan {
	int safe;		/* resting at the gadget, a frame below it */
	int blocked;		/* every signal blocked while borrowed */
	uint64_t mask;		/* its own signal mask */
	arch_regs_t gadget_regs;	/* the registers it rests with */
	uint64_t entry_sp;	/* its stack pointer for injected syscalls */
	arch_regs_t back;	/* the registers it gets back */
	uint64_t scratch;	/* TRACEE_SCRATCH bytes of dead stack */
	uint64_t doomed_sp;	/* tracee_doomed_sp(), 0 = not made yet */
	struct {
		uint64_t lo;
		size_t len;
		uint8_t *bytes;	/* what was there */
	} lent[2];		/* stack bytes written over, in order */
	int nlent;
	/* The regset a syscall discards (ARCH_SYSCALL_DISCARDS_NOTE: arm64's
	 * SVE state beyond v0-v31) as it was when the thread was lent, put
	 * back when it is given back; NULL where none was read. */
	uint8_t *ext;
	size_t extlen;
};

/* The registers frozen thread t runs on with: *resolved when it
 * sigreturns into itself (an rseq critical section aborted, a restart
 * applied), *back when it gets them at a stop in the signal path. */
void tracee_loan_regs(const struct tracee *t, arch_regs_t *resolved, arch_regs_t *back);
/* [*lo, *hi]: from the lowest stack byte thread t lent to its stack
 * pointer; 0 when it lent none. */
int tracee_lent_span(const struct tracee *t, uint64_t *lo, uint64_t *hi);
/* Another thread of ts whose stack pointer is in [lo, t's stack
 * pointer] (its live stack would be written over) or whose lent span
 * meets it (frames of threads whose stacks are that close must not be in
 * memory at the same time), or NULL. */
const struct tracee *tracee_crowded(const struct tracee_set *ts, const struct tracee *t,
				    uint64_t lo);
/* Lend t: safely when ts has a gadget and the frame fits, else only
 * marked borrowed (the old way: foreign registers until given back);
 * -EBUSY, t left as it was, when its frame would cover another thread's
 * stack pointer or meet another borrowed thread's lent bytes
 * (tracee_crowded). */
int tracee_borrow(struct tracee_set *ts, struct tracee *t);
/* At a stop other than syscall entry: registers, mask, stack bytes back,
 * the thread in an interrupt stop. */
int tracee_give_back(struct tracee *t);
/* The same in two halves, so that many threads' interrupt stops overlap:
 * _start resumes it towards the stop, _finish waits for it. */
int tracee_give_back_start(struct tracee *t);
int tracee_give_back_finish(struct tracee *t);
/* Signal sig, at tid's signal-delivery stop, is one the thread raised
 * itself by running something (a fault), as opposed to one sent to it:
 * ours to answer for, never to deliver (inject.c). */
int tracee_self_inflicted(pid_t tid, int sig);

#endif
