/* How a restore makes a tree's sessions and process groups (image/tree.c). */
#ifndef CKPT_IMAGE_TREE_H
#define CKPT_IMAGE_TREE_H

#include "image/model.h"

enum tree_way_kind {
	WAY_INHERIT,	/* its parent's (the root: ckpt restore's) */
	WAY_OWN,	/* it leads it: setsid(), or setpgid(0, 0) */
	WAY_JOIN,	/* a group that exists when it is forked: setpgid */
	WAY_HELPER,	/* its leader has exited: a helper with its PID makes it */
};

struct tree_way {
	uint8_t sid, pgid;	/* enum tree_way_kind */
};

/* w[k] for every task k: 0, or -1 with why[] naming the task no way fits. */
int img_tree_ways(const struct img *img, struct tree_way *w, char *why, size_t len);

/* Whether a restore can keep a child's private mapping v from its
 * parent's mapping u (COW runs, docs/trees.md 3.3): both anonymous, or the
 * same file at the same offset for the same address. */
int img_cow_compatible(const struct img_vma *v, const struct img_vma *u);

#endif
