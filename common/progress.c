/* The progress line (progress.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/progress.h"
#include "common/util.h"

#define FIRST_NS	(500 * 1000000ull)	/* quick work shows nothing */
#define EVERY_NS	(250 * 1000000ull)

static struct {
	int disabled;
	int on;			/* between begin and end, and stderr a terminal */
	int shown;		/* a line is on the screen */
	uint64_t total, last;
	atomic_ullong start;		/* the first bytes (the rate counts from there) */
	atomic_ullong done;
	pthread_mutex_t lock;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

void progress_disable(void)
{
	P.disabled = 1;
}

void progress_begin(uint64_t total)
{
	P.on = !P.disabled && !log_quiet && !log_verbose && isatty(STDERR_FILENO);
	P.total = total;
	P.last = now_ns();
	atomic_store(&P.start, P.last);
	P.shown = 0;
	atomic_store(&P.done, 0);
}

static const char *size(double b, char buf[24])
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4)
		b /= 1024, u++;
	snprintf(buf, 24, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
	return buf;
}

static void draw(uint64_t now)
{
	uint64_t done = atomic_load(&P.done);
	double secs = (now - atomic_load(&P.start)) / 1e9, rate = secs > 0 ? done / secs : 0;
	char line[256], a[24], b[24], r[24];
	int n;

	n = snprintf(line, sizeof(line), "\r\033[Kckpt: %s: %s", log_context(), size((double)done, a));
	if (P.total && done <= P.total)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " of %s (%d%%)", size((double)P.total, b),
			      (int)(100.0 * done / P.total));
	n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s/s", size(rate, r));
	if (P.total && done <= P.total && rate > 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f s left",
			      (P.total - done) / rate + 0.5);
	if (write(STDERR_FILENO, line, MIN((size_t)n, sizeof(line) - 1)) > 0)
		P.shown = 1;
}

void progress_add(uint64_t bytes)
{
	uint64_t now;

	if (!atomic_fetch_add(&P.done, bytes) && P.on)
		atomic_store(&P.start, now_ns());
	if (!P.on)
		return;
	now = now_ns();
	if (now - atomic_load(&P.start) < FIRST_NS || now - P.last < EVERY_NS)
		return;
	/* Whichever thread comes by draws; the others go on. */
	if (pthread_mutex_trylock(&P.lock))
		return;
	if (P.on && now - P.last >= EVERY_NS) {
		P.last = now;
		draw(now);
	}
	pthread_mutex_unlock(&P.lock);
}

void progress_end(void)
{
	pthread_mutex_lock(&P.lock);
	if (P.on && P.shown && write(STDERR_FILENO, "\r\033[K", 4) < 0) {
		/* nothing to do */
	}
	P.on = P.shown = 0;
	pthread_mutex_unlock(&P.lock);
}
