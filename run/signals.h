/*
 * ckpt run's own signals.  They are blocked in every thread of ckpt and
 * taken by one thread of their own (sigtimedwait), which acts at once
 * even while the main thread is inside a dump or a restore:
 *   - a preemption signal (SIGTERM, --on ...): the first asks for a final
 *     checkpoint and starts the grace; a second one kills the job
 *   - the grace running out kills the job
 *   - SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 (unless --on names them)
 *     go on to the job, as ckpt restore forwards them; ckpt watch, whose
 *     job is not its own, stops watching on SIGINT, SIGHUP and SIGQUIT
 *   - SIGCHLD wakes the main loop (the job's stops and its end)
 * A preemption signal sent to the job itself, which the main thread sees
 * as a ptrace stop (ptrace/held.c), asks for the final checkpoint too.
 */
#ifndef CKPT_RUN_SIGNALS_H
#define CKPT_RUN_SIGNALS_H

#include <stdint.h>
#include <sys/types.h>

/* How the job came to be killed by the signal thread. */
enum sig_kill { KILLED_NONE, KILLED_SECOND, KILLED_GRACE };

/* on: bit n-1 for each preemption signal n; watch: ckpt watch's set. */
int sig_start(uint64_t on, uint64_t grace_ns, int watch);
void sig_stop(void);
/* The job's PID, once it runs (0: none now). */
void sig_set_job(pid_t pid);
/* The preemption signal that came first (0: none yet), and to whom. */
int sig_preempted(int *to_job);
enum sig_kill sig_killed(void);
/* The preemption signals (bit n-1: signal n): pending in the job at a
 * checkpoint, they were for ckpt, and are not saved in it. */
uint64_t sig_preemption_set(void);
/* ckpt watch: the signal that asked it to stop watching, or 0. */
int sig_leave(void);
/* The filter for ptrace/held.c: keeps preemption signals from the job. */
int sig_filter(pid_t tid, int sig);
/* Sleep until a signal came or timeout_ms passed (-1: no timeout). */
void sig_wait(int timeout_ms);
/* In the job's child, before exec: the signal mask and dispositions
 * ckpt itself was started with. */
void sig_restore_for_exec(void);

#endif
