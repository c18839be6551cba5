/*
 * A fork storm, bounded: until GO the root keeps up to LIVE workers, each
 * forking two short-lived children and waiting for them, then ending; the
 * root reaps whatever ended and starts more.  A dump meets processes being
 * born and dying every moment.  Each process checks, before it ends, that
 * its parent is the one it was born to and that its children ended as
 * they should; after GO the root waits for the last and prints
 * "tree_storm: ok" (its count of failures is 0).
 * Usage: tree_storm [LIVE]
 */
#include <stdint.h>
#include <sys/wait.h>

#include "target.h"

static int child(pid_t parent)
{
	target_sleep_ms(50 + getpid() % 100);
	return getppid() == parent ? 7 : 1;
}

static int worker(void)
{
	pid_t me = getpid(), parent = getppid(), kid[2];
	int st, bad = 0;

	for (int i = 0; i < 2; i++)
		if (!(kid[i] = fork()))
			_exit(child(me));
	for (int i = 0; i < 2; i++)
		bad += waitpid(kid[i], &st, 0) != kid[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 7;
	target_sleep_ms(50 + me % 100);
	return bad || getppid() != parent ? 1 : 0;
}

int main(int argc, char **argv)
{
	int live = argc > 1 ? atoi(argv[1]) : 100, n = 0, failed = 0, st;
	uint64_t forks = 0;
	struct timespec t0, t;
	int ready = 0;
	pid_t p;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!target_go()) {
		while (n < live) {
			p = fork();
			if (p == 0)
				_exit(worker());
			if (p < 0)
				break;
			n++;
			forks++;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			n--;
			failed += !WIFEXITED(st) || WEXITSTATUS(st);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!ready && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 500) {
			target_ready();
			ready = 1;
		}
		target_sleep_ms(1);
	}
	while ((p = waitpid(-1, &st, 0)) > 0)
		failed += !WIFEXITED(st) || WEXITSTATUS(st);
	CHECK(!failed, "%d workers failed", failed);
	if (!target_failures)
		printf("tree_storm: ok\n");
	fprintf(stderr, "tree_storm: %llu forks\n", (unsigned long long)forks);
	return target_exit();
}
