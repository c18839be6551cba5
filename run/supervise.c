/*
 * ckpt run and ckpt watch: start (or resume) the job, hold it (ptrace/
 * held.c), checkpoint it every --every into DIR, and end as it ends:
 * with its exit status, or after a final checkpoint when preempted, or
 * after rolling it back when it crashes (--restarts).
 *
 * Every dump goes through run_dump() and every restore through
 * run_restore(), each of the whole tree under the job's PID; every
 * process of the tree is held (ptrace/held.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/check.h"
#include "restore/restore.h"
#include "run/log.h"
#include "run/run.h"
#include "run/signals.h"
#include "run/store.h"

/* A full checkpoint at least every this many (a chain of images to read
 * at restore, and to keep), or once the increments since the last full
 * one add up to its size. */
#define MAX_CHAIN	8

struct sup {
	const struct run_opts *o;
	struct store st;
	struct runlog log;
	pid_t pid;		/* the job */
	unsigned last;		/* our newest checkpoint of this very process, 0 */
	int restarts;
	uint64_t next_ns;	/* of the next periodic checkpoint */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *signame(int sig)
{
	static char buf[24];
	const char *a = sigabbrev_np(sig);

	if (a)
		snprintf(buf, sizeof(buf), "SIG%s", a);
	else
		snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

/* "exited with status 3", "was killed by SIGSEGV"; *status as a shell's $?. */
static const char *describe_end(int st, int *status, char buf[64])
{
	if (WIFSIGNALED(st)) {
		*status = 128 + WTERMSIG(st);
		snprintf(buf, 64, "was killed by %s", signame(WTERMSIG(st)));
	} else {
		*status = WEXITSTATUS(st);
		snprintf(buf, 64, "exited with status %d", *status);
	}
	return buf;
}

/* The one call into dump/: the tree under pid. */
static int run_dump(pid_t pid, const struct dump_opts *o)
{
	return dump_run(pid, o);
}

/* Which of the job's fds 0-2 are ckpt's own fds 0-2 (the same file). */
static unsigned shared_stdio(pid_t pid)
{
	unsigned mask = 0;

	for (int fd = 0; fd < 3; fd++) {
		struct stat ours, its;
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
		if (fstat(fd, &ours) == 0 && stat(path, &its) == 0 && ours.st_dev == its.st_dev &&
		    ours.st_ino == its.st_ino)
			mask |= 1u << fd;
	}
	return mask;
}

/* Without a note: the fds 0-2 of the image that are files by the paths
 * of ours (terminals and pipes are ckpt's own anyway, image/files.c). */
static unsigned stdio_by_path(const char *image)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload;
	unsigned mask = 0;

	if (img_load_meta(&r, image, &img, &s, &payload) >= 0 && img.h.nprocs)
		for (uint32_t i = 0; i < img.procs[0].d.nfds; i++) {
			const struct img_fd *f = &img.procs[0].fds[i];
			const struct img_file *file = img_file(&img, f->d.file);
			char self[32], *ours = NULL;

			snprintf(self, sizeof(self), "/proc/self/fd/%d", f->d.fd);
			if (f->d.fd < 3 && file && file->path && xreadlink(self, &ours) == 0 &&
			    !strcmp(ours, file->path))
				mask |= 1u << f->d.fd;
			free(ours);
		}
	img_reader_close(&r);
	img_free(&img);
	return mask;
}

/* The one call into restore/: the process runs, our child, on return. */
static int run_restore(struct sup *s, unsigned seq, const char *path, pid_t *pid)
{
	struct restore_opts ro;
	int own = store_note_read(&s->st, seq);

	memset(&ro, 0, sizeof(ro));
	ro.supervised = 1;
	ro.own_fds = own >= 0 ? (unsigned)own : stdio_by_path(path);
	ro.rollback_files = s->o->rollback_files;
	memcpy(ro.fd_open_at_start, s->o->fd_open_at_start, sizeof(s->o->fd_open_at_start));
	return restore_start(path, &ro, pid);
}

/* adopt: a process run_restore made, not running yet (tracee_adopt). */
static int hold(struct sup *s, pid_t pid, int adopt)
{
	int ret = adopt ? tracee_adopt(pid, sig_filter) : tracee_hold(pid, sig_filter);

	if (ret < 0)
		return error_errno(ret, "cannot hold the job (PID %d) with ptrace%s", pid,
				   ret == -EPERM ? " (see /proc/sys/kernel/yama/ptrace_scope)" : "");
	s->pid = pid;
	s->last = 0;
	s->next_ns = mono_ns() + s->o->every_ns;
	sig_set_job(pid);
	return 0;
}

/* Wait for the held job's end (it was killed); its waitpid status. */
static int reap(struct sup *s)
{
	int st;

	while (tracee_held_poll(&st) == 0)
		sig_wait(100);
	tracee_unhold(s->pid);
	sig_set_job(0);
	return st;
}

/*
 * COMMAND, as our child.  It waits until it is held, so that no signal
 * reaches it unseen, then execs.  An exec that fails sends its errno
 * back over a close-on-exec pipe.  0, or the exit status to end with.
 */
static int start_command(struct sup *s)
{
	char *const *argv = s->o->argv;
	int go[2], err[2], e = 0;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		error_errno(errno, "cannot make a pipe");
		return EXIT_FAIL;
	}
	pid = fork();
	if (pid < 0) {
		error_errno(errno, "cannot fork");
		return EXIT_FAIL;
	}
	if (pid == 0) {
		char c;

		close(go[1]);
		close(err[0]);
		sig_restore_for_exec();
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		execvp(argv[0], argv);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0) {
		}
		_exit(e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC);
	}
	close(go[0]);
	close(err[1]);
	if (hold(s, pid, 0) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(go[1]);
		close(err[0]);
		return EXIT_FAIL;
	}
	close(go[1]);
	/* Its exec, served meanwhile: it is held, signals stop it. */
	for (;;) {
		struct pollfd p = { .fd = err[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20) == 0) {
			tracee_held_poll(NULL);
			continue;
		}
		n = read(err[0], &e, sizeof(e));
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(err[0]);
	if (e) {
		error_errno(e, "cannot run \"%s\"", argv[0]);
		reap(s);
		return e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
	}
	{
		char msg[256];

		snprintf(msg, sizeof(msg), "started %s%s, PID %d", argv[0], argv[1] ? " ..." : "", pid);
		runlog_emit(&s->log, &(struct run_event){ .event = "start", .pid = pid, .status = -1,
				.restart = s->restarts, .message = msg });
	}
	return 0;
}

