/*
 * ckpt check: what this kernel and these privileges allow, one line per
 * feature, and what ckpt does without it.  Each probe runs in a forked
 * child under alarm(), so a probe that crashes, hangs or changes its own
 * process (prctl, clear_refs, clone3) cannot take ckpt down; the probes
 * themselves are in check/probes.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check/check.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

/* A probe gets this long; the parent waits a little more, then kills it. */
#define PROBE_SECONDS	5

struct feature {
	const char *name;
	int (*probe)(struct probe_result *r);
	const char *missing;	/* what ckpt does without it */
	const char *limited;	/* ... with only part of it (NULL: as missing) */
	int essential;		/* dump or restore cannot work without it */
};

static const struct feature features[] = {
	{ "ptrace attach", probe_ptrace,
	  "cannot dump: processes are frozen and read with ptrace", NULL, 1 },
	{ "process_vm_readv", probe_vm_readv,
	  "cannot read or fill process memory",
	  "memory is read through /proc/PID/mem, page run by page run", 1 },
	{ "PR_SET_MM_MAP", probe_mm_map,
	  "cannot restore: the memory layout fields cannot be set",
	  "restored processes show the restore stub as /proc/PID/exe", 1 },
	{ "memfd exec", probe_memfd_exec,
	  "cannot restore: the restore stub is executed from a memfd", NULL, 1 },
	{ "clone3 set_tid", probe_set_tid,
	  "restored processes get new PIDs", NULL, 0 },
	{ "PAGEMAP_SCAN", probe_pagemap_scan,
	  "incremental dumps compare page hashes", NULL, 0 },
	{ "userfaultfd WP async", probe_uffd_wp,
	  "incremental dumps compare page hashes", NULL, 0 },
	{ "userfaultfd restore", probe_uffd_fill,
	  "restore fills memory with process_vm_writev before the process runs, never lazily",
	  NULL, 0 },
	{ "soft-dirty", probe_soft_dirty,
	  "incremental dumps use PAGEMAP_SCAN or page hashes", NULL, 0 },
	{ "vdso layout", probe_vdso,
	  "dump finds its syscall instruction in libc; images with a vdso cannot be restored here",
	  NULL, 0 },
	{ "yama ptrace_scope", probe_yama,
	  "cannot dump", "only ckpt's own descendants can be dumped", 0 },
	{ "CAP_SYS_PTRACE", probe_cap_sys_ptrace,
	  "only processes of your own user can be dumped", NULL, 0 },
	{ "CAP_SYS_ADMIN", probe_cap_sys_admin,
	  "restore --pid-ns cannot create a PID namespace", NULL, 0 },
	{ "CAP_CHECKPOINT_RESTORE", probe_cap_checkpoint_restore,
	  "restored processes get new PIDs and show the stub as /proc/PID/exe; dump makes a memfd "
	  "or deleted file a process only maps (no fd) anonymous memory",
	  "PIDs and /proc/PID/exe are restored through CAP_SYS_ADMIN", 0 },
	{ "CAP_SYS_RESOURCE", probe_cap_sys_resource,
	  "hard resource limits above ckpt's own cannot be restored", NULL, 0 },
	{ "TCP_REPAIR", probe_tcp_repair,
	  "established TCP connections are refused by dump (they need CAP_NET_ADMIN)", NULL, 0 },
	{ "nftables", probe_netlock,
	  "dump --kill refuses TCP connections to peers outside the image (no network lock) "
	  "unless --network-lock=skip; a client connecting to a killed job's listener before "
	  "its restore is refused", NULL, 0 },
};

static const char *const state_names[] = {
	[PROBE_OK] = "ok",
	[PROBE_LIMITED] = "limited",
	[PROBE_MISSING] = "missing",
	[PROBE_ERROR] = "error",
};

int probe_set(struct probe_result *r, int state, const char *fmt, ...)
{
	va_list ap;

	r->state = state;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	return state;
}

