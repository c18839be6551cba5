/*
 * ckpt restore, the process side: fork a child (with the original PID if
 * we may), exec the embedded stub in it under ptrace, hand it its plan,
 * fill its memory at the fill trap, and once every thread has finished
 * its ops, give each thread its registers and let the process go.
 * A tree: the root is made so, every other process by its parent's stub
 * (STUB_OP_FORK, traced from its first instruction), each filled at its
 * own fill trap in image order; all are let go together once every
 * thread of every process is done (docs/trees.md, 3).
 * Any failure before that point kills every process made: no half-made
 * process ever runs.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/killpoint.h"
#include "common/sigguard.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"
#include "restore/guard.h"
#include "restore/fd.h"
#include "restore/fillguard.h"
#include "restore/lazy.h"
#include "restore/ranges.h"
#include "restore/restore.h"
#include "restore/thp.h"
#include "restore/trust.h"

extern const char ckpt_stub_elf[], ckpt_stub_elf_end[];

struct rthread {
	pid_t tid;
	uint32_t state;		/* enum stub_state, as last read */
	uint32_t cur;		/* its op then */
};

/*
 * Why the forked child gave up before the exec.  It writes here, in a
 * page it shares with ckpt (a MAP_SHARED mapping stays shared across
 * fork, fork(2)), rather than on a pipe, whose descriptor would have to
 * be kept out of the way of those the child installs.
 */
struct child_why {
	const char *what;	/* a string literal: the same address in ckpt */
	int fd;			/* the fd number it concerns, -1 */
	int err;		/* errno */
	int seized;		/* ckpt run: ckpt seized it, it may exec (a futex) */
};

/* One task of the tree while it is made. */
struct rtask {
	pid_t pid;		/* as ckpt sees it (its fork event), 0: not made yet */
	int ended;		/* a zombie that has exited */
	int filled;		/* a live process whose memory is written */
};

struct ctx {
	pid_t ckpt_pid;
	struct child_why *why;
	enum fill_how how;
	struct lazy *lz;	/* HOW_EAGER, HOW_LAZY */
	struct guard *g;	/* HOW_LAZY: the process from the moment it runs */
	const struct img *img;
	const struct img_proc *p;	/* the root's */
	const struct restore_opts *o;
	pid_t pid;			/* the root */
	struct plan pl;
	struct spawn_fds *sf;		/* per process (PROC index); sf[0] the root's */
	struct rthread *th;		/* by stub thread index */
	struct rtask *rt;		/* by task */
	uint32_t next_fill;		/* the next task to fill, in image order */
	struct early *early;		/* ends seen before their fork event */
	uint32_t nearly;
	struct ctty ct;			/* the root's terminal outside the image */
};

/* A forked task may end (a zombie) before ckpt has seen its parent's fork
 * event, which tells its PID: waitpid(-1) reports the tracees' events in
 * no set order.  Its end is kept until the PID is known. */
struct early {
	pid_t pid;
	int st;
};

/* Bytes the stub occupies once loaded: its one PT_LOAD's memory size. */
static int stub_mem_size(uint64_t *size)
{
	const Elf64_Ehdr *eh = (const void *)ckpt_stub_elf;
	size_t len = (size_t)(ckpt_stub_elf_end - ckpt_stub_elf);

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_phnum != 1 ||
	    eh->e_phoff + sizeof(Elf64_Phdr) > len)
		return error("the embedded restore stub is damaged");
	*size = ((const Elf64_Phdr *)(ckpt_stub_elf + eh->e_phoff))->p_memsz;
	return 0;
}

