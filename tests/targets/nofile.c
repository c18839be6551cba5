/*
 * RLIMIT_NOFILE below its hard limit, which a restore must give back
 * exactly (ckpt raises its own for the restore's while, and its child's
 * until the stub's plan sets the process's).  argv[1]: the soft limit;
 * with argv[2] "tree", a child of ours with half of it.  After GO each
 * checks its limit by value and by behaviour: a descriptor at limit-1
 * can be made, one at the limit cannot (EBADF, dup2(2)).
 * Output: "nofile: ok" when every check passed.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include "target.h"

static void lower(rlim_t soft, struct rlimit *now)
{
	getrlimit(RLIMIT_NOFILE, now);
	now->rlim_cur = soft;
	if (setrlimit(RLIMIT_NOFILE, now) < 0)
		target_fail("cannot set RLIMIT_NOFILE to %llu: %s", (unsigned long long)soft,
			    strerror(errno));
}

static void check(const char *who, const struct rlimit *was)
{
	struct rlimit rl;
	int top = (int)was->rlim_cur;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == was->rlim_cur &&
	      rl.rlim_max == was->rlim_max, "%s: RLIMIT_NOFILE %llu/%llu, was %llu/%llu", who,
	      (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	      (unsigned long long)was->rlim_cur, (unsigned long long)was->rlim_max);
	CHECK(dup2(2, top - 1) == top - 1, "%s: no fd %d under a limit of %d: %s", who, top - 1, top,
	      strerror(errno));
	close(top - 1);
	errno = 0;
	CHECK(dup2(2, top) < 0 && errno == EBADF, "%s: fd %d under a limit of %d (%s)", who, top, top,
	      strerror(errno));
	close(top);
}

int main(int argc, char **argv)
{
	rlim_t soft = argc > 1 ? (rlim_t)atol(argv[1]) : 300;
	struct rlimit was;
	pid_t child = -1;
	int st = 0, p[2];
	char c;

	lower(soft, &was);
	if (argc > 2 && !strcmp(argv[2], "tree")) {
		if (pipe(p) < 0 || (child = fork()) < 0) {
			target_fail("cannot fork: %s", strerror(errno));
			return target_exit();
		}
	}
	if (child == 0) {
		lower(soft / 2, &was);
		/* set before we are ready: the dump sees it */
		if (write(p[1], "", 1) != 1)
			_exit(2);
		close(p[0]);
		close(p[1]);
		while (!target_go())
			target_sleep_ms(5);
		check("child", &was);
		_exit(target_failures ? 1 : 0);
	}
	if (child > 0) {
		CHECK(read(p[0], &c, 1) == 1, "the child did not start");
		close(p[0]);
		close(p[1]);
	}
	target_wait();
	check("parent", &was);
	CHECK(child < 0 || (waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0),
	      "the child failed (status %#x)", st);
	if (!target_failures)
		printf("nofile: ok\n");
	return target_exit();
}