/* A process an image was made of (any of a tree's), if it still runs:
 * two of one job would each write where the other does. */
static pid_t still_running(const char *path)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload;
	struct proc_stat ps;
	pid_t pid = 0;

	if (img_load_meta(&r, path, &img, &s, &payload) >= 0)
		for (uint32_t i = 0; i < img.h.nprocs && !pid; i++)
			if (proc_read_stat(img.procs[i].d.pid, &ps) == 0 &&
			    ps.start_time == img.procs[i].d.start_time && ps.state != 'Z' &&
			    ps.state != 'X')
				pid = img.procs[i].d.pid;
	img_reader_close(&r);
	img_free(&img);
	return pid;
}

/*
 * The newest checkpoint that verifies, with every image it needs, is
 * restored; a damaged or incomplete one is passed over, saying so.  why:
 * "resume" or "restart".
 */
static int resume(struct sup *s, const char *why)
{
	const char *verb = !strcmp(why, "resume") ? "resumed from" : "rolled back to";


	for (size_t i = s->st.n; i-- > 0;) {
		unsigned seq = s->st.pts[i].seq;
		char *path = store_path(&s->st, seq);
		char msg[512];
		pid_t pid, other;
		int ret;

		if (store_verify_chain(&s->st, seq) < 0) {
			runlog_say(&s->log, "fallback", "checkpoint %u (%s) cannot be used: %s", seq, path,
				   i ? "falling back to the one before" : "no older one is left");
			free(path);
			continue;
		}
		if ((other = still_running(path))) {
			error("the job of \"%s\" still runs as PID %d: stop it first", path, other);
			free(path);
			return -1;
		}
		ret = run_restore(s, seq, path, &pid);
		if (ret < 0) {
			error("cannot restore checkpoint %u (%s)", seq, path);
			free(path);
			return -1;
		}
		if (hold(s, pid, 1) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			free(path);
			return -1;
		}
		restore_held();
		snprintf(msg, sizeof(msg), "%s checkpoint %u %s, PID %d", verb, seq, path, pid);
		runlog_emit(&s->log, &(struct run_event){ .event = why, .pid = pid, .seq = seq,
				.image = path, .status = -1, .restart = s->restarts, .message = msg });
		free(path);
		return 0;
	}
	error("no checkpoint in \"%s\" can be restored", s->st.dir);
	return -1;
}

/* Incremental against our last checkpoint of this process, unless the
 * chain is long enough that a full one is due. */
static unsigned choose_parent(const struct sup *s, int final)
{
	uint64_t incr, full;
	unsigned len;

	if (!s->last)
		return 0;
	len = store_chain_len(&s->st, s->last);
	/* The final one is taken in a hurry: incremental if at all possible. */
	if (final)
		return len < 4 * MAX_CHAIN ? s->last : 0;
	store_chain_bytes(&s->st, s->last, &incr, &full);
	return len < MAX_CHAIN && incr < full ? s->last : 0;
}

