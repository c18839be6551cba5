/*
 * A process that vforks all the time, as shells, awk's system() and
 * make's posix_spawn do: a checkpoint of its tree meets it in vfork()
 * (waiting in the kernel for a child that shares its memory) again and
 * again.  Each round vforks a child that execs this program with
 * "child K", which exits with status K % 100; the parent checks that
 * status and counts the rounds.  It prints "round N" every 50 rounds and,
 * at the end, "result N SUM" (a function of N alone) or what differed.
 *
 *   vforker N [SLOW_MS]   N rounds (0: until $CKPT_GO exists); with
 *                         SLOW_MS, round 1's child waits SLOW_MS before
 *                         its exec (a vfork child that stays in vfork)
 *   VFORKER_FAST_FILE=F: until F exists, 2 ms between rounds
 *
 * Follows target.h: READY at the start, then runs until GO (N = 0).
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

static int child(const char *k)
{
	return atoi(k) % 100;
}

/* A function of its own: the caller's variables stay out of the frame
 * that vfork's child shares (gcc's -Wclobbered). */
static __attribute__((noinline)) pid_t spawn(char *self, long round, long slow_ms)
{
	char k[24], *args[] = { self, "child", k, NULL };
	struct timespec ts = { slow_ms / 1000, (slow_ms % 1000) * 1000000L };
	pid_t pid;

	snprintf(k, sizeof(k), "%ld", round);
	pid = vfork();
	if (pid == 0) {
		/* Only syscalls between vfork and exec (vfork(2)). */
		if (slow_ms)
			syscall(SYS_nanosleep, &ts, NULL);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0, slow = argc > 2 ? atol(argv[2]) : 0;
	const char *fast = getenv("VFORKER_FAST_FILE");
	unsigned long long sum = 0;
	long round;

	if (argc > 2 && !strcmp(argv[1], "child"))
		return child(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	target_ready();
	for (round = 1; n == 0 ? !target_go() : round <= n; round++) {
		pid_t pid = spawn(argv[0], round, round == 1 ? slow : 0);
		int st;

		if (pid < 0) {
			perror("vforker: vfork");
			return 2;
		}
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR) {
				perror("vforker: waitpid");
				return 2;
			}
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == round % 100,
		      "round %ld: child status %#x, not exit %ld", round, st, round % 100);
		sum += (unsigned long long)(round % 100);
		if (round % 50 == 0)
			printf("round %ld\n", round);
		if (fast && access(fast, F_OK) != 0)
			target_sleep_ms(2);
	}
	round--;
	printf("result %ld %llu\n", round, sum);
	return target_failures ? 1 : 0;
}
