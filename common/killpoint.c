/* See killpoint.h. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"

static atomic_long passed;
static atomic_int off;

void killpoint(const char *where)
{
	static const char *spec;
	static size_t len;
	static long nth = 1;
	static atomic_long named;
	static int sig = SIGKILL;
	static atomic_int read;
	long n = atomic_fetch_add(&passed, 1) + 1;
	const char *hash;

	if (!atomic_load(&read)) {
		const char *s = getenv("CKPT_KILLSIG");

		spec = getenv("CKPT_KILLPOINT");
		len = spec ? strlen(spec) : 0;
		/* "NAME#K": the Kth point passed whose name starts so. */
		if (spec && (hash = strrchr(spec, '#')) && atol(hash + 1) > 0) {
			len = (size_t)(hash - spec);
			nth = atol(hash + 1);
		}
		if (s && atoi(s) > 0)
			sig = atoi(s);
		atomic_store(&read, 1);
	}
	if (!spec || !*spec || atomic_load(&off))
		return;
	/* A number: the Nth point passed; else the first (or Kth) named so
	 * (once: ckpt goes on after a SIGTERM). */
	if (*spec >= '0' && *spec <= '9' ? n == atol(spec) :
	    !strncmp(where, spec, len) && atomic_fetch_add(&named, 1) + 1 == nth &&
	    !atomic_exchange(&off, 1)) {
		if (log_verbose > 1)
			debug("killed at kill point %ld: %s (signal %d)", n, where, sig);
		kill(getpid(), sig);
	}
}

void killpoints_off(void)
{
	atomic_store(&off, 1);
}

long killpoints_passed(void)
{
	return atomic_load(&passed);
}
