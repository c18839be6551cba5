/*
 * ckpt restore FILE: read and check the image, create the process, then
 * either return at once (--detach) or stay its parent: forward signals
 * and exit with its exit status, so scripts can wrap a restored job like
 * the original.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/killpoint.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "image/chain.h"
#include "image/check.h"
#include "restore/fd.h"
#include "restore/guard.h"
#include "restore/fillguard.h"
#include "restore/lazy.h"
#include "restore/restore.h"
#include "restore/trust.h"

static const char *machine_name(uint32_t m)
{
	return m == 62 ? "x86_64" : m == 183 ? "aarch64" : "an unknown architecture";
}

static int check_header(const struct ckpt_header *h)
{
	if (h->machine != ARCH_ELF_MACHINE)
		return error("image is for %s, this machine is %s", machine_name(h->machine), ARCH_NAME);
	if (h->page_size != (uint32_t)getpagesize())
		return error("image has %u-byte pages, this kernel uses %d", h->page_size, getpagesize());
	return 0;
}

/* Every thread's register sets against this CPU, before anything is made
 * (those another CPU laid out otherwise rewritten for this one). */
static int check_regsets(struct img_proc *p)
{
	for (uint32_t i = 0; i < p->d.nthreads; i++)
		for (uint32_t k = 0; k < p->threads[i].d.nregsets; k++) {
			int ret = arch_check_regset(&p->threads[i].regsets[k], p->xfeat, p->nxfeat);

			if (ret < 0)
				return ret;
		}
	return 0;
}

static pid_t child;
static int job;		/* the child leads its process group: a shell's job */

static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* A terminal's ^C already reached the child if it shares our group. */
	if (si->si_code == SI_KERNEL && getpgid(child) == getpgrp())
		return;
	/* What a terminal sends (^C, hangup) goes to its foreground job's
	 * whole group, a pipeline or a shell script with its children: so
	 * it does when ckpt restore's group is the foreground one. */
	if (job && (sig == SIGINT || sig == SIGHUP))
		kill(-child, sig);
	else
		kill(child, sig);
}

void restore_forward_signals(pid_t pid)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
	struct sigaction sa;

	child = pid;
	job = getpgid(pid) == pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	/* One that came while the process was being made was only noted
	 * (sigguard): it is the process's now. */
	if (sigguard_fired())
		kill(pid, sigguard_fired());
}

static int wait_child(pid_t pid, struct restore_result *res)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return error_errno(errno, "cannot wait for process %d", pid);
	if (res)
		res->status = st;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* The memory restore writes (all zero pages aside): the progress line's total. */
static uint64_t present_bytes(const struct img *img)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < img->procs[0].d.nvmas; i++)
		n += img->procs[0].vmas[i].d.npages * img->h.page_size;
	return n;
}

/* How to fill the process's memory (README, "restore"). */
static enum fill_how choose_fill(const struct restore_opts *o, const struct img_reader *r,
				 const struct img *img, int have)
{
	const char *why = NULL;

	if (have <= 0)
		return HOW_CLASSIC;
	if (!img_reader_seekable(r))
		why = "the image is a stream";
	/* Root reads a file that is not root's alone into private copies
	 * (trust.c: the bytes a MAC covers are the bytes restored, not a
	 * mapping's), before it knows whether the image is signed. */
	else if (!img_reader_payloads_stable(r))
		why = "the image is read into a private copy (root reads a file others own or may write so)";
	/* A tree: each process is filled at its own trap, in image order,
	 * before it forks its children (spawn.c), and children keep pages
	 * they share with their parent (plan_keep): lazy.c fills one
	 * process, so a tree is filled as it is read. */
	else if (img->ntasks > 1)
		why = "it is a tree of processes";
	else if (!lazy_possible())
		why = "userfaultfd is not allowed here (see /proc/sys/vm/unprivileged_userfaultfd)";
	if (why) {
		if (o->fill == FILL_LAZY)
			warn("cannot restore lazily: %s", why);
		return HOW_CLASSIC;
	}
	/* Lazy only when asked: the process then runs before every block of
	 * the image is checked (a damaged one kills it then), and its
	 * mappings show userfaultfd (VmFlags "um") until the fill is done. */
	if (o->fill != FILL_LAZY)
		return HOW_EAGER;
	if (o->pid_ns)
		why = "not with --pid-ns";
	else if (img->procs[0].d.flags & CKPT_PROC_LEADER_GONE)
		why = "its main thread had exited";
	if (why) {
		warn("cannot restore lazily: %s", why);
		return HOW_EAGER;
	}
	return HOW_LAZY;
}

