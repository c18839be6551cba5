/*
 * Held processes (ckpt run, ckpt watch): every thread of the job stays
 * seized between checkpoints, running, so that a signal sent to it stops
 * it first and ckpt decides what becomes of it.  ptrace(2),
 * "Signal-delivery-stop": every signal but SIGKILL is reported to the
 * tracer before the tracee acts on it, and the tracer's restart says
 * which signal, if any, is delivered; kernel/signal.c complete_signal()
 * does not take its fatal-signal shortcut for a traced process.  A batch
 * system's SIGTERM, sent to every process of the job at once, so becomes
 * a final checkpoint rather than the job's death.  Nothing is put inside
 * the process; it sees a tracer in /proc/PID/status (TracerPid), no more.
 *
 * tracee_freeze() interrupts a held process's threads instead of seizing
 * them, tracee_release() lets them run on still seized, and the waits in
 * between pass the signals they see through the filter (seize.c,
 * inject.c).
 *
 * The job is a tree: every process under the held root is held, those
 * there when the hold begins and those born later, held from birth
 * (PTRACE_O_TRACEFORK, TRACEVFORK, TRACECLONE: ptrace(2), a child of a
 * tracee with these options is attached to the same tracer and starts in
 * a PTRACE_EVENT_STOP), so that a batch system's SIGTERM to every process
 * of the job reaches none of them first.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"
#include "ptrace/tree.h"

#define HELD_OPTS	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
			 PTRACE_O_TRACEVFORK)

static struct {
	pid_t pid;		/* the root; 0: none */
	pid_t tracer;		/* our thread that seized it */
	tracee_filter_fn *filter;
	int ended;		/* its end was seen: status as waitpid gives it */
	int status;
	pid_t *procs;		/* every held process, the root first */
	size_t n, cap;
} held;

static int find(pid_t pid)
{
	for (size_t i = 0; i < held.n; i++)
		if (held.procs[i] == pid)
			return (int)i;
	return -1;
}

static void add(pid_t pid)
{
	if (find(pid) >= 0)
		return;
	if (held.n == held.cap)
		held.procs = xrealloc(held.procs, (held.cap = held.cap ? held.cap * 2 : 8) *
				      sizeof(*held.procs));
	held.procs[held.n++] = pid;
}

static void drop(pid_t pid)
{
	int i = find(pid);

	if (i > 0)	/* the root stays: its end is the job's */
		held.procs[i] = held.procs[--held.n];
}

int tracee_is_held(pid_t pid)
{
	return pid > 0 && held.pid && find(pid) >= 0;
}

size_t tracee_held_count(void)
{
	return held.pid ? held.n : 0;
}

long tracee_held_opts(void)
{
	return HELD_OPTS;
}

int tracee_held_by_us(pid_t pid, pid_t tracer)
{
	return tracee_is_held(pid) && tracer == held.tracer;
}

/* The process (thread group) thread tid belongs to, if it is held. */
static pid_t held_proc_of(pid_t tid)
{
	struct proc_status ss;

	if (find(tid) >= 0)
		return tid;
	if (proc_read_status(tid, &ss) == 0 && find(ss.tgid) >= 0)
		return ss.tgid;
	return 0;
}

int tracee_pass_signal(pid_t tid, int sig)
{
	if (!held.pid || !held.filter || !held_proc_of(tid))
		return sig;
	return held.filter(tid, sig);
}

void tracee_note_exit(pid_t tid, int status)
{
	if (held.pid && tid == held.pid) {
		held.ended = 1;
		held.status = status;
	} else if (held.pid) {
		drop(tid);
	}
}

/* The thread IDs of pid, from /proc/PID/task; -errno if it is gone. */
static int list_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*tids = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0)
			continue;
		if (*n == cap)
			*tids = xrealloc(*tids, (cap = cap ? cap * 2 : 16) * sizeof(**tids));
		(*tids)[(*n)++] = tid;
	}
	closedir(d);
	return 0;
}

/* Traced by this thread of ours (TracerPid): a child a fork event
 * attached to us. */
static int traced_by_us(pid_t tid)
{
	struct proc_status ss;

	return proc_read_status(tid, &ss) == 0 && ss.tracer == (pid_t)syscall(SYS_gettid);
}

