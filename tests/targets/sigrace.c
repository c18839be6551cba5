/*
 * A signal sent to a thread while ckpt has it frozen (tests/state-threads.bats,
 * ptrace/trip.c): a child process (not dumped: ckpt dump --single) sends
 * SIGUSR1 to the "waiter" thread with tgkill, each time once the handler
 * has run for the one before, so that a dump always finds one on its way,
 * pending when ckpt asks the waiter its syscalls: lower than the signal a
 * trip ends with, it comes first.  Each must reach the handler, once the
 * dump is over, with the waiter's mask as it was (SIGUSR2 blocked): one
 * lost stops the exchange for good.  After $CKPT_GO: the child stopped
 * (so that "sent" is final: read while it still ran, a signal sent
 * between the two loads looked lost, 19185 sent and 19184 handled in the
 * arm64 guest), every one sent was handled, "sigrace: ok".  The waiter
 * runs on until that is checked: one ending at "stop" could leave the
 * child's last signal undelivered.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

/* Shared with the child. */
static struct shared {
	atomic_int stop, tid;
	atomic_long sent, handled;
} *sh;

static atomic_int done;		/* the waiter's end, once the counts are checked */

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&sh->handled, 1);
}

static void *wait_run(void *arg)
{
	sigset_t s, cur;

	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &s, NULL);
	atomic_store(&sh->tid, (int)syscall(SYS_gettid));
	while (!atomic_load(&done)) {
		pause();
		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		CHECK(sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGUSR1),
		      "waiter: its signal mask changed");
	}
	return NULL;
}

/* The child: one signal at a time, the next once it was handled. */
static void send_run(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!atomic_load(&sh->stop)) {
		long n = atomic_load(&sh->handled);

		if (syscall(SYS_tgkill, parent, atomic_load(&sh->tid), SIGUSR1) < 0)
			break;
		atomic_fetch_add(&sh->sent, 1);
		while (atomic_load(&sh->handled) == n && !atomic_load(&sh->stop))
			sched_yield();
	}
	_exit(0);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t waiter;
	pid_t child;
	int i;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&waiter, NULL, wait_run, NULL);
	while (!atomic_load(&sh->tid))
		target_sleep_ms(1);
	if ((child = fork()) == 0)
		send_run(getppid());
	target_wait();
	atomic_store(&sh->stop, 1);
	waitpid(child, NULL, 0);
	/* The one on its way when the child stopped is handled within moments. */
	for (i = 0; i < 500 && atomic_load(&sh->handled) != atomic_load(&sh->sent); i++)
		target_sleep_ms(10);
	CHECK(atomic_load(&sh->handled) == atomic_load(&sh->sent) && atomic_load(&sh->sent) > 0,
	      "%ld signals sent, %ld handled", atomic_load(&sh->sent), atomic_load(&sh->handled));
	atomic_store(&done, 1);
	pthread_kill(waiter, SIGUSR1);
	pthread_join(waiter, NULL);
	if (!target_failures)
		printf("sigrace: ok\n");
	return target_exit();
}
