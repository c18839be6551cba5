/*
 * While a lazy restore fills the memory of a process that already runs
 * (restore/lazy.c), the process must not outlive ckpt: if ckpt died, its
 * userfaultfd would close and the kernel would give every page not yet
 * copied in as zeros.  So ckpt stays the tracer of every thread of the
 * process, and of every process it forks meanwhile (PTRACE_O_TRACEFORK,
 * VFORK, CLONE: traced from their first instruction), with
 * PTRACE_O_EXITKILL: if ckpt dies, however it dies, the kernel kills them
 * all.  Until then they run: signals are passed on, a group stop is left
 * stopped.  Once every page is in, ckpt lets go of them.
 */
#ifndef CKPT_FILLGUARD_H
#define CKPT_FILLGUARD_H

#include <sys/types.h>

struct lazy;

struct guard {
	pid_t leader;		/* our child: its exit status is kept */
	pid_t *tids;		/* tracees */
	unsigned char *stopped;	/* left in a group stop */
	unsigned char *fresh;	/* auto-attached, first stop not seen yet */
	size_t n, cap;
	int sigfd;		/* SIGCHLD */
	int exited;		/* the leader's wait status is in status */
	int status;
};

/* The threads tids[0..n) (leader first), all in a ptrace stop: trace
 * them with EXITKILL and children, and let them run.  0 or -errno. */
int guard_begin(struct guard *g, pid_t leader, const pid_t *tids, size_t n);
/* Until lz has every page in or failed (its status), or the process is
 * gone: pass on what the tracees do.  Returns lazy_status(). */
int guard_wait(struct guard *g, struct lazy *lz);
/* Let go of every tracee (each stopped for a moment to detach it). */
void guard_end(struct guard *g);
/* Kill every tracee (the fill failed: none may run on). */
void guard_kill(struct guard *g);

/*
 * EXITKILL alone leaves a window: a dying ckpt closes its files
 * (exit_files) before the kernel kills its tracees (exit_notify, then
 * exit_ptrace), and a fault woken by the uffd's release in between maps
 * a zero page the process may read before its SIGKILL.  So a keeper
 * process of ckpt's holds the uffds too, and dies only of
 * PR_SET_PDEATHSIG, which forget_original_parent() (kernel/exit.c) sends
 * after exit_ptrace() has sent the tracees theirs: the uffds outlive
 * them.  It must be forked by the tracing thread.  guard_keeper(): a
 * keeper holding uffd; k->sock takes more (guard_keeper_add: the uffd of
 * a forked child, passed with SCM_RIGHTS: in flight it is held already).
 * 0 or -errno.  guard_keeper_end() kills and reaps it.
 */
struct keeper {
	int pidfd;		/* -1: none */
	int sock;		/* ours of a socketpair with it */
};
int guard_keeper(struct keeper *k, int uffd);
int guard_keeper_add(const struct keeper *k, int fd);
void guard_keeper_end(struct keeper *k);

#endif
