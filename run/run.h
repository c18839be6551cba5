/*
 * ckpt run and ckpt watch: a job checkpointed every so often into a
 * directory, resumed from it, checkpointed once more when the batch
 * system preempts it, rolled back when it crashes.
 *
 *   store.c      the checkpoint directory: names, the job's command, the
 *                lock, which images are kept, verification
 *   supervise.c  the loop: start or resume, checkpoint, preemption, restarts
 *   signals.c    ckpt run's own signals, handled by a thread of their own
 *   log.c        one line per event, text or JSON
 *
 * The job is one process today (process trees: issue 12).  Every dump
 * goes through run_dump() and every restore through run_restore(), in
 * supervise.c: with trees they dump and restore the tree under the
 * job's PID, and the rest stays as it is.
 */
#ifndef CKPT_RUN_H
#define CKPT_RUN_H

#include <stdint.h>
#include <sys/types.h>

/* ckpt run's exit status after a preemption: "the job did not finish;
 * run the same command again to go on" (85: outside sysexits' 64-78 and
 * the shell's 126-165; documented in ckpt(1) and README.md). */
#define RUN_EXIT_CHECKPOINTED	85
/* COMMAND could not be run: as env(1), timeout(1) and the shell do. */
#define RUN_EXIT_CANNOT_EXEC	126
#define RUN_EXIT_NOT_FOUND	127

/* Which ends of the job --restart-on names. */
struct restart_on {
	int any_signal;			/* "signal": killed by any signal */
	uint64_t signals;		/* bit n-1: killed by signal n */
	uint8_t status[256];		/* exit statuses */
};

struct run_opts {
	const char *dir;		/* --dir */
	uint64_t every_ns;		/* --every */
	int keep;			/* --keep: complete checkpoints kept */
	uint64_t grace_ns;		/* --grace */
	uint64_t on;			/* --on: bit n-1: signal n preempts (SIGTERM always) */
	int restarts;			/* --restarts */
	struct restart_on restart_on;	/* --restart-on (default: any signal) */
	int rollback_files;		/* --rollback-files */
	int json;			/* --json: log lines are JSON objects */
	const char *log;		/* --log FILE (default: stderr) */
	int quiet;			/* -q: errors and warnings only */
	char **argv;			/* COMMAND, NULL-terminated; NULL: resume only */
	pid_t watch;			/* ckpt watch PID: the job is not ours */
	uint8_t fd_open_at_start[3];	/* which of fds 0-2 ckpt was given */
};

/* Both commands: the exit status (the job's, RUN_EXIT_*, or 1). */
int run_main(const struct run_opts *o);

#endif
