/*
 * A process's syscalls counted from before its smaps is read to its
 * freeze, so that smaps read while it runs can stand for smaps read
 * frozen (--no-fork; 60,000 mappings: some 150 ms of the kernel's time
 * taken out of the pause).
 *
 * Why a syscall count is the test.  A mapping's VmFlags (MADV_DONTDUMP,
 * MADV_WIPEONFORK, mlock...) change without its maps line changing, so
 * /proc/PID/maps read frozen cannot tell a stale smaps; but only the
 * process's own syscalls change those of a mapping it keeps: madvise,
 * process_madvise on itself, mlock*, munlock*, prctl(PR_SET_MEMORY_MERGE),
 * and mmap over a mapping with the same line (MAP_NORESERVE, MAP_LOCKED).
 * Another process's process_madvise may only give advice that changes no
 * flag (mm/madvise.c process_madvise_remote_valid: COLD, PAGEOUT,
 * WILLNEED, COLLAPSE: none sets a flag, MADV_COLLAPSE included); a
 * userfaultfd passed to one changes only um/uw/ui, which the image does
 * not record (a register of part of a mapping splits it: the layout);
 * writes through /proc/PID/mem, process_vm_writev or ptrace pokes change
 * data, read frozen anyway, and no flag; khugepaged changes no flag
 * (AnonHugePages, a restore hint, is kept as read early: it moves frozen
 * too); KSM's unmerge of all (sysfs run=2) clears mm flags, not VmFlags;
 * clear_refs clears sd, not recorded; NUMA balancing's task_work changes
 * PTEs only; faults and signals change the layout (a stack grown), which
 * maps read frozen shows (6.18's mm/, checked).  One kernel thread does
 * change them: DAMON's, whose DAMOS_HUGEPAGE/NOHUGEPAGE schemes on a
 * process (vaddr or fvaddr operations) call do_madvise on its memory
 * (mm/damon/vaddr.c damos_madvise): hg/nh flip with no syscall of the
 * process.  While a kdamond runs that is not known to work on physical
 * memory alone (paddr: DAMON_RECLAIM, LRU_SORT, which change no VmFlags),
 * the process is not watched (quiet-damon.c).  So: each thread's
 * raw_syscalls:sys_enter and sys_exit counted (a perf tracepoint event
 * per thread, which also counts int 0x80 calls), from before the read;
 * no syscall entered and none left, in any thread, up to the freeze, and
 * the same threads then as when the count began, means that the flags
 * read are the flags frozen.  sys_exit catches a syscall already under
 * way when the count began (a madvise waiting for the mmap lock the read
 * holds).  Syscalls that change no mapping are not counted (the arch's
 * arch_quiet_syscalls; x86-64 has a list, aarch64 none), so on x86-64 a
 * thread asleep in nanosleep, futex or epoll_wait, which the freeze
 * interrupts, passes; asleep in any other (read, say), it fails the test
 * and smaps is read frozen, as before.  Any signal handled in the window
 * fails it too: rt_sigreturn is in the list, but its sys_exit reports id
 * -1 (restore_sigcontext resets orig_ax), which is counted.  A thread made
 * since the count began came from a clone, itself a syscall.
 *
 * What is not a syscall of theirs: io_uring's workers (PF_IO_WORKER
 * threads, which run requests such as IORING_OP_MADVISE: io_uring/advise.c
 * do_madvise(current->mm), always from a worker, REQ_F_FORCE_ASYNC).  A
 * process with one (or an SQPOLL thread) when the count begins is not
 * watched.  A worker made later, for a request queued then, may do its
 * madvise and, past 5 s idle, be gone by the freeze (io-wq.c: all but the
 * last worker leave, the last too where its CPU left the ring's mask); and
 * that request may be queued with no syscall: a linked request that a
 * completion lets go runs from task_work in the submitting thread, on its
 * way back to user space from an interrupt.  A ring need not even have a
 * file descriptor (IORING_SETUP_REGISTERED_FD_ONLY) to look for.  So what
 * is counted too is io_uring:io_uring_queue_async_work in each thread:
 * io_queue_iowq() traces it before io_wq_enqueue(), and only a thread of
 * the process may queue (same_thread_group, else the work is cancelled);
 * a worker queues no new one for a worker yet to be made except through
 * the submitting thread's task_work (create_worker_cb) or as a worker that
 * was there when the count began.  A kernel without the event has no
 * io_uring: raw_syscalls' being there says tracepoints are built.
 *
 * Processes sharing the memory without being threads (clone(CLONE_VM)
 * without CLONE_THREAD: vfork, posix_spawn before its exec, or made so,
 * the process's child or not, or its parent) make syscalls that are not
 * counted, process_madvise(2) on it among them (mm/madvise.c: advice that
 * changes flags is refused only for another mm): a process with one is
 * not watched (kcmp(2) KCMP_VM against every process, once its threads
 * are counted: a sharer made later is made by a clone they make).
 *
 * Root only, in effect: tracepoint events need CAP_PERFMON (or
 * perf_event_paranoid -1) and the event's id in tracefs.  Without them,
 * NULL: smaps is read frozen.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

/* More threads than this: not worth two descriptors each. */
#define QUIET_MAX_THREADS	64
#define PF_IO_WORKER		0x00000010	/* include/linux/sched.h */