/* Seize the threads of pid not seized yet (seized: those that are, n of
 * them): how many were, or -errno. */
static int seize_threads(pid_t pid, pid_t **seized, size_t *nseized)
{
	pid_t *tids;
	size_t n;
	int ret, added = 0;

	if ((ret = list_tasks(pid, &tids, &n)) < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < *nseized && (*seized)[k] != tids[i]; k++)
			;
		if (k < *nseized)
			continue;
		if (ptrace(PTRACE_SEIZE, tids[i], 0, (void *)(long)HELD_OPTS) < 0) {
			if (errno == ESRCH)
				continue;
			/* auto-attached already, by a fork event of a held parent */
			if (errno == EPERM && traced_by_us(tids[i]))
				goto seized;
			free(tids);
			return -errno;
		}
seized:
		*seized = xrealloc(*seized, (*nseized + 1) * sizeof(**seized));
		(*seized)[(*nseized)++] = tids[i];
		added++;
	}
	free(tids);
	return added;
}

int tracee_hold(pid_t pid, tracee_filter_fn *filter)
{
	pid_t *seized = NULL;
	size_t nseized = 0;
	int ret = 0, added, rounds = 0;

	if (held.pid)
		return -EBUSY;
	held.n = 0;
	add(pid);
	/* Threads and children made by one not seized yet are not seized by
	 * the kernel: rescan until a pass finds none (as the tree freeze). */
	do {
		added = 0;
		for (size_t i = 0; i < held.n && ret >= 0; i++) {
			pid_t *kids;
			size_t nk = proc_children(held.procs[i], &kids);

			for (size_t k = 0; k < nk; k++)
				if (find(kids[k]) < 0) {
					add(kids[k]);
					added++;
				}
			free(kids);
			ret = seize_threads(held.procs[i], &seized, &nseized);
			if (ret == -ENOENT && i > 0) {	/* gone meanwhile */
				drop(held.procs[i--]);
				ret = 0;
			} else if (ret > 0) {
				added += ret;
			}
		}
	} while (ret >= 0 && added && ++rounds < 1000);
	free(seized);
	if (ret == -ENOENT)
		ret = -ESRCH;
	if (ret < 0) {
		/* The tracer's exit detaches the rest; the caller gives up. */
		held.n = 0;
		return ret;
	}
	held.pid = pid;
	held.tracer = (pid_t)syscall(SYS_gettid);
	held.filter = filter;
	held.ended = 0;
	return 0;
}

/*
 * Nothing of the job runs untraced between the restore and the hold: a
 * signal sent to it then would reach it unseen, a fork escape the hold,
 * and a short job could end before ckpt run saw it (then PTRACE_SEIZE
 * fails with EPERM, kernel/ptrace.c ptrace_attach() on an exiting task).
 * First every thread gets our options while all are stopped, so that
 * what any of them forks once running is held from birth
 * (PTRACE_O_TRACEFORK); then all run.  A thread that is gone (a leader
 * that exited before its process, a zombie of the tree) says ESRCH.
 */
int tracee_adopt(pid_t pid, tracee_filter_fn *filter)
{
	pid_t *run = NULL;
	size_t nrun = 0;
	int ret = 0;

	if (held.pid)
		return -EBUSY;
	held.n = 0;
	add(pid);
	for (size_t i = 0; i < held.n && ret >= 0; i++) {
		pid_t *kids, *tids;
		size_t nk = proc_children(held.procs[i], &kids), n;

		for (size_t k = 0; k < nk; k++)
			add(kids[k]);
		free(kids);
		if ((ret = list_tasks(held.procs[i], &tids, &n)) < 0)
			break;
		for (size_t k = 0; k < n && ret >= 0; k++) {
			if (ptrace(PTRACE_SETOPTIONS, tids[k], 0, (void *)(long)HELD_OPTS) < 0) {
				if (errno != ESRCH)
					ret = -errno;
				continue;
			}
			run = xrealloc(run, (nrun + 1) * sizeof(*run));
			run[nrun++] = tids[k];
		}
		free(tids);
	}
	if (ret >= 0 && !nrun)
		ret = -ESRCH;
	if (ret < 0) {
		free(run);
		held.n = 0;
		return ret == -ENOENT ? -ESRCH : ret;
	}
	held.pid = pid;
	held.tracer = (pid_t)syscall(SYS_gettid);
	held.filter = filter;
	held.ended = 0;
	for (size_t i = 0; i < nrun; i++)
		ptrace(PTRACE_CONT, run[i], 0, 0);
	free(run);
	return 0;
}