/* Why the probe child gave no result: its wait status, in words. */
static void probe_died(struct probe_result *r, int status, int timed_out)
{
	if (timed_out || (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM))
		probe_set(r, PROBE_ERROR, "probe timed out after %d s", PROBE_SECONDS);
	else if (WIFSIGNALED(status))
		probe_set(r, PROBE_ERROR, "probe crashed: %s", strsignal(WTERMSIG(status)));
	else
		probe_set(r, PROBE_ERROR, "probe exited with status %d and no result",
			  WEXITSTATUS(status));
}

/* The probe child: its own process group, so that ckpt can end whatever
 * it leaves behind, and no terminal for anything it runs to write to. */
static void __attribute__((noreturn)) probe_child(const struct feature *f, int wfd)
{
	struct probe_result res = { PROBE_ERROR, "probe gave no result" };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setpgid(0, 0);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	alarm(PROBE_SECONDS);
	f->probe(&res);
	_exit(write_all(wfd, &res, sizeof(res)) < 0 ? 1 : 0);
}

static void run_probe(const struct feature *f, struct probe_result *r)
{
	struct pollfd pfd;
	int fds[2], status = 0, timed_out = 0, ret;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		probe_set(r, PROBE_ERROR, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);	/* or the child's exit path could repeat our output */
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		probe_child(f, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		probe_set(r, PROBE_ERROR, "fork: %s", strerror(errno));
		close(fds[0]);
		return;
	}
	setpgid(pid, pid);	/* whichever of us runs first */
	/* The probe's alarm should end it; this deadline is ours in case
	 * something it started keeps the pipe open. */
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	do
		ret = poll(&pfd, 1, (PROBE_SECONDS + 2) * 1000);
	while (ret < 0 && errno == EINTR);
	timed_out = ret == 0;
	ret = ret > 0 ? read_all(fds[0], r, sizeof(*r)) : -ETIMEDOUT;
	close(fds[0]);
	/* Before the reap, while the group is surely still ours. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret < 0 || (unsigned)r->state > PROBE_ERROR)
		probe_died(r, status, timed_out);
	r->note[sizeof(r->note) - 1] = 0;
}

/* What ckpt does without the feature, as far as the probe found it; NULL if it is there. */
static const char *effect(const struct feature *f, const struct probe_result *r)
{
	if (r->state == PROBE_OK || r->state == PROBE_ERROR)
		return NULL;
	return r->state == PROBE_LIMITED && f->limited ? f->limited : f->missing;
}

static void print_json(const struct feature *f, const struct probe_result *r, struct json *j)
{
	json_object(j, NULL);
	json_str(j, "name", f->name);
	json_str(j, "state", state_names[r->state]);
	json_str(j, "note", r->note[0] ? r->note : NULL);
	json_str(j, "effect", effect(f, r));
	json_bool(j, "essential", f->essential);
	json_close(j);
}

static void print_line(const struct feature *f, const struct probe_result *r)
{
	const char *what = effect(f, r);
	const char *state = state_names[r->state];

	if (what && r->note[0])
		printf("%-22s %-8s %s (%s)\n", f->name, state, what, r->note);
	else if (what || r->note[0])
		printf("%-22s %-8s %s\n", f->name, state, what ? what : r->note);
	else
		printf("%-22s %s\n", f->name, state);
}

int check_run(struct json *j)
{
	char failed[256] = "";
	size_t n = 0;

	if (j)
		json_array(j, "features");
	for (size_t i = 0; i < ARRAY_SIZE(features); i++) {
		const struct feature *f = &features[i];
		struct probe_result r;

		run_probe(f, &r);
		if (j)
			print_json(f, &r, j);
		else
			print_line(f, &r);
		/* Limited memory access and mm map still let dump+restore work. */
		if (f->essential && (r.state == PROBE_MISSING || r.state == PROBE_ERROR) &&
		    n < sizeof(failed))
			n += (size_t)snprintf(failed + n, sizeof(failed) - n, "%s%s",
					      n ? ", " : "", f->name);
	}
	if (j)
		json_close(j);
	fflush(stdout);
	if (n)
		return error("dump and restore cannot work here without: %s", failed);
	return 0;
}