static int make_memfd(const char *name, const void *data, size_t len)
{
	/* MFD_EXEC (Linux >= 6.3) keeps vm.memfd_noexec from refusing it. */
	int fd = memfd_create(name, MFD_CLOEXEC | 0x10u);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (len && write_all(fd, data, len) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static void utoa(char *buf, unsigned v)
{
	char tmp[16];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*buf++ = tmp[--n];
	*buf = 0;
}

static __attribute__((noreturn)) void child_fail(struct ctx *c, const char *what, int fd, int err)
{
	c->why->what = what;
	c->why->fd = fd;
	c->why->err = err;
	_exit(126);
}

/* The child, between fork and exec: async-signal-safe calls only. */
static __attribute__((noreturn)) void child_main(struct ctx *c)
{
	char fdarg[16], *argv[] = { "ckpt-stub", fdarg, NULL }, *envp[] = { NULL };
	sigset_t all;
	long ret;
	int stubfd;

	/* Until ckpt lets it go, the child dies with ckpt: no stopped
	 * half-made process left behind if ckpt is killed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* ckpt died before that: we have another parent now.  In a new PID
	 * namespace (--pid-ns) a parent outside it reads as 0, ckpt's death
	 * gives us the namespace's init, 1 (pid_namespaces(7)). */
	if (getppid() != (c->o->pid_ns ? 0 : c->ckpt_pid))
		child_fail(c, "its parent is no longer ckpt", -1, 0);
	if (c->o->pid_ns && (ret = pidns_child_mounts()) < 0)
		child_fail(c, "cannot mount its own /proc in the new PID namespace", -1, (int)-ret);
	/* A leader leads again, under a new PID too: left in ckpt restore's
	 * group, its kill(0, sig) would reach ckpt restore and a shell's
	 * job control would lose it.  Its new group or session has its new
	 * ID (the old one's number is someone else's). */
	if (c->p->d.sid == c->p->d.pid) {
		setsid();
		ctty_child(&c->ct);
	} else if (c->p->d.pgid == c->p->d.pid)
		setpgid(0, 0);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Ignored signals stay ignored across exec; the plan sets them all. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	stubfd = files_install_child(&c->sf[0]);
	if (stubfd < 0)
		child_fail(c, c->sf[0].fail, c->sf[0].fail_fd, errno);
	utoa(fdarg, (unsigned)c->sf[0].plan_slot);
	if (c->o->supervised) {
		/* ckpt run seizes it (seize_child) before the exec. */
		while (!__atomic_load_n(&c->why->seized, __ATOMIC_ACQUIRE))
			syscall(SYS_futex, &c->why->seized, FUTEX_WAIT, 0, NULL, NULL, 0);
	} else {
		/* Traced, and stopped so that ckpt can ask for an exec event: the
		 * legacy post-exec SIGTRAP would stay pending under our full mask. */
		if ((ret = tracee_call(PTRACE_TRACEME, 0, 0, 0)) < 0)
			child_fail(c, "cannot be traced by ckpt (PTRACE_TRACEME)", -1, (int)-ret);
		if (syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP) < 0)
			child_fail(c, "cannot stop itself for ckpt", -1, errno);
	}
	syscall(SYS_execveat, stubfd, "", argv, envp, AT_EMPTY_PATH);
	c->why->what = "cannot execute the stub (execveat)";
	c->why->err = errno;
	_exit(127);
}

static pid_t spawn(struct ctx *c)
{
	pid_t want = c->p->d.pid, pid;
	struct clone_args ca = { .exit_signal = SIGCHLD };
	const char *lead;
	int err;

	ca.set_tid = (uint64_t)(uintptr_t)&want;
	ca.set_tid_size = 1;
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		child_main(c);
	if (pid > 0)
		return pid;
	err = errno;
	/* In a tree the PIDs name each other (parents, groups): all or none. */
	if (c->img->ntasks > 1) {
		if (err == EEXIST)
			error("PID %d is in use: restore the tree with --pid-ns", want);
		else
			error_errno(err, "cannot restore PID %d (a tree needs its own PIDs)", want);
		errno = err;
		return -1;
	}
	/* its group or session is the new PID's (child_main): said with it */
	lead = c->p->d.sid == want ? " (it leads a session of it, as it led its own)" :
	       c->p->d.pgid == want ? " (it leads a process group of it, as it led its own)" : "";
	if (err == EEXIST)
		warn("PID %d is in use: the process gets a new PID%s", want, lead);
	else if (err == EPERM)
		warn("only root can choose PIDs: the process gets a new PID%s", lead);
	else
		warn("cannot restore PID %d (%s): the process gets a new PID%s", want, strerror(err),
		     lead);
	pid = fork();
	if (pid == 0)
		child_main(c);
	return pid;
}

static int read_stub_maps(pid_t pid, struct stub_map **out, size_t *n)
{
	char path[64], *buf, *line, *save;
	struct stub_map *m = NULL;
	size_t cnt = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if ((ret = read_file(path, &buf, NULL)) < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct map_entry e;

		if (proc_parse_maps_line(line, &e) < 0)
			continue;
		/* [vsyscall] lies outside user space: nothing to do with it. */
		if (!strcmp(e.path, "[vsyscall]"))
			continue;
		m = xrealloc(m, (cnt + 1) * sizeof(*m));
		m[cnt].start = e.start;
		m[cnt].end = e.end;
		snprintf(m[cnt].name, sizeof(m[cnt].name), "%s", e.path);
		cnt++;
	}
	free(buf);
	*out = m;
	*n = cnt;
	return 0;
}

static uint64_t threads_addr(const struct ctx *c)
{
	return c->pl.home + c->pl.plan_off + sizeof(struct stub_plan);
}

/* The task (or helper, from img->ntasks on) stub thread ti belongs to. */
static uint32_t task_of(const struct ctx *c, uint32_t ti)
{
	uint32_t k = 0;

	while (k + 1 < c->img->ntasks + c->pl.nhelpers && c->pl.procs[k + 1].t0 <= ti)
		k++;
	return k;
}

/* Tasks and helpers. */
static uint32_t nmade(const struct ctx *c)
{
	return c->img->ntasks + c->pl.nhelpers;
}

static int describe_failure(struct ctx *c, uint32_t ti, const struct stub_thread *st)
{
	const struct plan_thread *t = &c->pl.t[ti];
	const char *w = st->cur < t->nops ? t->what[st->cur] : NULL;
	char who[48] = "";

	if (c->img->ntasks > 1) {
		uint32_t k = task_of(c, ti);

		if (k < c->img->ntasks)
			snprintf(who, sizeof(who), "process %d: ", c->img->tasks[k].pid);
		else
			snprintf(who, sizeof(who), "the helper of process %d: ",
				 c->img->tasks[c->pl.procs[k].helps].pid);
	}
	if (w)
		return error_errno((int)st->err, "%scannot %s", who, w);
	return error_errno((int)st->err, "%srestore step %u of thread %u (syscall %ld) failed", who,
			   st->cur, ti, st->cur < t->nops ? (long)t->ops[st->cur].nr : -1L);
}

/* tid as the process itself sees it (differs inside --pid-ns). */
static pid_t inner_tid(const struct ctx *c, pid_t tid)
{
	char path[80], *buf, *line, *p;
	pid_t inner = tid;

	if (!c->o->pid_ns)
		return tid;
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_file(path, &buf, NULL) < 0)
		return -1;
	if ((line = strstr(buf, "\nNSpid:"))) {
		if ((p = strchr(line + 1, '\n')))
			*p = 0;
		p = strrchr(line, '\t');
		inner = p ? atoi(p + 1) : -1;
	}
	free(buf);
	return inner;
}

/* A thread trapped: which stub thread it is, from the stub's own records,
 * and in which state.  Only the trapping thread's entry is updated, so a
 * thread counts as stopped only once we have consumed its stop. */
static int trapped(struct ctx *c, pid_t tid, int *idx)
{
	uint32_t n = c->pl.nthreads;
	struct stub_thread *st = xmalloc(n * sizeof(*st));
	pid_t inner = inner_tid(c, tid);
	/* Through the trapping thread: the leader may have exited already. */
	int ret = mem_read(tid, threads_addr(c), st, n * sizeof(*st));

	*idx = -1;
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		if (st[i].tid != inner)
			continue;
		*idx = (int)i;
		c->th[i].tid = tid;
		c->th[i].state = st[i].state;
		c->th[i].cur = st[i].cur;
		if (st[i].state == STUB_ST_ERROR)
			ret = describe_failure(c, i, &st[i]);
		break;
	}
	free(st);
	return ret;
}

static int resume_after_trap(pid_t tid);

/* The live process of a task (NULL: a zombie or a helper). */
static const struct img_proc *proc_of(const struct ctx *c, uint32_t k)
{
	const struct ckpt_task *t = &c->img->tasks[k];

	return k >= c->img->ntasks || t->proc < 0 ? NULL : &c->img->procs[t->proc];
}

/* Every thread of live process k at its last trap.  An exiting leader
 * (see plan_build) never reaches DONE. */
static int proc_done(const struct ctx *c, uint32_t k)
{
	const struct plan_proc *pp = &c->pl.procs[k];

	for (uint32_t i = pp->t0 + pp->leader_gone; i < pp->t0 + pp->nthreads; i++)
		if (c->th[i].state != STUB_ST_DONE)
			return 0;
	return 1;
}

/* Every thread of every live process at its last trap, every zombie ended. */
static int all_done(const struct ctx *c)
{
	for (uint32_t k = 0; k < nmade(c); k++) {
		if (!proc_of(c, k)) {
			if (!c->rt[k].ended)
				return 0;
			continue;
		}
		if (!proc_done(c, k))
			return 0;
	}
	return 1;
}

/* A parent waits at a trap (a[0]: 1 + the task) while the child that
 * shares its fd table is made (plan.c plan_children): let it go once
 * that child is at its last trap. */
