/*
 * Freezing all threads of a process (PTRACE_SEIZE + PTRACE_INTERRUPT) and
 * letting them go.  Facts from ptrace(2) "Group-stop" and kernel/ptrace.c:
 * an interrupted seized thread reports PTRACE_EVENT_STOP; a signal that
 * arrives first is reported as a signal-delivery-stop, and we deliver it
 * as the kernel would have, then wait for the interrupt stop.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"

int tracee_get_regset(pid_t tid, uint32_t type, void *buf, size_t *len)
{
	struct iovec iov = { buf, *len };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)type, &iov) < 0)
		return -errno;
	*len = iov.iov_len;
	return 0;
}

int tracee_set_regset(pid_t tid, uint32_t type, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	if (ptrace(PTRACE_SETREGSET, tid, (void *)(uintptr_t)type, &iov) < 0)
		return -errno;
	return 0;
}

static struct tracee *find(struct tracee_set *ts, pid_t tid)
{
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].tid == tid)
			return &ts->t[i];
	return NULL;
}

int tracee_born_take(struct tracee_born *b, pid_t pid)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (b->pid[i] == pid) {
			b->pid[i] = b->pid[--b->n];
			return 1;
		}
	return 0;
}

static void born_add(struct tracee_born *b, pid_t pid)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->pid = xrealloc(b->pid, b->cap * sizeof(*b->pid));
	}
	b->pid[b->n++] = pid;
}

/*
 * A vfork child that a fork event attached to us, in its first stop (or
 * about to be): let it run on to its exec, held (continued) or not
 * (detached: once it has exec'd, a pass of the tree finds it as any child).
 */
static void vfork_child_go(struct tracee_set *ts, pid_t child)
{
	int st;

	if (!tracee_born_take(ts->born, child)) {
		tracee_held_serve(child);	/* born held between two polls */
		return;
	}
	if (tracee_wait(child, &st, __WALL) != child)
		return;
	if (WIFEXITED(st) || WIFSIGNALED(st))
		tracee_note_exit(child, st);
	else if (tracee_is_held(child))
		ptrace(PTRACE_CONT, child, 0, 0);
	else
		ptrace(PTRACE_DETACH, child, 0, 0);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The next report of thread t: its waitpid status in *st, 0 or -errno.
 * A thread in vfork() reports nothing before its child has exec'd or
 * exited (vfork.c): that child (vchild, if its vfork event was seen; else
 * found once the thread does not stop at once) is let run on if it is
 * ours, and the wait is bounded: -EAGAIN after TRACEE_VFORK_MS, the child
 * in ts->vfork_child (t keeps our interrupt pending: it stops once its
 * child lets it go).
 */
static int wait_report(struct tracee_set *ts, struct tracee *t, int *st, pid_t vchild)
{
	struct timespec t0;
	int timed = 0;

	for (int tries = 0;; tries++) {
		pid_t r = waitpid(t->tid, st, __WALL | (tries < 8 || vchild ? WNOHANG : 0));

		if (r == t->tid)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (vchild && !tracee_vfork_shares(ts->pid, vchild))
			vchild = 0, tries = 0;	/* exec'd or exited: t is on its way */
		if (!vchild && tries < 7) {
			sched_yield();
			continue;
		}
		if (!vchild && !(vchild = tracee_vfork_child(ts->pid, t->tid)))
			continue;	/* the next wait blocks */
		if (!timed++)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		vfork_child_go(ts, vchild);
		if (elapsed_ms(&t0) >= TRACEE_VFORK_MS) {
			ts->vfork_child = vchild;
			return -EAGAIN;
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

/*
 * Wait until t is in its interrupt (or group) stop.  Signals that arrive
 * first are passed on; the pending PTRACE_INTERRUPT then stops the thread
 * before it returns to user space.  Returns -ESRCH if the thread died.
 * A fork or clone it reports (trees only) attached the new task to us:
 * noted in ts->born.  A vfork child is let run on to its exec: the thread
 * waits for that in the kernel, and stops after (wait_report).
 */
static int wait_interrupt_stop(struct tracee_set *ts, struct tracee *t)
{
	pid_t vchild = 0;

	for (;;) {
		int st, sig, event, ret;

		if ((ret = wait_report(ts, t, &st, vchild)) < 0)
			return ret;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			tracee_note_exit(t->tid, st);
			return -ESRCH;
		}
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		event = st >> 16;
		if (event == PTRACE_EVENT_STOP) {
			/* SIGTRAP: our interrupt; a stop signal: group-stop. */
			t->group_stop = sig != SIGTRAP;
			return 0;
		}
		if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
		    event == PTRACE_EVENT_CLONE) {
			unsigned long msg = 0;

			if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) == 0 && msg && ts->born)
				born_add(ts->born, (pid_t)msg);
			/* a child of a held process is held from birth */
			if (msg)
				tracee_held_born(t->tid, (pid_t)msg);
			if (event == PTRACE_EVENT_VFORK && msg)
				vfork_child_go(ts, vchild = (pid_t)msg);
		}
		if (event)	/* other events are not enabled; resume */
			sig = 0;
		else
			sig = tracee_pass_signal(t->tid, sig);
		/* Any ptrace stop clears a pending interrupt (kernel/signal.c
		 * ptrace_stop: "any trap clears pending STOP trap"): ask again. */
		if ((ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 ||
		     ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) < 0) && errno != ESRCH)
			return -errno;
	}
}

