/*
 * A small process tree: the parent forks two workers and a child that
 * exits at once (a zombie until the parent reaps it after GO).  Each
 * worker keeps a running sum in its memory; after GO it checks it, checks
 * that its parent is still its parent, and exits with its own code.  The
 * parent checks every child's exit status with waitpid: the zombie's
 * status must come back as it was, the workers' as they end.  The
 * zombie's RLIMIT_NOFILE (a soft 300, set before the forks) must read in
 * /proc as the parent's, not as the restoring ckpt's raised one.
 * Output: "tree_basic: ok" when every check passed.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "target.h"

#define N	2000000u

static volatile uint64_t sum;

static int worker(int code, unsigned mul)
{
	pid_t parent = getppid();
	uint64_t want = 0;

	for (unsigned i = 0; i < N; i++)
		sum += (uint64_t)i * mul;
	for (unsigned i = 0; i < N; i++)
		want += (uint64_t)i * mul;
	while (!target_go())
		target_sleep_ms(5);
	CHECK(sum == want, "worker %u: sum %llu, want %llu", mul, (unsigned long long)sum,
	      (unsigned long long)want);
	CHECK(getppid() == parent, "worker %u: parent %d, was %d", mul, (int)getppid(), (int)parent);
	return target_failures ? 100 : code;
}

/* pid's "Max open files" line of /proc/PID/limits, into out (len) */
static void nofile_line(pid_t pid, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14))
			snprintf(out, len, "%s", line);
	fclose(f);
}

int main(void)
{
	char mine[256], its[256];
	struct rlimit rl;
	pid_t a, b, z;
	int st;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max >= 300) {
		rl.rlim_cur = 300;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!(a = fork()))
		return worker(11, 3);
	if (!(b = fork()))
		return worker(22, 5);
	if (!(z = fork()))
		_exit(33);
	/* The zombie must exist before the dump: wait for it without reaping. */
	{
		siginfo_t si;

		waitid(P_PID, z, &si, WEXITED | WNOWAIT);
	}
	target_wait();
	nofile_line(getpid(), mine, sizeof(mine));
	nofile_line(z, its, sizeof(its));
	CHECK(mine[0] && !strcmp(mine, its), "zombie: %s, its parent's %s", its, mine);
	CHECK(waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 11,
	      "worker a: status %#x", st);
	CHECK(waitpid(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 22,
	      "worker b: status %#x", st);
	CHECK(waitpid(z, &st, 0) == z && WIFEXITED(st) && WEXITSTATUS(st) == 33,
	      "zombie: status %#x", st);
	CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "a child too many");
	if (!target_failures)
		printf("tree_basic: ok\n");
	return target_exit();
}
