/*
 * Threads blocked in a syscall when the process is dumped.  The main
 * thread waits until each worker really sleeps in the syscall it should
 * (/proc/self/task/TID/syscall), then READY; after GO it wakes them where
 * that is its job, and every wait must complete normally with the right
 * result.  Usage: syscalls MODE, MODE one of
 *   nanosleep     relative nanosleep for 3 s, looping on EINTR with the
 *                 remaining time (as coreutils' sleep does); absolute
 *                 clock_nanosleep to start + 3 s (must not fail at all)
 *   sleep         sleep(3) once, as a program that does not loop on EINTR
 *                 does: it must return 0 (nothing left to sleep) after 3 s
 *   read          read() from stdin (the test feeds ckpt restore's stdin)
 *   futex         pthread_cond_wait; pthread_cond_timedwait signalled
 *                 before its 60 s timeout; pthread_cond_timedwait that
 *                 times out after 3 s; pthread_mutex_lock on a held mutex
 *   poll          poll() on stdin without timeout
 *   poll-timeout  poll() on stdin with a 60 s timeout; poll() with no
 *                 fds and a 3 s timeout (must return 0, not early)
 *   read-restart  read() from stdin with an SA_RESTART handler: after GO
 *                 the thread gets the signal, then the data (which the
 *                 test sends once $SYSCALLS_SIGNALLED exists)
 *   sigsuspend    sigsuspend() with SIGUSR1 unblocked, blocked otherwise:
 *                 after GO the thread gets SIGUSR1, and once sigsuspend
 *                 returns its mask must block SIGUSR1 again (the kernel
 *                 keeps the real mask aside while the thread waits)
 * In the stdin modes the target makes its stdin an empty pipe whose write
 * end another process keeps open (so reads block), as a job in a pipeline
 * has, fed by a process outside the image: ckpt gives the restored
 * process its own stdin for it, which the test makes bring
 * "hello-ckpt\n".  (That process goes once the target's PID is gone.)
 */
#include <poll.h>
#include <sys/wait.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "target.h"

/* arm64 has no poll syscall: glibc's poll() calls ppoll there
 * (include/uapi/asm-generic/unistd.h). */
#ifndef SYS_poll
#define SYS_poll	SYS_ppoll
#endif

#define DATA	"hello-ckpt\n"
#define MAXW	4

typedef void (*work_fn)(int);

