/*
 * The room a dump's fork copies have under the limits of the processes'
 * cgroups.  A copy shares the process's pages copy-on-write: each page the
 * process writes while the copy lives is a new page charged to the
 * process's memory cgroup, and the copy itself counts against pids.max.
 * A job near its limit would be reclaimed, throttled (memory.high) or
 * OOM-killed because of the dump: choose.c then takes the frozen path.
 *
 * Both cgroup versions, as mounted here (/proc/self/mountinfo): a
 * controller's limits are in the v1 hierarchy that names it in its mount
 * options, or in the v2 one whose cgroup.controllers lists it (hybrid
 * hosts have memory in v1 and an empty v2).  A limit counts at every
 * level up from the process's cgroup, the charges of every process of the
 * dump under it added up.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "dump/dump.h"

/* One hierarchy a controller is mounted in. */
struct hier {
	char *mnt;	/* its mount point */
	char *root;	/* the mount's root inside the hierarchy ("/" mostly) */
	int v2;
};

/* One cgroup directory and what the dump adds in it. */
struct charge {
	char *dir;
	int v2;
	uint64_t bytes;
	uint64_t tasks;
};

struct charges {
	struct charge *c;
	size_t n;
};

static int has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += len)
		if ((p == list || p[-1] == ',' || p[-1] == ' ') &&
		    (p[len] == ',' || p[len] == ' ' || p[len] == '\n' || !p[len]))
			return 1;
	return 0;
}

/* The hierarchy controller ctl is mounted in; 0, or -ENOENT if none. */
static int find_hier(const char *ctl, struct hier *h)
{
	char *buf, *line, *save = NULL;
	int ret = -ENOENT;

	if (read_file("/proc/self/mountinfo", &buf, NULL) < 0)
		return -ENOENT;
	for (line = strtok_r(buf, "\n", &save); line && ret; line = strtok_r(NULL, "\n", &save)) {
		char root[4096], mnt[4096], fstype[32], super[512];
		const char *dash = strstr(line, " - ");

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE SOURCE SUPEROPTS */
		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
			continue;
		if (!strcmp(fstype, "cgroup") && has_word(super, ctl)) {
			*h = (struct hier){ xstrdup(mnt), xstrdup(root), 0 };
			ret = 0;
		} else if (!strcmp(fstype, "cgroup2")) {
			char path[4200], *ctls;

			snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
			if (read_file(path, &ctls, NULL) == 0) {
				if (has_word(ctls, ctl)) {
					*h = (struct hier){ xstrdup(mnt), xstrdup(root), 1 };
					ret = 0;
				}
				free(ctls);
			}
		}
	}
	free(buf);
	return ret;
}

/* pid's cgroup directory in h, freshly allocated; NULL if it is not in
 * this mount's view (another cgroup namespace). */
static char *cgroup_dir(pid_t pid, const char *ctl, const struct hier *h)
{
	char path[64], *buf, *line, *save = NULL, *dir = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (read_file(path, &buf, NULL) < 0)
		return NULL;
	for (line = strtok_r(buf, "\n", &save); line && !dir; line = strtok_r(NULL, "\n", &save)) {
		/* ID:CONTROLLERS:PATH; v2's is 0::PATH */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t rl = strlen(h->root);

		if (!c2)
			continue;
		*c2 = 0;
		if (h->v2 ? strcmp(line, "0:") != 0 : !has_word(c1 + 1, ctl))
			continue;
		c2++;
		if (!strcmp(h->root, "/"))
			rl = 0;
		else if (strncmp(c2, h->root, rl) || (c2[rl] && c2[rl] != '/'))
			break;
		if (strstr(c2, "/.."))
			break;
		dir = xmalloc(strlen(h->mnt) + strlen(c2 + rl) + 1);
		strcpy(dir, h->mnt);
		strcat(dir, strcmp(c2 + rl, "/") ? c2 + rl : "");
	}
	free(buf);
	return dir;
}