static void log_checkpoint(struct sup *s, unsigned seq, unsigned parent, int final,
			   const struct dump_result *res)
{
	char *path = store_path(&s->st, seq), *ppath = parent ? store_path(&s->st, parent) : NULL;
	const struct point *p = &s->st.pts[s->st.n - 1];
	char size[32], msg[512];
	struct run_event e = {
		.event = final ? "final" : "checkpoint", .pid = s->pid, .seq = seq, .image = path,
		.kind = parent ? "incremental" : "full", .parent = ppath, .bytes = p->bytes,
		.pause_ms = res->frozen_ns / 1e6, .took_ms = res->total_ns / 1e6, .status = -1,
	};

	snprintf(msg, sizeof(msg), "%scheckpoint %u %s: %s %s, job paused %.1f ms", final ? "final " : "",
		 seq, path, runlog_size(p->bytes, size), e.kind, e.pause_ms);
	e.message = msg;
	runlog_emit(&s->log, &e);
	free(path);
	free(ppath);
}

/*
 * One checkpoint: periodic ones from a copy-on-write fork, the job paused
 * only for the fork, when its cgroups have the memory a fork may take
 * (dump/choose.c; frozen otherwise), tracking its writes for the next; the final one with
 * the job frozen throughout and killed once it is on disk.  Kept only once
 * complete, durable and verified; then older ones it does not need go.
 */
static int checkpoint(struct sup *s, int final)
{
	/* A tree too: each process is found in the parent by its PID and
	 * start time, one new since is stored in full (dump/parent.c). */
	unsigned seq = s->st.next, parent = choose_parent(s, final);
	char *path = store_path(&s->st, seq), *ppath = parent ? store_path(&s->st, parent) : NULL;
	struct dump_result res = { 0 };
	struct dump_opts o = {
		.out = path, .codec = { .codec = CKPT_CODEC_LZ4 }, .jobs = (int)sysconf(_SC_NPROCESSORS_ONLN),
		.fork = final ? DUMP_FORK_NEVER : DUMP_FORK_AUTO, .track = !final, .kill = final, .parent = ppath, .result = &res,
		.drop_pending = sig_preemption_set(),
	};
	int ret;

	/* Before: a final checkpoint leaves no process to look at. */
	unsigned stdio = shared_stdio(s->pid);

	log_set_context("run: checkpoint %u", seq);
	ret = run_dump(s->pid, &o);
	log_set_context("run");
	s->st.next = seq + 1;	/* a failed one's number is not used again */
	if (ret == 0 && (ret = store_add(&s->st, seq, parent)) < 0)
		store_drop(&s->st, seq);
	if (ret == 0) {
		s->last = seq;
		store_note_write(&s->st, seq, stdio);
		log_checkpoint(s, seq, parent, final, &res);
		store_prune(&s->st, s->o->keep);
	} else if (!final) {
		runlog_say(&s->log, "checkpoint-failed", "checkpoint %u failed: the job runs on", seq);
	}
	free(path);
	free(ppath);
	return ret;
}

static unsigned newest(const struct sup *s)
{
	return s->st.n ? s->st.pts[s->st.n - 1].seq : 0;
}

/* A preemption signal came: a final checkpoint, the job killed, exit 85. */
static int preempt(struct sup *s)
{
	int to_job, sig = sig_preempted(&to_job), st, status, ret = -1;
	char why[64], msg[128], *path;

	snprintf(msg, sizeof(msg), "%s%s: final checkpoint, then the job stops", signame(sig),
		 to_job ? " to the job" : "");
	runlog_emit(&s->log, &(struct run_event){ .event = "preempt", .pid = s->pid, .status = -1,
			.signal = signame(sig), .message = msg });
	if (sig_killed() == KILLED_NONE)
		ret = checkpoint(s, 1);
	tracee_held_kill();
	st = reap(s);
	/* It ended by itself before it could be stopped: its own status. */
	if (ret < 0 && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
		describe_end(st, &status, why);
		runlog_say(&s->log, "exit", "the job %s", why);
		return status;
	}
	path = newest(s) ? store_path(&s->st, newest(s)) : NULL;
	if (ret < 0)
		runlog_say(&s->log, "killed", "the job was killed without a final checkpoint (%s); %s%s",
			   sig_killed() == KILLED_GRACE ? "the grace ran out" :
			   sig_killed() == KILLED_SECOND ? "a second signal came" : "the checkpoint failed",
			   path ? "the last complete checkpoint is " : "there is no checkpoint",
			   path ? path : "");
	runlog_emit(&s->log, &(struct run_event){ .event = "exit", .status = RUN_EXIT_CHECKPOINTED,
			.message = "exit status 85: run the same command again to resume" });
	free(path);
	return RUN_EXIT_CHECKPOINTED;
}

