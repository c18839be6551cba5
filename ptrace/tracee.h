/*
 * Freezing a process with ptrace, running syscalls inside it, and
 * reading its memory.  Every function returns 0 or -errno and leaves
 * messages to the caller unless it says otherwise.
 */
#ifndef CKPT_TRACEE_H
#define CKPT_TRACEE_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "arch/arch.h"

struct tracee_loan;

struct tracee {
	pid_t tid;
	int group_stop;		/* was in (or entered) a job-control stop */
	int injecting;		/* borrowed: registers not the thread's own */
	int at;			/* while borrowed: the stop it waits in (borrow.h) */
	char wchan[48];		/* where it waited before we stopped it */
	arch_regs_t regs;	/* as frozen */
	struct tracee_loan *loan;	/* while borrowed (borrow.c) */
	/* Kept in a signal-delivery stop of this signal of the process, to
	 * be delivered at the release (trip.c); 0 = none. */
	int deliver;
	/* Read for the image while frozen (dump/collect.c), reused by
	 * borrowing and trips (known 0: they ask): its signal mask, its
	 * registers with an rseq critical section aborted, its
	 * ARCH_FRAME_FP_NOTE regset (valid while the image is). */
	int known;
	uint64_t sigmask;
	arch_regs_t rseq_regs;
	const void *fp;
	size_t fplen;
	/* A signal the thread raised itself (a fault, a seccomp trap) was
	 * pending at the freeze: a trip's end would take it for its own. */
	int fault_pending;
};

/* Code of the process that injection uses (found by the caller). */
struct tracee_code {
	uint64_t syscall_insn;	/* a syscall instruction, 0 = none */
	struct arch_code arch;	/* for safe borrowing (arch.h); gadget 0 = none */
	/* Where thread lone_tid may be borrowed alone while the others run
	 * (tracee_freeze_lone): its [stack] mapping, which held its stack
	 * pointer at the freeze and no other thread's (everything when it
	 * was the only thread); [0, 0): nowhere, every thread is stopped. */
	uint64_t lone_lo, lone_hi;
	pid_t lone_tid;
};

/* Tasks attached to us by fork and clone events (PTRACE_O_TRACEFORK...)
 * whose first stop nobody has waited for yet. */
struct tracee_born {
	pid_t *pid;
	size_t n, cap;
};
/* 1 if pid was there (and is taken out), else 0. */
int tracee_born_take(struct tracee_born *b, pid_t pid);

struct tracee_set {
	pid_t pid;
	struct tracee *t;
	size_t n, cap;
	int suspend_seccomp;	/* PTRACE_O_SUSPEND_SECCOMP was needed */
	int leader_gone;	/* the leader exited (pthread_exit): t[0] is another */
	int lone;		/* t[0] alone is stopped, the others run (lone.c) */
	struct tracee_code code;
	/* Trees (ptrace/tree.c): more PTRACE_O_* to seize with; where the
	 * tasks their fork events attach go; a vfork child that did not exec
	 * in time (the freeze then fails with -EAGAIN). */
	long options;
	struct tracee_born *born;
	pid_t vfork_child;
};

/* How long a freeze waits for a thread in vfork() (its child's exec). */
#define TRACEE_VFORK_MS	2000

/* Seize and interrupt every thread of pid until no new ones appear; fills
 * ts and reads each thread's registers.  t[0] is the leader, or another
 * thread if the leader has exited (ts->leader_gone): /proc/<t[0].tid>
 * then stands for the process (/proc/PID shows no memory or files).  On failure everything seized is
 * detached again; the error is printed. */
int tracee_freeze(pid_t pid, struct tracee_set *ts);
/* The two halves of tracee_freeze, for trees: one pass over
 * /proc/PID/task seizing new threads (how many, or -errno: -ESRCH, the
 * process is gone; -EAGAIN, a vfork), and once a pass finds none, the
 * leader put first (0, or -ESRCH). */
int tracee_seize_new(struct tracee_set *ts);
int tracee_freeze_done(struct tracee_set *ts);
/* Seize and interrupt only thread tid of pid (for a short injection). */
int tracee_freeze_one(pid_t pid, pid_t tid, struct tracee_set *ts);
/* The same, waiting up to patience_ms while another tracer has it (EPERM):
 * for the stops that take out what ckpt left in the process. */