static int release_holds(struct ctx *c)
{
	for (uint32_t i = 0; i < c->pl.nthreads; i++) {
		const struct stub_op *op;
		int ret;

		if (c->th[i].state != STUB_ST_TRAP || c->th[i].cur >= c->pl.t[i].nops)
			continue;
		op = &c->pl.t[i].ops[c->th[i].cur];
		if (op->kind != STUB_OP_TRAP || !op->a[0] || op->a[0] > c->img->ntasks ||
		    !proc_done(c, (uint32_t)op->a[0] - 1))
			continue;
		if ((ret = resume_after_trap(c->th[i].tid)) < 0)
			return error_errno(ret, "cannot resume the restore stub (thread %d)",
					   c->th[i].tid);
		c->th[i].state = STUB_ST_RUN;
	}
	return 0;
}

/* Page data of the next processes in image order whose stubs wait at
 * their fill trap: a stream holds them in that order, parent first, and
 * a parent forks its children only once it is filled. */
static int fill_uffd(struct ctx *c, struct restore_job *j);

static int fill_ready(struct ctx *c, struct restore_job *j)
{
	while (c->next_fill < c->img->ntasks) {
		uint32_t k = c->next_fill, t0 = c->pl.procs[k].t0;
		const struct ckpt_task *t = &c->img->tasks[k];
		struct ranges later = { 0 };
		int ret;

		if (t->proc < 0) {		/* a zombie: nothing to fill */
			c->next_fill++;
			continue;
		}
		if (c->th[t0].state != STUB_ST_TRAP)
			return 0;
		killpoint("restore: mapped");
		ret = plan_check_received(&c->pl, k, &c->sf[t->proc], c->th[t0].tid);
		if (ret == 0 && c->how != HOW_CLASSIC) {	/* one process (choose_fill) */
			ret = fill_uffd(c, j);
		} else if (ret == 0) {
			ret = pages_fill(&j->in, c->img, c->th[t0].tid, (uint32_t)t->proc, NULL, &later);
			if (ret == 0 && later.n)
				ret = chain_fill(j->path, c->img, (uint32_t)t->proc, c->th[t0].tid,
						 &later, c->o->trust);
		}
		ranges_free(&later);
		if (ret == 0) {
			killpoint("restore: filled");
			ret = resume_after_trap(c->th[t0].tid);
		}
		if (ret < 0)
			return ret;
		c->rt[k].filled = 1;
		c->next_fill++;
	}
	return 0;
}

/* A process's stub forked: which task (or helper) the new PID is, from
 * the op the forking thread is at (the new process reports its own first
 * stop apart).  The thread is found as trapped() finds one: by the tid
 * its stub wrote (a helper never traps before). */
static int ended(struct ctx *c, pid_t pid, int st);

/* A stub forked a task: note its PID, and its end if already seen. */
static int forked(struct ctx *c, pid_t tid)
{
	uint32_t n = c->pl.nthreads;
	struct stub_thread *st = xmalloc(n * sizeof(*st));
	unsigned long msg = 0;
	pid_t inner = inner_tid(c, tid);

	if (tracee_call(PTRACE_GETEVENTMSG, tid, 0, &msg) < 0 ||
	    mem_read(tid, threads_addr(c), st, n * sizeof(*st)) < 0)
		n = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct stub_op *op;
		uint64_t ti;

		if (st[i].tid != inner || st[i].cur >= c->pl.t[i].nops)
			continue;
		op = &c->pl.t[i].ops[st[i].cur];
		/* The plan's own copy: a[0] still home-relative. */
		ti = (op->a[0] - c->pl.plan_off - sizeof(struct stub_plan)) / sizeof(struct stub_thread);
		if (op->kind == STUB_OP_FORK && ti < c->pl.nthreads)
			c->rt[task_of(c, (uint32_t)ti)].pid = (pid_t)msg;
		break;
	}
	free(st);
	for (uint32_t i = 0; i < c->nearly; i++)
		if (c->early[i].pid == (pid_t)msg) {
			struct early e = c->early[i];

			c->early[i] = c->early[--c->nearly];
			return ended(c, e.pid, e.st);
		}
	return 0;
}

/* Has ckpt seen the fork of this PID (or is it a helper's)? */
static int known(const struct ctx *c, pid_t pid)
{
	for (uint32_t k = 1; k < nmade(c); k++)
		if (c->rt[k].pid == pid)
			return 1;
	return 0;
}

