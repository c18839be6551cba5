/*
 * Files of the process's own /proc/PID (an open /proc/self/status, maps,
 * fdinfo/N, ns/net...) and of its own namespaces (a link "net:[ino]"):
 * restore has the restored process open them again as /proc/self/...
 * (restore/fd-proc.c), so that they name it and not a dead PID.  Its
 * threads' /proc/PID/task/TID files and namespaces other than its own
 * are refused by name.  Which paths may be opened again that way is the
 * image layer's rule (image/fdkind.c fd_proc_rest), checked here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "dump/fd.h"
#include "image/fdkind.h"

/* "net:[4026531833]" of the process's own namespace: its /proc path */
static int own_ns(const struct fd_dump *c, struct dfile *d, char *path, size_t len)
{
	char type[32];
	struct stat st;
	size_t n = strcspn(d->link, ":");

	if (n == 0 || n >= sizeof(type))
		return -1;
	memcpy(type, d->link, n);
	type[n] = 0;
	/* pid_for_children and time_for_children are links too */
	snprintf(path, len, "/proc/%d/ns/%s", c->p->d.pid, type);
	if (stat(path, &st) < 0 || st.st_ino != d->st.st_ino || st.st_dev != d->st.st_dev) {
		snprintf(path, len, "/proc/%d/ns/%s_for_children", c->p->d.pid, type);
		if (stat(path, &st) < 0 || st.st_ino != d->st.st_ino || st.st_dev != d->st.st_dev)
			return -1;
	}
	return 0;
}

static int proc_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_proc s = { .pid = c->p->d.pid };
	char path[128], pre[32];
	const char *rest;

	snprintf(pre, sizeof(pre), "/proc/%d", c->p->d.pid);
	if (d->link[0] != '/') {
		if (own_ns(c, d, path, sizeof(path)) < 0) {
			dfile_what(d, "a namespace other than the process's own");
			d->cannot = "a namespace file is restored only for the process's own namespaces";
			return 0;
		}
		free(d->f->path);
		d->f->path = xstrdup(path);
	} else if (strncmp(d->link, pre, strlen(pre)) ||
		   (d->link[strlen(pre)] && d->link[strlen(pre)] != '/')) {
		/* /proc/TID of a thread of it other than the main one */
		dfile_what(d, "a file of the /proc of one of its threads");
		d->cannot = "a file of /proc/TID of a thread other than the main one is not restored yet";
		return 0;
	}
	rest = d->f->path + strlen(pre);
	dfile_set_state(d, &s, sizeof(s));
	dfile_what(d, "its own %s", d->f->path);
	if (!strncmp(rest, "/task/", 6)) {
		d->cannot = "a file of one of its threads' /proc/PID/task/TID is not restored yet";
		return 0;
	}
	if (fd_proc_rest(rest) < 0)
		d->cannot = "ckpt restores files of its own /proc only one or two levels down, "
			    "and not through its root, cwd, exe, fd or map_files links";
	return 0;
}

const struct fd_kind_dump fd_dump_proc = { .collect = proc_collect };
