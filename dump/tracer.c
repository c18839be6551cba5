/*
 * The frozen part of a dump on a thread of its own, the tracing thread,
 * so that its exit lets the process go.
 *
 * A thread that exits detaches every tracee of its own in one loop of the
 * kernel (exit_notify() -> exit_ptrace(), kernel/exit.c), where
 * tracee_release() makes one PTRACE_DETACH a thread: about 4 us each,
 * 4 ms of the pause with 1,000 threads.  It is the path a killed ckpt
 * takes already (docs/kill-safety.md 1), and tracee_forget() says when it
 * gives what tracee_release() would.  Only a thread can do it: ckpt's
 * main thread cannot exit while ckpt goes on.
 *
 * Every ptrace request must come from the thread that seized, so all of
 * the frozen part runs there; the main thread waits.  A SIGINT, SIGTERM
 * or SIGHUP (common/sigguard.h) lands on the main thread, as ever (the
 * kernel gives a process's signal to its first thread when that one does
 * not block it); the main thread sends it on to the tracing thread, whose
 * waits and calls it breaks off (EINTR) as it did on the main thread.
 *
 * pthread_join() returns when the thread's TID word is cleared, before
 * exit_notify(); the threads are let go only when the TID is gone
 * (release_task(), after exit_ptrace()), which tracer_run() waits for.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sigguard.h"
#include "dump/dump.h"

struct tracer_job {
	int (*fn)(void *arg);
	void *arg;
	int ret;
	pid_t tid;
	sem_t done;
};

/* The job of the calling thread, if it is a tracing thread. */
static __thread struct tracer_job *self;

static void *tracer_main(void *arg)
{
	struct tracer_job *j = arg;

	self = j;
	j->tid = (pid_t)syscall(SYS_gettid);
	j->ret = j->fn(j->arg);
	self = NULL;
	sem_post(&j->done);
	return NULL;
}

int tracer_exits(void)
{
	return self != NULL;
}

/* Until thread tid of ours is gone (tgkill: ESRCH), its exit_notify() with
 * it: a few microseconds after pthread_join() returns.  Bounded by the
 * clock, 1 s (a count of sleeps grows with the load: each sleeps longer):
 * a TID given to another thread of ours meanwhile would keep it (never
 * seen), and then the "frozen for" figure leaves out the rest of the
 * release, which -v should not hide. */
static void wait_gone(pid_t tid)
{
	struct timespec step = { 0, 20 * 1000 }, t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0;; i++) {
		if (syscall(SYS_tgkill, getpid(), tid, 0) < 0 && errno == ESRCH)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) >= 1000000000L)
			break;
		if (i < 100)
			sched_yield();
		else
			nanosleep(&step, NULL);
	}
	warn("thread %d of ours still there 1 s after its end: \"frozen for\" may leave out "
	     "part of the release", tid);
}

int tracer_run(int (*fn)(void *arg), void *arg)
{
	struct tracer_job j = { .fn = fn, .arg = arg };
	pthread_t t;
	int sig, sent = 0;

	if (sem_init(&j.done, 0, 0) < 0 || pthread_create(&t, NULL, tracer_main, &j) != 0) {
		debug("no thread of its own for the frozen part: it runs on this one");
		return fn(arg);
	}
	/* The wait breaks off at a signal (sigguard: no SA_RESTART); one that
	 * came just before it is seen at the next look, 10 ms later at most. */
	for (;;) {
		struct timespec until;

		if ((sig = sigguard_fired()) && !sent) {
			pthread_kill(t, sig);
			sent = 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 10 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (sem_clockwait(&j.done, CLOCK_MONOTONIC, &until) == 0)
			break;
		if (errno == EINTR)
			sent = 0;	/* maybe another signal: sent on again */
	}
	pthread_join(t, NULL);
	sem_destroy(&j.done);
	wait_gone(j.tid);
	return j.ret;
}