/* A task ended: a zombie, as it should; anything else is a failure. */
static int ended(struct ctx *c, pid_t pid, int st)
{
	for (uint32_t k = 1; k < nmade(c); k++) {
		const struct ckpt_task *t = &c->img->tasks[k < c->img->ntasks ? k : 0];

		if (c->rt[k].pid != pid)
			continue;
		if (k >= c->img->ntasks && st == 0) {	/* a helper, done */
			c->rt[k].ended = 1;
			return 0;
		}
		if (k >= c->img->ntasks || t->proc >= 0)
			break;
		c->rt[k].ended = 1;
		if (st != t->exit_status)
			warn("zombie %d ended with status %#x, not %#x", t->pid, st, t->exit_status);
		return 0;
	}
	if (pid != c->pid && !known(c, pid)) {
		c->early = xrealloc(c->early, (c->nearly + 1) * sizeof(*c->early));
		c->early[c->nearly++] = (struct early){ pid, st };
		return 0;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) >= STUB_EXIT_USAGE && WEXITSTATUS(st) <= STUB_EXIT_HOME)
		return error("the restore stub could not start (code %d)", WEXITSTATUS(st));
	return error("the restore stub died (%s %d)", WIFEXITED(st) ? "exit status" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* Let the stubs run until every process is made, filling each at its
 * fill trap; every thread that is at a trap stays stopped there. */
static int run_stubs(struct ctx *c, struct restore_job *j)
{
	int ret;

	while ((ret = fill_ready(c, j)) == 0 && (ret = release_holds(c)) == 0 && !all_done(c)) {
		int st, sig, idx;
		pid_t tid = tracee_wait(-1, &st, __WALL);

		if (tid < 0)
			return error_errno(tid, "waiting for the restore stub");
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if ((ret = ended(c, tid, st)) < 0)
				return ret;
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (log_verbose > 1)
			debug("stub thread %d: stop %#x", tid, st >> 8);
		if (st >> 16) {		/* PTRACE_EVENT_CLONE or _FORK */
			if (((st >> 16) == PTRACE_EVENT_FORK || (st >> 16) == PTRACE_EVENT_CLONE) &&
			    (ret = forked(c, tid)) < 0)
				return ret;
			tracee_call(PTRACE_CONT, tid, 0, 0);
			continue;
		}
		/* A new thread's or process's first stop (seized ones: a
		 * PTRACE_EVENT_STOP, above). */
		if (sig == SIGSTOP) {
			tracee_call(PTRACE_CONT, tid, 0, 0);
			continue;
		}
		if (sig != SIGTRAP) {
			arch_regs_t r;
			size_t len = sizeof(r);

			tracee_get_regset(tid, NT_PRSTATUS, &r, &len);
			return error("the restore stub got signal %d (%s) at %#lx", sig, strsignal(sig),
				     (unsigned long)arch_ip(&r));
		}
		if ((ret = trapped(c, tid, &idx)) < 0)
			return ret;
		if (idx < 0)
			return error("unexpected trap in the restore stub (thread %d)", tid);
	}
	return ret;
}

/* Warn about what the stub of task k could only do in part (MAYFAIL ops). */
static int report_partial(struct ctx *c, uint32_t k)
{
	const struct plan_proc *pp = &c->pl.procs[k];
	pid_t live = c->th[pp->t0 + pp->leader_gone].tid;	/* the leader may be gone */

	for (uint32_t ti = pp->t0; ti < pp->t0 + pp->nthreads; ti++) {
		const struct plan_thread *t = &c->pl.t[ti];
		struct stub_op *ops = xmalloc(t->nops * sizeof(*ops));
		struct stub_thread st;
		int ret;

		if ((ret = mem_read(live, threads_addr(c) + ti * sizeof(st), &st, sizeof(st))) < 0 ||
		    (ret = mem_read(live, st.ops, ops, t->nops * sizeof(*ops))) < 0) {
			free(ops);
			return error_errno(ret, "cannot read the restore stub's results");
		}
		for (uint32_t i = 0; i < t->nops; i++) {
			if (ops[i].kind == STUB_OP_CLONE && ops[i].ret > 0 &&
			    (uint64_t)ops[i].ret != ops[i].a[1])
				warn("thread %lu restored as thread %ld", (unsigned long)ops[i].a[1],
				     (long)ops[i].ret);
			if ((t->ops[i].flags & STUB_OPF_MAYFAIL) && ops[i].ret < 0 && ops[i].ret > -4096 &&
			    t->what[i])
				warn("cannot %s: %s", t->what[i], strerror((int)-ops[i].ret));
		}
		free(ops);
	}
	return 0;
}

/* Stub thread i of process k as a tracee to run syscalls in.  Where the
 * kernel puts a register back at a syscall's exit stop (arm64 restores x7
 * to its value at entry: arch/arm64/kernel/ptrace.c report_syscall), they
 * run from the registers the thread is to have, which ckpt sets at that
 * stop. */
static int stub_tracee(const struct ctx *c, uint32_t k, uint32_t i, struct tracee *t)
{
	const struct plan_proc *pp = &c->pl.procs[k];
	size_t len = sizeof(t->regs);
	int ret;

	t->tid = c->th[i].tid;
	if ((ret = tracee_get_regset(t->tid, NT_PRSTATUS, &t->regs, &len)) < 0)
		return error_errno(ret, "cannot read the registers of the restore stub");
	if (!ARCH_SYSCALL_STOP_KEEPS_REGS) {
		memcpy(&t->regs, proc_of(c, k)->threads[i - pp->t0 - pp->leader_gone].regsets[0].data,
		       sizeof(t->regs));
		arch_fixup_restart(&t->regs);
	}
	return 0;
}

/* thp_madvise_fn (thp.h) in a stub thread: before the process runs, as
 * itself (no CAP_SYS_NICE needed, unlike process_madvise). */
struct collapse_arg {
	struct tracee_set *ts;
	struct tracee *t;
};

static int collapse_in(void *arg, uint64_t start, uint64_t len)
{
	struct collapse_arg *ca = arg;
	long r;
	int ret = tracee_syscall(ca->ts, ca->t, SYS_madvise,
				 (uint64_t[6]){ start, len, MADV_COLLAPSE }, &r);

	return ret < 0 ? ret : r < 0 && r > -4096 ? (int)r : 0;
}

/* One syscall in a stub thread; its result, or the error said for what. */
static int stub_syscall(struct tracee_set *ts, struct tracee *t, long nr, const uint64_t a[6],
			long *res, const char *what)
{
	long r;
	int ret = tracee_syscall(ts, t, nr, a, &r);

	if (ret == 0 && r < 0 && r > -4096)
		ret = (int)r;
	if (ret < 0)
		return error_errno(ret, "cannot %s", what);
	if (res)
		*res = r;
	return 0;
}

/* A thread's own pending signals, queued by itself: only the thread
 * itself may queue a kernel si_code (kernel/signal.c
 * do_rt_tgsigqueueinfo), and in its PID namespace's numbers. */
static int queue_thread_signals(struct ctx *c, struct tracee_set *ts, struct tracee *t,
				const struct img_thread *it, uint32_t i, long pid)
{
	const struct plan_thread *pt = &c->pl.t[i];
	long tid;
	int ret;

	if ((ret = stub_syscall(ts, t, SYS_gettid, (uint64_t[6]){ 0 }, &tid, "get a thread id")) < 0)
		return ret;
	for (uint32_t n = 0; n < pt->npending; n++) {
		int sig = it->pending[n][0] | it->pending[n][1] << 8;
		uint64_t si = c->pl.home + pt->pending + n * (uint64_t)CKPT_SIGINFO_SIZE;

		ret = stub_syscall(ts, t, SYS_rt_tgsigqueueinfo,
				   (uint64_t[6]){ (uint64_t)pid, (uint64_t)tid, (uint64_t)sig, si },
				   NULL, "queue a pending signal");
		if (ret < 0)
			return error("thread %d: signal %d not queued again", it->d.tid, sig);
	}
	return 0;
}

/* The stub's traps (int3, brk) are SIGTRAPs the kernel forces: taken
 * with SIGTRAP blocked, as the stub runs, each resets SIGTRAP's action to
 * SIG_DFL and unblocks it in its thread (kernel/signal.c
 * force_sig_info_to_task), and a SIGTRAP pending for the thread would be
 * taken in place of the trap.  So, after the last trap: every thread of
 * process k blocks all signals again (the shared ones the stub queued
 * stay pending, the threads' own are dequeued first), SIGTRAP's action is
 * set again, and each thread queues its own pending signals. */
static int signals_after_traps(struct ctx *c, uint32_t k, struct tracee_set *ts, struct tracee *t0)
{
	const struct plan_proc *pp = &c->pl.procs[k];
	const uint32_t off = pp->t0 + pp->leader_gone;
	uint64_t all = ~0ull;
	long pid;
	int ret;

	for (uint32_t i = off; i < pp->t0 + pp->nthreads; i++)
		if ((ret = (int)tracee_call(PTRACE_SETSIGMASK, c->th[i].tid, (void *)sizeof(all), &all)) < 0)
			return error_errno(ret, "cannot block signals in the restore stub");
	if (pp->trap_action &&
	    (ret = stub_syscall(ts, t0, SYS_rt_sigaction,
				(uint64_t[6]){ SIGTRAP, c->pl.home + pp->trap_action, 0, 8 }, NULL,
				"set the action of SIGTRAP")) < 0)
		return ret;
	if ((ret = stub_syscall(ts, t0, SYS_getpid, (uint64_t[6]){ 0 }, &pid, "get the process id")) < 0)
		return ret;
	for (uint32_t i = off; i < pp->t0 + pp->nthreads; i++) {
		struct tracee t = { 0 };

		if (!c->pl.t[i].npending)
			continue;
		if (i != off && (ret = stub_tracee(c, k, i, &t)) < 0)
			return ret;
		if ((ret = queue_thread_signals(c, ts, i == off ? t0 : &t, &proc_of(c, k)->threads[i - off],
						i, pid)) < 0)
			return ret;
	}
	return 0;
}

/* fd_pidfd_finish's view of the made processes (struct pidfd_finish). */
struct finish_arg {
	struct ctx *c;
	struct tracee_set *ts;
	struct tracee *t;
};

static pid_t id_now(void *arg, pid_t id)
{
	const struct ctx *c = ((struct finish_arg *)arg)->c;

	for (uint32_t k = 0; k < c->img->ntasks; k++) {
		const struct plan_proc *pp = &c->pl.procs[k];
		const struct img_proc *p = proc_of(c, k);

		if (c->img->tasks[k].pid == id)
			return inner_tid(c, k ? c->rt[k].pid : c->pid);
		for (uint32_t i = 0; p && i < p->d.nthreads; i++)
			if (p->threads[i].d.tid == id)
				return inner_tid(c, c->th[pp->t0 + pp->leader_gone + i].tid);
	}
	return -1;
}

static int finish_syscall(void *arg, long nr, const uint64_t a[6], long *res, const char *what)
{
	struct finish_arg *fa = arg;

	return stub_syscall(fa->ts, fa->t, nr, a, res, what);
}

static int finish_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	return mem_read(((struct finish_arg *)arg)->t->tid, addr, buf, len);
}

