/*
 * Messages to the user.  Every line has the shape
 *   ckpt: <cmd> <subject>: <what failed> [at <object>]: <strerror>
 * The "<cmd> <subject>" part is set once per run with log_set_context().
 * Library code (ptrace/, image/, arch/, dump/, restore/) never exits: it
 * reports with error()/error_errno() and returns the negative errno.
 */
#ifndef CKPT_LOG_H
#define CKPT_LOG_H

#include <errno.h>

extern int log_verbose;		/* -v: 1, -vv: 2 */
extern int log_quiet;		/* -q: no notes (info()), no progress line */
/* Nonzero: this thread's error() and warn() say nothing (a check tried
 * first, whose message another may take precedence over). */
extern __thread int log_mute;

void log_set_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Until log_pop_context(), lines say "<context>: <what>: ..." (one level:
 * "restore a.img: parent image \"b.img\": ..."). */
void log_push_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_pop_context(void);
/* info() lines are kept from log_hold_info() on, until
 * log_release_info() prints them (print) or drops them: notes about what
 * was done that only stand if the whole operation does. */
void log_hold_info(void);
void log_release_info(int print);
const char *log_context(void);
/* The latest error()'s line without "ckpt: " (for --json), or NULL. */
const char *log_last_error(void);
/* How many error lines were said so far (muted ones are not): an error
 * path that says its own line only if no other was said compares two. */
unsigned long log_errors_said(void);

/* Print "ckpt: ctx: msg" and return -EIO, so "return error(...)" works. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "ckpt: ctx: msg: strerror(err)" and return -err (err > 0 or < 0);
 * EINTR after a signal sigguard acts on prints nothing (log.c). */
int error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define debug(...) do { if (log_verbose) debug_at(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* Normalise a syscall result: -1/errno or -errno both become -errno. */
static inline int neg_errno(long r)
{
	if (r == -1 && errno)
		return -errno;
	return (int)r;
}

#endif
