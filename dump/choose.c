/*
 * How a dump that lets the processes run on reads their memory, when the
 * user did not say (no --fork, no --no-fork): the first way of prefer[]
 * that keeps every promise the frozen path keeps, the frozen path if none
 * does.  -v says which and why.
 *
 * The fork path (fork.c) pauses the job for the fork's page-table copy
 * only, and compresses and writes after the release.  What it costs the
 * job instead is memory: every page the job writes while its copy lives
 * is copied, charged to the job's memory cgroup, and the copy counts in
 * its pids cgroup.  So it is chosen only when that cost, counted at its
 * most, fits under every limit above the job (cgroup.c) and in the
 * machine's MemAvailable: a dump by default must never get the job
 * reclaimed, throttled or OOM-killed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

/* Fields of /proc/PID/status (kB) and /proc/meminfo, by name. */
static int kb_fields(const char *path, const char *const *names, uint64_t *kb, size_t n)
{
	char *buf;
	int ret;

	if ((ret = read_file(path, &buf, NULL)) < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		const char *p = buf;

		kb[i] = 0;
		while ((p = strstr(p, names[i])) && !((p == buf || p[-1] == '\n') && p[len] == ':'))
			p += len;
		if (p)
			kb[i] = strtoull(p + len + 1, NULL, 10);
	}
	free(buf);
	return 0;
}

/*
 * The most a fork of the process can cost in memory: its anonymous
 * pages (resident or swapped: any one the process writes is copied) and
 * its page tables (the copy's); shmem_kb: its shared memory, which dump.c
 * copies into ckpt while frozen instead (FROZEN_COPY_MAX at most).  A
 * tree's processes sharing pages copy-on-write count them each: more, not
 * less, than a fork can cost.
 */
static int fork_cost(pid_t pid, uint64_t *bytes, uint64_t *shmem)
{
	static const char *const names[] = { "RssAnon", "VmSwap", "VmPTE", "RssShmem" };
	uint64_t kb[4];
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((ret = kb_fields(path, names, kb, 4)) < 0)
		return ret;
	*bytes = (kb[0] + kb[1] + kb[2]) << 10;
	*shmem = kb[3] << 10;
	return 0;
}

/* 1 if forks of the n processes fit in memory; 0 (why says why) if not. */
static int fork_fits(const struct dump_opts *o, const pid_t *pids, size_t n, char *why, size_t len)
{
	static const char *const avail_name[] = { "MemAvailable" };
	struct fork_charge *fc;
	uint64_t total = 0, shmem = 0, avail = 0;
	int ret;

	if (o->kill) {
		snprintf(why, len, "--kill: the process does not run on");
		return 0;
	}
	if (o->stop) {
		snprintf(why, len, "--stop: the process is left stopped as the image has it");
		return 0;
	}
	fc = xzalloc((n + 1) * sizeof(*fc));
	for (size_t i = 0; i < n; i++) {
		uint64_t sh;

		if ((ret = fork_cost(pids[i], &fc[i].bytes, &sh)) < 0) {
			snprintf(why, len, "cannot read /proc/%d/status: %s", pids[i], strerror(-ret));
			free(fc);
			return 0;
		}
		fc[i].pid = pids[i];
		fc[i].tasks = 1;
		total += fc[i].bytes;
		shmem += sh;
	}
	/* ckpt's copy of the shared memory is charged to ckpt's cgroups. */
	fc[n] = (struct fork_charge){ getpid(), MIN(shmem, FROZEN_COPY_MAX), 0 };
	total += fc[n].bytes;
	if (kb_fields("/proc/meminfo", avail_name, &avail, 1) < 0 || (avail << 10) < total) {
		snprintf(why, len, "a fork could use %" PRIu64 " MiB, more than MemAvailable (%" PRIu64
			 " MiB)", total >> 20, avail >> 10);
		free(fc);
		return 0;
	}
	ret = cgroup_fork_room(fc, n + 1, why, len);
	free(fc);
	if (ret == 1)
		snprintf(why, len, "at most %" PRIu64 " MiB copied on write, within every cgroup limit and MemAvailable",
			 total >> 20);
	return ret == 1;
}

/* The ways of reading memory while the processes run on, best first.  A
 * way whose fits() says no is passed over, saying why.  Another way (a
 * snapshot without fork, docs/snapshot.md) becomes the default by a line
 * of its own here, ahead of the fork, once dump_run() knows its how. */
static const struct way {
	int how;
	const char *name;
	const char *gain;	/* what the process gets from it */
	int (*fits)(const struct dump_opts *o, const pid_t *pids, size_t n, char *why, size_t len);
} prefer[] = {
	{ DUMP_FORK_ALWAYS, "a forked copy", "the process pauses for the fork only", fork_fits },
};

int dump_choose(const struct dump_opts *o, const pid_t *pids, size_t n)
{
	char why[512];

	if (o->fork != DUMP_FORK_AUTO)
		return o->fork;
	for (size_t i = 0; i < ARRAY_SIZE(prefer); i++) {
		why[0] = 0;
		if (prefer[i].fits(o, pids, n, why, sizeof(why))) {
			debug("memory is read from %s (%s): %s", prefer[i].name, prefer[i].gain, why);
			return prefer[i].how;
		}
		debug("not from %s: %s", prefer[i].name, why);
	}
	debug("the process stays frozen while its memory is written");
	return DUMP_FORK_NEVER;
}