static const char *mode;
static pid_t wtid[MAXW];
static pthread_t wth[MAXW];
static work_fn wfn[MAXW];
static struct timespec t_start;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int wake;
static atomic_int handled;

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Syscall number TID is blocked in, or -1 while it runs. */
static long blocked_in(pid_t tid)
{
	char path[64], buf[256] = "", state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if ((f = fopen(path, "r"))) {
		if (fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
			state = strrchr(buf, ')')[2];
		fclose(f);
	}
	if (state != 'S')
		return -1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	buf[0] = 0;
	if ((f = fopen(path, "r"))) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return buf[0] >= '0' && buf[0] <= '9' ? atol(buf) : -1;
}

static void check_data(const char *who, ssize_t n, const char *buf)
{
	if (n < 0)
		target_fail("%s: read: %s", who, strerror(errno));
	else
		CHECK(n == (ssize_t)strlen(DATA) && !memcmp(buf, DATA, strlen(DATA)),
		      "%s: read %zd bytes \"%.*s\"", who, n, (int)(n > 0 ? n : 0), buf);
}

static void do_rel_sleep(int i)
{
	struct timespec ts = { 3, 0 };
	int eintr = 0;
	double t;

	(void)i;
	while (nanosleep(&ts, &ts) < 0) {
		if (errno != EINTR) {
			target_fail("nanosleep: %s", strerror(errno));
			return;
		}
		eintr++;
	}
	t = since(&t_start);
	fprintf(stderr, "relative nanosleep: %.2f s, %d EINTR\n", t, eintr);
	CHECK(t >= 3.0 && t < 300.0, "3 s relative nanosleep took %.2f s", t);
}

static void do_sleep(int i)
{
	unsigned left;
	double t;

	(void)i;
	left = sleep(3);
	t = since(&t_start);
	CHECK(left == 0 && t >= 3.0 && t < 300.0, "sleep(3) returned %u (left to sleep) after %.2f s",
	      left, t);
}

static void do_abs_sleep(int i)
{
	struct timespec until = t_start;
	int r;
	double t;

	(void)i;
	until.tv_sec += 3;
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
	t = since(&t_start);
	CHECK(r == 0, "absolute clock_nanosleep failed: %s", strerror(r));
	CHECK(t >= 3.0 && t < 300.0, "absolute clock_nanosleep to +3 s returned at %.2f s", t);
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void do_read(int i)
{
	char buf[64];
	ssize_t n;

	(void)i;
	n = read(0, buf, sizeof(buf));
	check_data("read", n, buf);
	/* With SA_RESTART the data comes after the signal: the read was
	 * restarted, not failed. */
	if (!strcmp(mode, "read-restart"))
		CHECK(atomic_load(&handled) == 1, "read returned, the handler ran %d times",
		      atomic_load(&handled));
}

static void do_sigsuspend(int i)
{
	sigset_t wait_mask, now;
	int r;

	(void)i;
	pthread_sigmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, SIGUSR1);
	r = sigsuspend(&wait_mask);
	CHECK(r == -1 && errno == EINTR, "sigsuspend returned %d (%s)", r, strerror(errno));
	CHECK(atomic_load(&handled) == 1, "sigsuspend returned, the handler ran %d times",
	      atomic_load(&handled));
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	CHECK(sigismember(&now, SIGUSR1) && sigismember(&now, SIGUSR2),
	      "after sigsuspend the thread's mask no longer blocks SIGUSR1/SIGUSR2 (%d, %d)",
	      sigismember(&now, SIGUSR1), sigismember(&now, SIGUSR2));
}

static void do_poll(int i)
{
	struct pollfd p = { 0, POLLIN, 0 };
	int timeout = !strcmp(mode, "poll-timeout") ? 60000 : -1, r;
	char buf[64];

	(void)i;
	r = poll(&p, 1, timeout);
	if (r < 0) {
		target_fail("poll (timeout %d) on stdin: %s", timeout, strerror(errno));
		return;
	}
	CHECK(r == 1 && (p.revents & POLLIN), "poll (timeout %d) on stdin: %d, revents %#x", timeout,
	      r, p.revents);
	check_data("poll then read", read(0, buf, sizeof(buf)), buf);
}

static void do_poll_sleep(int i)
{
	int r;
	double t;

	(void)i;
	r = poll(NULL, 0, 3000);
	t = since(&t_start);
	if (r < 0)
		target_fail("poll with no fds, 3 s timeout: %s after %.2f s", strerror(errno), t);
	else
		CHECK(r == 0 && t >= 3.0 && t < 300.0, "poll with no fds, 3 s timeout: %d after %.2f s",
		      r, t);
}

static void do_cond(int i)
{
	pthread_mutex_lock(&lock);
	while (!wake) {
		int r = 0;

		if (i == 0) {
			r = pthread_cond_wait(&cond, &lock);
		} else {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 60;
			r = pthread_cond_timedwait(&cond, &lock, &until);
		}
		if (r) {
			target_fail("pthread_cond_%swait: %s", i ? "timed" : "", strerror(r));
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

static void do_cond_timeout(int i)
{
	struct timespec until;
	int r;
	double t;

	(void)i;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&lock);
	do
		r = pthread_cond_timedwait(&cond, &lock, &until);
	while (r == 0);		/* woken for the others: wait on */
	pthread_mutex_unlock(&lock);
	t = since(&t_start);
	CHECK(r == ETIMEDOUT, "pthread_cond_timedwait (3 s): %s", strerror(r));
	CHECK(t >= 2.9 && t < 300.0, "pthread_cond_timedwait (3 s) timed out at %.2f s", t);
}

static void do_mutex(int i)
{
	(void)i;
	pthread_mutex_lock(&held);
	pthread_mutex_unlock(&held);
}

/* An empty pipe as stdin; the write end out of the way at fd 100. */
static void stdin_pipe(void)
{
	pid_t parent = getpid(), child;
	int p[2];

	if (pipe(p) < 0 || dup2(p[0], 0) < 0 || (child = fork()) < 0) {
		perror("stdin pipe");
		exit(1);
	}
	if (child == 0) {
		/* Not a child of the target's: a process of its own that a
		 * dump of the target (and of its children) leaves outside.
		 * It goes when the target (or the restored one) is gone. */
		if (fork() != 0)
			_exit(0);
		close(0);
		close(p[0]);
		while (kill(parent, 0) == 0)
			usleep(100000);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	close(p[0]);
	close(p[1]);
}

static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;

	wtid[i] = (pid_t)syscall(SYS_gettid);
	wfn[i](i);
	return NULL;
}

/*
 * read-restart, after GO: the signal once the (restored) thread is back in
 * its read, then $SYSCALLS_SIGNALLED created once the handler has run: the
 * test sends the data only then, so that the read can return only after the
 * signal, however long the restore took (a fixed delay let a slow machine's
 * data arrive first).
 */
static void signal_the_read(void)
{
	const char *p = getenv("SYSCALLS_SIGNALLED");
	int fd;

	/* back in read(): its TID kept (the PID was free) */
	for (int tries = 0; tries < 60000 && blocked_in(wtid[0]) != SYS_read; tries++)
		target_sleep_ms(1);
	pthread_kill(wth[0], SIGUSR1);
	while (!atomic_load(&handled))
		target_sleep_ms(1);
	if (p && (fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0)
		close(fd);
}

static void start(int i, work_fn fn)
{
	wfn[i] = fn;
	pthread_create(&wth[i], NULL, worker, (void *)(intptr_t)i);
}

int main(int argc, char **argv)
{
	long want[MAXW];
	int n = 0;

	mode = argc > 1 ? argv[1] : "";
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	if (!strcmp(mode, "read") || !strcmp(mode, "read-restart") || !strncmp(mode, "poll", 4))
		stdin_pipe();
	if (!strcmp(mode, "nanosleep")) {
		want[n] = SYS_clock_nanosleep, start(n++, do_rel_sleep);
		want[n] = SYS_clock_nanosleep, start(n++, do_abs_sleep);
	} else if (!strcmp(mode, "sleep")) {
		want[n] = SYS_clock_nanosleep, start(n++, do_sleep);
	} else if (!strcmp(mode, "read")) {
		want[n] = SYS_read, start(n++, do_read);
	} else if (!strcmp(mode, "read-restart")) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGUSR1, &sa, NULL);
		want[n] = SYS_read, start(n++, do_read);
	} else if (!strcmp(mode, "sigsuspend")) {
		sigset_t block;

		signal(SIGUSR1, on_usr1);
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		sigaddset(&block, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &block, NULL);	/* the worker inherits it */
		want[n] = SYS_rt_sigsuspend, start(n++, do_sigsuspend);
	} else if (!strcmp(mode, "futex")) {
		pthread_mutex_lock(&held);
		want[n] = SYS_futex, start(n++, do_cond);
		want[n] = SYS_futex, start(n++, do_cond);
		want[n] = SYS_futex, start(n++, do_cond_timeout);
		want[n] = SYS_futex, start(n++, do_mutex);
	} else if (!strcmp(mode, "poll")) {
		want[n] = SYS_poll, start(n++, do_poll);
	} else if (!strcmp(mode, "poll-timeout")) {
		want[n] = SYS_poll, start(n++, do_poll);
		want[n] = SYS_poll, start(n++, do_poll_sleep);
	} else {
		fprintf(stderr, "usage: syscalls nanosleep|sleep|read|read-restart|sigsuspend|futex|poll|poll-timeout\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		int tries = 0;

		while (!wtid[i] || blocked_in(wtid[i]) != want[i]) {
			if (++tries > 60000) {	/* a minute: a busy machine */
				fprintf(stderr, "thread %d never blocked in syscall %ld\n", i, want[i]);
				return 1;
			}
			target_sleep_ms(1);
		}
	}
	target_wait();
	if (!strcmp(mode, "read-restart")) {
		signal_the_read();
	} else if (!strcmp(mode, "sigsuspend")) {
		target_sleep_ms(200);
		pthread_kill(wth[0], SIGUSR1);
	} else if (!strcmp(mode, "futex")) {
		pthread_mutex_lock(&lock);
		wake = 1;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
		pthread_mutex_unlock(&held);
	}
	for (int i = 0; i < n; i++)
		pthread_join(wth[i], NULL);
	printf("syscalls %s: done\n", mode);
	return target_exit();
}
