/*
 * The fuzz target's body (tests/fuzz/fuzz_image.c) on every input in
 * tests/fuzz/regress/fuzz_image/: images that once crashed ckpt or broke a promise
 * of its reader, checks or restore plan.  Built as a plain unit test (no
 * libFuzzer, no sanitizers, real symbol lookup), so it catches what
 * crashes or aborts outright; make fuzz runs the same inputs under ASan
 * and UBSan.  Runs from the top of the tree, as make check does.
 */

#include "../fuzz/fuzz_image.c"
#include "harness.h"

#define REGRESS "tests/fuzz/regress/fuzz_image"

/* One input in a child, stdout and stderr (ckpt's reports) out of the
 * way: its wait status. */
static int run_one(const char *path)
{
	char *buf;
	size_t len;
	pid_t pid;
	int st;

	if (read_file(path, &buf, &len) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		_exit(0);
	}
	free(buf);
	while (waitpid(pid, &st, 0) < 0)
		;
	return st;
}

TEST(every_regression_input_runs_cleanly)
{
	EXPECT_GE(harness_each_file(REGRESS, run_one), 1);
}

TEST_HARNESS_MAIN
