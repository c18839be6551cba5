/*
 * Signal state, process-wide and per thread:
 *   - SIGUSR1: an SA_SIGINFO | SA_RESTART handler with sa_mask
 *     {SIGUSR2, SIGWINCH}; SIGUSR2 ignored; two real-time handlers.
 *     After restore sigaction() must report exactly what it did before,
 *     and the handler must run with its mask in force.
 *   - blocked: both threads block RT+2..RT+4; the main thread also
 *     SIGHUP, the other thread SIGINT instead (different masks).
 *   - pending, process-wide: RT+2 queued twice with sigqueue (values
 *     4242, 4343); they must arrive in order, SI_QUEUE, same values.
 *   - pending, thread-private: pthread_kill(RT+3) and pthread_sigqueue
 *     (RT+4, 777) to the second thread; only that thread may see them
 *     pending, and they must be delivered to it, with their si_code.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "target.h"

#define RT(n) (SIGRTMIN + (n))

struct rec {
	int sig, code, value;
	pid_t pid, tid;
};

static struct rec log_[16];
static atomic_int nlog, b_ready, go;
static pid_t b_tid;
static volatile sig_atomic_t usr1_ok = -1;

static pid_t sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int i = atomic_fetch_add(&nlog, 1);

	(void)uc;
	if (i < 16)
		log_[i] = (struct rec){ sig, si->si_code, si->si_value.sival_int, si->si_pid, sys_gettid() };
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	sigset_t now;

	(void)uc;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	usr1_ok = sig == SIGUSR1 && si->si_signo == SIGUSR1 && si->si_code == SI_TKILL &&
		  sigismember(&now, SIGUSR1) && sigismember(&now, SIGUSR2) &&
		  sigismember(&now, SIGWINCH) && !sigismember(&now, SIGTERM);
}

static void set_action(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const int *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; mask && *mask; mask++)
		sigaddset(&sa.sa_mask, *mask);
	sigaction(sig, &sa, NULL);
}

static int same_set(const sigset_t *a, const sigset_t *b)
{
	for (int s = 1; s <= 64; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return 0;
	return 1;
}

static void describe(const char *what, const sigset_t *s)
{
	char buf[256] = "";

	for (int i = 1; i <= 64; i++)
		if (sigismember(s, i))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %d", i);
	fprintf(stderr, "  %s:%s\n", what, buf);
}

static void check_set(const char *what, const sigset_t *was, const sigset_t *now)
{
	if (same_set(was, now))
		return;
	target_fail("%s changed", what);
	describe("was", was);
	describe("now", now);
}

/* The calling thread's signal mask is still *was. */
static void check_mask(const char *who, const sigset_t *was)
{
	sigset_t now;
	char what[64];

	pthread_sigmask(SIG_SETMASK, NULL, &now);
	snprintf(what, sizeof(what), "%s: signal mask", who);
	check_set(what, was, &now);
}

/* The actions as the kernel reports them, before and after. */
static const int sigs[] = { SIGUSR1, SIGUSR2, 34 + 2, 34 + 3, 34 + 4, SIGTERM };
static struct sigaction saved[6];

static void query_actions(struct sigaction *out)
{
	for (int i = 0; i < 6; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		sigaction(sigs[i], NULL, &out[i]);
	}
}

static void check_actions(void)
{
	struct sigaction now[6];
	char what[64];

	query_actions(now);
	for (int i = 0; i < 6; i++) {
		CHECK(now[i].sa_handler == saved[i].sa_handler, "signal %d: handler %p, was %p", sigs[i],
		      (void *)now[i].sa_handler, (void *)saved[i].sa_handler);
		CHECK(now[i].sa_flags == saved[i].sa_flags, "signal %d: flags %#x, were %#x", sigs[i],
		      now[i].sa_flags, saved[i].sa_flags);
		CHECK(now[i].sa_restorer == saved[i].sa_restorer, "signal %d: restorer changed", sigs[i]);
		snprintf(what, sizeof(what), "signal %d: sa_mask", sigs[i]);
		check_set(what, &saved[i].sa_mask, &now[i].sa_mask);
	}
}

static sigset_t b_mask;

