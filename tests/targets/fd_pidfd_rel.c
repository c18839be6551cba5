/*
 * pidfds of threads (PIDFD_THREAD, Linux 6.9) and of processes of a tree
 * that are neither the holder's parent nor its child, at fixed numbers.
 *
 * "thread": two threads A and B wait;
 *   10  of A, PIDFD_THREAD, close-on-exec
 *   11  of B, PIDFD_THREAD | PIDFD_NONBLOCK
 *   12  a copy of 10 (dup: the same open file)
 * After GO: each names its thread at the id it has now (fdinfo Pid:),
 * with its flags; a signal sent through 11 is taken by B and one through
 * 10 by A (a thread's pidfd signals the thread); A ends and 10 polls
 * readable while B lives on and 11 does not.
 *
 * "tree": the root forks a, then b (a's later sibling), b forks g (the
 * root's grandchild), g starts a thread t.
 *   13  (a's) of b, its sibling made after it
 *   14  (the root's) of g, its grandchild; 16 a copy of it
 *   15  (the root's) of t, g's thread (only where PIDFD_THREAD exists)
 * After GO: a checks 13 names b and sends b SIGUSR2 through it, b waits
 * for it; the root checks 14, 15 and 16 name g and t, kills g through 14,
 * then 14 and 15 poll readable; b reaps g (killed by SIGTERM); the root
 * reaps a and b, which exit 0 when their own checks passed.
 *
 * "probe": exit 0 if this kernel has PIDFD_THREAD, 2 if not.
 * Output: "fd_pidfd_rel: ok".  Usage: fd_pidfd_rel thread|tree|probe
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "pidfd.h"
#include "target.h"

#define PIDFD_THREAD	O_EXCL	/* include/uapi/linux/pidfd.h */

static volatile pid_t took[65];		/* by signal: the thread that took it */
static volatile int a_done;		/* A may end */
static pid_t tid_a, tid_b;		/* as each last said */

static void on_signal(int sig)
{
	took[sig] = (pid_t)syscall(SYS_gettid);
}

/* A thread that says its id again after GO (it may have a new one). */
static void *waiter(void *arg)
{
	volatile pid_t *me = arg;

	*me = (pid_t)syscall(SYS_gettid);
	while (!target_go())
		target_sleep_ms(5);
	*me = (pid_t)syscall(SYS_gettid);
	while (me != &tid_a || !a_done)
		target_sleep_ms(5);
	return NULL;
}

static void wait_nonzero(volatile pid_t *v)
{
	for (int i = 0; i < 4000 && !*v; i++)
		target_sleep_ms(5);
}

