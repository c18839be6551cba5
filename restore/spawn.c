/*
 * ckpt restore, the process side: fork a child (with the original PID if
 * we may), exec the embedded stub in it under ptrace, hand it its plan,
 * fill its memory at the fill trap, and once every thread has finished
 * its ops, give each thread its registers and let the process go.
 * Any failure before that point kills the child: no half-made process
 * ever runs.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"
#include "restore/ranges.h"
#include "restore/restore.h"

extern const char ckpt_stub_elf[], ckpt_stub_elf_end[];

struct rthread {
	pid_t tid;
	uint32_t state;		/* enum stub_state, as last read */
};

struct ctx {
	pid_t ckpt_pid;
	const struct img *img;
	const struct img_proc *p;
	const struct restore_opts *o;
	pid_t pid;
	struct plan pl;
	struct spawn_fds sf;
	struct rthread *th;	/* by stub thread index */
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

/* The child, between fork and exec: async-signal-safe calls only. */
static __attribute__((noreturn)) void child_main(struct ctx *c, int same_pid)
{
	char fdarg[16], *argv[] = { "ckpt-stub", fdarg, NULL }, *envp[] = { NULL };
	sigset_t all;
	int stubfd;

	/* Until ckpt lets it go, the child dies with ckpt: no stopped
	 * half-made process left behind if ckpt is killed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* ckpt died before that: we have another parent now.  In a new PID
	 * namespace (--pid-ns) a parent outside it reads as 0, ckpt's death
	 * gives us the namespace's init, 1 (pid_namespaces(7)). */
	if (getppid() != (c->o->pid_ns ? 0 : c->ckpt_pid))
		_exit(126);
	if (c->o->pid_ns && pidns_child_mounts() < 0)
		_exit(126);
	if (same_pid && c->p->d.sid == c->p->d.pid)
		setsid();
	else if (same_pid && c->p->d.pgid == c->p->d.pid)
		setpgid(0, 0);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Ignored signals stay ignored across exec; the plan sets them all. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	stubfd = files_install_child(&c->sf);
	if (stubfd < 0)
		_exit(126);
	utoa(fdarg, (unsigned)c->sf.plan_slot);
	/* Traced, and stopped so that ckpt can ask for an exec event: the
	 * legacy post-exec SIGTRAP would stay pending under our full mask. */
	if (tracee_call(PTRACE_TRACEME, 0, 0, 0) < 0 ||
	    syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP) < 0)
		_exit(126);
	syscall(SYS_execveat, stubfd, "", argv, envp, AT_EMPTY_PATH);
	_exit(127);
}

static pid_t spawn(struct ctx *c)
{
	pid_t want = c->p->d.pid, pid;
	struct clone_args ca = { .exit_signal = SIGCHLD };
	int err;

	ca.set_tid = (uint64_t)(uintptr_t)&want;
	ca.set_tid_size = 1;
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		child_main(c, 1);
	if (pid > 0)
		return pid;
	err = errno;
	if (err == EEXIST)
		warn("PID %d is in use: the process gets a new PID", want);
	else if (err == EPERM)
		warn("only root can choose PIDs: the process gets a new PID");
	else
		warn("cannot restore PID %d (%s): the process gets a new PID", want, strerror(err));
	pid = fork();
	if (pid == 0)
		child_main(c, 0);
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

static int describe_failure(struct ctx *c, uint32_t ti, const struct stub_thread *st)
{
	const struct plan_thread *t = &c->pl.t[ti];
	const char *w = st->cur < t->nops ? t->what[st->cur] : NULL;

	if (w)
		return error_errno((int)st->err, "cannot %s", w);
	return error_errno((int)st->err, "restore step %u of thread %u (syscall %ld) failed", st->cur,
			   ti, st->cur < t->nops ? (long)t->ops[st->cur].nr : -1L);
}

/* tid as the process itself sees it (differs inside --pid-ns). */
static pid_t inner_tid(const struct ctx *c, pid_t tid)
{
	char path[80], *buf, *line, *p;
	pid_t inner = tid;

	if (!c->o->pid_ns)
		return tid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", c->pid, tid);
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
		if (st[i].state == STUB_ST_ERROR)
			ret = describe_failure(c, i, &st[i]);
		break;
	}
	free(st);
	return ret;
}