#define TRACEE_PATIENCE_MS	10000u
int tracee_freeze_one_patient(pid_t pid, pid_t tid, struct tracee_set *ts,
			      unsigned patience_ms);
/*
 * lone.c: the stops of one thread while the others run (--snapshot's
 * freeing behind and end, the reaping of a --fork copy, --track's undo,
 * the guardian's).  tracee_lone_note, while every thread of ts is frozen
 * (after the freeze, before ts->code is copied anywhere): where its t[0]
 * may later be borrowed alone.  tracee_freeze_lone: tracee_freeze_one of
 * live (else of pid: tracee_freeze_one_patient) with ts->code = *code,
 * when what a borrow of it writes lies where code says; else every thread
 * is frozen and t[0] is one whose borrow holds no other's stack pointer
 * (-EBUSY, nothing stopped: none; or, lone_only, where it would have to
 * stop every thread).
 */
void tracee_lone_note(struct tracee_set *ts);
int tracee_freeze_lone(pid_t pid, pid_t live, const struct tracee_code *code,
		       struct tracee_set *ts, unsigned patience_ms, int lone_only);
/* Put back registers, detach every thread.  sig: 0, or SIGSTOP to leave
 * the process stopped, SIGKILL to kill it first. */
void tracee_release(struct tracee_set *ts, int sig);
/*
 * Put back registers and forget every thread, still traced by the caller,
 * whose exit then lets them go in one loop of the kernel (exit_ptrace(),
 * kernel/ptrace.c: 1,000 PTRACE_DETACH took ~4 ms), as
 * tracee_release(ts, 0) would, for a process that is not held.  The exit
 * resumes each with the code its stop has left, which our wait for the
 * stop cleared (wait_task_stopped()): an interrupt stop's is ignored
 * anyway, a trip's end stop discards ckpt's signal as PTRACE_DETACH with
 * none does; a thread kept in the stop of a signal of the process
 * (t->deliver, trip.c) is detached here with it, or it would be lost.
 */
void tracee_forget(struct tracee_set *ts);

/* One ptrace request: its result (PEEKSIGINFO's count, 0...) or -errno.
 * Every ptrace call outside ptrace/ goes through it. */
long tracee_call(int req, pid_t tid, const void *addr, const void *data);
/* waitpid(pid, status, flags), again after EINTR unless a signal ckpt acts
 * on arrived (sigguard): the pid (0 with WNOHANG), or -errno. */
pid_t tracee_wait(pid_t pid, int *status, int flags);

/*
 * Held processes (held.c; ckpt run and watch): every thread seized and
 * running between checkpoints, so that signals sent to the job reach ckpt
 * first.  tracee_freeze() interrupts the threads of a held process rather
 * than seizing them, tracee_release() lets them run on still seized, and
 * every signal those waits see goes through filter (which returns the
 * signal to deliver, or 0 to keep it from the process).
 */
typedef int tracee_filter_fn(pid_t tid, int sig);
/* Seize every thread of pid and of every descendant, running; new
 * processes they make are held from birth.  -errno (-EBUSY: one is held). */
int tracee_hold(pid_t pid, tracee_filter_fn *filter);
/* The same for a process a supervised restore made (restore_start):
 * every thread of it and of its descendants seized by this thread
 * already and in a ptrace stop, its report consumed.  Each gets the
 * options of a held thread, then all run.  -errno: the caller kills it. */
int tracee_adopt(pid_t pid, tracee_filter_fn *filter);
/* Forget them (once the root has ended; live ones are detached by our
 * exit). */
void tracee_unhold(pid_t pid);
/* pid is the held root or one of its held descendants. */
int tracee_is_held(pid_t pid);
/* How many processes are held (the root included). */
size_t tracee_held_count(void);
/* A fork, vfork or clone event of parent attached child: held too when
 * parent is and child is a process (not a thread). */
void tracee_held_born(pid_t parent, pid_t child);
/* SIGKILL to every held process; returns once all but the root have
 * ended (their ends seen, so that their parents can reap them). */
