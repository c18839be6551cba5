/*
 * The guardian: a fork of ckpt dump, made before anything is frozen, that
 * outlives ckpt however it dies and undoes what it left in the process it
 * was dumping.  A borrowed thread needs no one (ptrace/borrow.c: it
 * sigreturns into itself); what does:
 *  - the --fork copy: its exit frame makes it exit at once (fork.c), but
 *    with no exit signal it stays a zombie of the process, which never
 *    waits for it: reaped by a wait4 run in the process;
 *  - the userfaultfd --track put in the process: closed, or moved back to
 *    the fd its parent image names (track.c);
 *  - a named temporary image file: removed;
 *  - a TCP connection ckpt put into repair mode (fd-tcp.c), which would
 *    send nothing more: taken out of it (TCP_REPAIR_OFF_NO_WP);
 *  - the network lock of a --kill (common/netlock.h), while the process
 *    still runs (ckpt died before the kill): removed, else its peers
 *    would wait for segments that never come.
 * It learns what to undo from a journal in memory shared with ckpt (ckpt
 * writes each entry before the step it describes), waits for ckpt
 * (common/guardian.c), and exits at once when ckpt is done.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "dump/guard.h"
#include "image/image.h"
#include "ptrace/proc.h"

volatile struct guard_journal *guard;
static pid_t guardian;
static int guard_pipe = -1;

/* /proc/<pid>/stat field 38, the exit signal; -1 if it is gone. */
static int exit_signal_of(pid_t pid, char *state)
{
	char path[64], *buf, *p;
	int sig = -1, field = 3;	/* the state, right after the comm */

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, &buf, NULL) < 0)
		return -1;
	if ((p = strrchr(buf, ')')) && p[1] == ' ') {
		*state = p[2];
		for (p += 2; *p && field < 38; p++)
			if (*p == ' ')
				field++;
		if (field == 38)
			sig = atoi(p);
	}
	free(buf);
	return sig;
}

/* Children of pid with no exit signal (a clone(2) without SIGCHLD): the
 * kind the --fork copy is.  Up to max of them; how many there are. */
static int quiet_children(pid_t pid, pid_t *out, int max)
{
	char path[320], *buf, *save, *tok;
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		if (atoi(de->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, de->d_name);
		if (read_file(path, &buf, NULL) < 0)
			continue;
		for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			char st;

			if (exit_signal_of(atoi(tok), &st) == 0) {
				if (n < max)
					out[n] = atoi(tok);
				n++;
			}
		}
		free(buf);
	}
	closedir(d);
	return n;
}

/* The journal entry of process pid's copy; a new one if add. */
static volatile struct guard_fork *entry(pid_t pid, int add)
{
	int n = guard ? guard->ncopies : 0;

	for (int i = 0; i < n; i++)
		if (guard->copies[i].pid == pid)
			return &guard->copies[i];
	if (!add || n == GUARD_COPIES_MAX)
		return NULL;
	guard->copies[n].pid = pid;
	guard->copies[n].state = GUARD_COPY_NONE;
	guard->ncopies = n + 1;	/* the entry is whole before it counts */
	return &guard->copies[n];
}

void guard_note_clone(const struct tracee_set *ts)
{
	volatile struct guard_fork *c = entry(ts->pid, 1);

	if (!c)
		return;
	c->live = ts->t[0].tid;
	c->code = ts->code;
	c->nbefore = quiet_children(ts->pid, (pid_t *)c->before, GUARD_BEFORE_MAX);
	c->state = GUARD_COPY_CLONING;
}

void guard_note_copy(pid_t pid, pid_t copy, int state)
{
	volatile struct guard_fork *c = entry(pid, 0);

	if (!c)
		return;
	c->copy = copy;
	c->state = state;
}

/* A copy born while the guardian held the process seized (ckpt killed
 * during the injected clone, whose trace-fork the kernel decided at its
 * start, and our seize before it linked the child: the child then gets
 * the parent's tracer, us, and a trap stop) waits in that stop before its
 * first instruction for good, and fork_until_zombie with it (a killsafe
 * trial hung so, 2026-12-07).  Let it go: it exits by itself. */
static void let_go_if_ours(pid_t copy)
{
	struct proc_status st;

	for (int i = 0; i < 200 && proc_read_status(copy, &st) == 0 && st.tracer == gettid(); i++) {
		if (ptrace(PTRACE_DETACH, copy, 0, 0) == 0) {
			debug("guardian: the copy %d was born traced by us: let go", copy);
			return;
		}
		usleep(5000);	/* not in its stop yet */
	}
}

