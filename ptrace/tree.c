/*
 * Freezing a process tree as one cut (docs/trees.md, 2.1).
 *
 * Every thread is seized with PTRACE_O_TRACEFORK, TRACEVFORK and
 * TRACECLONE: a thread that forks before its interrupt stop reports the
 * event, and the new task is already ours (ptrace(2), "PTRACE_EVENT
 * stops": a child auto-attached through PTRACE_SEIZE starts in
 * PTRACE_EVENT_STOP).  Children made before their parent was seized are
 * found in /proc/PID/task/TID/children of the tree's threads where the
 * kernel has them (CONFIG_PROC_CHILDREN) and the threads are few, else
 * by reading every /proc/N/stat for its ppid.  When a whole pass finds no new
 * thread, no new task and no new child, every task is stopped and none
 * can appear: that is the cut.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ptrace/tree.h"

#define TREE_OPTIONS	(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE)
#define MAX_ROUNDS	1000	/* passes before a tree that keeps growing is refused */

static int find_task(const struct tracee_tree *tt, pid_t pid)
{
	for (size_t i = 0; i < tt->n; i++)
		if (tt->t[i].pid == pid)
			return (int)i;
	return -1;
}

static struct tree_task *add_task(struct tracee_tree *tt, pid_t pid, int parent)
{
	struct tree_task *t;

	if (tt->n == tt->cap) {
		tt->cap = tt->cap ? tt->cap * 2 : 16;
		tt->t = xrealloc(tt->t, tt->cap * sizeof(*tt->t));
	}
	t = &tt->t[tt->n++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->parent = parent;
	t->ts.pid = pid;
	t->ts.options = TREE_OPTIONS;
	t->ts.born = &tt->born;
	return t;
}

/* "awk (PID 123)", for messages. */
static const char *name_of(pid_t pid)
{
	static char buf[64];
	struct proc_stat st;

	if (proc_read_stat(pid, &st) == 0)
		snprintf(buf, sizeof(buf), "%s (PID %d)", st.comm, pid);
	else
		snprintf(buf, sizeof(buf), "PID %d", pid);
	return buf;
}

/*
 * A zombie of the tree that is our tracee (held from birth, ckpt run; or
 * attached by a fork event): its end is reported to us first, and until we
 * have seen it its parent cannot reap it (the table of docs/trees.md 1,
 * kernel/exit.c wait_task_zombie): a wait4 of a dump --kill would block in
 * the parent, and the zombie keep its PID from a restore.  Seen now, it is
 * its parent's zombie alone.
 */
static void see_end(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, __WALL | WNOHANG) == pid && (WIFEXITED(st) || WIFSIGNALED(st)))
		tracee_note_exit(pid, st);
}

/* Before its first thread is seized: what it is, and whether it may be.
 * -ESRCH: it is gone. */
static int check_task(struct tree_task *t)
{
	struct proc_status ss;
	int ret;

	ret = proc_read_stat(t->pid, &t->st);
	if (ret == -ENOENT)
		return -ESRCH;
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/stat", t->pid);
	if ((t->st.state == 'Z' || t->st.state == 'X') && !proc_has_live_thread(t->pid)) {
		t->zombie = 1;
		if (t->parent >= 0)
			see_end(t->pid);
		return 0;
	}
	if (t->st.flags & PF_KTHREAD)
		return error("process %s is a kernel thread", name_of(t->pid));
	ret = proc_read_status(t->pid, &ss);
	if (ret == -ENOENT)
		return -ESRCH;
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/status", t->pid);
	if (ss.tracer && ss.tracer != getpid())
		return error("process %s is traced by PID %d (a debugger?)", name_of(t->pid), ss.tracer);
	t->ts.suspend_seccomp = ss.seccomp > 0;
	return 0;
}

/* A task auto-attached by a fork event that is not ours after all (its
 * parent left the tree, or the freeze failed): let it go once it has
 * stopped; on, still ours, if it is held (ckpt run: held from birth). */
static void let_go(pid_t pid)
{
	int st;

	if (tracee_wait(pid, &st, __WALL) == pid && WIFSTOPPED(st))
		tracee_call(tracee_is_held(pid) ? PTRACE_CONT : PTRACE_DETACH, pid, 0, 0);
}

/* Tasks the fork events brought: a new process whose parent is a task
 * joins the tree; its threads, and new threads of tasks, are taken by the
 * next pass over their task's threads (tracee_seize_new). */