/*
 * The first half of freezing thread tid: seized (unless ours already) and
 * interrupted, added to ts; its stop is waited for by seize_finish().
 * Every new thread of a pass is interrupted before any stop is waited
 * for, so that they stop in parallel rather than one round trip after
 * another (1,000 threads: a few ms instead of most of the freeze).  A
 * failure after the seize leaves it out of ts, detached.
 */
/* The options every thread of ts is traced with (a held process's own
 * are added to them: seize_finish). */
static long seize_opts(const struct tracee_set *ts)
{
	return PTRACE_O_TRACESYSGOOD | (ts->suspend_seccomp ? PTRACE_O_SUSPEND_SECCOMP : 0) |
	       ts->options;
}

static int seize_start(struct tracee_set *ts, int taskfd, pid_t tid)
{
	char path[64], wchan[48] = "", *w;
	struct tracee *t;
	int born;

	/* Once stopped, it waits in ptrace_stop: what it waited in before
	 * tells a restarted syscall apart (arch_resolve_restart).  Read
	 * from taskfd (/proc/PID/task) when there is one: a shorter walk. */
	if (taskfd >= 0)
		snprintf(path, sizeof(path), "%d/wchan", tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", ts->pid, tid);
	if (taskfiles_read(tid, TASKFILE_WCHAN, &w) == 0 ||
	    read_file_once_at(taskfd >= 0 ? taskfd : AT_FDCWD, path, &w, NULL) == 0) {
		snprintf(wchan, sizeof(wchan), "%s", w);
		free(w);
	}
	/* One a fork event attached is ours already, and on its way to its
	 * first stop (PTRACE_EVENT_STOP): no seize, no interrupt.  A held
	 * process is ours already: interrupted, not seized. */
	born = tracee_born_take(ts->born, tid);
	if (!born && !tracee_is_held(ts->pid) &&
	    ptrace(PTRACE_SEIZE, tid, 0, (void *)seize_opts(ts)) < 0)
		return -errno;
	if (!born && ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		int err = errno;

		if (!tracee_is_held(ts->pid))
			ptrace(PTRACE_DETACH, tid, 0, 0);
		return -err;
	}
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 16;
		ts->t = xrealloc(ts->t, ts->cap * sizeof(*ts->t));
	}
	t = &ts->t[ts->n++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	memcpy(t->wchan, wchan, sizeof(t->wchan));
	return 0;
}

/* The second half: t in its interrupt stop, its registers read. */
static int seize_finish(struct tracee_set *ts, struct tracee *t)
{
	size_t len = sizeof(t->regs);
	int ret;

	if ((ret = wait_interrupt_stop(ts, t)) < 0)
		return ret;
	if (tracee_is_held(ts->pid) &&
	    ptrace(PTRACE_SETOPTIONS, t->tid, 0, (void *)(seize_opts(ts) | tracee_held_opts())) < 0)
		return -errno;
	return tracee_get_regset(t->tid, NT_PRSTATUS, &t->regs, &len);
}

static int thread_gone(pid_t pid, pid_t tid)
{
	char path[64], *buf, *p;
	int gone = 1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (read_file(path, &buf, NULL) == 0) {
		p = strrchr(buf, ')');
		gone = p && (p[2] == 'Z' || p[2] == 'X');
		free(buf);
	}
	return gone;
}

/* Thread tid could not be seized or stopped (ret): it exited meanwhile
 * (ESRCH, or EPERM while it is a zombie still listed in task/). */
static int exited(struct tracee_set *ts, pid_t tid, int ret)
{
	return ret == -ESRCH || (ret == -EPERM && thread_gone(ts->pid, tid));
}

/*
 * The stops of ts->t[first..] waited for; how many are frozen.  A failure
 * (the first in *err) too waits for the others, so that every thread left
 * in ts is stopped: release detaches only stopped ones.
 */
static int finish_all(struct tracee_set *ts, size_t first, int *err)
{
	int added = 0;

	for (size_t i = first; i < ts->n;) {
		struct tracee *t = &ts->t[i];
		int ret = seize_finish(ts, t), gone;

		if (ret == 0) {
			added++;
			i++;
			continue;
		}
		if (!(gone = exited(ts, t->tid, ret)) && !*err)
			*err = ret;
		/* A held thread stays ours: tracee_release lets it on. */
		if (gone || !tracee_is_held(ts->pid)) {
			ptrace(PTRACE_DETACH, t->tid, 0, 0);
			*t = ts->t[--ts->n];
		} else {
			i++;
		}
	}
	return added;
}

int tracee_seize_new(struct tracee_set *ts)
{
	size_t first = ts->n, nlater = 0;
	pid_t *later = NULL;
	char path[64];
	struct dirent *de;
	int err = 0, added;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", ts->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	/* Every new thread interrupted first, then the stops waited for. */
	while (!err && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		int ret;

		if (tid <= 0 || find(ts, tid))
			continue;
		ret = seize_start(ts, dirfd(d), tid);
		if (ret == 0 || exited(ts, tid, ret))
			continue;
		/* Traced already: maybe by us, attached by the clone event of
		 * a thread seized above whose stops are not waited for yet
		 * (trees trace clones).  Once they are, it is in ts->born. */
		if (ret == -EPERM && (ts->options & PTRACE_O_TRACECLONE)) {
			later = xrealloc(later, (nlater + 1) * sizeof(*later));
			later[nlater++] = tid;
			continue;
		}
		err = ret;
	}
	added = finish_all(ts, first, &err);
	for (size_t i = 0; i < nlater && !err; i++) {
		int ret;

		/* readdir of a task/ whose threads come and go may give a TID
		 * twice (proc_task_readdir falls back to an index). */
		if (find(ts, later[i]))
			continue;
		first = ts->n;
		if ((ret = seize_start(ts, dirfd(d), later[i])) < 0 && !exited(ts, later[i], ret))
			err = ret;
		added += finish_all(ts, first, &err);
	}
	closedir(d);
	free(later);
	return err ? err : added;
}

int tracee_freeze_done(struct tracee_set *ts)
{
	pid_t pid = ts->pid;

	/* The leader first: injection and process-wide state use t[0]. */
	for (size_t i = 1; i < ts->n; i++)
		if (ts->t[i].tid == pid) {
			struct tracee tmp = ts->t[0];

			ts->t[0] = ts->t[i];
			ts->t[i] = tmp;
		}
	/* A leader that ended with pthread_exit() is a zombie the others
	 * keep: not seizable, nothing of it to save.  Any thread serves. */
	if (ts->n && ts->t[0].tid != pid && thread_gone(pid, pid)) {
		ts->leader_gone = 1;
		return 0;
	}
	return !ts->n || ts->t[0].tid != pid ? -ESRCH : 0;
}

int tracee_freeze(pid_t pid, struct tracee_set *ts)
{
	int ret, rounds = 0;

	ts->pid = pid;
	/* A thread we have not stopped yet can still clone; once a pass finds
	 * nothing new, every thread is stopped and none can appear. */
	do {
		ret = tracee_seize_new(ts);
		if (ret < 0) {
			tracee_release(ts, 0);
			return ret;
		}
	} while (ret > 0 && ++rounds < 1000);
	if (ret > 0) {
		tracee_release(ts, 0);
		return -EAGAIN;
	}
	if ((ret = tracee_freeze_done(ts)) < 0)
		tracee_release(ts, 0);
	return ret;
}

int tracee_freeze_one(pid_t pid, pid_t tid, struct tracee_set *ts)
{
	int ret;

	ts->pid = pid;
	ret = seize_start(ts, -1, tid);
	if (ret == 0)
		ret = seize_finish(ts, &ts->t[ts->n - 1]);
	if (ret < 0)
		tracee_release(ts, 0);
	return ret;
}

/* tracee_freeze_one of tid, else of pid itself, waiting while another
 * tracer has the process (PTRACE_SEIZE says EPERM): a debugger attached
 * for a moment, or a tree dump that froze the process before it was
 * refused, must not leave what ckpt has to take out again (a shadow of
 * --snapshot, a forked copy's zombie, a userfaultfd) in it for good.
 * Gives up after patience_ms; at once when the process is gone (ESRCH). */
int tracee_freeze_one_patient(pid_t pid, pid_t tid, struct tracee_set *ts,
			      unsigned patience_ms)
{
	unsigned waited = 0, step = 2;
	int ret;

	for (;;) {
		if ((ret = tracee_freeze_one(pid, tid, ts)) == 0 ||
		    (ret = tracee_freeze_one(pid, pid, ts)) == 0)
			return 0;
		if (ret != -EPERM || waited >= patience_ms)
			return ret;
		usleep(step * 1000u);	/* EINTR (a ^C): one try sooner */
		waited += step;
		step = step < 100 ? step * 2 : 100;
	}
}

/* A borrowed thread's own registers, mask and stack bytes back. */
static void own_back(struct tracee *t)
{
	if (t->injecting && tracee_inject_end(t) < 0)
		warn("thread %d: cannot put its registers back", t->tid);
}

static void forget_all(struct tracee_set *ts)
{
	free(ts->t);
	ts->t = NULL;
	ts->n = ts->cap = 0;
}

void tracee_forget(struct tracee_set *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		struct tracee *t = &ts->t[i];

		own_back(t);
		/* Our wait took the stop's code (wait_task_stopped() clears
		 * it): the exit would resume it with none, and the signal
		 * kept for the release would be lost. */
		if (t->deliver)
			ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)t->deliver);
	}
	forget_all(ts);
}

void tracee_release(struct tracee_set *ts, int sig)
{
	if (sig && ts->n)
		kill(ts->pid, sig);
	for (size_t i = 0; i < ts->n; i++) {
		struct tracee *t = &ts->t[i];

		if (sig != SIGKILL)
			own_back(t);
		/* A thread a trip left in a signal-delivery stop: the signal
		 * the process had sent it goes on (trip.c); ckpt's does not. */
		if (!tracee_is_held(ts->pid)) {
			ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)t->deliver);
			continue;
		}
		/* Held: on, still seized, with the held options (no seccomp
		 * suspension); in its job-control stop if it was in one. */
		ptrace(PTRACE_SETOPTIONS, t->tid, 0, (void *)tracee_held_opts());
		if (t->deliver)
			ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)tracee_pass_signal(t->tid, t->deliver));
		else
			ptrace(t->group_stop ? PTRACE_LISTEN : PTRACE_CONT, t->tid, 0, 0);
	}
	forget_all(ts);
}
