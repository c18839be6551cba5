/* Building and writing user-facing message lines (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int log_verbose;
static char context[256];

void log_set_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

/* Build the whole line first and write it with one write(2), as strace does,
 * so lines from concurrent processes never interleave. */
static void emit(const char *kind, int err, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t n;
	int saved = errno;

	n = (size_t)snprintf(buf, sizeof(buf), "ckpt: %s%s%s", context,
			     context[0] ? ": " : "", kind);
	if (n < sizeof(buf))
		n += (size_t)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (err && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing sensible left to do */
	}
	errno = saved;
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", 0, fmt, ap);
	va_end(ap);
	return -EIO;
}

int error_errno(int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	emit("", err, fmt, ap);
	va_end(ap);
	return err ? -err : -EIO;
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("warning: ", 0, fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", 0, fmt, ap);
	va_end(ap);
}

void debug_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char where[128] = "";

	if (log_verbose > 1)
		snprintf(where, sizeof(where), "(%s:%d) ", file, line);
	va_start(ap, fmt);
	emit(where, 0, fmt, ap);
	va_end(ap);
}