/* The copies a killed ckpt left in one process: the one the journal
 * names, or while the clone was under way, children with no exit signal
 * that were not there before (the copy exits at once by itself; nothing
 * else is killed). */
static void undo_copy(const volatile struct guard_fork *c, struct tracee_code *code)
{
	pid_t now[GUARD_BEFORE_MAX];
	int n;

	if (c->state == GUARD_COPY_KNOWN) {
		char st;

		if (exit_signal_of(c->copy, &st) == 0)
			fork_reap(c->pid, c->live, c->copy, code);
		return;
	}
	n = MIN(quiet_children(c->pid, now, GUARD_BEFORE_MAX), GUARD_BEFORE_MAX);
	for (int i = 0; i < n; i++) {
		int known = 0;

		for (int k = 0; k < c->nbefore && k < GUARD_BEFORE_MAX; k++)
			known |= c->before[k] == now[i];
		if (!known)
			let_go_if_ours(now[i]);
		if (!known && fork_until_zombie(now[i]) == 0)
			fork_reap(c->pid, c->live, now[i], code);
	}
}

/*
 * Our interrupt may have cut the injected clone short before it copied
 * anything: the kernel would run it again once we let go, making the copy
 * after we looked for it.  Have it return instead (the thread then
 * sigreturns into itself through the gadget).
 */
static void no_second_clone(struct tracee *t, const struct tracee_code *code)
{
	arch_regs_t r = t->regs;
	long rv = arch_retval(&r);

	if (arch_ip(&r) == code->arch.resume && arch_syscall_nr(&r) == SYS_clone &&
	    (rv == -512 || rv == -513 || rv == -514)) {
		arch_forget_restart(&r);
		if (tracee_set_regset(t->tid, NT_PRSTATUS, &r, sizeof(r)) == 0)
			debug("guardian: the clone cut short by our stop will not run again");
	}
}

/* Freezing one thread waits out ckpt's detach, and a clone it had under
 * way: a copy is then made, or will never be. */
static void undo_copies(const volatile struct guard_journal *j)
{
	for (int i = 0; i < j->ncopies && i < GUARD_COPIES_MAX; i++) {
		const volatile struct guard_fork *c = &j->copies[i];
		struct tracee_code code = c->code;
		struct tracee_set ts = { 0 };

		if (c->state == GUARD_COPY_NONE)
			continue;
		/* ckpt's exit is over (guardian_wait_gone): a refused seize
		 * is another tracer in the way, waited out a while */
		if (tracee_freeze_one_patient(c->pid, c->live, &ts, TRACEE_PATIENCE_MS) < 0) {
			warn("guardian: cannot attach to %d: left as the killed dump left it", c->pid);
			continue;
		}
		if (c->state == GUARD_COPY_CLONING)
			no_second_clone(&ts.t[0], &code);
		tracee_release(&ts, 0);
		undo_copy(c, &code);
	}
}

int guard_note_tcp(pid_t pid, int fd, int on)
{
	int i;

	if (!guard)
		return 0;
	for (i = 0; i < guard->ntcp; i++)
		if (guard->tcp[i].pid == pid && guard->tcp[i].fd == fd)
			break;
	if (!on) {
		if (i < guard->ntcp)
			guard->tcp[i].fd = -1;
		return 0;
	}
	if (i == guard->ntcp) {
		if (i == GUARD_TCP_MAX)
			return -1;
		guard->tcp[i].pid = pid;
		guard->tcp[i].fd = fd;
		guard->ntcp = i + 1;
	}
	guard->tcp[i].fd = fd;
	return 0;
}

/* Through a copy of the socket (pidfd_getfd): the process need not stop. */
static void undo_tcp(const volatile struct guard_journal *j)
{
	for (int i = 0; i < j->ntcp; i++) {
		int pfd, s, off = TCP_REPAIR_OFF_NO_WP, q = TCP_NO_QUEUE;

		if (j->tcp[i].fd < 0)
			continue;
		pfd = (int)syscall(SYS_pidfd_open, j->tcp[i].pid, 0);
		if (pfd < 0)
			pfd = (int)syscall(SYS_pidfd_open, j->tcp[i].pid, 0x80 /* PIDFD_THREAD */);
		s = pfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pfd, j->tcp[i].fd, 0);
		if (s >= 0) {
			setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
			if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) == 0)
				debug("guardian: fd %d of %d out of TCP repair mode", j->tcp[i].fd,
				      j->tcp[i].pid);
			close(s);
		}
		if (pfd >= 0)
			close(pfd);
	}
}

void guard_note_netlock(const char *name)
{
	if (guard)
		snprintf((char *)guard->netlock, sizeof(guard->netlock), "%s", name ? name : "");
}