/* Task k, a live process, made: its signals after the stub's traps, its
 * parent-death signal and dumpable flag, its home unmapped, every
 * thread's registers and signal mask.  It stays stopped until all are. */
/* Eager: the huge pages it had, now that every page is in and no uffd is
 * left (the stub closed its own after the fill trap; thp.h). */
static int huge_again(struct ctx *c, uint32_t k, struct tracee_set *ts, struct tracee *t)
{
	struct collapse_arg ca = { ts, t };
	const struct ranges *rs;
	uint64_t hs;

	if (k || c->how != HOW_EAGER || !c->lz)
		return 0;
	rs = lazy_huge(c->lz, &hs);
	if (rs->n)
		thp_collapse(rs, hs, collapse_in, &ca, 0);
	return 0;
}

/* The other threads' parent-death signals (ATTRS; clone gave them none),
 * by the same rule as the leader's: none when ckpt leaves the root. */
static int thread_pdeath(struct ctx *c, uint32_t k, struct tracee_set *ts)
{
	const struct img_proc *p = proc_of(c, k);
	const struct plan_proc *pp = &c->pl.procs[k];
	const uint32_t off = pp->t0 + pp->leader_gone;
	int ret;

	if (!p->has_attrs || (c->o->detach && k == 0))
		return 0;
	for (uint32_t i = off; i < pp->t0 + pp->nthreads; i++) {
		uint32_t sig = p->tattrs[i - off].pdeathsig;
		struct tracee t = { 0 };

		if (!sig || (p->threads[i - off].d.tid == p->d.pid))
			continue;
		if ((ret = stub_tracee(c, k, i, &t)) < 0 ||
		    (ret = stub_syscall(ts, &t, SYS_prctl, (uint64_t[6]){ PR_SET_PDEATHSIG, sig }, NULL,
					"restore a thread's parent-death signal")) < 0)
			return ret;
	}
	return 0;
}

static int finish_proc(struct ctx *c, uint32_t k)
{
	const struct img_proc *p = proc_of(c, k);
	const struct plan_proc *pp = &c->pl.procs[k];
	const uint32_t off = pp->t0 + pp->leader_gone;
	struct tracee_set ts = { .pid = c->th[off].tid };
	struct tracee t0 = { 0 };
	struct finish_arg fa = { c, &ts, &t0 };
	/* scratch: the bottom of the stub's stack of the thread the syscalls
	 * run in, stopped for good at its last trap (its stack is dead) */
	struct pidfd_finish pf = { &fa, id_now, finish_syscall, finish_read,
				   plan_stack_bottom(&c->pl, off) };
	struct stub_plan sp;
	int ret;

	if ((ret = report_partial(c, k)) < 0)
		return ret;
	if ((ret = mem_read(c->th[off].tid, c->pl.home + c->pl.plan_off, &sp, sizeof(sp))) < 0)
		return error_errno(ret, "cannot read the restore stub's plan");
	ts.code.syscall_insn = sp.syscall_insn;
	if ((ret = stub_tracee(c, k, off, &t0)) < 0)
		return ret;
	/* Its pidfds of other processes and of threads: all are made now. */
	if ((ret = fd_pidfd_finish(c->img, p, &pf)) < 0 || (ret = fd_owner_finish(c->img, p, &pf)) < 0 ||
	    (ret = signals_after_traps(c, k, &ts, &t0)) < 0)
		return ret;
	/* Its pty's foreground group, made by now (every signal blocked:
	 * no SIGTTOU); if it cannot, ctty_report says what it is. */
	if (pp->fg_group) {
		long r = 0;
		uint64_t a[6] = { (uint64_t)ctty_slave_fd(c->img, p), TIOCSPGRP,
				  c->pl.home + pp->fg_group };

		if (tracee_syscall(&ts, &t0, SYS_ioctl, a, &r) < 0 || r < 0)
			debug("process %d: TIOCSPGRP %d on fd %d: %ld", p->d.pid, p->ctty.tpgid,
			      (int)a[0], r);
	}
	/* The parent-death signal the child got from us (or from its
	 * parent's stub) goes; the original one comes back, unless we are
	 * about to leave the root (--detach). */
	killpoint("restore: finishing");
	if ((ret = stub_syscall(&ts, &t0, SYS_prctl, (uint64_t[6]){ PR_SET_PDEATHSIG,
				c->o->detach && k == 0 ? 0 : p->d.pdeathsig }, NULL,
				"restore the parent-death signal")) < 0 ||
	    (ret = thread_pdeath(c, k, &ts)) < 0 ||
	    /* Every thread's uid change reset the process's dumpable flag;
	     * all are done now, so set it as it was. */
	    (ret = stub_syscall(&ts, &t0, SYS_prctl, (uint64_t[6]){ PR_SET_DUMPABLE,
				!(p->d.flags & CKPT_PROC_UNDUMPABLE) }, NULL,
				"restore the dumpable flag")) < 0 ||
	    (ret = huge_again(c, k, &ts, &t0)) < 0 ||
	    (ret = stub_syscall(&ts, &t0, SYS_munmap, (uint64_t[6]){ c->pl.home, c->pl.size }, NULL,
				"unmap the restore stub")) < 0)
		return ret;
	killpoint("restore: stub unmapped");
	for (uint32_t i = off; i < pp->t0 + pp->nthreads; i++) {
		const struct img_thread *it = &p->threads[i - off];
		arch_regs_t regs;

		memcpy(&regs, it->regsets[0].data, sizeof(regs));
		arch_fixup_restart(&regs);
		for (uint32_t n = 0; n < it->d.nregsets; n++) {
			const struct img_regset *rs = &it->regsets[n];

			ret = tracee_set_regset(c->th[i].tid, rs->type, n ? (void *)rs->data : (void *)&regs,
						n ? rs->len : sizeof(regs));
			if (ret < 0)
				return error_errno(ret, "thread %d: cannot set its registers (note type %#x)",
						   it->d.tid, rs->type);
		}
		ret = (int)tracee_call(PTRACE_SETSIGMASK, c->th[i].tid, (void *)sizeof(uint64_t),
				       &it->d.sigmask);
		if (ret < 0)
			return error_errno(ret, "thread %d: cannot set its signal mask", it->d.tid);
		killpoint("restore: registers set");
	}
	return 0;
}