enum phase { PHASE_FILL, PHASE_DONE };

static int reached(const struct ctx *c, enum phase ph)
{
	if (ph == PHASE_FILL)
		return c->th[0].state == STUB_ST_TRAP;
	/* An exiting leader (see plan_build) never reaches DONE. */
	for (uint32_t i = c->pl.leader_gone; i < c->pl.nthreads; i++)
		if (c->th[i].state != STUB_ST_DONE)
			return 0;
	return 1;
}

/* Let the stub run until it reaches the phase; every thread that is at a
 * trap stays stopped there. */
static int run_until(struct ctx *c, enum phase ph)
{
	while (!reached(c, ph)) {
		int st, sig, idx, ret;
		pid_t tid = tracee_wait(-1, &st, __WALL);

		if (tid == -EINTR)
			return error("interrupted by signal %d: nothing was restored", sigguard_fired());
		if (tid < 0)
			return error_errno(tid, "waiting for the restore stub");
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (WIFEXITED(st) && WEXITSTATUS(st) >= STUB_EXIT_USAGE && WEXITSTATUS(st) <= STUB_EXIT_HOME)
				return error("the restore stub could not start (code %d)", WEXITSTATUS(st));
			return error("the restore stub died (%s %d)", WIFEXITED(st) ? "exit status" : "signal",
				     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (log_verbose > 1)
			debug("stub thread %d: stop %#x", tid, st >> 8);
		if (st >> 16) {		/* PTRACE_EVENT_CLONE */
			tracee_call(PTRACE_CONT, tid, 0, 0);
			continue;
		}
		if (sig == SIGSTOP) {	/* a new thread's first stop */
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
	return 0;
}

/* Warn about what the stub could only do in part (MAYFAIL ops). */
static int report_partial(struct ctx *c)
{
	pid_t live = c->th[c->pl.leader_gone].tid;	/* the leader may be gone */

	for (uint32_t ti = 0; ti < c->pl.nthreads; ti++) {
		const struct plan_thread *t = &c->pl.t[ti];
		struct stub_op *ops = xmalloc(t->nops * sizeof(*ops));
		struct stub_thread st;
		int ret;

		if ((ret = mem_read(live, threads_addr(c) + ti * sizeof(st), &st, sizeof(st))) < 0 ||
		    (ret = mem_read(live, st.ops, ops, t->nops * sizeof(*ops))) < 0) {
			free(ops);
			return error_errno(ret, "cannot read the restore stub's results");
		}
		for (uint32_t k = 0; k < t->nops; k++) {
			if (ops[k].kind == STUB_OP_CLONE && ops[k].ret > 0 &&
			    (uint64_t)ops[k].ret != ops[k].a[1])
				warn("thread %lu restored as thread %ld", (unsigned long)ops[k].a[1],
				     (long)ops[k].ret);
			if ((t->ops[k].flags & STUB_OPF_MAYFAIL) && ops[k].ret < 0 && ops[k].ret > -4096 &&
			    t->what[k])
				warn("cannot %s: %s", t->what[k], strerror((int)-ops[k].ret));
		}
		free(ops);
	}
	return 0;
}

/* Registers, extended state and signal mask of every thread, the stub's
 * home unmapped, and off they go. */
static int finish(struct ctx *c)
{
	const uint32_t off = c->pl.leader_gone;
	struct tracee_set ts = { .pid = c->pid };
	struct tracee t0 = { .tid = c->th[off].tid };
	struct stub_plan sp;
	size_t len = sizeof(t0.regs);
	long r;
	int ret;

	if ((ret = report_partial(c)) < 0)
		return ret;
	if ((ret = mem_read(t0.tid, c->pl.home + c->pl.plan_off, &sp, sizeof(sp))) < 0)
		return error_errno(ret, "cannot read the restore stub's plan");
	ts.syscall_insn = sp.syscall_insn;
	if ((ret = tracee_get_regset(t0.tid, NT_PRSTATUS, &t0.regs, &len)) < 0)
		return error_errno(ret, "cannot read the registers of the restore stub");
	if (!ARCH_SYSCALL_STOP_KEEPS_REGS) {
		/* t0 gets its registers at the exit stop of the last syscall
		 * below, and arm64 then puts x7 back to its value at that
		 * syscall's entry (arch/arm64/kernel/ptrace.c report_syscall):
		 * run the syscalls from the registers it is to have. */
		memcpy(&t0.regs, c->p->threads[0].regsets[0].data, sizeof(t0.regs));	/* stub thread off */
		arch_fixup_restart(&t0.regs);
	}
	/* The parent-death signal the child got from us goes; the original
	 * one comes back, unless we are about to leave it (--detach). */
	ret = tracee_syscall(&ts, &t0, SYS_prctl, (uint64_t[6]){ PR_SET_PDEATHSIG,
			     c->o->detach ? 0 : c->p->d.pdeathsig }, &r);
	if (ret < 0 || r < 0)
		return error_errno(ret < 0 ? ret : (int)r, "cannot restore the parent-death signal");
	/* Every thread's uid change reset the process's dumpable flag; all
	 * are done now, so set it as it was. */
	ret = tracee_syscall(&ts, &t0, SYS_prctl, (uint64_t[6]){ PR_SET_DUMPABLE,
			     !(c->p->d.flags & CKPT_PROC_UNDUMPABLE) }, &r);
	if (ret < 0 || r < 0)
		return error_errno(ret < 0 ? ret : (int)r, "cannot restore the dumpable flag");
	ret = tracee_syscall(&ts, &t0, SYS_munmap, (uint64_t[6]){ c->pl.home, c->pl.size }, &r);
	if (ret < 0 || r < 0)
		return error_errno(ret < 0 ? ret : (int)r, "cannot unmap the restore stub");
	for (uint32_t i = off; i < c->pl.nthreads; i++) {
		const struct img_thread *it = &c->p->threads[i - off];
		arch_regs_t regs;

		memcpy(&regs, it->regsets[0].data, sizeof(regs));
		arch_fixup_restart(&regs);
		for (uint32_t k = 0; k < it->d.nregsets; k++) {
			const struct img_regset *rs = &it->regsets[k];

			ret = tracee_set_regset(c->th[i].tid, rs->type, k ? (void *)rs->data : (void *)&regs,
						k ? rs->len : sizeof(regs));
			if (ret < 0)
				return error_errno(ret, "thread %d: cannot set its registers (note type %#x)",
						   it->d.tid, rs->type);
		}
		ret = (int)tracee_call(PTRACE_SETSIGMASK, c->th[i].tid, (void *)sizeof(uint64_t),
				       &it->d.sigmask);
		if (ret < 0)
			return error_errno(ret, "thread %d: cannot set its signal mask", it->d.tid);
	}
	/* It was stopped when dumped: it stops before running anything. */
	if (c->p->d.flags & CKPT_PROC_STOPPED)
		kill(c->pid, SIGSTOP);
	/* Signals for it must reach it from the moment it runs. */
	if (!c->o->detach)
		restore_forward_signals(c->pid);
	for (uint32_t i = off; i < c->pl.nthreads; i++)
		tracee_call(PTRACE_DETACH, c->th[i].tid, 0, 0);
	return 0;
}

static int setup_stub(struct ctx *c, uint64_t stub_size)
{
	struct stub_map *maps = NULL;
	uint8_t *buf = NULL;
	size_t nmaps = 0, len = 0;
	int st, ret;

	for (int want = SIGSTOP;; want = SIGTRAP | (PTRACE_EVENT_EXEC << 8)) {
		if ((ret = tracee_wait(c->pid, &st, __WALL)) == -EINTR)
			return error("interrupted by signal %d: nothing was restored", sigguard_fired());
		if (ret < 0)
			return error_errno(ret, "waiting for the restore stub");
		if (!WIFSTOPPED(st) || (st >> 8) != want)
			return error("the restore stub did not start (%s %d)",
				     WIFEXITED(st) ? "exit status" : "status",
				     WIFEXITED(st) ? WEXITSTATUS(st) : st);
		if (want != SIGSTOP)
			break;
		if ((ret = (int)tracee_call(PTRACE_SETOPTIONS, c->pid, 0,
					    (void *)(PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
						     PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD))) < 0 ||
		    (ret = (int)tracee_call(PTRACE_CONT, c->pid, 0, 0)) < 0)
			return error_errno(ret, "cannot trace the restore stub");
	}
	if ((ret = read_stub_maps(c->pid, &maps, &nmaps)) < 0)
		return error_errno(ret, "cannot read the restore stub's mappings");
	if ((ret = plan_build(&c->pl, c->p, maps, nmaps, &c->sf, stub_size)) < 0 ||
	    (ret = plan_place(&c->pl, c->p, maps, nmaps)) < 0 ||
	    (ret = plan_serialise(&c->pl, &buf, &len)) < 0)
		goto out;
	if (pwrite(c->sf.plan_src, buf, len, 0) != (ssize_t)len) {
		ret = error_errno(errno, "cannot write the restore plan");
		goto out;
	}
	c->th = xzalloc(c->pl.nthreads * sizeof(*c->th));
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

/* Let a thread stopped at its trap (arch_trap) run on after it. */
static int resume_after_trap(pid_t tid)
{
	if (ARCH_TRAP_SKIP) {
		arch_regs_t r;
		size_t len = sizeof(r);
		int ret = tracee_get_regset(tid, NT_PRSTATUS, &r, &len);

		if (ret < 0)
			return ret;
		arch_set_ip(&r, arch_ip(&r) + ARCH_TRAP_SKIP);
		if ((ret = tracee_set_regset(tid, NT_PRSTATUS, &r, sizeof(r))) < 0)
			return ret;
	}
	return (int)tracee_call(PTRACE_CONT, tid, 0, 0);
}

static void kill_child(pid_t pid)
{
	int st;

	/* Every thread we trace must be reaped by us before its leader can
	 * be: reap them all until the leader is gone. */
	kill(pid, SIGKILL);
	for (;;) {
		pid_t r = tracee_wait(-1, &st, __WALL);

		if (r == pid || (r < 0 && r != -EINTR))
			break;
	}
}

/* Page data: this image's, then its parents' for what it left to them. */
static int fill(struct ctx *c, struct restore_job *j)
{
	struct ranges later = { 0 };
	int ret = pages_fill(&j->in, c->img, c->pid, NULL, &later);

	if (ret == 0 && later.n)
		ret = chain_fill(j->path, c->img, c->pid, &later);
	ranges_free(&later);
	return ret;
}

int restore_spawn(struct restore_job *j)
{
	const struct restore_opts *o = j->o;
	struct pidns *ns = j->ns;
	struct ctx c = { .img = j->img, .p = &j->img->procs[0], .o = o, .ckpt_pid = getpid() };
	uint64_t stub_size = 0;
	int ret, fd;

	if ((ret = stub_mem_size(&stub_size)) < 0)
		return ret;
	if ((ret = files_open(c.p, o, &c.sf)) < 0)
		goto out;
	fd = make_memfd("ckpt-plan", NULL, 0);
	c.sf.plan_src = fd;
	fd = make_memfd("ckpt-stub", ckpt_stub_elf, (size_t)(ckpt_stub_elf_end - ckpt_stub_elf));
	c.sf.stub_src = fd;
	if (c.sf.plan_src < 0 || c.sf.stub_src < 0) {
		ret = error_errno(fd, "cannot create a memfd");
		goto out;
	}
	if (o->pid_ns && (ret = pidns_enter(ns)) < 0)
		goto out;
	c.pid = spawn(&c);
	if (c.pid < 0) {
		ret = error_errno(errno, "cannot fork");
		goto out;
	}
	if (o->pid_ns && (ret = pidns_started(ns, c.pid)) < 0) {
		kill_child(c.pid);
		goto out;
	}
	if ((ret = setup_stub(&c, stub_size)) < 0 ||
	    (ret = run_until(&c, PHASE_FILL)) < 0 ||
	    (ret = fill(&c, j)) < 0 ||
	    (ret = resume_after_trap(c.th[0].tid)) < 0 ||
	    (ret = run_until(&c, PHASE_DONE)) < 0 ||
	    (ret = finish(&c)) < 0) {
		kill_child(c.pid);
		goto out;
	}
	j->pid = c.pid;
out:
	plan_free(&c.pl);
	files_close(&c.sf);
	free(c.th);
	return ret;
}
