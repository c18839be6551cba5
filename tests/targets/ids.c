/*
 * Identity: the PID, every thread's TID (from the kernel, and the copy
 * glibc keeps in each thread's descriptor for pthread_kill), and the
 * thread list in /proc/self/task must be the same after restore (ckpt
 * restores them when it may, i.e. as root with the numbers free).
 * After GO it prints "ppid N" with its parent's PID (the test compares
 * it with ckpt restore's), checks everything, and makes new threads.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "target.h"

#define NTHREADS 5

static pid_t tids[NTHREADS];
static atomic_int go, started, got_sig[NTHREADS];
static pthread_t th[NTHREADS];

static pid_t sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_usr1(int sig)
{
	(void)sig;
	for (int i = 0; i < NTHREADS; i++)
		if (tids[i] == sys_gettid())
			atomic_store(&got_sig[i], 1);
}

static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	pid_t before;

	tids[i] = before = sys_gettid();
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&go))
		target_sleep_ms(2);
	CHECK(sys_gettid() == before, "thread %d: tid %d, was %d", i, (int)sys_gettid(), (int)before);
	CHECK(getpid() != before, "thread %d: its tid is the pid", i);
	return NULL;
}

/* Number of entries in /proc/self/task, and whether all tids are there. */
static int task_list_matches(pid_t self)
{
	int found = 0, n = 0;
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		pid_t t = (pid_t)atoi(de->d_name);

		if (t <= 0)
			continue;
		n++;
		if (t == self)
			found++;
		for (int i = 0; i < NTHREADS; i++)
			found += t == tids[i];
	}
	closedir(d);
	return n == NTHREADS + 1 && found == NTHREADS + 1;
}

static void *late_thread(void *arg)
{
	*(pid_t *)arg = sys_gettid();
	return NULL;
}

int main(void)
{
	pid_t pid = getpid(), ppid_before = getppid();

	signal(SIGUSR1, on_usr1);
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	while (atomic_load(&started) < NTHREADS)
		target_sleep_ms(1);
	CHECK(task_list_matches(pid), "/proc/self/task wrong before the dump");
	target_wait();

	printf("ppid %d\n", (int)getppid());
	fflush(stdout);
	CHECK(getpid() == pid, "pid %d, was %d", (int)getpid(), (int)pid);
	CHECK(sys_gettid() == pid, "main thread tid %d, pid was %d", (int)sys_gettid(), (int)pid);
	CHECK(syscall(SYS_getpid) == pid, "getpid syscall %ld, was %d", syscall(SYS_getpid), (int)pid);
	CHECK(getppid() != ppid_before, "ppid is still %d (the original parent)", (int)ppid_before);
	CHECK(task_list_matches(pid), "/proc/self/task does not list the same threads");
	/* pthread_kill uses glibc's cached tid: it must reach the right one. */
	for (int i = 0; i < NTHREADS; i++)
		pthread_kill(th[i], SIGUSR1);
	atomic_store(&go, 1);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(atomic_load(&got_sig[i]), "thread %d (tid %d) did not get its pthread_kill", i,
		      (int)tids[i]);
	}
	/* The restored process can make threads of its own (glibc reuses the
	 * stacks of the joined ones). */
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		pid_t tid = 0;
		int r = pthread_create(&t, NULL, late_thread, &tid);

		if (r) {
			target_fail("pthread_create after restore: %s", strerror(r));
			break;
		}
		pthread_join(t, NULL);
		CHECK(tid > 0 && tid != pid, "new thread %d got tid %d", i, (int)tid);
	}
	return target_exit();
}
