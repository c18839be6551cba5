/*
 * Freezing a process tree as one cut (docs/trees.md, 2.1): PID and all its
 * descendants, every thread of every process stopped before anything is
 * read, none running again until the whole tree is released.
 */
#ifndef CKPT_PTRACE_TREE_H
#define CKPT_PTRACE_TREE_H

#include "ptrace/proc.h"
#include "ptrace/tracee.h"

struct tree_task {
	pid_t pid;
	int parent;		/* index of the parent task, -1: the root */
	int zombie;		/* exited, not reaped by its parent: no threads */
	int gone;		/* ended (and reaped) while the tree was frozen */
	int checked;		/* check_task() passed */
	struct proc_stat st;	/* read once everything was frozen */
	struct tracee_set ts;	/* a live task's threads, frozen */
};

struct tracee_tree {
	struct tree_task *t;	/* pre-order: every parent before its children */
	size_t n, cap;
	struct tracee_born born;	/* tasks attached by fork events, not placed yet */
	pid_t vfork[2];		/* after -EAGAIN: the parent and child of a vfork */
};

/*
 * Freeze root and every descendant; 0, or -errno after a message naming the
 * process it could not freeze (everything released then).  -EAGAIN: a
 * process stayed in vfork() (tt->vfork) longer than TRACEE_VFORK_MS.
 */
int tracee_freeze_tree(pid_t root, struct tracee_tree *tt);
/* Release every task (sig: 0, SIGSTOP or SIGKILL, as tracee_release) and
 * free the tree. */
void tracee_release_tree(struct tracee_tree *tt, int sig);
/* tracee_release_tree(tt, 0) left to the exit of the calling thread
 * (tracee_forget: registers back, the tree freed, every task still traced
 * by it) where that is the same: one process, not held, no task born in
 * the freeze.  0, or -1: nothing done. */
int tracee_forget_tree(struct tracee_tree *tt);
/* Children of pid (direct, from every /proc/N/stat): for dump --single's
 * "left out" message.  *out is malloc'd. */
size_t proc_children(pid_t pid, pid_t **out);

#endif