void tracee_held_kill(void);
/* Held, and by this thread of ours (TracerPid of /proc/PID/status). */
int tracee_held_by_us(pid_t pid, pid_t tracer);
/* The ptrace options a held thread runs with. */
long tracee_held_opts(void);
/* The signal to deliver to thread tid: sig, or, when tid is a thread of
 * a held process, what the filter says. */
int tracee_pass_signal(pid_t tid, int sig);
/* A wait saw tid end with waitpid status st: kept when it is the held
 * root, whose end only one wait can see; another held process is held
 * no more. */
void tracee_note_exit(pid_t tid, int st);
/*
 * Handle every pending stop of the held processes without blocking: new
 * threads and processes and job-control stops go on as without a tracer,
 * signals pass the filter.  1 once the root has ended (*status as waitpid
 * gives it), 0 while it runs, -ESRCH when none is held.
 */
int tracee_held_poll(int *status);
/* The same for held process pid alone (a vfork child, whose parent
 * waits for it): its pending stops handled, without blocking. */
void tracee_held_serve(pid_t pid);
/* Thread tid of pid is in vfork(), waiting in the kernel for a child that
 * shares pid's memory: that child's PID; else 0 (vfork.c). */
pid_t tracee_vfork_child(pid_t pid, pid_t tid);
/* child still shares pid's memory (kcmp(2) KCMP_VM): not exec'd yet. */
int tracee_vfork_shares(pid_t pid, pid_t child);
/* A process other than pid (not one of its threads) that shares its
 * memory: clone(CLONE_VM) without CLONE_THREAD (vfork, posix_spawn before
 * its exec, or made so), child or not; 0 if none, -1 if kcmp(2) cannot
 * tell (vfork.c). */
pid_t tracee_mm_sharer(pid_t pid);

int tracee_get_regset(pid_t tid, uint32_t type, void *buf, size_t *len);
int tracee_set_regset(pid_t tid, uint32_t type, const void *buf, size_t len);

/*
 * Run syscall nr(a[]) in thread t, stepping it with PTRACE_SYSCALL so no
 * code of the process runs.  *ret gets the raw result (-errno on
 * failure).  The first call borrows the thread (borrow.c): with a
 * sigreturn gadget (ts->code.arch) it rests, until tracee_inject_end(),
 * "about to sigreturn into itself", so that ckpt dying at any instant
 * leaves it running its own code; without one, at ts->code.syscall_insn
 * with foreign registers (not safe).  tracee_inject_end() gives it its
 * own registers, mask and stack bytes back and returns it to an
 * interrupt stop, so that the kernel's syscall-restart logic sees the
 * state it was frozen in.
 */
int tracee_syscall(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6], long *ret);
int tracee_inject_end(struct tracee *t);
/* The same syscall nr(a[i]) in each of n threads, their stops overlapped
 * (inject.c); ret[i] as tracee_syscall's.  Threads not all borrowed
 * safely yet (tracee_scratch borrows): one after another. */
int tracee_syscall_each(struct tracee_set *ts, struct tracee **tv, size_t n, long nr,
			const uint64_t (*a)[6], long *ret);
/* tracee_inject_end of n threads, their interrupt stops overlapped. */
int tracee_inject_end_each(struct tracee **tv, size_t n);

/*
 * A trip (trip.c): syscalls calls[0..ncalls) run in each thread tv[i]
 * that can take one, all threads at once, with one ptrace stop each and
 * no stepping.  Argument `out` of a call (-1: none) is given the address
 * of byte out_off of the thread's scratch, whose len bytes are `in`
 * before and are read into out + i * len after (the return values are
 * not seen).  sigs: the signals (bit sig-1) whose delivery to a thread of
 * the process does nothing (ignored), one of which ends each trip.
 * done[i]: 1 when tv[i] took it (its outputs read; it is stopped with its
 * own registers, mask and stack bytes), 0 when it was left as it was, for
 * borrowing.  0 or -errno (the first failure; the threads that failed are
 * given back too).
 */
struct tracee_tcall {
	long nr;
	uint64_t a[6];
	int out;
	uint32_t out_off;
};
#define TRACEE_TRIP_MAX	4
int tracee_trip_each(struct tracee_set *ts, struct tracee **tv, size_t n, uint64_t sigs,
		     const struct tracee_tcall *calls, size_t ncalls, const void *in, size_t len,
		     void *out, uint8_t *done);