/* Unless the kill got the process (dead, or a zombie of it): then the
 * lock holds its connections until the restore. */
static void undo_netlock(const volatile struct guard_journal *j)
{
	char name[NETLOCK_NAME_MAX], why[256], st = 0;

	if (!j->netlock[0])
		return;
	if (exit_signal_of(j->pid, &st) < 0 || st == 'Z' || st == 'X') {
		debug("guardian: the process was killed: the network lock stays");
		return;
	}
	memcpy(name, (const char *)j->netlock, sizeof(name));
	name[sizeof(name) - 1] = 0;
	if (netlock_remove(name, why, sizeof(why)) < 0)
		warn("guardian: cannot remove the network lock (nftables table inet %s): %s", name,
		     why[0] ? why : "nft not found");
	else
		debug("guardian: network lock %s removed", name);
}

int guard_note_uffd(pid_t pid, pid_t live, const struct tracee_code *code)
{
	int n;

	if (!guard)
		return -1;
	for (n = 0; n < guard->nuffd; n++)
		if (guard->uffds[n].pid == pid)
			break;
	if (n == GUARD_UFFD_MAX)
		return -1;
	guard->uffds[n].pid = pid;
	guard->uffds[n].live = live;
	guard->uffds[n].code = *code;
	guard->uffds[n].u = (struct track_undo){ .tmp = -1, .slot = -1, .old = -1 };
	if (n == guard->nuffd)
		guard->nuffd = n + 1;	/* the entry is whole before it counts */
	return n;
}

/* Each process's uffd out again (or back to its parent image's fd). */
static void undo_uffds(const volatile struct guard_journal *j)
{
	for (int i = 0; i < j->nuffd && i < GUARD_UFFD_MAX; i++) {
		const volatile struct guard_uffd *g = &j->uffds[i];
		struct tracee_code code = g->code;
		struct tracee_set ts = { 0 };
		struct track_undo u = g->u;

		if (u.slot < 0)
			continue;
		if (tracee_freeze_one_patient(g->pid, g->live, &ts, TRACEE_PATIENCE_MS) < 0) {
			warn("guardian: cannot attach to %d: left as the killed dump left it", g->pid);
			continue;
		}
		tracee_release(&ts, 0);
		track_undo(g->pid, g->live, &code, NULL, &u);
	}
}

int guard_hand_fd(int fd)
{
	return guard ? guardian_send_fd(guard_pipe, fd) : -ENOSYS;
}

int guard_drop_fds(void)
{
	return guard ? guardian_drop_fds(guard_pipe) : 0;
}

static void undo(volatile struct guard_journal *j)
{
	char *tmp;

	if (j->out[0] && (tmp = img_tmp_name((const char *)j->out, j->ckpt))) {
		if (unlink(tmp) == 0)
			debug("guardian: removed \"%s\"", tmp);
		free(tmp);
	}
	snap_rescue(&j->snap);
	undo_tcp(j);
	undo_netlock(j);
	undo_copies(j);
	undo_uffds(j);
}

int guard_start(pid_t pid, const char *out)
{
	volatile struct guard_journal *j;
	pid_t child;

	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (j == MAP_FAILED)
		return -errno;
	/* fresh anonymous memory is zeros: not touched here (the --snapshot
	 * journal is most of it) */
	j->ckpt = getpid();
	j->pid = pid;
	snprintf((char *)j->out, sizeof(j->out), "%s", strcmp(out, "-") ? out : "");
	child = guardian_fork(&guard_pipe);
	if (child < 0) {
		munmap((void *)j, sizeof(*j));
		return (int)child;
	}
	if (child == 0) {
		guard = j;
		if (!j->done) {
			guardian_wait_gone();
			undo(j);
		}
		_exit(0);
	}
	guard = j;
	guardian = child;
	return 0;
}

void guard_stop(void)
{
	if (!guard)
		return;
	/* --snapshot memory not all given back (snapshot.c failed to): the
	 * guardian does, once ckpt has exited. */
	guard->done = guard->snap.state == GUARD_SNAP_NONE;
	close(guard_pipe);
	/* Not done, the guardian waits for ckpt's exit to be over first
	 * (guardian_wait_gone): waiting for it here, ckpt hung until its
	 * GUARDIAN_GONE_S (300 s) ran out, after every --snapshot dump that
	 * failed after the moves (a job killed during the dump, say).  It
	 * is left to finish on its own, reparented. */
	while (guard->done && waitpid(guardian, NULL, 0) < 0 && errno == EINTR)
		;
	munmap((void *)guard, sizeof(*guard));
	guard = NULL;
}