/*
 * An exiting leader (plan.c: a process whose main thread had ended) runs
 * its last syscalls (its credentials, dropping the parent-death signal
 * child_main gave it, exit) while its other threads go to their last trap,
 * and nothing reports its end to ckpt: a leader with live threads cannot
 * be waited for (delay_group_leader, kernel/exit.c), and all_done does not
 * count it.  Until it is exiting it is ckpt's tracee with
 * PTRACE_O_EXITKILL, and may still have that parent-death signal: a ckpt
 * that exits first (restore --detach) kills the whole process, silently
 * (seen: lifecycle.bats's --detach leader_exit test, 1 run in 28 in a
 * loaded arm64 guest).  So the process is let go only once its leader is
 * exiting (PF_EXITING: a SIGKILL to it no longer reaches the others) or
 * a zombie.
 */
static int leaders_exited(const struct ctx *c)
{
	for (uint32_t k = 0; k < c->img->ntasks; k++) {
		pid_t pid = k ? c->rt[k].pid : c->pid;
		struct proc_stat st;

		if (!proc_of(c, k) || !c->pl.procs[k].leader_gone)
			continue;
		/* Running its last syscalls (R, S, D); a leader stopped at a
		 * trap (t) would never get there: not waited for, as before. */
		while (proc_read_stat(pid, &st) == 0 && strchr("RSD", st.state) &&
		       !(st.flags & PF_EXITING)) {
			if (sigguard_fired())
				return -EINTR;	/* restore.c says it */
			usleep(1000);
		}
	}
	return 0;
}

/* Every process made: all of them let go together. */
static int finish(struct ctx *c)
{
	int ret;

	if ((ret = leaders_exited(c)) < 0)
		return ret;
	for (uint32_t k = 0; k < c->img->ntasks; k++)
		if (proc_of(c, k) && (ret = finish_proc(c, k)) < 0)
			return ret;
	/* One that was stopped when dumped stops before running anything. */
	for (uint32_t k = 0; k < c->img->ntasks; k++)
		if (proc_of(c, k) && (proc_of(c, k)->d.flags & CKPT_PROC_STOPPED))
			kill(k ? c->rt[k].pid : c->pid, SIGSTOP);
	/* Killed between two of the detaches below, ckpt leaves traced
	 * threads whose PTRACE_O_EXITKILL kills their process: never half of
	 * one.  Never half of a tree either: the guardian kills the processes
	 * already let go (guard.c). */
	for (uint32_t k = 0; k < c->img->ntasks; k++)
		if (proc_of(c, k) && (ret = rguard_note(k ? c->rt[k].pid : c->pid)) < 0)
			return error_errno(ret, "cannot journal process %d for the restore guardian",
					   c->img->tasks[k].pid);
	/* The last moment a ^C or SIGTERM means undo (restore.c): from here
	 * on it is the process's (restore_forward_signals passes on one
	 * that comes meanwhile).  Said first, for tests that stop ckpt to
	 * know which side of this a signal lands on. */
	debug("restore: every process made, letting them go");
	if (sigguard_fired())
		return -EINTR;	/* restore.c says it */
	/* Its terminal, before it runs; who had one and has none is said. */
	ctty_finish(&c->ct, c->img, c->p, c->pid);
	for (uint32_t k = 0; k < c->img->ntasks; k++)
		if (proc_of(c, k))
			ctty_report(proc_of(c, k), k ? c->rt[k].pid : c->pid);
	/* Signals for the root must reach it from the moment it runs. */
	if (!c->o->detach && !c->o->supervised)
		restore_forward_signals(c->pid);
	if (c->how == HOW_LAZY) {
		/* One process (choose_fill), traced until every page is in:
		 * it must die with ckpt. */
		const struct plan_proc *pp = &c->pl.procs[0];
		uint32_t first = pp->t0 + pp->leader_gone, n = pp->nthreads - pp->leader_gone;
		pid_t *tids = xmalloc(n * sizeof(*tids));

		for (uint32_t i = 0; i < n; i++)
			tids[i] = c->th[first + i].tid;
		ret = guard_begin(c->g, c->pid, tids, n);
		free(tids);
		if (ret < 0)
			return ret;
		/* Killed between two of these, ckpt leaves threads traced
		 * with EXITKILL (and the keeper, fillguard.c): the process dies. */
		for (uint32_t i = 0; i < n; i++) {
			tracee_call(PTRACE_CONT, c->th[first + i].tid, 0, 0);
			killpoint("restore: thread let go");
		}
		rguard_stop();
		return 0;
	}
	/* ckpt run holds the processes as they are, stopped here, every
	 * report consumed (tracee_adopt): nothing of them runs untraced. */
	if (c->o->supervised)
		return 0;
	/* Killed between two of these, ckpt leaves traced threads whose
	 * PTRACE_O_EXITKILL kills their process: never half of one. */
	for (uint32_t k = 0; k < c->img->ntasks; k++) {
		const struct plan_proc *pp = &c->pl.procs[k];

		if (!proc_of(c, k))
			continue;
		for (uint32_t i = pp->t0 + pp->leader_gone; i < pp->t0 + pp->nthreads; i++) {
			tracee_call(PTRACE_DETACH, c->th[i].tid, 0, 0);
			killpoint("restore: thread let go");
		}
	}
	killpoint("restore: all let go");
	rguard_stop();
	return 0;
}

/* Whether a process of the image has seccomp filters (seccomp.c). */
static int any_seccomp(const struct img *img)
{
	for (uint32_t i = 0; i < img->h.nprocs; i++)
		if (img->procs[i].nseccomp)
			return 1;
	return 0;
}

/* The child exited, or stopped otherwise than it should have: why, as
 * it said (child_why), else its status. */
