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
 * inject.c).  One process is held at a time today; process trees will
 * hold each process of the tree.
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
#include "ptrace/tracee.h"

/* New threads are seized as they are made (PTRACE_EVENT_CLONE). */
#define HELD_OPTS	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE)

static struct {
	pid_t pid;		/* 0: none */
	pid_t tracer;		/* our thread that seized it */
	tracee_filter_fn *filter;
	int ended;		/* its end was seen: status as waitpid gives it */
	int status;
} held;

int tracee_is_held(pid_t pid)
{
	return pid > 0 && held.pid == pid;
}

long tracee_held_opts(void)
{
	return HELD_OPTS;
}

int tracee_held_by_us(pid_t pid, pid_t tracer)
{
	return tracee_is_held(pid) && tracer == held.tracer;
}

int tracee_pass_signal(pid_t tid, int sig)
{
	char path[64];

	if (!held.pid || !held.filter)
		return sig;
	snprintf(path, sizeof(path), "/proc/%d/task/%d", held.pid, tid);
	if (tid != held.pid && access(path, F_OK) < 0)
		return sig;
	return held.filter(tid, sig);
}

void tracee_note_exit(pid_t tid, int status)
{
	if (tracee_is_held(tid)) {
		held.ended = 1;
		held.status = status;
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

int tracee_hold(pid_t pid, tracee_filter_fn *filter)
{
	pid_t *seized = NULL, *tids;
	size_t nseized = 0, n;
	int ret, added, rounds = 0;

	if (held.pid)
		return -EBUSY;
	/* Threads made by one not seized yet are not seized by the kernel:
	 * rescan until a pass finds none (as tracee_freeze() does). */
	do {
		added = 0;
		if ((ret = list_tasks(pid, &tids, &n)) < 0)
			break;
		for (size_t i = 0; i < n; i++) {
			size_t k;

			for (k = 0; k < nseized && seized[k] != tids[i]; k++)
				;
			if (k < nseized)
				continue;
			if (ptrace(PTRACE_SEIZE, tids[i], 0, (void *)(long)HELD_OPTS) < 0) {
				if (errno == ESRCH)
					continue;
				ret = -errno;
				break;
			}
			seized = xrealloc(seized, (nseized + 1) * sizeof(*seized));
			seized[nseized++] = tids[i];
			added++;
		}
		free(tids);
	} while (ret == 0 && added && ++rounds < 1000);
	free(seized);
	if (ret == 0 && !nseized)
		ret = -ESRCH;
	if (ret < 0) {
		/* The tracer's exit detaches the rest; the caller gives up. */
		return ret;
	}
	held.pid = pid;
	held.tracer = (pid_t)syscall(SYS_gettid);
	held.filter = filter;
	held.ended = 0;
	return 0;
}

static int is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* A process made by the job with clone() but neither a thread nor a
 * fork: seized by PTRACE_O_TRACECLONE, not ours to hold (yet). */
static void let_go_new_process(pid_t tid)
{
	unsigned long msg = 0;
	char path[64];
	int st;

	if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) < 0 || !msg)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task/%lu", held.pid, msg);
	if (access(path, F_OK) == 0)
		return;	/* a thread of the job: held like the others */
	while (waitpid((pid_t)msg, &st, __WALL) < 0 && errno == EINTR)
		;
	ptrace(PTRACE_DETACH, (pid_t)msg, 0, 0);
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
		/* SIGTRAP: a new thread's first stop, or the end of a job-control
		 * stop; a stop signal: the process is in group-stop, and stays so
		 * until SIGCONT (ptrace(2), PTRACE_LISTEN). */
		ptrace(is_stop_signal(sig) ? PTRACE_LISTEN : PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (event == PTRACE_EVENT_CLONE)
		let_go_new_process(tid);
	if (event || sig == (SIGTRAP | 0x80)) {
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	ptrace(PTRACE_CONT, tid, 0, (void *)(long)tracee_pass_signal(tid, sig));
}

int tracee_held_poll(int *status)
{
	pid_t *tids;
	size_t n;

	if (!held.pid)
		return -ESRCH;
	/* Thread by thread, never waitpid(-1): a copy of the job that dump
	 * --fork made is our tracee too, and its reports are dump's. */
	if (!held.ended && list_tasks(held.pid, &tids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			int st;

			while (waitpid(tids[i], &st, __WALL | WNOHANG) > 0)
				handle(tids[i], st);
		}
		free(tids);
	} else if (!held.ended) {
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

void tracee_unhold(pid_t pid)
{
	if (tracee_is_held(pid))
		memset(&held, 0, sizeof(held));
}
