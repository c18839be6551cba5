/*
 * What an image read from a pipe can ask for.  On a stream the reader
 * cannot hold counts and sizes to the file's length, only to the
 * format's limits: 2^24 mappings, a deleted file of 4 GiB.  The inputs in
 * tests/fuzz/regress/oom/ ask for that much in a few KiB (ghost-4gib was
 * found by tests/fuzz); under a 1 GiB address space limit, reading them
 * must fail with an error, not abort.  (libFuzzer's own memory limit
 * flags these allocations, so make fuzz leaves this directory out.)
 */
#include <fcntl.h>
#include <sys/resource.h>

#include "common/util.h"
#include "image/image.h"
#include "harness.h"

#define OOM "tests/fuzz/regress/oom"

/* Read path's image from a pipe in a child, 1 GiB of address space:
 * its wait status; exit 0 when the reader refused it. */
static int read_from_pipe(const char *path)
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
		struct rlimit rl = { 1ul << 30, 1ul << 30 };
		struct img_reader r;
		struct img img = { 0 };
		struct ckpt_section s;
		void *payload;
		int pfd[2], null = open("/dev/null", O_WRONLY), ret;

		/* The whole input fits in the pipe: nothing writes it later. */
		if (pipe(pfd) < 0 || fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) < (int)len ||
		    write_all(pfd[1], buf, len) < 0)
			_exit(3);
		close(pfd[1]);
		dup2(pfd[0], STDIN_FILENO);
		dup2(null, STDERR_FILENO);
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(3);
		ret = img_reader_open(&r, "-", &img.h);
		if (ret == 0)
			ret = img_read_meta(&r, &img, &s, &payload);
		_exit(ret < 0 ? 0 : 2);
	}
	free(buf);
	while (waitpid(pid, &st, 0) < 0)
		;
	return st;
}

TEST(a_stream_that_asks_for_too_much_is_refused)
{
	EXPECT_GE(harness_each_file(OOM, read_from_pipe), 2);
}

TEST_HARNESS_MAIN
