/*
 * The fuzz target's body (tests/fuzz/fuzz_image.c) on every input in
 * tests/fuzz/regress/fuzz_image/: images that once crashed ckpt or broke a promise
 * of its reader, checks or restore plan.  Built as a plain unit test (no
 * libFuzzer, no sanitizers, real symbol lookup), so it catches what
 * crashes or aborts outright; make fuzz runs the same inputs under ASan
 * and UBSan.  Runs from the top of the tree, as make check does.
 */
#include <dirent.h>

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
	DIR *d = opendir(REGRESS);
	struct dirent *e;
	int n = 0;

	ASSERT_TRUE(d != NULL) {
		TH_LOG("no %s here: run from the top of the tree", REGRESS);
	}
	while ((e = readdir(d))) {
		char path[512];
		int st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", REGRESS, e->d_name);
		st = run_one(path);
		EXPECT_EQ(0, st) {
			TH_LOG("%s: %s %d", path, WIFSIGNALED(st) ? "killed by signal" : "exit status",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		}
		n++;
	}
	closedir(d);
	EXPECT_GE(n, 1);
}

TEST_HARNESS_MAIN
