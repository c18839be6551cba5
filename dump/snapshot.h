/*
 * dump --snapshot (snapshot.c): the process's large private anonymous
 * mappings moved aside while it is frozen, the image written from there
 * and every page given back to it by userfaultfd while it runs.
 */
#ifndef CKPT_SNAPSHOT_H
#define CKPT_SNAPSHOT_H

#include <pthread.h>
#include <stdint.h>

#include "dump/dump.h"

struct snap;

/* Frozen: which mappings move aside (vp[i].frozen clear), the others read
 * while frozen (set).  Planned already (late 0: a mapping with no run
 * stays), or late: the PID whose page map says which have pages.
 * Nothing is done to the process yet. */
struct snap *snap_choose(const struct img_proc *p, struct vma_pages *vp, pid_t late);
/* Per mapping of p: where its pages are read (page_src.shift). */
const int64_t *snap_shift(const struct snap *s);
/* Still frozen (ts), last: the uffd, the guardian's copy, the moves.  On
 * failure everything is given back and undone (s is freed). */
int snap_begin(struct snap *s, struct tracee_set *ts, const struct img_proc *p);
/* Released, late: the VmFlags of p (pre: smaps read before the freeze, one
 * entry per mapping) checked against smaps now, the shadows' (the cut's)
 * and the other mappings' still there; -errno if one changed. */
int snap_check_flags(const struct snap *s, const struct img_proc *p, const struct map_entry *pre,
		     pid_t pid);
/* Released: which pages each shadow holds, for the faults' read-ahead. */
void snap_serve_ready(struct snap *s);
/* page_src.read_hook: pages just read, given back (arg: the snap). */
int snap_read_hook(void *arg, const uint64_t *addr, const uint8_t *raw, size_t n);
/* Every page back, the uffds closed, the shadows unmapped (in frozen, or
 * one thread frozen for it); s is freed.  0 or -errno (then what is left
 * is the guardian's, once ckpt exits). */
int snap_end(struct snap *s, struct tracee_set *frozen);

/* snapstop.c: one thread of the released process stopped for a moment
 * (an injected madvise or munmap): begin before it is frozen, end once it
 * runs again.  Zeroed to start. */
struct snap_stop {
	int released;		/* a stop ended: tid ran for ran ns by then */
	pid_t tid;
	uint64_t ran;
	int boosted, policy;	/* the caller's scheduling while raised */
	struct sched_param param;
};
/* Waits until the last stop's thread has run (or cannot), then raises
 * the calling thread to SCHED_FIFO when it may. */
void snap_stop_begin(struct snap_stop *st, pid_t pid, pid_t tid);
/* The caller's scheduling back; tid's run time noted. */
void snap_stop_end(struct snap_stop *st, pid_t pid, pid_t tid);
/* The writing's SCHED_IDLE grace is over (dump.c leave_idle): a thread
 * boosted for a stop meanwhile, which leave_idle skipped, ends its stop
 * at SCHED_OTHER and this nice, not back at SCHED_IDLE. */
void snap_stop_idle_over(int nice);

/* snaplock.c: a --snapshot's lock on pid (hold), or only whether another
 * holds it (a dump meanwhile is refused by name): 0 or -errno, said. */
int snap_lock(pid_t pid, int hold);
/* A process of the tree, frozen (root: the one named): refused by name,
 * < 0, when another dump's --snapshot of it is under way; 0 otherwise. */
int snap_check(pid_t pid, int root);
/* Ours let go (the guardian's copy lives on until it exits). */
void snap_unlock(void);

#endif