static int did_not_start(const struct ctx *c, int st)
{
	const struct child_why *w = c->why;
	char limit[64] = "";
	struct rlimit rl;

	if (!WIFEXITED(st) || !w->what)
		return error("the restore stub did not start (%s %d)",
			     WIFEXITED(st) ? "exit status" : "status",
			     WIFEXITED(st) ? WEXITSTATUS(st) : st);
	/* EBADF from dup2, EINVAL from F_DUPFD, EMFILE: a number at or over
	 * RLIMIT_NOFILE (dup(2), fcntl(2)), which the child raised to the
	 * hard limit at most. */
	if (w->fd >= 0 && (w->err == EBADF || w->err == EINVAL || w->err == EMFILE) &&
	    getrlimit(RLIMIT_NOFILE, &rl) == 0)
		snprintf(limit, sizeof(limit), " (ulimit -Hn %llu)", (unsigned long long)rl.rlim_max);
	if (w->fd >= 0)
		return error_errno(w->err, "the restore stub did not start: fd %d: %s%s", w->fd,
				   w->what, limit);
	return error_errno(w->err, "the restore stub did not start: %s", w->what);
}

/* Seccomp filters act once ckpt lets go (seccomp.c); threads and
 * children inherit the options (PTRACE_O_TRACECLONE, PTRACE_O_TRACEFORK). */
static long stub_ptrace_opts(const struct ctx *c)
{
	return PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL |
	       PTRACE_O_TRACESYSGOOD | (any_seccomp(c->img) ? PTRACE_O_SUSPEND_SECCOMP : 0);
}

/*
 * ckpt run: the child is seized (PTRACE_SEIZE), not traced by
 * PTRACE_TRACEME, so that ckpt run can hold the process from the restore
 * on without ever letting it go (finish(), tracee_adopt()): held
 * processes are seized ones (PTRACE_INTERRUPT, PTRACE_LISTEN work only
 * on those, ptrace(2)).  The child waits at a futex until then; the
 * threads and processes its stub makes are seized too (auto-attached
 * tracees inherit it).
 */
static int seize_child(struct ctx *c)
{
	int st, err;

	if (ptrace(PTRACE_SEIZE, c->pid, 0, (void *)stub_ptrace_opts(c)) < 0) {
		err = errno;
		/* It gave up before (child_fail): its reason, not ours. */
		kill(c->pid, SIGKILL);
		if (tracee_wait(c->pid, &st, __WALL) == c->pid && c->why->what)
			return did_not_start(c, st);
		return error_errno(err, "cannot trace the restore stub (PTRACE_SEIZE)");
	}
	__atomic_store_n(&c->why->seized, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &c->why->seized, FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}

static int setup_stub(struct ctx *c, uint64_t stub_size)
{
	const int exec_stop = SIGTRAP | (PTRACE_EVENT_EXEC << 8);
	struct stub_map *maps = NULL;
	uint8_t *buf = NULL;
	size_t nmaps = 0, len = 0;
	int st, ret, want = SIGSTOP;

	if (c->o->supervised) {
		if ((ret = seize_child(c)) < 0)
			return ret;
		want = exec_stop;
	}
	for (;; want = exec_stop) {
		if ((ret = tracee_wait(c->pid, &st, __WALL)) < 0)
			return error_errno(ret, "waiting for the restore stub");
		if (!WIFSTOPPED(st) || (st >> 8) != want)
			return did_not_start(c, st);
		if (want != SIGSTOP)
			break;
		if ((ret = (int)tracee_call(PTRACE_SETOPTIONS, c->pid, 0, (void *)stub_ptrace_opts(c))) < 0 ||
		    (ret = (int)tracee_call(PTRACE_CONT, c->pid, 0, 0)) < 0)
			return error_errno(ret, "cannot trace the restore stub");
	}
	if ((ret = read_stub_maps(c->pid, &maps, &nmaps)) < 0)
		return error_errno(ret, "cannot read the restore stub's mappings");
	if ((ret = mapfiles_recv_slots(c->pid, &c->sf[0])) < 0 ||
	    (ret = plan_build(&c->pl, c->img, maps, nmaps, c->sf, stub_size, c->o->trust,
			      c->how != HOW_CLASSIC)) < 0 ||
	    (ret = plan_place(&c->pl, c->img, maps, nmaps)) < 0 ||
	    (ret = plan_serialise(&c->pl, &buf, &len)) < 0)
		goto out;
	if (pwrite(c->sf[0].plan_src, buf, len, 0) != (ssize_t)len) {
		ret = error_errno(errno, "cannot write the restore plan");
		goto out;
	}
	c->th = xzalloc(c->pl.nthreads * sizeof(*c->th));
	c->rt = xzalloc(nmade(c) * sizeof(*c->rt));
	debug("stub home %#lx-%#lx (plan at +%#lx, %zu bytes), %u threads, %u ops in thread 0",
	      (unsigned long)c->pl.home, (unsigned long)(c->pl.home + c->pl.size),
	      (unsigned long)c->pl.plan_off, len, c->pl.nthreads, c->pl.t[0].nops);
	if ((ret = (int)tracee_call(PTRACE_CONT, c->pid, 0, 0)) < 0)
		ret = error_errno(ret, "cannot start the restore stub");
out:
	free(buf);
	free(maps);
	return ret;
}

/* Let a thread stopped at its trap (arch_trap) run on after it, with
 * SIGTRAP blocked again: the trap unblocked it (see signals_after_traps),
 * and the signals the stub queues for the process must stay pending. */
static int resume_after_trap(pid_t tid)
{
	uint64_t all = ~0ull;
	int ret = (int)tracee_call(PTRACE_SETSIGMASK, tid, (void *)sizeof(all), &all);

	if (ret < 0)
		return ret;
	if (ARCH_TRAP_SKIP) {
		arch_regs_t r;
		size_t len = sizeof(r);

		if ((ret = tracee_get_regset(tid, NT_PRSTATUS, &r, &len)) < 0)
			return ret;
		arch_set_ip(&r, arch_ip(&r) + ARCH_TRAP_SKIP);
		if ((ret = tracee_set_regset(tid, NT_PRSTATUS, &r, sizeof(r))) < 0)
			return ret;
	}
	return (int)tracee_call(PTRACE_CONT, tid, 0, 0);
}

/* Every process made so far: killed, and reaped as their tracer (every
 * thread we trace must be reaped by us before its leader can be). */
static void kill_all(struct ctx *c)
{
	int st;

	kill(c->pid, SIGKILL);
	for (uint32_t k = 1; c->rt && k < nmade(c); k++)
		if (c->rt[k].pid > 0)
			kill(c->rt[k].pid, SIGKILL);
	/* All are killed for good: the guardian has nothing left to do (and
	 * is a child to wait for, below). */
	rguard_stop();
	for (;;) {
		pid_t r = tracee_wait(-1, &st, __WALL);

		if (r < 0 && r != -EINTR)
			break;
	}
}

/* Through the uffd the stub made just before its fill trap: ckpt takes
 * it (pidfd_getfd), has the stub close its own copy, and copies the pages
 * in, now (eager) or from threads while the process runs (lazy). */
static int fill_uffd(struct ctx *c, struct restore_job *j)
{
	struct stub_op op;
	uint64_t a0;
	int pidfd, fd, ret;

	ret = mem_read(c->th[0].tid, plan_op_addr(&c->pl, 0, c->pl.uffd_op), &op, sizeof(op));
	if (ret < 0)
		return error_errno(ret, "cannot read the restore stub's results");
	if (op.ret < 0)
		return error_errno((int)op.ret, "cannot make a userfaultfd in the process");
	pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)op.ret, 0);
	if (fd < 0)
		ret = error_errno(errno, "cannot take the process's userfaultfd");
	if (pidfd >= 0)
		close(pidfd);
	a0 = (uint64_t)op.ret;
	if (ret == 0 && (ret = mem_write(c->th[0].tid, plan_op_addr(&c->pl, 0, c->pl.uffd_close_op) +
					 offsetof(struct stub_op, a), &a0, sizeof(a0))) < 0)
		ret = error_errno(ret, "cannot write the restore stub's plan");
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	killpoint("restore: userfaultfd taken");
	ret = lazy_begin(&c->lz, j->path, &j->in, c->img, c->pid, fd, c->how == HOW_EAGER,
			 c->o->trust);
	if (ret == 0 && c->how == HOW_LAZY) {
		killpoint("restore: lazily filling, the process not yet running");
		ret = lazy_serve(c->lz);
	}
	return ret;
}

