/* Building and writing user-facing message lines (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sigguard.h"

int log_verbose;
int log_quiet;
__thread int log_mute;
static char context[256], saved_context[256];
static int holding;		/* info lines go to held until released */
static char *held;
static size_t held_len;
static char last_error[1024];	/* the latest error line, without "ckpt: " */
static unsigned long errors_said;	/* error lines written or held */

void log_set_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

void log_push_context(const char *fmt, ...)
{
	size_t n = strlen(context);
	va_list ap;

	memcpy(saved_context, context, sizeof(context));
	if (n && n < sizeof(context) - 2)
		n += (size_t)snprintf(context + n, sizeof(context) - n, ": ");
	va_start(ap, fmt);
	if (n < sizeof(context))
		vsnprintf(context + n, sizeof(context) - n, fmt, ap);
	va_end(ap);
}

void log_pop_context(void)
{
	memcpy(context, saved_context, sizeof(context));
}

void log_hold_info(void)
{
	holding = 1;
}

void log_release_info(int print)
{
	if (print && held_len && write(STDERR_FILENO, held, held_len) < 0) {
		/* nothing sensible left to do */
	}
	free(held);
	held = NULL;
	held_len = 0;
	holding = 0;
}

static void hold(const char *line, size_t n)
{
	char *p = realloc(held, held_len + n);

	if (!p)
		return;
	memcpy(p + held_len, line, n);
	held = p;
	held_len += n;
}

/* Build the whole line first and write it with one write(2), as strace does,
 * so lines from concurrent processes never interleave. */
enum { LINE_HOLDABLE = 1, LINE_ERROR = 2 };

static void emit_line(const char *kind, int err, unsigned flags, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t n;
	int saved = errno;

	if (log_mute)
		return;
	n = (size_t)snprintf(buf, sizeof(buf), "ckpt: %s%s%s", context,
			     context[0] ? ": " : "", kind);
	if (n < sizeof(buf))
		n += (size_t)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (err && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	if (flags & LINE_ERROR) {
		snprintf(last_error, sizeof(last_error), "%.*s", (int)n - 6, buf + 6);
		__atomic_add_fetch(&errors_said, 1, __ATOMIC_RELAXED);
	}
	buf[n++] = '\n';
	if ((flags & LINE_HOLDABLE) && holding) {
		hold(buf, n);
		errno = saved;
		return;
	}
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing sensible left to do */
	}
	errno = saved;
}

static void emit(const char *kind, int err, const char *fmt, va_list ap, int is_error)
{
	emit_line(kind, err, is_error ? LINE_ERROR : 0, fmt, ap);
}

const char *log_context(void)
{
	return context;
}

const char *log_last_error(void)
{
	return last_error[0] ? last_error : NULL;
}

unsigned long log_errors_said(void)
{
	return __atomic_load_n(&errors_said, __ATOMIC_RELAXED);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", 0, fmt, ap, 1);
	va_end(ap);
	return -EIO;
}

int error_errno(int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	/* A wait or call that a signal ckpt acts on (sigguard: ^C, kill)
	 * broke off failed of the interruption, which the command's error
	 * path says once, whichever call it was (dump_run, restore). */
	if (err == EINTR && sigguard_fired())
		return -EINTR;
	va_start(ap, fmt);
	emit("", err, fmt, ap, 1);
	va_end(ap);
	return err ? -err : -EIO;
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("warning: ", 0, fmt, ap, 0);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	emit_line("", 0, LINE_HOLDABLE, fmt, ap);
	va_end(ap);
}

void debug_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char where[128] = "";

	if (log_verbose > 1)
		snprintf(where, sizeof(where), "(%s:%d) ", file, line);
	va_start(ap, fmt);
	emit(where, 0, fmt, ap, 0);
	va_end(ap);
}
