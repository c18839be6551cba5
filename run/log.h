/*
 * ckpt run's log: one line per event, on stderr or --log FILE, as text
 *   ckpt run: 2026-12-06 06:21:20 checkpoint 5 ckpt.d/ckpt-000005.img: 12.3 MiB incremental, job paused 4.1 ms
 * or (--json) as one JSON object per line (docs/json.md).
 */
#ifndef CKPT_RUN_LOG_H
#define CKPT_RUN_LOG_H

#include <stdint.h>
#include <sys/types.h>

struct runlog {
	const char *name;	/* "ckpt run" or "ckpt watch" */
	int fd;
	int json;
	int quiet;		/* only events of kind "error" and "warning" */
};

/* One event.  Fields left 0 / NULL are not written (status: -1). */
struct run_event {
	const char *event;	/* start, resume, fallback, checkpoint, checkpoint-failed,
				   preempt, final, killed, restart, exit, error */
	const char *message;	/* the text line, after the time */
	pid_t pid;
	unsigned seq;
	const char *image;
	const char *kind;	/* "full" or "incremental" */
	const char *parent;
	uint64_t bytes;
	double pause_ms, took_ms;
	int status;		/* the job's exit status, or ckpt run's; -1: none */
	const char *signal;	/* a signal's name */
	int restart;		/* how many restarts so far (restart events) */
};

int runlog_open(struct runlog *l, const char *name, const char *path, int json, int quiet);
void runlog_close(struct runlog *l);
void runlog_emit(struct runlog *l, const struct run_event *e);
/* A text event: runlog_emit() with just event and a formatted message. */
void runlog_say(struct runlog *l, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "12.3 MiB" into buf */
const char *runlog_size(uint64_t bytes, char buf[32]);

#endif