static int thread_mode(void)
{
	pthread_t a, b;
	pid_t seen_a, seen_b;

	if (pthread_create(&a, NULL, waiter, (void *)&tid_a) ||
	    pthread_create(&b, NULL, waiter, (void *)&tid_b))
		return target_fail("cannot start threads"), target_exit();
	wait_nonzero(&tid_a);
	wait_nonzero(&tid_b);
	if (at(pidfd_open(tid_a, PIDFD_THREAD), 10) != 10 ||
	    at(pidfd_open(tid_b, PIDFD_THREAD | O_NONBLOCK), 11) != 11 || dup2(10, 12) != 12 ||
	    fcntl(10, F_SETFD, FD_CLOEXEC) < 0 || fcntl(11, F_SETFD, 0) < 0 ||
	    fcntl(12, F_SETFD, 0) < 0)
		return target_fail("cannot set up: %s", strerror(errno)), target_exit();
	seen_a = tid_a;
	seen_b = tid_b;
	target_wait();
	/* the threads say their ids now */
	for (int i = 0; i < 4000 && (tid_a == seen_a || tid_b == seen_b); i++) {
		if (pid_of(10) == tid_a && pid_of(11) == tid_b)
			break;
		target_sleep_ms(5);
	}
	CHECK(pid_of(10) == tid_a, "fd 10 names %ld, want thread A %d", pid_of(10), tid_a);
	CHECK(pid_of(11) == tid_b, "fd 11 names %ld, want thread B %d", pid_of(11), tid_b);
	CHECK(pid_of(12) == tid_a, "fd 12 names %ld, want thread A %d", pid_of(12), tid_a);
	CHECK((fcntl(10, F_GETFL) & (PIDFD_THREAD | O_NONBLOCK)) == PIDFD_THREAD,
	      "fd 10's flags are %#o, want PIDFD_THREAD", fcntl(10, F_GETFL));
	CHECK((fcntl(11, F_GETFL) & (PIDFD_THREAD | O_NONBLOCK)) == (PIDFD_THREAD | O_NONBLOCK),
	      "fd 11's flags are %#o, want PIDFD_THREAD|PIDFD_NONBLOCK", fcntl(11, F_GETFL));
	CHECK(fcntl(10, F_GETFD) == FD_CLOEXEC && fcntl(11, F_GETFD) == 0 && fcntl(12, F_GETFD) == 0,
	      "close-on-exec flags: 10 %d, 11 %d, 12 %d", fcntl(10, F_GETFD), fcntl(11, F_GETFD),
	      fcntl(12, F_GETFD));
	/* the same open file: a flag set through one shows through the other */
	fcntl(12, F_SETFL, fcntl(12, F_GETFL) | O_NONBLOCK);
	CHECK(fcntl(10, F_GETFL) & O_NONBLOCK, "fd 12 is not a copy of fd 10");
	fcntl(12, F_SETFL, fcntl(12, F_GETFL) & ~O_NONBLOCK);
	CHECK(!readable(10, 0) && !readable(11, 0), "a live thread's pidfd polls readable");
	CHECK(send_signal(11, SIGUSR2) == 0, "fd 11: pidfd_send_signal: %s", strerror(errno));
	CHECK(send_signal(10, SIGUSR1) == 0, "fd 10: pidfd_send_signal: %s", strerror(errno));
	wait_nonzero(&took[SIGUSR1]);
	wait_nonzero(&took[SIGUSR2]);
	CHECK(took[SIGUSR1] == tid_a, "SIGUSR1 through fd 10 was taken by %d, not thread A %d",
	      took[SIGUSR1], tid_a);
	CHECK(took[SIGUSR2] == tid_b, "SIGUSR2 through fd 11 was taken by %d, not thread B %d",
	      took[SIGUSR2], tid_b);
	a_done = 1;
	pthread_join(a, NULL);
	CHECK(readable(10, 10000), "fd 10 does not poll readable once thread A ended");
	CHECK(!readable(11, 0), "fd 11 polls readable while thread B lives");
	if (!target_failures)
		printf("fd_pidfd_rel: ok\n");
	fflush(stdout);
	_exit(target_exit());
}

static volatile pid_t tid_t;