/* Every process's files, opened here; then the slots of a tree's. */
static int open_files(struct ctx *c)
{
	int ret;

	/* ckpt holds every descriptor of every process of a tree at once:
	 * up to the hard limit, until restore_spawn's end (nofile_restore). */
	if (c->img->h.nprocs > 1)
		nofile_raise(UINT64_MAX);
	c->sf = xzalloc(c->img->h.nprocs * sizeof(*c->sf));
	for (uint32_t i = 0; i < c->img->h.nprocs; i++) {
		c->sf[i].plan_src = c->sf[i].stub_src = c->sf[i].exe_src = -1;
		if ((ret = files_open(c->img, &c->img->procs[i], c->o, &c->sf[i],
				      i ? c->sf[0].fr : NULL)) < 0 ||
		    (ret = sysv_open(c->img, c->sf, i)) < 0)
			return ret;
	}
	files_opened(&c->sf[0]);
	if ((ret = tree_shm(c->sf, c->img)) < 0)
		return ret;
	tree_fds(c->sf, c->img);
	return 0;
}

int restore_spawn(struct restore_job *j)
{
	const struct restore_opts *o = j->o;
	struct pidns *ns = j->ns;
	struct ctx c = { .img = j->img, .p = &j->img->procs[0], .o = o, .ckpt_pid = getpid(),
			 .ct = { .fd = -1 }, .how = j->fill->how, .g = j->fill->g };
	uint64_t stub_size = 0;
	int ret, fd;

	if ((ret = stub_mem_size(&stub_size)) < 0)
		return ret;
	if ((ret = open_files(&c)) < 0)
		goto out;
	fd = make_memfd("ckpt-plan", NULL, 0);
	c.sf[0].plan_src = fd;
	fd = make_memfd("ckpt-stub", ckpt_stub_elf, (size_t)(ckpt_stub_elf_end - ckpt_stub_elf));
	c.sf[0].stub_src = fd;
	if (c.sf[0].plan_src < 0 || c.sf[0].stub_src < 0) {
		ret = error_errno(fd, "cannot create a memfd");
		goto out;
	}
	c.why = mmap(NULL, sizeof(*c.why), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c.why == MAP_FAILED) {
		c.why = NULL;
		ret = error_errno(errno, "cannot map a page to share with the restore stub");
		goto out;
	}
	/* A tree is let go one thread at a time: all or nothing, by the
	 * guardian, should ckpt die meanwhile.  Forked before the PID
	 * namespace is entered: the guardian is none of its processes. */
	if (c.img->ntasks > 1 && (ret = rguard_start(c.img->ntasks + 1)) < 0) {
		ret = error_errno(ret, "cannot start the restore guardian");
		goto out;
	}
	if (o->pid_ns && (ret = pidns_enter(ns)) < 0)
		goto out;
	/* Its init's end ends the namespace and all in it (pid_namespaces(7)). */
	if (o->pid_ns && (ret = rguard_note(ns->init)) < 0) {
		ret = error_errno(ret, "cannot journal the PID namespace's init for the restore guardian");
		goto out;
	}
	ctty_open(&c.ct, c.p, o);
	c.pid = spawn(&c);
	if (c.pid < 0) {
		ret = c.img->ntasks > 1 ? -EEXIST : error_errno(errno, "cannot fork");
		goto out;
	}
	killpoint("restore: forked");
	if (o->pid_ns && (ret = pidns_started(ns, c.pid)) < 0) {
		kill_all(&c);
		goto out;
	}
	/* A stream's MAC as a whole, once all is read, before anything runs. */
	if ((ret = setup_stub(&c, stub_size)) < 0 ||
	    (killpoint("restore: stub started"), ret = run_stubs(&c, j)) < 0 ||
	    (ret = trust_check_filled(o->trust, j->in.r)) < 0 ||
	    /* every mapping made: the seals that would have refused them */
	    (ret = files_seal(&c.sf[0])) < 0 ||
	    (killpoint("restore: threads made"), ret = finish(&c)) < 0) {
		/* The fill's keeper first: a child of ours too, it would wait
		 * for lazy_end while kill_all waits for every child. */
		lazy_end(c.lz);
		c.lz = NULL;
		kill_all(&c);
		goto out;
	}
	j->pid = c.pid;
	if (c.how == HOW_EAGER)
		lazy_end(c.lz);
	else
		j->fill->lz = c.lz;
out:
	/* ckpt run holds a tree stopped as finish() left it: the guardian
	 * goes once it is held (restore_held), or it is killed whole. */
	if (ret < 0 || !o->supervised)
		rguard_stop();
	plan_free(&c.pl);
	for (uint32_t i = 0; c.sf && i < c.img->h.nprocs; i++) {
		sysv_close(&c.img->procs[i], &c.sf[i], ret < 0);
		files_close(&c.sf[i]);
	}
	ctty_close(&c.ct);
	free(c.sf);
	free(c.th);
	free(c.rt);
	free(c.early);
	if (c.why)
		munmap(c.why, sizeof(*c.why));
	/* Ours only (open_files, mapfiles.c): every process has its own from
	 * the plan; a `ckpt run` that restored in-process lives on. */
	nofile_restore();
	return ret;
}
