/*
 * A tree's descriptors.  Every process's files are opened here in ckpt
 * (files.c) before anything is made.  The root stub gets them all: its
 * own at their numbers, every other process's at slots above any number a
 * process of the tree uses.  A process forked from it inherits the slots
 * (a fork copies the fd table), takes its own descriptors from them
 * (plan.c plan_child_start) and closes the others once its own children
 * are made.  Nothing needs ptrace rights over ckpt, and it works the same
 * inside --pid-ns.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "restore/restore.h"

static void add_extra(struct spawn_fds *root, int src)
{
	root->extra_src = xrealloc(root->extra_src, (size_t)(root->nextra + 1) * sizeof(int));
	root->extra_src[root->nextra++] = src;
}

/* The root's own helper slots (mapped files, exe, plan) above every
 * descriptor number of the tree: a child's fd must not land on one. */
static void raise_base(struct spawn_fds *sf, int floor)
{
	int delta = floor - sf->base;

	if (delta <= 0)
		return;
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_slot[i] >= 0)
			sf->map_slot[i] += delta;
	if (sf->exe_slot >= 0)
		sf->exe_slot += delta;
	sf->plan_slot += delta;
	sf->base = floor;
}

/* Process sf's slots, numbered from *next in the root's table. */
static void assign(struct spawn_fds *root, struct spawn_fds *sf, int *next)
{
	sf->slot = xmalloc((size_t)(sf->nfds + 1) * sizeof(int));
	for (int i = 0; i < sf->nfds; i++) {
		sf->slot[i] = (*next)++;
		add_extra(root, sf->src[i]);
	}
	/* Its mapped files were numbered from its own base (files.c),
	 * several mappings of one file sharing a number: renumbered. */
	int *old = xmemdup(sf->map_slot, (size_t)(sf->nmaps + 1) * sizeof(int));

	for (int i = 0; i < sf->nmaps; i++) {
		if (old[i] < 0 || sf->map_src[i] < 0)
			continue;
		for (int k = i; k < sf->nmaps; k++)
			if (old[k] == old[i])
				sf->map_slot[k] = *next;
		add_extra(root, sf->map_src[i]);
		(*next)++;
	}
	free(old);
	if (sf->exe_src >= 0) {
		sf->exe_slot = (*next)++;
		add_extra(root, sf->exe_src);
	}
}

void tree_fds(struct spawn_fds *sf, uint32_t n)
{
	int maxfd = 2, next;

	if (n < 2)
		return;
	for (uint32_t k = 0; k < n; k++)
		for (int i = 0; i < sf[k].nfds; i++)
			maxfd = MAX(maxfd, sf[k].target[i]);
	raise_base(&sf[0], maxfd + 1);
	next = sf[0].extra_base = sf[0].plan_slot + 1;
	for (uint32_t k = 1; k < n; k++) {
		sf[k].extra_base = sf[0].extra_base;
		assign(&sf[0], &sf[k], &next);
	}
	/* files_install_child() moves them all through its scratch array. */
	sf[0].ntmp += sf[0].nextra;
	sf[0].tmp = xrealloc(sf[0].tmp, (size_t)sf[0].ntmp * sizeof(int));
}
