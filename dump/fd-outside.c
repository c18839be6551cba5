/*
 * Who else holds a file: a pipe's other end may be in a process that is
 * not being dumped (the shell that started the job, a `| tee`).  Only
 * /proc tells: every other process's fd links are read once.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"
#include "dump/fd.h"

void fd_proc_name(pid_t pid, char *buf, size_t len)
{
	char path[64], *comm = NULL;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_file(path, &comm, NULL) == 0)
		comm[strcspn(comm, "\n")] = 0;
	snprintf(buf, len, "%s (PID %d)", comm && comm[0] ? comm : "?", pid);
	free(comm);
}

/* One process's fds against the inodes (a process gone meanwhile, or
 * not ours to see, has none). */
static void scan_process(pid_t pid, const char *prefix, const uint64_t *ino, size_t n,
			 pid_t *holder)
{
	size_t plen = strlen(prefix);
	char path[300], link[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(dir = opendir(path)))
		return;
	while ((de = readdir(dir))) {
		uint64_t v;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (strncmp(link, prefix, plen))
			continue;
		v = strtoull(link + plen, NULL, 10);
		for (size_t i = 0; i < n; i++)
			if (ino[i] == v && !holder[i])
				holder[i] = pid;
	}
	closedir(dir);
}

/* A live process of the image being dumped (a tree: its tasks). */
static int in_image(const struct fd_dump *c, pid_t pid)
{
	for (uint32_t i = 0; c->img->tasks && i < c->img->ntasks; i++)
		if (c->img->tasks[i].pid == pid && c->img->tasks[i].proc >= 0)
			return 1;
	return 0;
}

int fd_find_holders(const struct fd_dump *c, const char *prefix, const uint64_t *ino, size_t n,
		    pid_t *holder, pid_t *mate)
{
	struct dirent *de;
	DIR *proc;

	memset(holder, 0, n * sizeof(*holder));
	memset(mate, 0, n * sizeof(*mate));
	if (!n)
		return 0;
	if (!(proc = opendir("/proc")))
		return -errno;
	while ((de = readdir(proc))) {
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		/* The process itself, and any that shares its fd table. */
		if (syscall(SYS_kcmp, c->pid, pid, KCMP_FILES, 0, 0) == 0)
			continue;
		scan_process(pid, prefix, ino, n, in_image(c, pid) ? mate : holder);
	}
	closedir(proc);
	return 0;
}