static void *forever(void *arg)
{
	(void)arg;
	tid_t = (pid_t)syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

/* g: a thread t, and waits to be killed; t's tid on the pipe */
static void grandchild(int out, int threads)
{
	pthread_t t;
	pid_t tid = 0;

	if (threads) {
		if (pthread_create(&t, NULL, forever, NULL))
			_exit(2);
		wait_nonzero(&tid_t);
		tid = tid_t;
	}
	if (write(out, &tid, sizeof(tid)) != sizeof(tid))
		_exit(2);
	close(out);
	for (;;)
		pause();
}

/* b: forks g, says g's PID and t's tid, waits for a's SIGUSR2, reaps g */
static void child_b(int out, int threads)
{
	int p[2], st = 0, fail = 0;
	pid_t g, t = 0;

	if (pipe(p) < 0 || (g = fork()) < 0)
		_exit(2);
	if (g == 0) {
		close(p[0]);
		grandchild(p[1], threads);
	}
	close(p[1]);
	if (read(p[0], &t, sizeof(t)) != sizeof(t) || write(out, &g, sizeof(g)) != sizeof(g) ||
	    write(out, &t, sizeof(t)) != sizeof(t))
		_exit(2);
	close(p[0]);
	close(out);
	while (!target_go())
		target_sleep_ms(5);
	wait_nonzero(&took[SIGUSR2]);
	if (!took[SIGUSR2]) {
		fprintf(stderr, "b: a's SIGUSR2 through its pidfd of b did not come\n");
		fail = 1;
	}
	if (waitpid(g, &st, 0) != g || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
		fprintf(stderr, "b: g ended with status %#x, not killed by SIGTERM\n", st);
		fail = 1;
	}
	_exit(fail ? 3 : 0);
}

/* a: its pidfd of b, its sibling made after it */
static void child_a(int in)
{
	pid_t b;

	if (read(in, &b, sizeof(b)) != sizeof(b) || at(pidfd_open(b, 0), 13) != 13)
		_exit(2);
	close(in);
	while (!target_go())
		target_sleep_ms(5);
	if (pid_of(13) != b) {
		fprintf(stderr, "a: fd 13 names %ld, want its sibling b %d\n", pid_of(13), b);
		_exit(3);
	}
	if (send_signal(13, SIGUSR2) < 0) {
		fprintf(stderr, "a: fd 13: pidfd_send_signal: %s\n", strerror(errno));
		_exit(4);
	}
	_exit(0);
}

static int tree_mode(int threads)
{
	int pa[2], pb[2], st;
	pid_t a, b, g = 0, t = 0;

	if (pipe(pa) < 0 || pipe(pb) < 0)
		return target_fail("pipe: %s", strerror(errno)), target_exit();
	if ((a = fork()) == 0) {
		close(pa[1]);
		close(pb[0]);
		close(pb[1]);
		child_a(pa[0]);
	}
	close(pa[0]);
	if ((b = fork()) == 0) {
		close(pa[1]);
		close(pb[0]);
		child_b(pb[1], threads);
	}
	close(pb[1]);
	if (a < 0 || b < 0 || write(pa[1], &b, sizeof(b)) != sizeof(b) ||
	    read(pb[0], &g, sizeof(g)) != sizeof(g) || read(pb[0], &t, sizeof(t)) != sizeof(t) ||
	    at(pidfd_open(g, 0), 14) != 14 || dup2(14, 16) != 16 ||
	    (threads && at(pidfd_open(t, PIDFD_THREAD), 15) != 15))
		return target_fail("cannot set up: %s", strerror(errno)), target_exit();
	close(pa[1]);
	close(pb[0]);
	/* a's pidfd of b made before we say ready */
	for (int i = 0; i < 4000; i++) {
		char path[64], link[64] = "";

		snprintf(path, sizeof(path), "/proc/%d/fd/13", a);
		if (readlink(path, link, sizeof(link) - 1) > 0)
			break;
		target_sleep_ms(5);
	}
	target_wait();

	CHECK(pid_of(14) == g, "fd 14 names %ld, want the grandchild %d", pid_of(14), g);
	CHECK(pid_of(16) == g, "fd 16 names %ld, want the grandchild %d", pid_of(16), g);
	if (threads)
		CHECK(pid_of(15) == t, "fd 15 names %ld, want g's thread %d", pid_of(15), t);
	CHECK(!readable(14, 0), "fd 14 polls readable before g ends");
	CHECK(send_signal(14, SIGTERM) == 0, "fd 14: pidfd_send_signal: %s", strerror(errno));
	CHECK(readable(14, 10000), "fd 14 does not poll readable once g is killed");
	if (threads)
		CHECK(readable(15, 10000), "fd 15 does not poll readable once g's thread ended");
	CHECK(waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a ended with status %#x", st);
	CHECK(waitpid(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "b ended with status %#x", st);
	if (!target_failures)
		printf("fd_pidfd_rel: ok\n");
	return target_exit();
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *mode = argc > 1 ? argv[1] : "";
	int fd = pidfd_open((pid_t)syscall(SYS_gettid), PIDFD_THREAD);
	int threads = fd >= 0;

	if (fd >= 0)
		close(fd);
	if (!strcmp(mode, "probe"))
		return threads ? 0 : 2;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if (!strcmp(mode, "thread"))
		return thread_mode();
	if (!strcmp(mode, "tree"))
		return tree_mode(threads);
	fprintf(stderr, "usage: fd_pidfd_rel thread|tree|probe\n");
	return 2;
}