static int place_born(struct tracee_tree *tt)
{
	int added = 0;

	for (size_t i = 0; i < tt->born.n;) {
		pid_t pid = tt->born.pid[i];
		struct proc_status ss;
		struct proc_stat st;
		int par;

		if (proc_read_status(pid, &ss) < 0 || proc_read_stat(pid, &st) < 0) {
			tracee_born_take(&tt->born, pid);	/* gone already */
			let_go(pid);
			continue;
		}
		if (ss.tgid != pid ? find_task(tt, ss.tgid) >= 0 : find_task(tt, pid) >= 0) {
			i++;
			continue;
		}
		par = ss.tgid == pid ? find_task(tt, st.ppid) : -1;
		if (par >= 0 && !tt->t[par].zombie) {
			add_task(tt, pid, par);
			added++;
			i++;
			continue;
		}
		tracee_born_take(&tt->born, pid);
		let_go(pid);
	}
	return added;
}

/* A child of the tree found: a task now, unless it is ckpt itself. */
static int found_child(struct tracee_tree *tt, pid_t pid, int par)
{
	if (pid == getpid())
		return error("ckpt itself (PID %d) is a descendant of PID %d: run it from outside the tree",
			     pid, tt->t[0].pid);
	add_task(tt, pid, par);
	return 1;
}

/* Threads whose children files are read rather than all of /proc: a read
 * each, where the scan reads every process's stat (some 150 here, twice
 * a dump: 1-2 ms of the freeze). */
#define CHILDREN_FILES_MAX	64

/*
 * The same from each live task's threads' children files (proc(5); a
 * child is on the list of the thread that forked it, and goes to another
 * thread of the group when that one exits).  *added counts the tasks
 * added.  -ENOENT: the kernel has none (CONFIG_PROC_CHILDREN), one could
 * not be read, or too many threads.
 */
static int children_from_files(struct tracee_tree *tt, int *added)
{
	size_t threads = 0, n = tt->n;

	for (size_t i = 0; i < n; i++)
		if (!tt->t[i].zombie && !tt->t[i].gone)
			threads += tt->t[i].ts.n;
	if (threads > CHILDREN_FILES_MAX)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; !tt->t[i].zombie && !tt->t[i].gone && k < tt->t[i].ts.n; k++) {
			char path[64], *buf, *p, *end;
			int ret = 0;

			snprintf(path, sizeof(path), "/proc/%d/task/%d/children", tt->t[i].pid,
				 tt->t[i].ts.t[k].tid);
			if (read_file(path, &buf, NULL) < 0)
				return -ENOENT;
			for (p = buf; ret >= 0; p = end) {
				long pid = strtol(p, &end, 10);

				if (end == p)
					break;
				if (pid > 0 && find_task(tt, (pid_t)pid) < 0 &&
				    (ret = found_child(tt, (pid_t)pid, (int)i)) > 0)
					(*added)++;
			}
			free(buf);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* Every process whose parent is a live task and that is no task yet. */
static int scan_children(struct tracee_tree *tt)
{
	DIR *d;
	struct dirent *de;
	int added = 0, ret = children_from_files(tt, &added);

	/* What was added before a file failed counts too: the pass is not
	 * the last while a task is not seized. */
	if (ret != -ENOENT)
		return ret < 0 ? ret : added;
	if (!(d = opendir("/proc")))
		return error_errno(errno, "cannot list /proc");
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		struct proc_stat st;
		int par;

		if (pid <= 0 || find_task(tt, pid) >= 0 || proc_read_stat(pid, &st) < 0)
			continue;
		par = find_task(tt, st.ppid);
		if (par < 0 || tt->t[par].zombie || tt->t[par].gone)
			continue;
		if ((ret = found_child(tt, pid, par)) < 0) {
			closedir(d);
			return ret;
		}
		added++;
	}
	closedir(d);
	return added;
}

/* One pass over every task's threads: new ones seized. */
static int seize_pass(struct tracee_tree *tt)
{
	int changed = 0;

	for (size_t i = 0; i < tt->n; i++) {
		struct tree_task *t = &tt->t[i];
		int ret;

		if (t->zombie || t->gone)
			continue;
		if (!t->checked) {
			ret = check_task(t);
			if (ret == -ESRCH || (ret == 0 && t->zombie)) {
				t->gone = ret == -ESRCH;
				changed = 1;
				continue;
			}
			if (ret < 0)
				return ret;
			t->checked = 1;
		}
		ret = tracee_seize_new(&t->ts);
		if (ret == -ESRCH) {		/* it exited: a zombie, or reaped */
			t->gone = 1;
			changed = 1;
			continue;
		}
		if (ret == -EAGAIN) {
			tt->vfork[0] = t->pid;
			tt->vfork[1] = t->ts.vfork_child;
			return ret;
		}
		if (ret == -EPERM && i == 0)
			return error_errno(ret, "cannot attach (are you root or its owner? see also /proc/sys/kernel/yama/ptrace_scope)");
		if (ret == -EPERM)
			return error_errno(ret, "cannot attach to process %s (are you root or its owner?"
					   " see also /proc/sys/kernel/yama/ptrace_scope)", name_of(t->pid));
		if (ret < 0 && i == 0)
			return error_errno(ret, "cannot attach");
		if (ret < 0)
			return error_errno(ret, "cannot freeze process %s", name_of(t->pid));
		changed |= ret > 0;
	}
	return changed;
}