static void *thread_b(void *arg)
{
	sigset_t add, pend;

	(void)arg;
	b_tid = sys_gettid();
	sigemptyset(&add);
	sigaddset(&add, SIGINT);
	pthread_sigmask(SIG_BLOCK, &add, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &b_mask);
	atomic_store(&b_ready, 1);
	while (atomic_load(&b_ready) != 2)
		target_sleep_ms(1);

	/* Signals for this thread only, queued while it blocks them. */
	while (!atomic_load(&go))
		target_sleep_ms(2);
	check_mask("thread B", &b_mask);
	sigpending(&pend);
	CHECK(sigismember(&pend, RT(2)), "thread B: process-wide RT+2 not pending");
	CHECK(sigismember(&pend, RT(3)), "thread B: its pthread_kill RT+3 not pending");
	CHECK(sigismember(&pend, RT(4)), "thread B: its pthread_sigqueue RT+4 not pending");
	/* One at a time: delivered here, now, in this order.  (Unblocked
	 * together, the second frame would be stacked on the first.) */
	sigemptyset(&add);
	sigaddset(&add, RT(3));
	pthread_sigmask(SIG_UNBLOCK, &add, NULL);
	sigemptyset(&add);
	sigaddset(&add, RT(4));
	pthread_sigmask(SIG_UNBLOCK, &add, NULL);
	return NULL;
}

int main(void)
{
	static const int usr1_mask[] = { SIGUSR2, SIGWINCH, 0 };
	sigset_t block, a_mask, pend;
	pthread_t b;
	int n;

	if (SIGRTMIN != 34) {
		fprintf(stderr, "SIGRTMIN is %d, this test assumes 34\n", SIGRTMIN);
		return 1;
	}
	set_action(SIGUSR1, on_usr1, SA_SIGINFO | SA_RESTART, usr1_mask);
	signal(SIGUSR2, SIG_IGN);
	set_action(RT(2), on_rt, SA_SIGINFO, NULL);
	set_action(RT(3), on_rt, SA_SIGINFO | SA_RESTART, NULL);
	set_action(RT(4), on_rt, SA_SIGINFO | SA_NODEFER, usr1_mask);
	query_actions(saved);

	sigemptyset(&block);
	sigaddset(&block, RT(2));
	sigaddset(&block, RT(3));
	sigaddset(&block, RT(4));
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_create(&b, NULL, thread_b, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &a_mask);
	while (atomic_load(&b_ready) != 1)
		target_sleep_ms(1);

	sigqueue(getpid(), RT(2), (union sigval){ .sival_int = 4242 });
	sigqueue(getpid(), RT(2), (union sigval){ .sival_int = 4343 });
	pthread_kill(b, RT(3));
	pthread_sigqueue(b, RT(4), (union sigval){ .sival_int = 777 });
	atomic_store(&b_ready, 2);
	target_wait();

	check_actions();
	check_mask("main thread", &a_mask);
	sigpending(&pend);
	CHECK(sigismember(&pend, RT(2)), "main thread: process-wide RT+2 not pending");
	CHECK(!sigismember(&pend, RT(3)), "main thread: thread B's RT+3 is pending here");
	CHECK(!sigismember(&pend, RT(4)), "main thread: thread B's RT+4 is pending here");
	CHECK(atomic_load(&nlog) == 0, "%d signal(s) delivered before they were unblocked",
	      atomic_load(&nlog));

	atomic_store(&go, 1);
	pthread_join(b, NULL);
	n = atomic_load(&nlog);
	CHECK(n == 2, "thread B got %d signals, want 2", n);
	if (n >= 2) {
		struct rec *r = log_;

		CHECK(r[0].sig == RT(3) && r[0].code == SI_TKILL && r[0].pid == getpid() &&
		      r[0].tid == b_tid, "RT+3: got sig %d code %d pid %d in thread %d", r[0].sig,
		      r[0].code, (int)r[0].pid, (int)r[0].tid);
		CHECK(r[1].sig == RT(4) && r[1].code == SI_QUEUE && r[1].value == 777 &&
		      r[1].tid == b_tid, "RT+4: got sig %d code %d value %d in thread %d", r[1].sig,
		      r[1].code, r[1].value, (int)r[1].tid);
	}

	sigemptyset(&block);
	sigaddset(&block, RT(2));
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	n = atomic_load(&nlog);
	CHECK(n == 4, "%d signals in all, want 4", n);
	for (int i = 2; i < n && i < 4; i++) {
		struct rec *r = &log_[i];
		int want = i == 2 ? 4242 : 4343;

		CHECK(r->sig == RT(2) && r->code == SI_QUEUE && r->value == want &&
		      r->pid == getpid() && r->tid == getpid(),
		      "queued RT+2 #%d: sig %d code %d value %d (want %d) pid %d tid %d", i - 1, r->sig,
		      r->code, r->value, want, (int)r->pid, (int)r->tid);
	}

	raise(SIGUSR1);
	CHECK(usr1_ok == 1, "SIGUSR1 handler %s", usr1_ok < 0 ? "did not run" :
	      "ran without its SA_SIGINFO info or sa_mask");
	raise(SIGUSR2);		/* ignored: we live on */
	printf("signals: ok\n");
	return target_exit();
}