/*
 * --detach with a lazy fill: the server that fills the process must be
 * its parent (fillguard.h), and must outlive this command.  The command
 * forks the server, which does the restore; the command learns the PID
 * the server reports through a pipe (or exits as the server did).
 * Returns 0 in the server (*report set), 1 in the command (*pid set), or
 * -errno.
 */
static int fork_server(int *report, pid_t *pidp)
{
	int pfd[2], st;
	pid_t srv, pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return error_errno(errno, "cannot make a pipe");
	fflush(NULL);
	srv = fork();
	if (srv < 0)
		return error_errno(errno, "cannot fork");
	if (srv == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		close(pfd[0]);
		*report = pfd[1];
		/* The command prints the PID: a caller reading our stdout
		 * must not wait for the server too. */
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			close(null);
		}
		/* It lives on after the command: a terminal's ^C or hangup is
		 * for the process, not for the server it would die with. */
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		return 0;
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == sizeof(pid)) {
		*pidp = pid;
		return 1;
	}
	/* It failed and said why; nothing runs. */
	while (waitpid(srv, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1);
}

/* What start() leaves to its caller: a lazy fill still going on. */
struct started {
	pid_t pid;
	struct img_reader r;	/* the image, and its metadata: kept open */
	struct img img;		/* while a lazy fill goes on (lazy.c maps it) */
	struct spawn_fill sf;
	struct guard g;
	int report;		/* the server of --detach --lazy: its pipe to the command */
	int command;		/* 1: this is the command; the server restores */
};

/* Lazy: until every page is in; the process keeps running after. */
static int finish_lazy(struct started *st)
{
	int ret = guard_wait(&st->g, st->sf.lz);

	if (ret < 0) {
		/* A damaged block, or the kernel refused: it must not run on. */
		guard_kill(&st->g);
		debug("the process %d was killed: its memory could not be filled", st->pid);
	}
	guard_end(&st->g);
	lazy_end(st->sf.lz);
	st->sf.lz = NULL;
	img_reader_close(&st->r);
	img_free(&st->img);
	return ret < 0 ? ret : 0;
}

/* Read, check and create: the process runs when it returns 0. */
static int start(const char *path, const struct restore_opts *opts, struct started *st,
		 struct pidns *ns)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload = NULL;
	struct restore_opts ro = *opts, *o = &ro;
	struct trust t;
	struct chain_hold hold;
	pid_t pid = -1;
	unsigned long said = log_errors_said();
	int ret, have;

	ro.trust = &t;
	st->report = -1;
	st->sf.g = &st->g;
	st->g.sigfd = -1;
	/* Until the process runs, ^C and kill mean: undo and go; what ckpt
	 * says about the process's descriptors only stands if it does. */
	sigguard_install();
	log_hold_info();
	if ((ret = img_reader_open(&r, path, &img.h)) < 0 || (ret = check_header(&img.h)) < 0 ||
	    (ret = trust_open(&t, &r, o)) < 0)
		goto out;
	have = img_read_meta(&r, &img, &s, &payload);
	if ((ret = have) < 0 || (ret = trust_decide(&t, &r, &img, o)) < 0)
		goto out;
	for (uint32_t i = 0; i < img.h.nprocs; i++)
		if ((ret = attrs_check(&img.procs[i], &t)) < 0 ||
		    (ret = check_regsets(&img.procs[i])) < 0)
			goto out;
	st->sf.how = choose_fill(o, &r, &img, have);
	if (st->sf.how == HOW_LAZY) {
		sigset_t chld;

		/* For guard.c's signalfd, in every thread from the start. */
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_sigmask(SIG_BLOCK, &chld, NULL);
		if (o->detach && (ret = fork_server(&st->report, &st->pid)) != 0) {
			st->command = ret == 1;
			goto out;
		}
	}
	/*
	 * A file is checked from end to end as ckpt verify checks it (its
	 * MAC too), before anything is created; a stream block by block as
	 * it is applied.  Every parent must be there, be the right one, be
	 * intact, and be held to the same trust.  Through userfaultfd,
	 * lazy.c makes the same checks of each section as it indexes it,
	 * and of a block's CRC before its pages are used: the pass is left
	 * out, unless the image's MAC is what its credentials rest on: a
	 * MAC holds only for the image as a whole, so it is checked, every
	 * byte of it, before the process runs (lazily filled or not).
	 */
	trust_hold(&t, &hold);
	/*
	 * Through userfaultfd (lazy or eager), a signed image with a digest
	 * table (format.h DIGESTS): MAC_ALL is checked over the table as
	 * lazy.c indexes the image (a cost that does not grow with the page
	 * data), each parent's as it indexes that (trust.c parent_open), and
	 * each block against its digest before a page of it is used.  Lazy,
	 * the process runs at once and never gets a page nobody vouched for;
	 * eager, every block is checked by the threads that copy it, as they
	 * copy it (the page data is read once, not once for the MAC and again
	 * for the copy), and the process runs only once all of them passed:
	 * one that fails kills it before it ever ran.
	 */
	if (st->sf.how != HOW_CLASSIC && trust_vouched_by_mac(&t) &&
	    (img.h.flags & CKPT_HDR_DIGESTS) && img_reader_payloads_stable(&r))
		r.trust_digests = t.lazy_digests = 1;
	else if ((st->sf.how == HOW_CLASSIC || trust_vouched_by_mac(&t)) &&
	    ((ret = img_check_rewind(&r, &img, &s, &payload, have, 0)) < 0 ||
	     (img.parent && (ret = chain_check(path, &img, 0, &hold)) < 0)))
		goto out;
	progress_begin(st->sf.how == HOW_LAZY ? 0 : present_bytes(&img));
	{
		struct restore_job j = { .path = path, .o = o, .img = &img, .ns = ns,
					 .in = { .r = &r, .s = s, .payload = payload, .have = have },
					 .fill = &st->sf };

		ret = restore_spawn(&j);
		pid = j.pid;
	}
	progress_end();
	if (ret < 0)
		goto out;
	/* before anything that could stop ckpt with the process running */
	fd_tcp_unlock(&img, path);
	if (st->sf.how == HOW_LAZY)
		lazy_go(st->sf.lz);
	killpoint("restore: running");
	if (log_verbose > 1)
		debug("kill points passed: %ld", killpoints_passed());
	log_release_info(1);
	st->pid = pid;
	if (st->sf.how == HOW_LAZY) {
		/* lazy.c copies from the mapped image until it is done */
		st->r = r;
		st->img = img;
	} else {
		img_reader_close(&r);
		img_free(&img);
	}
	img_key_set_default(NULL);	/* it was t's */
	return 0;
