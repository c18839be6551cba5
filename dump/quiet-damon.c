/*
 * DAMON, the one kernel thread that changes a process's VmFlags with no
 * syscall of it (dump/quiet.c): a kdamond whose DAMOS_HUGEPAGE/NOHUGEPAGE
 * schemes work on virtual addresses (vaddr or fvaddr operations) calls
 * do_madvise on the process's memory (mm/damon/vaddr.c damos_madvise).
 * On physical addresses (paddr: DAMON_RECLAIM, DAMON_LRU_SORT, the admin
 * interface's paddr contexts) it changes no VmFlags.
 *
 * A kdamond is a kernel thread named "kdamond.N" (mm/damon/core.c
 * damon_start), whichever interface started it: the sysfs admin one
 * (kdamonds/N/{state,pid,contexts/M/operations}), the debugfs one of
 * kernels before 6.9, a module (DAMON_RECLAIM and DAMON_LRU_SORT say
 * theirs in parameters/kdamond_pid), or a kernel caller.  So every kdamond
 * thread (kthreadd's children) must be one known to work on physical
 * addresses; any other may madvise.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/util.h"
#include "dump/dump.h"

#define KNOWN_MAX	64

struct known {
	pid_t pid[KNOWN_MAX];
	size_t n;
};

/* The first word of root/rel, into out (len); "" if none. */
static void read_word(const char *root, const char *rel, char *out, size_t len)
{
	char path[PATH_MAX], *buf;

	out[0] = 0;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (read_file(path, &buf, NULL) < 0)
		return;
	snprintf(out, len, "%.*s", (int)strcspn(buf, " \n"), buf);
	free(buf);
}

static void know(struct known *k, const char *root, const char *rel)
{
	char word[16];

	read_word(root, rel, word, sizeof(word));
	if (atoi(word) > 0 && k->n < KNOWN_MAX)
		k->pid[k->n++] = (pid_t)atoi(word);
}

/* Kdamond dir of the admin interface: 1 if on with a vaddr or fvaddr
 * context; its pid known if on with paddr ones alone. */
static int admin_kdamond(const char *root, const char *name, struct known *k)
{
	char rel[PATH_MAX], word[16];
	struct dirent *c;
	int vaddr = 0;
	DIR *cd;

	snprintf(rel, sizeof(rel), "%s/state", name);
	read_word(root, rel, word, sizeof(word));
	if (strcmp(word, "on"))
		return 0;
	snprintf(rel, sizeof(rel), "%s/%s/contexts", root, name);
	if (!(cd = opendir(rel)))
		return 0;
	while (!vaddr && (c = readdir(cd))) {
		if (c->d_name[0] < '0' || c->d_name[0] > '9')
			continue;
		snprintf(rel, sizeof(rel), "%s/contexts/%s/operations", name, c->d_name);
		read_word(root, rel, word, sizeof(word));
		vaddr = strcmp(word, "paddr") != 0;	/* vaddr, fvaddr, or unknown */
	}
	closedir(cd);
	if (!vaddr) {
		snprintf(rel, sizeof(rel), "%s/pid", name);
		know(k, root, rel);
	}
	return vaddr;
}

/* Whether p (a PID's text) is a kdamond thread not in k. */
static int unknown(const char *proc, const char *p, const struct known *k)
{
	char rel[64], comm[32];
	size_t i = 0;

	snprintf(rel, sizeof(rel), "%s/comm", p);
	read_word(proc, rel, comm, sizeof(comm));
	if (strncmp(comm, "kdamond.", 8))
		return 0;
	while (i < k->n && k->pid[i] != (pid_t)atoi(p))
		i++;
	return i == k->n;
}

/*
 * A kdamond thread not in k: its PID, else 0.  Among kthreadd's children;
 * without /proc/2/task/2/children (CONFIG_PROC_CHILDREN), among every
 * process (a process may call itself kdamond.N: refused, to be safe).
 */
static pid_t unknown_kdamond(const char *proc, const struct known *k)
{
	char path[PATH_MAX], *kids, *tok, *save;
	struct dirent *e;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/2/task/2/children", proc);
	if (read_file(path, &kids, NULL) == 0) {
		for (tok = strtok_r(kids, " \n", &save); tok && !found; tok = strtok_r(NULL, " \n", &save))
			if (unknown(proc, tok, k))
				found = (pid_t)atoi(tok);
		free(kids);
		return found;
	}
	if (!(d = opendir(proc)))
		return -1;
	while (!found && (e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && unknown(proc, e->d_name, k))
			found = (pid_t)atoi(e->d_name);
	closedir(d);
	return found;
}

pid_t quiet_damon_may_madvise(const struct damon_roots *r)
{
	static const char *const modules[] = { "damon_reclaim", "damon_lru_sort" };
	char rel[PATH_MAX];
	struct known k = { .n = 0 };
	struct dirent *e;
	DIR *d;

	if ((d = opendir(r->admin))) {
		while ((e = readdir(d)))
			if (e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
			    admin_kdamond(r->admin, e->d_name, &k)) {
				closedir(d);
				return -1;
			}
		closedir(d);
	}
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		snprintf(rel, sizeof(rel), "%s/parameters/kdamond_pid", modules[i]);
		know(&k, r->modules, rel);
	}
	return unknown_kdamond(r->proc, &k);
}
