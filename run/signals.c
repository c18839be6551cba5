/* ckpt run's own signals, in a thread of their own (signals.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "run/signals.h"

#define BIT(sig)	(1ull << ((sig) - 1))
/* How often the thread looks at the grace's deadline. */
#define TICK_MS		50

static const int forwarded[] = { SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
/* ckpt watch: the job is not ours to signal; these end the watch. */
static const int leaving[] = { SIGINT, SIGHUP, SIGQUIT };

static struct {
	uint64_t on;
	uint64_t grace_ns;
	sigset_t set;			/* every signal the thread takes */
	sigset_t orig_mask;
	struct sigaction orig[65];	/* dispositions we were started with */
	int wake[2];			/* the main loop sleeps on wake[0] */
	pthread_t thread;
	int running;
	atomic_int job;
	atomic_int preempt_sig;		/* the first preemption signal */
	atomic_int preempt_to_job;
	atomic_ullong preempt_at;	/* CLOCK_MONOTONIC ns */
	atomic_int ours;		/* preemption signals ckpt got itself */
	atomic_int killed;		/* enum sig_kill */
	atomic_int leave;		/* watch: the signal that ends it */
	int watch;
	atomic_int stop;
} S = { .wake = { -1, -1 } };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake(void)
{
	char c = 1;

	/* Non-blocking: a full pipe has woken the loop already. */
	if (write(S.wake[1], &c, 1) < 0) {
	}
}

static void preempt(int sig, int to_job)
{
	int none = 0;

	if (atomic_compare_exchange_strong(&S.preempt_sig, &none, sig)) {
		atomic_store(&S.preempt_to_job, to_job);
		atomic_store(&S.preempt_at, mono_ns());
	}
	wake();
}

static void kill_job(enum sig_kill why)
{
	int none = KILLED_NONE;
	pid_t pid = atomic_load(&S.job);

	if (!atomic_compare_exchange_strong(&S.killed, &none, why))
		return;
	/* The last complete checkpoint is safe: a dump writes beside it. */
	if (pid > 0)
		kill(pid, SIGKILL);
	wake();
}

static void grace_check(void)
{
	uint64_t at = atomic_load(&S.preempt_at);

	if (at && mono_ns() - at >= S.grace_ns)
		kill_job(KILLED_GRACE);
}

static void forward(int sig, const siginfo_t *si)
{
	pid_t pid = atomic_load(&S.job);

	/* A terminal's ^C reached the job already if it is in our group. */
	if (pid <= 0 || (si->si_code == SI_KERNEL && getpgid(pid) == getpgrp()))
		return;
	kill(pid, sig);
}

static void *thread_main(void *arg)
{
	const struct timespec tick = { 0, TICK_MS * 1000000L };

	(void)arg;
	while (!atomic_load(&S.stop)) {
		siginfo_t si;
		int sig = sigtimedwait(&S.set, &si, &tick);

		if (sig == SIGCHLD) {
			wake();
		} else if (sig > 0 && (S.on & BIT(sig))) {
			preempt(sig, 0);
			if (atomic_fetch_add(&S.ours, 1) >= 1)
				kill_job(KILLED_SECOND);
		} else if (sig > 0 && S.watch) {
			atomic_store(&S.leave, sig);
			wake();
		} else if (sig > 0) {
			forward(sig, &si);
		}
		grace_check();
	}
	return NULL;
}

int sig_start(uint64_t on, uint64_t grace_ns, int watch)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };
	sigset_t old;

	S.on = on | BIT(SIGTERM);
	S.grace_ns = grace_ns;
	sigemptyset(&S.set);
	sigaddset(&S.set, SIGCHLD);
	S.watch = watch;
	for (size_t i = 0; !watch && i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&S.set, forwarded[i]);
	for (size_t i = 0; watch && i < ARRAY_SIZE(leaving); i++)
		sigaddset(&S.set, leaving[i]);
	for (int sig = 1; sig <= 64; sig++)
		if (S.on & BIT(sig))
			sigaddset(&S.set, sig);
	if (pipe2(S.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_errno(errno, "cannot make a pipe");
	/* Blocked before any other thread exists: dump's workers inherit it. */
	pthread_sigmask(SIG_BLOCK, &S.set, &old);
	S.orig_mask = old;
	/* An ignored signal is dropped, blocked or not (signal(7)): a shell's
	 * "&" ignores SIGINT and SIGQUIT.  Ours to take; the job gets them
	 * back as they were (sig_restore_for_exec). */
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(&S.set, sig) == 1)
			sigaction(sig, &dfl, &S.orig[sig]);
	/* A log on a closed pipe must not end us while the job runs. */
	sigaction(SIGPIPE, &ign, &S.orig[SIGPIPE]);
	if (pthread_create(&S.thread, NULL, thread_main, NULL)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return error("cannot start the signal thread");
	}
	S.running = 1;
	return 0;
}

void sig_stop(void)
{
	if (S.running) {
		atomic_store(&S.stop, 1);
		pthread_join(S.thread, NULL);
		S.running = 0;
	}
}

void sig_set_job(pid_t pid)
{
	atomic_store(&S.job, pid);
	/* Killed before there was a job to kill (during a restore). */
	if (pid > 0 && atomic_load(&S.killed) != KILLED_NONE)
		kill(pid, SIGKILL);
}

int sig_preempted(int *to_job)
{
	if (to_job)
		*to_job = atomic_load(&S.preempt_to_job);
	return atomic_load(&S.preempt_sig);
}

uint64_t sig_preemption_set(void)
{
	return S.on;
}

int sig_leave(void)
{
	return atomic_load(&S.leave);
}

enum sig_kill sig_killed(void)
{
	return (enum sig_kill)atomic_load(&S.killed);
}

int sig_filter(pid_t tid, int sig)
{
	(void)tid;
	if (sig < 1 || sig > 64 || !(S.on & BIT(sig)))
		return sig;
	preempt(sig, 1);
	return 0;
}

void sig_wait(int timeout_ms)
{
	struct pollfd p = { .fd = S.wake[0], .events = POLLIN };
	char buf[64];

	if (poll(&p, 1, timeout_ms) > 0)
		while (read(S.wake[0], buf, sizeof(buf)) > 0)
			;
}

void sig_restore_for_exec(void)
{
	for (int sig = 1; sig <= 64; sig++)
		if (sig == SIGPIPE || sigismember(&S.set, sig) == 1)
			sigaction(sig, &S.orig[sig], NULL);
	sigprocmask(SIG_SETMASK, &S.orig_mask, NULL);
}