static int restart_wanted(const struct restart_on *r, int st)
{
	if (WIFSIGNALED(st))
		return r->any_signal || (WTERMSIG(st) <= 64 && (r->signals & (1ull << (WTERMSIG(st) - 1))));
	return r->status[WEXITSTATUS(st)];
}

/* The job ended by itself: its status, or -1 when it was rolled back. */
static int ended(struct sup *s, int st)
{
	const struct run_opts *o = s->o;
	char why[64], msg[192];
	int status, again;
	struct run_event e = { .event = "exit", .pid = s->pid, .message = msg };

	describe_end(st, &status, why);
	e.status = status;
	e.signal = WIFSIGNALED(st) ? signame(WTERMSIG(st)) : NULL;
	again = s->restarts < o->restarts && restart_wanted(&o->restart_on, st);
	if (again) {
		s->restarts++;
		e.event = "crash";
		e.restart = s->restarts;
		snprintf(msg, sizeof(msg), "the job %s: restart %d of %d%s", why, s->restarts, o->restarts,
			 s->st.n ? "" : ", from the start (no checkpoint yet)");
	} else {
		snprintf(msg, sizeof(msg), "the job %s", why);
	}
	runlog_emit(&s->log, &e);
	/* The rest of its tree: rolled back with it, or left to run on
	 * untraced once we exit (ptrace(2), "the tracer dies"). */
	if (again)
		tracee_held_kill();
	tracee_unhold(s->pid);
	sig_set_job(0);
	if (!again)
		return status;
	if (s->st.n ? resume(s, "restart") == 0 : (o->argv && start_command(s) == 0))
		return -1;
	runlog_say(&s->log, "error", "the job could not be restarted: exit status %d", status);
	return status;
}

/* ckpt watch, asked to stop: the job goes on, no longer held (our exit
 * detaches it: ptrace(2), "the tracer dies"); 128+N as if N had ended us. */
static int leave(struct sup *s)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%s: no longer watching; the job runs on", signame(sig_leave()));
	runlog_emit(&s->log, &(struct run_event){ .event = "exit", .pid = s->pid,
			.status = 128 + sig_leave(), .signal = signame(sig_leave()), .message = msg });
	return 128 + sig_leave();
}

static int loop(struct sup *s)
{
	for (;;) {
		uint64_t now;
		int st, ret;

		if (tracee_held_poll(&st) == 1) {
			if ((ret = ended(s, st)) >= 0)
				return ret;
			continue;
		}
		if (sig_preempted(NULL))
			return preempt(s);
		if (sig_leave())
			return leave(s);
		now = mono_ns();
		if (now >= s->next_ns) {
			checkpoint(s, 0);
			/* From the start of this one; never back to back. */
			s->next_ns = MAX(now + s->o->every_ns, mono_ns() + s->o->every_ns / 4);
			continue;
		}
		sig_wait((int)MIN((s->next_ns - now) / 1000000 + 1, 1000));
	}
}

/* Start, resume or watch the job: 0, or the exit status to end with. */
static int begin(struct sup *s)
{
	const struct run_opts *o = s->o;
	char msg[64];

	if (o->watch) {
		if (hold(s, o->watch, 0) < 0)
			return EXIT_FAIL;
		snprintf(msg, sizeof(msg), "watching PID %d", o->watch);
		runlog_emit(&s->log, &(struct run_event){ .event = "watch", .pid = o->watch,
				.status = -1, .message = msg });
		return 0;
	}
	if (s->st.n)
		return resume(s, "resume") < 0 ? EXIT_FAIL : 0;
	if (!o->argv) {
		error("\"%s\" holds no checkpoint to resume, and no COMMAND was given", s->st.dir);
		return EXIT_FAIL;
	}
	return start_command(s);
}

int run_main(const struct run_opts *o)
{
	struct sup s = { .o = o };
	char **watched = NULL;
	int ret;

	if (o->watch)
		log_set_context("watch %d", o->watch);
	else
		log_set_context("run");
	if (runlog_open(&s.log, o->watch ? "ckpt watch" : "ckpt run", o->log, o->json, o->quiet) < 0)
		return EXIT_FAIL;
	if (o->watch) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/cmdline", o->watch);
		watched = store_read_argv(path);
	}
	if (o->watch && !watched) {
		error("no such process");
		return EXIT_FAIL;
	}
	if (store_open(&s.st, o->dir, watched ? watched : o->argv) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	/* Our signals are ours to handle around the dumps and restores, and
	 * the checkpoints are background work: no progress line. */
	sigguard_leave_to_caller();
	progress_disable();
	if (sig_start(o->on, o->grace_ns, o->watch != 0) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	if (!(ret = begin(&s)))
		ret = loop(&s);
out:
	sig_stop();
	store_close(&s.st);
	runlog_close(&s.log);
	store_free_argv(watched);
	return ret;
}