static int is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

void tracee_held_born(pid_t parent, pid_t child)
{
	struct proc_status ss;

	if (!held.pid || child <= 0 || !held_proc_of(parent))
		return;
	/* A new thread of a held process is held with it. */
	if (proc_read_status(child, &ss) == 0 && ss.tgid != child)
		return;
	add(child);
}

static void handle(pid_t tid, int st);

/*
 * A fork, vfork or clone event of held thread tid: a new process is held.
 * A vfork child is let go on at once, from its first stop (due now): its
 * parent, continued after this event, waits in the kernel until the child
 * execs, and could not be stopped by a checkpoint before (vfork.c).
 */
static void born(pid_t tid, int event)
{
	unsigned long msg = 0;
	pid_t child;
	int st;

	if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) < 0 || !msg)
		return;
	child = (pid_t)msg;
	tracee_held_born(tid, child);
	if (event == PTRACE_EVENT_VFORK && tracee_is_held(child) &&
	    tracee_wait(child, &st, __WALL) == child)
		handle(child, st);
}

/* One report of a held thread: let it go on as if nobody watched, but
 * for the signals the filter keeps. */
static void handle(pid_t tid, int st)
{
	int sig, event;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		tracee_note_exit(tid, st);
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	sig = WSTOPSIG(st);
	event = (unsigned)st >> 16;
	if (event == PTRACE_EVENT_STOP) {
		/* SIGTRAP: a new task's first stop, or the end of a job-control
		 * stop; a stop signal: the process is in group-stop, and stays so
		 * until SIGCONT (ptrace(2), PTRACE_LISTEN). */
		ptrace(is_stop_signal(sig) ? PTRACE_LISTEN : PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
	    event == PTRACE_EVENT_VFORK)
		born(tid, event);
	if (event || sig == (SIGTRAP | 0x80)) {
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	ptrace(PTRACE_CONT, tid, 0, (void *)(long)tracee_pass_signal(tid, sig));
}

/* Every pending report of process pid's threads; -errno if it is gone. */
static int poll_proc(pid_t pid)
{
	pid_t *tids;
	size_t n;
	int ret = list_tasks(pid, &tids, &n);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		int st;

		while (waitpid(tids[i], &st, __WALL | WNOHANG) > 0)
			handle(tids[i], st);
	}
	free(tids);
	return 0;
}

void tracee_held_serve(pid_t pid)
{
	if (tracee_is_held(pid) && poll_proc(pid) < 0)
		drop(pid);
}

int tracee_held_poll(int *status)
{
	if (!held.pid)
		return -ESRCH;
	/* Thread by thread, never waitpid(-1): a copy of the job that dump
	 * --fork made is our tracee too, and its reports are dump's.  From
	 * the end: a process that ends leaves the list, one born joins it. */
	for (size_t i = held.n; i-- > 1;)
		if (i < held.n && poll_proc(held.procs[i]) < 0)
			drop(held.procs[i]);
	if (!held.ended && poll_proc(held.pid) < 0) {
		/* Gone, and reaped by a wait that was not ours: a dump's, which
		 * saw it die while frozen, where only SIGKILL ends a process. */
		held.ended = 1;
		held.status = SIGKILL;
	}
	if (!held.ended)
		return 0;
	if (status)
		*status = held.status;
	return 1;
}

void tracee_held_kill(void)
{
	for (size_t i = 0; i < held.n; i++)
		kill(held.procs[i], SIGKILL);
	/* Their ends are ours to see first (we trace them): seen, so that
	 * their parents can reap them.  The root's is the caller's. */
	while (held.n > 1) {
		pid_t pid = held.procs[held.n - 1], *tids;
		size_t n;
		int st;

		if (list_tasks(pid, &tids, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				while (waitpid(tids[i], &st, __WALL) < 0 && errno == EINTR)
					;
			free(tids);
		}
		held.n--;
	}
}

void tracee_unhold(pid_t pid)
{
	if (held.pid && pid == held.pid) {
		free(held.procs);
		memset(&held, 0, sizeof(held));
	}
}