/* What each thread has counted (the fds' second index) */
enum { SYS_ENTER, SYS_EXIT, URING_QUEUE, NCOUNTS };

static const char *const count_what[NCOUNTS] = {
	[SYS_ENTER] = "entered a syscall", [SYS_EXIT] = "left a syscall",
	[URING_QUEUE] = "queued io_uring work",
};

struct quiet {
	pid_t pid;
	pid_t tids[QUIET_MAX_THREADS];
	size_t n;
	int fds[QUIET_MAX_THREADS][NCOUNTS];	/* -1: none (no io_uring) */
};

/* The tracepoint's id (tracefs, or debugfs's tracing where that is). */
static long tracepoint_id(const char *sys_event)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[128], *buf;
	long id = -1;

	for (size_t i = 0; i < ARRAY_SIZE(roots) && id < 0; i++) {
		snprintf(path, sizeof(path), "%s/events/%s/id", roots[i], sys_event);
		if (read_file(path, &buf, NULL) == 0) {
			id = strtol(buf, NULL, 10);
			free(buf);
		}
	}
	return id;
}

static int cmp_tid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/*
 * pid's threads, sorted, into tids (room for max); -1 if there are more,
 * a io_uring worker among them, or /proc cannot say; with alone, also
 * if a thread has a child (a tree: dumped as more than this process).
 */
static long list_threads(pid_t pid, pid_t *tids, size_t max, int alone)
{
	char path[96], *buf;
	struct dirent *e;
	struct proc_stat st;
	size_t n = 0;
	DIR *dir;
	int bad = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return -1;
	while (!bad && (e = readdir(dir))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0)
			continue;
		if (n == max || proc_read_stat(tid, &st) < 0 || (st.flags & PF_IO_WORKER)) {
			bad = 1;
			break;
		}
		if (alone) {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
			if (read_file(path, &buf, NULL) < 0)
				bad = 1;
			else {
				bad = buf[0] && buf[0] != '\n';
				free(buf);
			}
		}
		tids[n++] = tid;
	}
	closedir(dir);
	if (bad)
		return -1;
	qsort(tids, n, sizeof(*tids), cmp_tid);
	return (long)n;
}

/* The arch's syscalls that change no mapping (arch_quiet_syscalls), as a
 * tracepoint filter; "" without any.  Made once for every counter. */
static void make_filter(char *filter, size_t size)
{
	size_t len = 0;

	filter[0] = 0;
	for (unsigned i = 0; i < arch_nquiet_syscalls && len < size; i++)
		len += (size_t)snprintf(filter + len, size - len, "%sid != %d",
					i ? " && " : "", arch_quiet_syscalls[i]);
}

/*
 * Opened disabled and enabled once filtered: enabled at open, it would
 * count what the filter leaves out (a futex, a clock read) until the
 * filter came, and fail the test for nothing.
 */
