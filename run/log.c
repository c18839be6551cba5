/* ckpt run's event lines (log.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "run/log.h"

int runlog_open(struct runlog *l, const char *name, const char *path, int json, int quiet)
{
	l->name = name;
	l->json = json;
	l->quiet = quiet;
	l->fd = STDERR_FILENO;
	if (!path)
		return 0;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (l->fd < 0)
		return error_errno(errno, "cannot open the log \"%s\"", path);
	return 0;
}

void runlog_close(struct runlog *l)
{
	if (l->fd > STDERR_FILENO)
		close(l->fd);
	l->fd = STDERR_FILENO;
}

const char *runlog_size(uint64_t bytes, char buf[32])
{
	if (bytes >= (1ull << 30))
		snprintf(buf, 32, "%.2f GiB", bytes / (double)(1ull << 30));
	else if (bytes >= (1ull << 20))
		snprintf(buf, 32, "%.1f MiB", bytes / (double)(1ull << 20));
	else
		snprintf(buf, 32, "%.1f KiB", bytes / 1024.0);
	return buf;
}

static void json_line(FILE *f, const struct run_event *e, const struct timeval *tv)
{
	struct json j;
	struct tm tm;
	char when[48];

	gmtime_r(&tv->tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", (long)tv->tv_usec / 1000);
	json_begin_line(&j, f);
	json_str(&j, "time", when);
	json_str(&j, "event", e->event);
	if (e->pid)
		json_i64(&j, "pid", e->pid);
	if (e->seq)
		json_u64(&j, "checkpoint", e->seq);
	if (e->image)
		json_str(&j, "image", e->image);
	if (e->kind)
		json_str(&j, "kind", e->kind);
	if (e->parent)
		json_str(&j, "parent", e->parent);
	if (e->bytes)
		json_u64(&j, "bytes", e->bytes);
	if (e->pause_ms)
		json_double(&j, "pause_ms", e->pause_ms);
	if (e->took_ms)
		json_double(&j, "took_ms", e->took_ms);
	if (e->status >= 0)
		json_i64(&j, "status", e->status);
	if (e->signal)
		json_str(&j, "signal", e->signal);
	if (e->restart)
		json_i64(&j, "restart", e->restart);
	json_str(&j, "message", e->message);
	json_end(&j);
}

void runlog_emit(struct runlog *l, const struct run_event *e)
{
	struct timeval tv;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (l->quiet && strcmp(e->event, "error") && strcmp(e->event, "warning"))
		return;
	gettimeofday(&tv, NULL);
	if (!(f = open_memstream(&buf, &len)))
		return;
	if (l->json) {
		json_line(f, e, &tv);
	} else {
		struct tm tm;
		char when[32];

		localtime_r(&tv.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "%s: %s %s\n", l->name, when, e->message);
	}
	fclose(f);
	/* One write: lines of the job and ours never interleave. */
	if (write_all(l->fd, buf, len) < 0) {
		/* a log that cannot be written stops nothing */
	}
	free(buf);
}

void runlog_say(struct runlog *l, const char *event, const char *fmt, ...)
{
	struct run_event e = { .event = event, .status = -1 };
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	e.message = msg ? msg : fmt;
	runlog_emit(l, &e);
	free(msg);
}