out:
	log_release_info(ret == 0);
	pidns_release(ns, 1);
	img_reader_close(&r);
	img_free(&img);
	img_key_set_default(NULL);
	/* A call the signal broke off said nothing (log.c); the server
	 * (--detach) says it too: its stderr is the command's. */
	if (ret < 0 && sigguard_fired() && !st->command && log_errors_said() == said)
		error("interrupted by signal %d: nothing was restored", sigguard_fired());
	if (st->report >= 0)
		_exit(1);	/* the server: the command says it failed */
	if (st->command)
		return 0;
	if (ret < 0 && sigguard_fired())
		sigguard_reraise();
	return ret < 0 ? ret : -EIO;
}

int restore_start(const char *path, const struct restore_opts *o, pid_t *pid)
{
	struct pidns ns = { .init = 0, .wfd = -1, .own = -1 };
	struct restore_opts eager = *o;
	struct started st = { 0 };
	int ret;

	/* Nobody here would serve a lazy fill after we return. */
	if (eager.fill == FILL_LAZY)
		eager.fill = FILL_AUTO;
	ret = start(path, &eager, &st, &ns);
	/* With --pid-ns, init stays to wait for it: the namespace lives as long. */
	if (ret == 0) {
		*pid = st.pid;
		pidns_release(&ns, 0);
	}
	return ret;
}

void restore_held(void)
{
	rguard_stop();
}

int restore_run(const char *path, const struct restore_opts *o)
{
	struct pidns ns = { .init = 0, .wfd = -1, .own = -1 };
	struct started st = { 0 };
	int ret;

	if (start(path, o, &st, &ns) < 0)
		return -1;
	if (o->result)
		o->result->pid = st.pid;
	if (st.report >= 0) {
		/* The server of --detach --lazy: the command prints the PID. */
		ret = write(st.report, &st.pid, sizeof(st.pid)) == sizeof(st.pid) ? 0 : -EIO;
		close(st.report);
		pidns_release(&ns, 0);
		ret = finish_lazy(&st);
		_exit(ret < 0 ? 1 : 0);
	}
	if (o->detach) {
		pidns_release(&ns, 0);
		if (!o->result) {
			printf("%d\n", st.pid);
			fflush(stdout);
		}
		return 0;
	}
	if (st.sf.how == HOW_LAZY && finish_lazy(&st) < 0) {
		pidns_release(&ns, 1);
		return -1;
	}
	if (st.g.exited) {
		if (o->result)
			o->result->status = st.g.status;
		ret = WIFSIGNALED(st.g.status) ? 128 + WTERMSIG(st.g.status) :
						 WEXITSTATUS(st.g.status);
	} else {
		ret = wait_child(st.pid, o->result);
	}
	pidns_release(&ns, 1);
	return ret;
}
