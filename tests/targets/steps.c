/*
 * A long computation in numbered steps, for ckpt run and watch: each step
 * rewrites a slice of a 4 MiB state (so incremental checkpoints have
 * something to store), prints "step N TIME" (TIME: seconds since the
 * epoch, ms precision) and sleeps to take MS milliseconds.  At the end it
 * prints "result HASH", a function of the step count alone: a job resumed
 * from any checkpoint ends with exactly the result of an uninterrupted run.
 *
 *   steps N MS [FILE]   FILE: each step appends "step N\n" to it too
 *   STEPS_CRASH_AT=K STEPS_CRASH_FILE=F: at the end of the first step from K
 *   on at which F exists, delete it and die of SIGSEGV (a crash that a
 *   rollback does not repeat)
 *   STEPS_MIB=M: M MiB more of random bytes, untouched (a dump that takes
 *   a while: it does not compress)
 *   STEPS_FAST_FILE=F: once F exists, steps do not sleep (a test's job
 *   that is long until the test has seen what it wanted, then ends quickly;
 *   the result does not depend on it)
 */
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>

#include "target.h"

#define WORDS	(4u << 20) / 8

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 60, ms = argc > 2 ? atol(argv[2]) : 1000;
	const char *crash_file = getenv("STEPS_CRASH_FILE"), *fast = getenv("STEPS_FAST_FILE");
	long crash_at = getenv("STEPS_CRASH_AT") ? atol(getenv("STEPS_CRASH_AT")) : 0;
	uint64_t *state = malloc(WORDS * sizeof(*state)), h = 1469598103934665603ull;
	FILE *out = argc > 3 ? fopen(argv[3], "a") : NULL;

	size_t ballast = getenv("STEPS_MIB") ? (size_t)atol(getenv("STEPS_MIB")) << 20 : 0;
	uint64_t *extra = ballast ? malloc(ballast) : NULL, x = 88172645463325252ull;

	for (size_t i = 0; extra && i < ballast / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		extra[i] = x;
	}
	if (!state || (argc > 3 && !out) || (ballast && !extra)) {
		perror("steps");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (out)
		setvbuf(out, NULL, _IOLBF, 0);
	for (uint32_t i = 0; i < WORDS; i++)
		state[i] = i * 2654435761u;
	target_ready();
	for (long step = 1; step <= n; step++) {
		double t0 = now();
		long left;

		/* A slice of 1/16 of the state, a different one each step. */
		for (uint32_t i = (uint32_t)(step % 16) * (WORDS / 16); i < (uint32_t)(step % 16 + 1) * (WORDS / 16); i++)
			state[i] = state[i] * 6364136223846793005ull + (uint64_t)step;
		printf("step %ld %.3f\n", step, now());
		if (out)
			fprintf(out, "step %ld\n", step);
		/* after the step's output: files changed since the checkpoint */
		if (crash_at && step >= crash_at && crash_file && unlink(crash_file) == 0)
			raise(SIGSEGV);
		left = ms - (long)((now() - t0) * 1000);
		if (left > 0 && !(fast && access(fast, F_OK) == 0))
			target_sleep_ms(left);
	}
	for (uint32_t i = 0; i < WORDS; i++)
		h = (h ^ state[i]) * 1099511628211ull;
	printf("result %016llx\n", (unsigned long long)h);
	return 0;
}