static int open_count(long id, pid_t tid, const char *filter)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT, .size = sizeof(a), .config = (uint64_t)id,
		.disabled = 1,
	};
	int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return -1;
	if ((filter[0] && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0) ||
	    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Whether the counts are worth what they cost: the last close of a
 * tracepoint's perf events waits for RCU grace periods (ours: 57-92 ms
 * for the two, paid at the end of the dump or by ckpt's exit), while the
 * smaps read they take out of the pause is some 2.5 us a mapping (60,000:
 * ~150 ms).  So only with QUIET_MIN_MAPPINGS mappings or more (a dump of
 * a few hundred mappings was 0.018 s whole, 0.096 s with the counts).
 * CKPT_EARLY_SMAPS_MIN sets another threshold (tests: 0).  The count:
 * newlines of /proc/PID/maps, read while the job runs, up to the
 * threshold.
 */
#define QUIET_MIN_MAPPINGS	10000

int quiet_worth(pid_t pid)
{
	const char *env = getenv("CKPT_EARLY_SMAPS_MIN");
	unsigned long min = env ? strtoul(env, NULL, 10) : QUIET_MIN_MAPPINGS, n = 0;
	char path[32], buf[65536];
	ssize_t k;
	int fd;

	if (min == 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while (n < min && (k = read(fd, buf, sizeof(buf))) > 0)
		for (char *c = buf; (c = memchr(c, '\n', (size_t)(buf + k - c))); c++)
			n++;
	close(fd);
	if (n < min)
		debug("VmFlags read while the process is frozen: %lu mappings, fewer than %lu (the syscall counts' close would cost the dump more than the early read saves)",
		      n, min);
	return n >= min;
}

/*
 * Whether DAMON may madvise the process (quiet-damon.c), said.  Asked when
 * the count begins and again once frozen: a kdamond started meanwhile, or
 * one whose operations were committed anew (paddr to vaddr), is seen if it
 * still runs so.
 */
static int damon_may_madvise(void)
{
	static const struct damon_roots roots = {
		.admin = "/sys/kernel/mm/damon/admin/kdamonds", .modules = "/sys/module",
		.proc = "/proc",
	};
	pid_t who = quiet_damon_may_madvise(&roots);

	if (who > 0)
		debug("VmFlags read while the process is frozen: DAMON's kdamond %d is not one known to work on physical addresses, and may madvise",
		      who);
	else if (who < 0)
		debug("VmFlags read while the process is frozen: a DAMON kdamond works on virtual addresses (or kdamonds cannot be told), and may madvise");
	return who != 0;
}

struct quiet *quiet_watch(pid_t pid, int alone)
{
	long id[NCOUNTS] = {
		[SYS_ENTER] = tracepoint_id("raw_syscalls/sys_enter"),
		[SYS_EXIT] = tracepoint_id("raw_syscalls/sys_exit"),
		[URING_QUEUE] = tracepoint_id("io_uring/io_uring_queue_async_work"),
	};
	pid_t again[QUIET_MAX_THREADS], sharer;
	char filter[1024];
	struct quiet *q;
	long n;

	if (id[SYS_ENTER] < 0 || id[SYS_EXIT] < 0)
		return NULL;
	if (damon_may_madvise())
		return NULL;
	q = xzalloc(sizeof(*q));
	q->pid = pid;
	memset(q->fds, -1, sizeof(q->fds));
	if ((n = list_threads(pid, q->tids, QUIET_MAX_THREADS, alone)) <= 0)
		goto no;
	q->n = (size_t)n;
	make_filter(filter, sizeof(filter));
	for (size_t i = 0; i < q->n; i++)
		for (int k = 0; k < NCOUNTS; k++)
			if (id[k] >= 0 && (q->fds[i][k] = open_count(id[k], q->tids[i],
								   k == URING_QUEUE ? "" : filter)) < 0)
				goto no;
	/* A thread made while the counts were opened, by one not yet
	 * counted, has none: the same threads once all are counted. */
	if (list_threads(pid, again, QUIET_MAX_THREADS, alone) != n ||
	    memcmp(again, q->tids, q->n * sizeof(*again)))
		goto no;
	if ((sharer = tracee_mm_sharer(pid))) {
		if (sharer > 0)
			debug("VmFlags read while the process is frozen: process %d shares its memory, and its syscalls are not counted",
			      sharer);
		else
			debug("VmFlags read while the process is frozen: kcmp(2) cannot tell which processes share its memory");
		quiet_end(q);
		return NULL;
	}
	return q;
no:
	debug("VmFlags read while the process is frozen: its syscalls cannot be counted (%s)",
	      q->n ? "perf_event_open, or its threads changed" :
	      "more than 64 threads, a child, or an io_uring worker");
	quiet_end(q);
	return NULL;
}

/* Whether a thread entered or left a syscall counted (said, with when). */
static int counted(const struct quiet *q, const char *when)
{
	for (size_t i = 0; i < q->n; i++)
		for (int k = 0; k < NCOUNTS; k++) {
			uint64_t count = 1;

			if (q->fds[i][k] < 0)
				continue;
			if (read(q->fds[i][k], &count, sizeof(count)) != sizeof(count) || count) {
				debug("thread %d %s (%llu) %s: VmFlags read while the process is frozen",
				      q->tids[i], count_what[k], (unsigned long long)count, when);
				return 1;
			}
		}
	return 0;
}

int quiet_moved(void *q)
{
	return counted(q, "while smaps was read");
}

int quiet_held(struct quiet *q)
{
	pid_t now[QUIET_MAX_THREADS];
	long n = list_threads(q->pid, now, QUIET_MAX_THREADS, 0);

	if (n != (long)q->n || memcmp(now, q->tids, q->n * sizeof(*now))) {
		debug("the threads changed since smaps was read: VmFlags read while the process is frozen");
		return 0;
	}
	return !counted(q, "since smaps was read") && !damon_may_madvise();
}

static void *closer(void *arg)
{
	struct quiet *q = arg;

	for (size_t i = 0; i < QUIET_MAX_THREADS; i++)
		for (int k = 0; k < NCOUNTS; k++)
			if (q->fds[i][k] >= 0)
				close(q->fds[i][k]);
	free(q);
	return NULL;
}

/*
 * Closed by a thread of their own: the last close of a tracepoint's
 * events waits for RCU grace periods (perf_trace_event_unreg: 46 and 56 ms
 * for the two here, strace -T), which the dump need not wait for; and
 * while they are open every task on the machine takes the syscall slow
 * path, so they close as soon as they have answered.  The thread blocks
 * every signal: ckpt's go to its main thread.
 */
void quiet_end(struct quiet *q)
{
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t t;

	if (!q)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, closer, q))
		closer(q);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
