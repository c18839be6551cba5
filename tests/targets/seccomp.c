/*
 * Two seccomp filters, installed by the main thread with
 * SECCOMP_FILTER_FLAG_TSYNC while a second thread runs, the newer one
 * with SECCOMP_FILTER_FLAG_LOG: getppid() fails with errno 42 and
 * getpriority() with 43.  After restore, in both threads: the same
 * errors, /proc/self/status shows mode 2 with 2 filters, and a third
 * filter installed with TSYNC reaches both threads (they share their
 * filters, as before: TSYNC fails when a thread's are not the caller's).
 * Argument "strict": the process enters strict mode instead and waits in
 * read() (dump must refuse it by name).
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "target.h"

static atomic_int go, done;

/* Fails nr with errno err; everything else is allowed. */
static int add_filter(int nr, int err, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    flags | SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static void check(const char *who, int nfilters)
{
	char *st = NULL, want[64];
	size_t cap = 0;
	FILE *f;

	errno = 0;
	CHECK(syscall(SYS_getppid) == -1 && errno == 42, "%s: getppid: errno %d, want 42", who, errno);
	errno = 0;
	CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) == -1 && errno == 43,
	      "%s: getpriority: errno %d, want 43", who, errno);
	if ((f = fopen("/proc/thread-self/status", "r"))) {
		snprintf(want, sizeof(want), "Seccomp_filters:\t%d\n", nfilters);
		while (getline(&st, &cap, f) > 0)
			if (!strncmp(st, "Seccomp_filters:", 16))	/* Linux 5.9 */
				CHECK(!strcmp(st, want), "%s: %s", who, st);
		fclose(f);
		free(st);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	while (atomic_load(&go) < 1)
		target_sleep_ms(2);
	check("worker", 2);
	atomic_store(&done, 1);
	while (atomic_load(&go) < 2)
		target_sleep_ms(2);
	check("worker, third filter added", 3);
	return NULL;
}

static int strict(void)
{
	int p[2];
	char c;

	if (pipe(p) < 0)
		return 1;
	target_ready();
	prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
	/* Only read, write, exit and sigreturn from here on: read a pipe
	 * nobody writes. */
	if (read(p[0], &c, 1) < 0)
		syscall(SYS_exit, 2);
	syscall(SYS_exit, 0);
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1 && !strcmp(argv[1], "strict"))
		return strict();
	if (pthread_create(&t, NULL, worker, NULL)) {
		target_fail("pthread_create");
		return target_exit();
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || add_filter(SYS_getppid, 42, 0) != 0 ||
	    add_filter(SYS_getpriority, 43, SECCOMP_FILTER_FLAG_LOG) != 0) {
		target_fail("cannot install the filters: %s", strerror(errno));
		return target_exit();
	}
	target_wait();

	check("main", 2);
	atomic_store(&go, 1);
	while (!atomic_load(&done))
		target_sleep_ms(2);
	CHECK(add_filter(SYS_getsid, 44, 0) == 0, "a third filter with TSYNC: %s",
	      errno ? strerror(errno) : "a thread cannot take it");
	check("main, third filter added", 3);
	atomic_store(&go, 2);
	pthread_join(t, NULL);
	printf("seccomp: ok\n");
	return target_exit();
}
