/*
 * A tree's relations for the image (docs/trees.md, 2.3): one task per
 * process of the frozen tree, live or zombie, and what processes share,
 * asked of the kernel with kcmp(2).
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/tree.h"

/* 0: the two tasks share that kernel object (kcmp(2)). */
static long kcmp_tasks(pid_t a, pid_t b, int type)
{
	return syscall(SYS_kcmp, a, b, type, 0, 0);
}

static void fill_task(const struct tree_task *t, struct ckpt_task *k, int32_t proc)
{
	k->pid = t->pid;
	k->ppid = t->st.ppid;
	k->pgid = t->st.pgrp;
	k->sid = t->st.session;
	k->parent = t->parent;
	k->proc = t->zombie ? -1 : proc;
	k->files_of = k->fs_of = -1;
	k->exit_signal = (uint32_t)t->st.exit_signal;
	k->start_time = t->st.start_time;
	if (t->zombie) {
		struct proc_status ss;

		k->exit_status = t->st.exit_code;
		memcpy(k->comm, t->st.comm, sizeof(k->comm));
		if (proc_read_status(t->pid, &ss) == 0) {
			k->uid = ss.uid[0];
			k->gid = ss.gid[0];
		}
	}
}

/*
 * What live tasks share: an fd table (CLONE_FILES) or an fs (CLONE_FS)
 * with an earlier one; an address space with another process (CLONE_VM
 * without CLONE_THREAD, as a vfork child until it execs) is refused.
 */
static int find_shared(const struct tracee_tree *tt, struct ckpt_task *tasks)
{
	for (size_t i = 1; i < tt->n; i++) {
		const struct tree_task *a = &tt->t[i];

		if (a->zombie)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct tree_task *b = &tt->t[j];
			pid_t x, y;

			if (b->zombie)
				continue;
			x = a->ts.t[0].tid;
			y = b->ts.t[0].tid;
			if (kcmp_tasks(x, y, KCMP_VM) == 0)
				return error("processes %d and %d share their memory (clone with CLONE_VM, as a vfork child before exec): a restore could not make that again",
					     b->pid, a->pid);
			/* the parent's, if it is the parent's (plan.c forks the
			 * child sharing it), else the first sharer's */
			if (kcmp_tasks(x, y, KCMP_FILES) == 0 &&
			    (tasks[i].files_of < 0 || (int32_t)j == tasks[i].parent))
				tasks[i].files_of = (int32_t)j;
			if (tasks[i].fs_of < 0 && kcmp_tasks(x, y, KCMP_FS) == 0)
				tasks[i].fs_of = (int32_t)j;
		}
	}
	return 0;
}

/* What restore could not make again is refused now (image/tree.c). */
static int check_ways(const struct img *img)
{
	struct tree_way *w = xzalloc(img->ntasks * sizeof(*w));
	char why[256];
	int ret = img_tree_ways(img, w, why, sizeof(why));

	free(w);
	return ret < 0 ? error("%s", why) : 0;
}

int dump_tree_tasks(const struct tracee_tree *tt, struct img *img)
{
	int32_t proc = 0;
	int ret;

	img->ntasks = (uint32_t)tt->n;
	img->tasks = xzalloc(tt->n * sizeof(*img->tasks));
	for (size_t i = 0; i < tt->n; i++) {
		fill_task(&tt->t[i], &img->tasks[i], proc);
		proc += !tt->t[i].zombie;
	}
	if ((ret = find_shared(tt, img->tasks)) < 0)
		return ret;
	for (uint32_t i = 1; i < img->ntasks; i++) {
		const struct ckpt_task *t = &img->tasks[i];

		/* A restore forks each process from its parent: it can share
		 * the parent's fs (CLONE_FS) and fd table (CLONE_FILES; the
		 * latter checked with the ways, image/tree.c). */
		if (t->fs_of >= 0 && t->fs_of != t->parent)
			return error("process %d shares its cwd and umask (CLONE_FS) with %d, which is "
				     "not its parent: not supported yet", t->pid, img->tasks[t->fs_of].pid);
	}
	return check_ways(img);
}
