/*
 * Process and thread attributes that a restore must give back (the ATTRS
 * section): oom_score_adj 123, child subreaper, THP disabled except where
 * advised (or completely, before Linux 6.18), a membarrier registration
 * (PRIVATE_EXPEDITED), the audit login id 4242 (root, with audit); and per
 * thread: the main thread's timer slack 1 ms and I/O priority best-effort
 * 2, a worker's 3 ms and idle, no_new_privs on the worker only.  After
 * restore each is checked by value, and where it shows, by behaviour: an
 * orphaned grandchild comes to us, MEMBARRIER_CMD_PRIVATE_EXPEDITED works
 * (EPERM unless registered), the worker cannot lose no_new_privs.
 * The memory-error kill policy (prctl PR_MCE_KILL early), set before the
 * worker is made, is both threads'; the worker's own parent-death signal
 * (SIGUSR2; per thread, the main thread has none) comes back.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

#define IOPRIO_WHO_PROCESS	1
#define IOPRIO(class, data)	((class) << 13 | (data))
#ifndef PR_GET_THP_DISABLE
#define PR_SET_THP_DISABLE	41
#define PR_GET_THP_DISABLE	42
#endif
#define THP_EXCEPT_ADVISED	2	/* PR_THP_DISABLE_EXCEPT_ADVISED, 6.18 */
#define GET_REGISTRATIONS	(1 << 9)	/* MEMBARRIER_CMD_GET_REGISTRATIONS, 6.3 */

static atomic_int ready, go;
static int thp_want, has_registrations, loginuid_set;

static long ioprio_get_self(void)
{
	return syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

static void set_thread(const char *who, unsigned long slack, int ioprio, int nnp)
{
	if (prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0) < 0 ||
	    syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio) < 0 ||
	    (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
		target_fail("%s: cannot set its attributes: %s", who, strerror(errno));
}

static void check_thread(const char *who, unsigned long slack, int ioprio, int nnp)
{
	long v;

	v = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	CHECK(v == (long)slack, "%s: timer slack %ld ns, was %lu", who, v, slack);
	v = ioprio_get_self();
	CHECK(v == ioprio, "%s: I/O priority %#lx, was %#x", who, v, ioprio);
	v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	CHECK(v == nnp, "%s: no_new_privs %ld, was %d", who, v, nnp);
	v = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	CHECK(v == PR_MCE_KILL_EARLY, "%s: memory-error kill policy %ld, was early (%d)", who, v,
	      PR_MCE_KILL_EARLY);
}

static void *worker(void *arg)
{
	int sig = 0;

	(void)arg;
	set_thread("worker", 3000000, IOPRIO(3, 0), 1);
	if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0) < 0)
		target_fail("worker: PR_SET_PDEATHSIG: %s", strerror(errno));
	atomic_store(&ready, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	check_thread("worker", 3000000, IOPRIO(3, 0), 1);
	prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
	CHECK(sig == SIGUSR2, "worker: parent-death signal %d, was %d", sig, SIGUSR2);
	return NULL;
}

/* A child that forks a grandchild and exits: as a subreaper we get the
 * orphan, which tells us its new parent through a pipe. */
static void check_subreaper(void)
{
	int fds[2];
	pid_t c, got = -1;

	if (pipe(fds) < 0 || (c = fork()) < 0) {
		target_fail("subreaper: pipe/fork: %s", strerror(errno));
		return;
	}
	if (c == 0) {
		pid_t child = getpid();

		if (fork() == 0) {
			pid_t pp;

			while ((pp = getppid()) == child)
				target_sleep_ms(1);
			_exit(write(fds[1], &pp, sizeof(pp)) != sizeof(pp));
		}
		_exit(0);
	}
	waitpid(c, NULL, 0);
	if (read(fds[0], &got, sizeof(got)) != sizeof(got))
		target_fail("subreaper: no word from the grandchild");
	CHECK(got == getpid(), "subreaper: the orphan's parent is %d, not us (%d)", got, getpid());
	while (waitpid(-1, NULL, 0) > 0)
		;
	close(fds[0]);
	close(fds[1]);
}

static void setup_process(void)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	if (!f || fprintf(f, "123\n") < 0 || fclose(f) != 0)
		target_fail("cannot set oom_score_adj: %s", strerror(errno));
	if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0) < 0)
		target_fail("PR_MCE_KILL: %s", strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		target_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	thp_want = 1 | THP_EXCEPT_ADVISED;
	if (prctl(PR_SET_THP_DISABLE, 1, THP_EXCEPT_ADVISED, 0, 0) < 0) {
		thp_want = 1;	/* before 6.18: only completely */
		if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
			target_fail("PR_SET_THP_DISABLE: %s", strerror(errno));
	}
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) < 0)
		target_fail("membarrier register: %s", strerror(errno));
	has_registrations = syscall(SYS_membarrier, GET_REGISTRATIONS, 0, 0) >= 0;
	/* Root with audit: a login id (settable once by root anyway). */
	if (geteuid() == 0 && (f = fopen("/proc/self/loginuid", "w"))) {
		loginuid_set = fprintf(f, "4242") > 0;
		loginuid_set &= fclose(f) == 0;
	}
}

static void check_process(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/self/oom_score_adj", "r");
	long v;

	if (f && fgets(buf, sizeof(buf), f))
		CHECK(atoi(buf) == 123, "oom_score_adj %s, was 123", buf);
	if (f)
		fclose(f);
	v = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0);
	CHECK(v == 1, "child subreaper %ld, was 1", v);
	v = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	CHECK(v == thp_want, "THP disable %ld, was %d", v, thp_want);
	/* Before Linux 6.3 no one can tell the registrations (the README
	 * says so): nothing to check then. */
	if (has_registrations) {
		v = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
		CHECK(v == 0, "membarrier PRIVATE_EXPEDITED: %s (registration lost)", strerror(errno));
		v = syscall(SYS_membarrier, GET_REGISTRATIONS, 0, 0);
		CHECK(v == MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, "membarrier registrations %#lx", v);
	}
	if (loginuid_set && (f = fopen("/proc/self/loginuid", "r"))) {
		buf[0] = 0;
		if (fgets(buf, sizeof(buf), f))
			CHECK(!strcmp(buf, "4242"), "loginuid %s, was 4242", buf);
		fclose(f);
	}
	check_subreaper();
}

int main(void)
{
	pthread_t t;

	setup_process();
	set_thread("main", 1000000, IOPRIO(2, 2), 0);
	if (pthread_create(&t, NULL, worker, NULL)) {
		target_fail("pthread_create");
		return target_exit();
	}
	while (!atomic_load(&ready))
		target_sleep_ms(1);
	target_wait();
	atomic_store(&go, 1);
	check_thread("main", 1000000, IOPRIO(2, 2), 0);
	check_process();
	pthread_join(t, NULL);
	printf("attrs: ok\n");
	return target_exit();
}
