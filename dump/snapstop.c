/*
 * The short stops of a released process during `dump --snapshot`
 * (snapshot.c): a thread of the process frozen for an injected madvise or
 * munmap of a shadow, while the process otherwise runs.  What the process
 * sees is the gap in its own execution, so two things are kept out of it:
 *
 * - ckpt waiting for a CPU.  A stop is 4-6 ptrace round trips, each a
 *   sleep of the stopping thread and a wakeup; on 2 CPUs with the page
 *   workers busy, the woken thread queued behind them a slice each time,
 *   and the process stayed stopped meanwhile (ftrace, 2026-12-07, 1 GiB:
 *   one stop of 13.8 ms, 4-6 ms at a time with ckpt's thread runnable and
 *   the process in ptrace stop).  So the stopping thread runs SCHED_FIFO
 *   for the stop when it may (root, or RLIMIT_RTPRIO): a woken RT thread
 *   preempts every normal one at once.  Otherwise it stays as it was.
 * - Stops back to back.  Released, the process needs a CPU to run again;
 *   a next stop before it had one joins both into one gap (the end's
 *   unmapping in 2 MiB pieces: 173 stops in one 16 ms gap).  So the next
 *   stop waits until the thread has run (its run time in
 *   /proc/PID/task/TID/schedstat grew) or is not runnable, for
 *   SNAP_RUN_WAIT_NS at most.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "dump/snapshot.h"
#include "ptrace/proc.h"

/* Run time the process is given between two stops, and how long ckpt
 * waits for it to get that at most (a loaded machine: it goes on). */
#define SNAP_RUN_NS		(200 * 1000ull)
#define SNAP_RUN_WAIT_NS	(5 * 1000000ull)

/* tid's run time (ns) and whether it is runnable; -1: unreadable. */
static int64_t run_time(pid_t pid, pid_t tid, int *runnable)
{
	char path[64];
	unsigned long long ns;
	struct proc_stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid, tid);
	if (!(f = fopen(path, "re")))
		return -1;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = ~0ull;
	fclose(f);
	*runnable = proc_read_stat(tid, &st) == 0 && st.state == 'R';
	return ns == ~0ull ? -1 : (int64_t)ns;
}

void snap_stop_begin(struct snap_stop *st, pid_t pid, pid_t tid)
{
	struct sched_param rt = { .sched_priority = 1 };
	uint64_t t0 = now_ns();
	int runnable;

	/* The last stop's thread has run since, or cannot. */
	while (st->released && st->tid == tid && now_ns() - t0 < SNAP_RUN_WAIT_NS) {
		int64_t ns = run_time(pid, tid, &runnable);

		if (ns < 0 || !runnable || (uint64_t)ns >= st->ran + SNAP_RUN_NS)
			break;
		usleep(100);
	}
	st->boosted = pthread_getschedparam(pthread_self(), &st->policy, &st->param) == 0 &&
		      pthread_setschedparam(pthread_self(), SCHED_FIFO, &rt) == 0;
}

/* The nice a thread that was SCHED_IDLE goes to after its stop, once
 * the grace is over; -1 before. */
static int late_nice = -1;

void snap_stop_idle_over(int nice)
{
	__atomic_store_n(&late_nice, nice, __ATOMIC_SEQ_CST);
}

void snap_stop_end(struct snap_stop *st, pid_t pid, pid_t tid)
{
	int nice = __atomic_load_n(&late_nice, __ATOMIC_SEQ_CST);
	int64_t ns;
	int runnable;

	/* leave_idle sets late_nice before it looks at the threads: one
	 * that was back at SCHED_IDLE by then is moved by it, one still
	 * boosted moves itself here (reviewer: it stayed SCHED_IDLE for
	 * the rest of the dump, and slots are freed in order). */
	if (st->boosted && st->policy == SCHED_IDLE && nice >= 0) {
		struct sched_param sp = { 0 };

		if (pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp) == 0)
			setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
	} else if (st->boosted) {
		pthread_setschedparam(pthread_self(), st->policy, &st->param);
	}
	st->boosted = 0;
	ns = run_time(pid, tid, &runnable);
	st->released = ns >= 0;
	st->tid = tid;
	st->ran = ns >= 0 ? (uint64_t)ns : 0;
}
