/* See killpoint.h. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/killpoint.h"
#include "common/log.h"

static atomic_long passed;

void killpoint(const char *where)
{
	static const char *spec;
	static atomic_int read;
	long n = atomic_fetch_add(&passed, 1) + 1;

	if (!atomic_load(&read)) {
		spec = getenv("CKPT_KILLPOINT");
		atomic_store(&read, 1);
	}
	if (!spec || !*spec)
		return;
	/* A number: the Nth point passed; else the first named so. */
	if (*spec >= '0' && *spec <= '9' ? n == atol(spec) : !strncmp(where, spec, strlen(spec))) {
		if (log_verbose > 1)
			debug("killed at kill point %ld: %s", n, where);
		kill(getpid(), SIGKILL);
	}
}

long killpoints_passed(void)
{
	return atomic_load(&passed);
}
