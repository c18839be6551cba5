/*
 * Many threads (argument N, 1000 by default), each with state of its own
 * that a dump reads thread by thread: its name, its signal mask, its
 * alternate signal stack, its timer slack, a thread-local value, and its
 * clear_child_tid (pthread_join of it returns only if the kernel clears
 * its tid when it ends).  They wait on one condition variable (a futex
 * wait each, cut by the freeze).  After GO each thread checks its own
 * state and ends; the main thread joins them all, each within 120 s
 * (a thread left stopped by a dump never ends), and prints
 * "threads_many: ok N".  A second argument F: F files open besides
 * (/dev/null, each opened anew), still open at the end.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "target.h"

#define ALT_SIZE	(16 << 10)
#define SLACK(i)	(50000ul + 1000ul * (unsigned long)(i))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go, nready;
static __thread unsigned long mine;

struct worker {
	pthread_t th;
	int i;
	void *alt;
	int fails;
};

static void mask_of(int i, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGRTMIN + i % 16);
	if (i % 3 == 0)
		sigaddset(set, SIGUSR2);
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	char name[16], seen[16] = "";
	stack_t ss = { .ss_sp = w->alt, .ss_size = ALT_SIZE }, now;
	sigset_t want, have;

	snprintf(name, sizeof(name), "many%d", w->i);
	mask_of(w->i, &want);
	mine = 0x5eed0000ul + (unsigned long)w->i;
	if (prctl(PR_SET_NAME, name) || pthread_sigmask(SIG_SETMASK, &want, NULL) ||
	    sigaltstack(&ss, NULL) || prctl(PR_SET_TIMERSLACK, SLACK(w->i))) {
		target_fail("thread %d: cannot set its state", w->i);
		w->fails++;
	}
	pthread_mutex_lock(&lock);
	nready++;
	pthread_cond_broadcast(&cond);
	while (!go)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	prctl(PR_GET_NAME, seen);
	pthread_sigmask(SIG_SETMASK, NULL, &have);
	sigaltstack(NULL, &now);
	if (strcmp(seen, name))
		w->fails++, target_fail("thread %d: name %s, not %s", w->i, seen, name);
	for (int s = 1; s < SIGRTMAX; s++)
		if (s != SIGKILL && s != SIGSTOP && sigismember(&have, s) != sigismember(&want, s)) {
			w->fails++, target_fail("thread %d: signal %d %s", w->i, s,
						sigismember(&have, s) ? "blocked" : "not blocked");
			break;
		}
	if (now.ss_sp != w->alt || now.ss_size != ALT_SIZE || now.ss_flags != 0)
		w->fails++, target_fail("thread %d: alternate stack %p+%zu flags %d, not %p+%d", w->i,
					now.ss_sp, now.ss_size, now.ss_flags, w->alt, ALT_SIZE);
	if ((unsigned long)prctl(PR_GET_TIMERSLACK) != SLACK(w->i))
		w->fails++, target_fail("thread %d: timer slack %d", w->i, prctl(PR_GET_TIMERSLACK));
	if (mine != 0x5eed0000ul + (unsigned long)w->i)
		w->fails++, target_fail("thread %d: thread-local value %#lx", w->i, mine);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000, nf = argc > 2 ? atoi(argv[2]) : 0, fails = 0;
	struct worker *w = calloc((size_t)n, sizeof(*w));
	int *fds = calloc((size_t)nf + 1, sizeof(*fds));
	struct rlimit rl;
	pthread_attr_t at;

	if (nf && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nf + 64) {
		rl.rlim_cur = (rlim_t)nf + 64;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			fprintf(stderr, "threads_many: cannot raise RLIMIT_NOFILE to %d\n", nf + 64);
			return 1;
		}
	}
	for (int i = 0; i < nf; i++)
		if ((fds[i] = open("/dev/null", O_RDONLY)) < 0) {
			fprintf(stderr, "threads_many: cannot open file %d\n", i);
			return 1;
		}

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 << 10);
	for (int i = 0; i < n; i++) {
		w[i].i = i;
		w[i].alt = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
		if (w[i].alt == MAP_FAILED || pthread_create(&w[i].th, &at, worker, &w[i])) {
			fprintf(stderr, "threads_many: cannot start thread %d\n", i);
			return 1;
		}
	}
	pthread_mutex_lock(&lock);
	while (nready < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	target_wait();
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < n; i++) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 120;
		if (pthread_timedjoin_np(w[i].th, NULL, &until)) {
			target_fail("thread %d did not end within 120 s", i);
			return 1;
		}
		fails += w[i].fails;
	}
	for (int i = 0; i < nf; i++)
		if (fcntl(fds[i], F_GETFD) < 0)
			fails++, target_fail("file %d (fd %d) is not open", i, fds[i]);
	if (fails || target_failures)
		return 1;
	printf("threads_many: ok %d\n", n);
	return 0;
}
