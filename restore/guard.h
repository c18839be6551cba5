/*
 * The restore guardian (guard.c): makes the restore of a process tree
 * all or nothing when ckpt restore is killed while it lets the processes
 * go (docs/kill-safety.md, 6).
 */
#ifndef CKPT_RESTORE_GUARD_H
#define CKPT_RESTORE_GUARD_H

#include <stdint.h>
#include <sys/types.h>

/* Before the first process is made: the journal, for up to max
 * processes, and the guardian.  0 or -errno. */
int rguard_start(uint32_t max);
/* Journal process pid (ckpt's PID namespace) with its start time: if ckpt
 * dies before rguard_stop, the guardian kills it and all it made.  Does
 * nothing without a guardian.  0 or -errno. */
int rguard_note(pid_t pid);
/* ckpt is done: every process let go, or all killed by ckpt itself.  The
 * guardian exits at once, touching nothing, and is reaped. */
void rguard_stop(void);

#endif