/* Add bytes and a task to dir and each directory above it, up to mnt. */
static void charge_up(struct charges *cs, char *dir, const struct hier *h,
		      const struct fork_charge *fc)
{
	size_t ml = strlen(h->mnt);

	for (;;) {
		char *slash;
		size_t i;

		for (i = 0; i < cs->n && strcmp(cs->c[i].dir, dir); i++)
			;
		if (i == cs->n) {
			cs->c = xrealloc(cs->c, (cs->n + 1) * sizeof(*cs->c));
			cs->c[cs->n++] = (struct charge){ xstrdup(dir), h->v2, 0, 0 };
		}
		cs->c[i].bytes += fc->bytes;
		cs->c[i].tasks += fc->tasks;
		slash = strrchr(dir, '/');
		if (strlen(dir) <= ml || !slash || (size_t)(slash - dir) < ml)
			return;
		*slash = 0;
	}
}

/* A limit file: its number, ~0 for "max" or a v1 "unlimited"; -ENOENT if
 * this level has none (v2's root). */
static int read_limit(const char *dir, const char *name, uint64_t *v)
{
	char path[4200], *buf, *end;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((ret = read_file(path, &buf, NULL)) < 0)
		return ret;
	if (!strncmp(buf, "max", 3)) {
		*v = UINT64_MAX;
	} else {
		*v = strtoull(buf, &end, 10);
		if (end == buf)
			ret = -EINVAL;
	}
	free(buf);
	return ret;
}

/* 1 if dir has room for add (bytes or tasks) under limit name, usage
 * being in file cur; 0 with why filled; -ENOENT if dir has no such limit. */
static int room(const char *dir, const char *name, const char *cur, uint64_t add, char *why,
		size_t len)
{
	uint64_t lim, used;
	int ret;

	if ((ret = read_limit(dir, name, &lim)) < 0)
		return ret == -ENOENT ? 1 : ret;
	/* v1 writes its "unlimited" as the largest page-aligned long */
	if (lim >= (UINT64_MAX >> 2))
		return 1;
	if ((ret = read_limit(dir, cur, &used)) < 0)
		return ret;
	if (used <= lim && add <= lim - used)
		return 1;
	snprintf(why, len, "%s/%s is %" PRIu64 ", %s %" PRIu64 ": a fork could add %" PRIu64, dir,
		 name, lim, cur, used, add);
	return 0;
}

static int fits(const struct charge *c, const char *ctl, char *why, size_t len)
{
	int ret;

	if (!strcmp(ctl, "pids"))
		return room(c->dir, "pids.max", "pids.current", c->tasks, why, len);
	if (c->v2) {
		if ((ret = room(c->dir, "memory.max", "memory.current", c->bytes, why, len)) != 1)
			return ret;
		return room(c->dir, "memory.high", "memory.current", c->bytes, why, len);
	}
	if ((ret = room(c->dir, "memory.limit_in_bytes", "memory.usage_in_bytes", c->bytes, why,
			len)) != 1)
		return ret;
	return room(c->dir, "memory.memsw.limit_in_bytes", "memory.memsw.usage_in_bytes", c->bytes,
		    why, len);
}

/* One controller: 1 room everywhere, 0 not (why says where), -errno if
 * it cannot be known (why says why). */
static int ctl_room(const char *ctl, const struct fork_charge *fc, size_t n, char *why, size_t len)
{
	struct charges cs = { 0 };
	struct hier h;
	int ret = 1;

	if (find_hier(ctl, &h) < 0)
		return 1;	/* not mounted: no limit of it can have been set here */
	for (size_t i = 0; i < n && ret == 1; i++) {
		char *dir = cgroup_dir(fc[i].pid, ctl, &h);

		if (!dir) {
			snprintf(why, len, "process %d's %s cgroup is not under %s", fc[i].pid, ctl,
				 h.mnt);
			ret = -ENOENT;
			break;
		}
		charge_up(&cs, dir, &h, &fc[i]);
		free(dir);
	}
	for (size_t i = 0; i < cs.n; i++) {
		int r = ret == 1 ? fits(&cs.c[i], ctl, why, len) : 1;

		if (r < 0)
			snprintf(why, len, "cannot read the %s limits of %s: %s", ctl, cs.c[i].dir,
				 strerror(-r));
		if (r != 1)
			ret = r;
		free(cs.c[i].dir);
	}
	free(cs.c);
	free(h.mnt);
	free(h.root);
	return ret;
}

int cgroup_fork_room(const struct fork_charge *fc, size_t n, char *why, size_t len)
{
	int ret = ctl_room("memory", fc, n, why, len);

	return ret == 1 ? ctl_room("pids", fc, n, why, len) : ret;
}
