/*
 * ckpt restore FILE: read and check the image, create the process, then
 * either return at once (--detach) or stay its parent: forward signals
 * and exit with its exit status, so scripts can wrap a restored job like
 * the original.
 */
#include <errno.h>
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
#include "image/check.h"
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

/* Every thread's register sets against this CPU, before anything is made. */
static int check_regsets(const struct img_proc *p)
{
	for (uint32_t i = 0; i < p->d.nthreads; i++)
		for (uint32_t k = 0; k < p->threads[i].d.nregsets; k++) {
			int ret = arch_check_regset(&p->threads[i].regsets[k]);

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

/* Read, check and create: the process runs when it returns 0. */
static int start(const char *path, const struct restore_opts *opts, pid_t *pidp, struct pidns *ns)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload = NULL;
	struct restore_opts ro = *opts, *o = &ro;
	struct trust t;
	struct chain_hold hold;
	pid_t pid = -1;
	int ret, have;

	ro.trust = &t;
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
	/* A file is checked from end to end as ckpt verify checks it (its
	 * MAC too), before anything is created; a stream block by block as
	 * it is applied.  Every parent must be there, be the right one, be
	 * intact, and be held to the same trust. */
	trust_hold(&t, &hold);
	if ((ret = img_check_rewind(&r, &img, &s, &payload, have, 0)) < 0 ||
	    (img.parent && (ret = chain_check(path, &img, 0, &hold)) < 0))
		goto out;
	progress_begin(present_bytes(&img));
	{
		struct restore_job j = { .path = path, .o = o, .img = &img, .ns = ns,
					 .in = { .r = &r, .s = s, .payload = payload, .have = have } };

		ret = restore_spawn(&j);
		pid = j.pid;
	}
	progress_end();
	if (ret < 0)
		goto out;
	killpoint("restore: running");
	if (log_verbose > 1)
		debug("kill points passed: %ld", killpoints_passed());
	log_release_info(1);
	*pidp = pid;
	img_reader_close(&r);
	img_free(&img);
	img_key_set_default(NULL);	/* it was t's */
	return 0;
out:
	log_release_info(ret == 0);
	pidns_release(ns, 1);
	img_reader_close(&r);
	img_free(&img);
	img_key_set_default(NULL);
	if (ret < 0 && sigguard_fired())
		sigguard_reraise();
	return ret < 0 ? ret : -EIO;
}

int restore_start(const char *path, const struct restore_opts *o, pid_t *pid)
{
	struct pidns ns = { .init = 0, .wfd = -1, .own = -1 };
	int ret = start(path, o, pid, &ns);

	/* With --pid-ns, init stays to wait for it: the namespace lives as long. */
	if (ret == 0)
		pidns_release(&ns, 0);
	return ret;
}

int restore_run(const char *path, const struct restore_opts *o)
{
	struct pidns ns = { .init = 0, .wfd = -1, .own = -1 };
	pid_t pid;
	int ret;

	if (start(path, o, &pid, &ns) < 0)
		return -1;
	if (o->result)
		o->result->pid = pid;
	if (o->detach) {
		pidns_release(&ns, 0);
		if (!o->result) {
			printf("%d\n", pid);
			fflush(stdout);
		}
		return 0;
	}
	ret = wait_child(pid, o->result);
	pidns_release(&ns, 1);
	return ret;
}