/* borrow.c */
/* Where the code for safe borrowing is in pid (arch.h struct arch_code,
 * in read-only executable mappings); -ENOENT if not all of it is. */
int tracee_find_gadget(pid_t pid, struct tracee_code *code);
/* The same, searching the mappings given (proc_read_maps_how: the
 * executable ones are enough). */
struct map_entry;
int tracee_find_gadget_in(pid_t pid, const struct map_entry *maps, size_t n,
			  struct tracee_code *code);
/* It is still there (the process is frozen). */
int tracee_check_gadget(pid_t pid, const struct tracee_code *code);
/* TRACEE_SCRATCH bytes of borrowed thread t's dead stack, for syscalls'
 * outputs (valid until tracee_inject_end); borrows it if needed.
 * -EBUSY, t as it was: what it would write covers another thread's
 * stack pointer (never, once tracee_roomy() found none) or meets what
 * another borrowed thread lent (borrow.h tracee_crowded): ask it once
 * that one is given back. */
#define TRACEE_SCRATCH	256
int tracee_scratch(struct tracee_set *ts, struct tracee *t, uint64_t *addr);
/*
 * Threads of ts that borrowing could never take (tracee_crowded at any
 * time, whatever else is borrowed): the bytes a borrow writes below one's
 * stack pointer would cover another thread's stack pointer.  Their count
 * (0: every thread can be borrowed); *tight, the first of them.  Nothing
 * is written; the FP state of threads with another's stack pointer less
 * than TRACEE_ROOM_MAX below theirs is read (a frame's size).  Threads
 * whose spans do not hold each other's stack pointers have spans that do
 * not meet, so with none, no borrow is ever refused as crowded.
 */
struct tracee_tight {
	pid_t tid, other;	/* thread tid's span holds other's stack pointer */
	uint64_t gap, need;	/* bytes between the stack pointers; bytes written below tid's */
};
/* More than any borrow writes below a stack pointer: the red zone, two
 * frames (x86-64: at most 16 KiB of FP state each; aarch64: a struct
 * kucontext, under 5 KiB) and the scratch. */
#define TRACEE_ROOM_MAX	(64 * 1024)
size_t tracee_roomy(const struct tracee_set *ts, struct tracee_tight *tight);
/* The lowest byte a borrow of t writes (nothing written; its FP state read). */
uint64_t tracee_lend_lo(const struct tracee_set *ts, const struct tracee *t);
/* A stack pointer for a task cloned from borrowed thread t: it starts at
 * the gadget, whose rt_sigreturn then makes it call exit_group(0) with
 * every signal blocked.  -ENOEXEC without a gadget. */
int tracee_doomed_sp(struct tracee_set *ts, struct tracee *t, uint64_t *sp);
/* Put the stack bytes borrowed thread t lent back in process `other` too
 * (a fork of the process made while it was borrowed). */
int tracee_unlend_in(const struct tracee *t, pid_t other);

/* Memory of another process: process_vm_readv, falling back to
 * /proc/PID/mem (which also reads PROT_NONE mappings). */
int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
/* Scatter read: remote iovecs into local ones, whole or -errno. */
int mem_readv(pid_t pid, const struct iovec *local, int nlocal,
	      const struct iovec *remote, int nremote);
/* The same through /proc/PID/mem only, which does not pin the pages:
 * process_vm_readv pins them, and since Linux 5.19 pinning an anonymous
 * page another process still shares copy-on-write copies it (GUP unshare,
 * mm/gup.c): read that way, the pages a forked child shares with its
 * parent would each be copied.  local and remote iovecs of one shape. */
int mem_readv_unpinned(pid_t pid, const struct iovec *local, const struct iovec *remote, int n);
/* n transfers of local l[i] and remote r[i] (write: wr 1) in one
 * process_vm_readv/writev, never through /proc/PID/mem: only pages the
 * process itself could read or write.  0, or -errno (-EFAULT: partly). */
int mem_rw_plain(pid_t pid, const struct iovec *l, const struct iovec *r, int n, int wr);
int mem_writev(pid_t pid, const struct iovec *local, int nlocal,
	       const struct iovec *remote, int nremote);

#endif