/* Creation order among siblings: start time, then PID. */
static int cmp_created(const void *a, const void *b)
{
	const struct tree_task *x = a, *y = b;

	if (x->st.start_time != y->st.start_time)
		return x->st.start_time < y->st.start_time ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* A task that ended while we froze the others: its tracer (us) sees its
 * end first; until we have, its parent could not reap it. */
static void end_task(struct tree_task *t)
{
	int st;

	for (size_t k = 0; k < t->ts.n; k++)
		tracee_wait(t->ts.t[k].tid, &st, __WALL | WNOHANG);
	if (t->parent >= 0)
		see_end(t->pid);
	free(t->ts.t);
	memset(&t->ts, 0, sizeof(t->ts));
}

/* Task i, then depth first its children in creation order, into out
 * (indices into tt->t), their parent set to the index it gets there. */
static void visit(struct tracee_tree *tt, size_t i, int parent, size_t *out, size_t *n,
		  uint8_t *seen)
{
	size_t at = *n, first, nkids = 0;
	size_t *kids;

	seen[i] = 1;
	out[(*n)++] = i;
	tt->t[i].parent = parent;
	if (tt->t[i].zombie)
		return;
	kids = xmalloc(tt->n * sizeof(*kids));
	for (size_t k = 0; k < tt->n; k++)
		if (!seen[k] && !tt->t[k].gone && tt->t[k].st.ppid == tt->t[i].pid)
			kids[nkids++] = k;
	/* insertion sort by creation: few children, usually in order */
	for (size_t a = 1; a < nkids; a++)
		for (size_t b = a; b > 0 && cmp_created(&tt->t[kids[b]], &tt->t[kids[b - 1]]) < 0; b--) {
			size_t tmp = kids[b];

			kids[b] = kids[b - 1];
			kids[b - 1] = tmp;
		}
	first = 0;
	for (; first < nkids; first++)
		if (!seen[kids[first]])
			visit(tt, kids[first], (int)at, out, n, seen);
	free(kids);
}

/*
 * Everything is frozen: the tree as it is now.  A task that ended while
 * the others were frozen is a zombie now (its parent is frozen: nobody
 * reaps it) or gone; a task whose parent ended is no longer in the tree
 * and is let go.  The tasks are put in creation order, parent first.
 */
static int settle(struct tracee_tree *tt)
{
	size_t *order = xmalloc(tt->n * sizeof(*order)), n = 0;
	uint8_t *seen = xzalloc(tt->n);
	struct tree_task *out;

	for (size_t i = 0; i < tt->n; i++) {
		struct tree_task *t = &tt->t[i];

		if (!t->zombie && !t->gone && tracee_freeze_done(&t->ts) < 0)
			t->gone = 1;
		if (proc_read_stat(t->pid, &t->st) < 0) {
			end_task(t);
			t->gone = 1;
			t->zombie = 0;
		} else if (t->gone || t->zombie) {
			end_task(t);
			t->zombie = (t->st.state == 'Z' || t->st.state == 'X') &&
				    !proc_has_live_thread(t->pid);
			t->gone = !t->zombie;
		}
	}
	if (tt->t[0].gone || tt->t[0].zombie) {
		free(order);
		free(seen);
		return error("cannot attach: the process exited");
	}
	visit(tt, 0, -1, order, &n, seen);
	for (size_t i = 0; i < tt->n; i++)
		if (!seen[i]) {
			debug("process %d left the tree while it was frozen", tt->t[i].pid);
			tracee_release(&tt->t[i].ts, 0);
		}
	out = xmalloc((n ? n : 1) * sizeof(*out));
	for (size_t k = 0; k < n; k++)
		out[k] = tt->t[order[k]];
	free(order);
	free(seen);
	free(tt->t);
	tt->t = out;
	tt->n = tt->cap = n;
	return 0;
}

static int freeze_once(pid_t root, struct tracee_tree *tt)
{
	add_task(tt, root, -1);
	for (int rounds = 0; rounds < MAX_ROUNDS; rounds++) {
		int seized = seize_pass(tt), born, kids;

		if (seized < 0)
			return seized;
		born = place_born(tt);
		if ((kids = scan_children(tt)) < 0)
			return kids;
		if (!seized && !born && !kids)
			return settle(tt);
	}
	return error("the tree of PID %d kept changing for %d passes: processes fork faster than they can be frozen",
		     root, MAX_ROUNDS);
}

int tracee_freeze_tree(pid_t root, struct tracee_tree *tt)
{
	int ret;

	memset(tt, 0, sizeof(*tt));
	ret = freeze_once(root, tt);
	if (ret == -EAGAIN)
		error("process %s is in vfork(): its child %d has not called exec or _exit in %d s",
		      name_of(tt->vfork[0]), tt->vfork[1], TRACEE_VFORK_MS / 1000);
	if (ret < 0)
		tracee_release_tree(tt, 0);
	return ret;
}

/* Killed, and seen to end as its tracer: a zombie of its parent now. */
static void kill_task(struct tree_task *t)
{
	int st;

	kill(t->pid, SIGKILL);
	/* The other threads first: a thread group leader is not reported
	 * (delay_group_leader, kernel/exit.c) while any traced thread of its
	 * group is still a zombie waiting for us. */
	for (size_t k = 0; k < t->ts.n; k++)
		if (t->ts.t[k].tid != t->pid)
			while (tracee_wait(t->ts.t[k].tid, &st, __WALL) == -EINTR)
				;
	for (size_t k = 0; k < t->ts.n; k++)
		if (t->ts.t[k].tid == t->pid)
			while (tracee_wait(t->ts.t[k].tid, &st, __WALL) == -EINTR)
				;
	free(t->ts.t);
	memset(&t->ts, 0, sizeof(t->ts));
	t->zombie = 1;
}

/*
 * A tree killed (dump --kill) leaves no PID taken but the root's, which
 * its own parent reaps: deepest first, each process is killed and reaped
 * by its parent (a wait4 run in the frozen parent), zombies too.  Left to
 * init they could hold their PIDs for long (100 s seen here), and a
 * restore right after would find them taken.
 */
static void kill_tree(struct tracee_tree *tt)
{
	for (size_t i = tt->n; i-- > 1;) {
		struct tree_task *t = &tt->t[i];
		struct tracee_set *par = &tt->t[t->parent].ts;
		long r;

		if (!t->zombie)
			kill_task(t);
		if (par->n && par->code.syscall_insn &&
		    tracee_syscall(par, &par->t[0], SYS_wait4,
				   (uint64_t[6]){ (uint64_t)t->pid, 0, __WALL, 0 }, &r) == 0 && r == t->pid)
			continue;
		debug("process %d: left to init to reap", t->pid);
	}
	tracee_release(&tt->t[0].ts, SIGKILL);
}

int tracee_forget_tree(struct tracee_tree *tt)
{
	/* A tree lets go tasks born in the freeze (let_go); ckpt run's
	 * thread keeps a held process. */
	if (tt->n != 1 || tt->born.n || tt->t[0].zombie || tracee_is_held(tt->t[0].pid))
		return -1;
	tracee_forget(&tt->t[0].ts);
	free(tt->born.pid);
	free(tt->t);
	memset(tt, 0, sizeof(*tt));
	return 0;
}

void tracee_release_tree(struct tracee_tree *tt, int sig)
{
	if (sig == SIGKILL && tt->n > 1)
		kill_tree(tt);
	for (size_t i = 0; i < tt->n; i++)
		if (!tt->t[i].zombie)
			tracee_release(&tt->t[i].ts, sig);
	while (tt->born.n) {
		pid_t pid = tt->born.pid[0];

		tracee_born_take(&tt->born, pid);
		let_go(pid);
	}
	free(tt->born.pid);
	free(tt->t);
	memset(tt, 0, sizeof(*tt));
}

size_t proc_children(pid_t pid, pid_t **out)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	*out = NULL;
	while (d && (de = readdir(d))) {
		pid_t p = (pid_t)atoi(de->d_name);
		struct proc_stat st;

		if (p > 0 && proc_read_stat(p, &st) == 0 && st.ppid == pid) {
			*out = xrealloc(*out, (n + 1) * sizeof(**out));
			(*out)[n++] = p;
		}
	}
	if (d)
		closedir(d);
	return n;
}
