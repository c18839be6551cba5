/*
 * How a restore makes each task's session and process group again
 * (docs/trees.md, 3.4), decided from the tree alone: dump refuses a tree
 * with a task none of these ways can make, and restore plans by them.
 *
 * A child is forked by its parent, in the parent's session and group; it
 * then leads its own (setsid, setpgid(0, 0)), or joins a group that exists
 * at that moment: its parent's or an ancestor's (they are made before it),
 * or an earlier sibling's (its parent made that sibling and set its group
 * before it forks this child).  A group or session whose leader has
 * exited is made by a helper process with the leader's PID, which the
 * parent forks, and which clones the child with CLONE_PARENT.
 */
#include <stdio.h>

#include "image/tree.h"

static int find_pid(const struct img *img, int32_t pid)
{
	for (uint32_t i = 0; i < img->ntasks; i++)
		if (img->tasks[i].pid == pid)
			return (int)i;
	return -1;
}

/* Whether group g of session s exists when task k is forked: a task made
 * before then is in it. */
static int group_exists(const struct img *img, uint32_t k, int32_t g, int32_t s)
{
	const struct ckpt_task *t = &img->tasks[k];

	for (int32_t a = t->parent; a >= 0; a = img->tasks[a].parent)
		if (img->tasks[a].pgid == g && img->tasks[a].sid == s)
			return 1;
	for (uint32_t i = 0; i < k; i++)
		if (img->tasks[i].parent == t->parent && img->tasks[i].pgid == g &&
		    img->tasks[i].sid == s)
			return 1;
	return 0;
}

/* An earlier sibling of task k that also needed a helper for session s. */
static int helper_session_before(const struct img *img, const struct tree_way *w, uint32_t k,
				 int32_t s)
{
	for (uint32_t i = 0; i < k; i++)
		if (img->tasks[i].parent == img->tasks[k].parent && w[i].sid == WAY_HELPER &&
		    img->tasks[i].sid == s)
			return 1;
	return 0;
}

static int way_of(const struct img *img, struct tree_way *w, uint32_t k, char *why, size_t len)
{
	const struct ckpt_task *t = &img->tasks[k], *par;

	w[k].sid = w[k].pgid = WAY_INHERIT;
	if (t->parent < 0) {
		/* The root: ckpt restore's, unless it led them. */
		w[k].sid = t->sid == t->pid ? WAY_OWN : WAY_INHERIT;
		w[k].pgid = t->pgid == t->pid && t->sid != t->pid ? WAY_OWN : WAY_INHERIT;
		return 0;
	}
	par = &img->tasks[t->parent];
	if (t->sid == t->pid) {
		w[k].sid = WAY_OWN;		/* setsid(): its group too */
		return 0;
	}
	if (t->sid != par->sid) {
		if (find_pid(img, t->sid) >= 0 || helper_session_before(img, w, k, t->sid)) {
			snprintf(why, len, "process %d is in session %d, not its parent's, "
				 "which cannot be made again", t->pid, t->sid);
			return -1;
		}
		w[k].sid = WAY_HELPER;
		if (t->pgid == t->pid)
			w[k].pgid = WAY_OWN;
		else if (t->pgid != t->sid) {
			snprintf(why, len, "process %d is in process group %d of session %d, "
				 "whose leader has exited: not supported", t->pid, t->pgid, t->sid);
			return -1;
		}
		return 0;
	}
	if (t->pgid == par->pgid)
		return 0;
	if (t->pgid == t->pid)
		w[k].pgid = WAY_OWN;
	else if (group_exists(img, k, t->pgid, t->sid))
		w[k].pgid = WAY_JOIN;
	else if (find_pid(img, t->pgid) < 0)
		w[k].pgid = WAY_HELPER;
	else {
		snprintf(why, len, "process %d is in process group %d, which is made after it: "
			 "not supported", t->pid, t->pgid);
		return -1;
	}
	return 0;
}

/*
 * An fd table shared with another process (CLONE_FILES) is made again by
 * the parent's stub forking the child with CLONE_FILES: only a table
 * shared with the parent, by a child the parent forks itself (a helper's
 * clone would share the helper's table, a copy).
 */
static int files_way(const struct img *img, const struct tree_way *w, uint32_t k, char *why,
		     size_t len)
{
	const struct ckpt_task *t = &img->tasks[k];

	if (t->files_of < 0)
		return 0;
	if (t->files_of != t->parent) {
		snprintf(why, len, "processes %d and %d share one fd table (clone with CLONE_FILES) and "
			 "%d is not %d's parent: not supported", img->tasks[t->files_of].pid, t->pid,
			 img->tasks[t->files_of].pid, t->pid);
		return -1;
	}
	if (w[k].sid == WAY_HELPER || w[k].pgid == WAY_HELPER) {
		snprintf(why, len, "process %d shares its parent's fd table (CLONE_FILES) and its "
			 "group's or session's leader has exited: not supported", t->pid);
		return -1;
	}
	return 0;
}

int img_tree_ways(const struct img *img, struct tree_way *w, char *why, size_t len)
{
	for (uint32_t k = 0; k < img->ntasks; k++)
		if (way_of(img, w, k, why, len) < 0 || files_way(img, w, k, why, len) < 0)
			return -1;
	return 0;
}

/* Private memory restore can keep from the parent: anonymous, or a file
 * mapped privately (whose pages here are the process's own copies). */
static int keepable(const struct img_vma *v)
{
	return !(v->d.flags & (CKPT_VMA_SHARED | CKPT_VMA_SKIP | CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED |
			       CKPT_VMA_MEMFD | CKPT_VMA_DELETED)) &&
	       (v->d.flags & (CKPT_VMA_ANON | CKPT_VMA_FILE));
}

int img_cow_compatible(const struct img_vma *v, const struct img_vma *u)
{
	if (!keepable(v) || !keepable(u))
		return 0;
	if ((v->d.flags & CKPT_VMA_ANON) && (u->d.flags & CKPT_VMA_ANON))
		return 1;
	/* The same file at the same offset for the same address. */
	return (v->d.flags & CKPT_VMA_FILE) && (u->d.flags & CKPT_VMA_FILE) && v->d.dev == u->d.dev &&
	       v->d.ino == u->d.ino && v->d.pgoff - u->d.pgoff == v->d.start - u->d.start;
}
