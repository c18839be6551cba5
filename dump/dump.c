/*
 * ckpt dump: the order of operations.  Nothing is changed in the target
 * until it is frozen; every path out after freezing goes through
 * tracee_release(), which puts registers back and detaches; the image
 * only replaces the destination once it is complete and on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "dump/dump.h"

static int has_live_thread(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int live = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while (!live && (de = readdir(d))) {
		struct proc_stat st;
		int tid = atoi(de->d_name);

		live = tid > 0 && tid != pid && proc_read_stat(tid, &st) == 0 && st.state != 'Z' &&
		       st.state != 'X';
	}
	closedir(d);
	return live;
}

static int check_target(pid_t pid)
{
	struct proc_stat st;
	struct proc_status ss;
	int ret;

	if (pid == getpid())
		return error("cannot dump ckpt itself");
	ret = proc_read_stat(pid, &st);
	if (ret == -ENOENT)
		return error("no such process");
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/stat", pid);
	/* A zombie leader with live threads is a running process whose main
	 * thread called pthread_exit(): fine.  One with none is dead. */
	if ((st.state == 'Z' || st.state == 'X') && !has_live_thread(pid))
		return error("process is a zombie (it has exited and waits for its parent)");
	if (st.flags & PF_KTHREAD)
		return error("process is a kernel thread");
	if ((ret = proc_read_status(pid, &ss)) < 0)
		return error_errno(ret, "cannot read /proc/%d/status", pid);
	if (ss.tracer)
		return error("process is already traced by PID %d (a debugger?)", ss.tracer);
	return ss.seccomp;
}

static void fill_header(struct ckpt_header *h)
{
	struct utsname u;

	memset(h, 0, sizeof(*h));
	h->machine = ARCH_ELF_MACHINE;
	h->page_size = (uint32_t)getpagesize();
	h->xfeatures = arch_xfeatures();
	h->nprocs = 1;
	h->created = (uint64_t)time(NULL);
	if (uname(&u) == 0) {
		snprintf(h->kernel, sizeof(h->kernel), "%.63s", u.release);
		snprintf(h->host, sizeof(h->host), "%.63s", u.nodename);
	}
	if (getrandom(h->image_id, sizeof(h->image_id), 0) != sizeof(h->image_id))
		memset(h->image_id, 0, sizeof(h->image_id));
}

static int interrupted(void)
{
	if (!sigguard_fired())
		return 0;
	return error("interrupted by signal %d: the process was left as it was", sigguard_fired());
}

/* -vv: how long each step of the freeze took. */
static void phase(const char *what)
{
	static uint64_t last;
	uint64_t now = now_ns();

	if (what && log_verbose > 1)
		debug("%-40s %7.2f ms", what, (now - last) / 1e6);
	last = now;
}

/* What one dump holds between its steps. */
struct dump {
	struct img img;
	struct img_writer w;
	struct track tr;
	struct vma_pages *vp;
	pid_t child;		/* --fork: the copy memory is read from */
	int tracking;
	int late;		/* --fork: VmFlags, page plan and metadata after the release */
	int ret;		/* late: what the writing thread came to */
	struct proc_status status;	/* read once, while frozen */
};

/* --fork: the most memory kept, while frozen, of mappings a fork does not
 * copy (shared ones); beyond it they are written while frozen instead. */
#define FROZEN_COPY_MAX	(256ull << 20)

/*
 * --fork without tracking, frozen and forked: read from the process only
 * what the copy cannot give later, the pages of mappings the fork did not
 * copy.  0: the rest waits for the release; 1: it cannot be done so here
 * (the caller reads smaps and plans everything now, as without --fork).
 */
static int fork_frozen(pid_t pid, struct dump *d, const struct dump_opts *o,
		       const struct map_entry *maps, size_t nmaps)
{
	struct img_proc *p = &d->img.procs[0];
	struct map_entry *cm = NULL;
	size_t ncm = 0, same;
	int ret;

	/* mlock is not inherited (the copy's smaps would not say "lo"). */
	if (d->status.vmlck_kb) {
		debug("the process has locked memory: VmFlags read while it is frozen");
		return 1;
	}
	ret = proc_read_maps_how(d->child, &cm, &ncm, 0);
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/maps", d->child);
	for (same = 0; same < ncm && same < nmaps; same++)
		if (cm[same].start != maps[same].start || cm[same].end != maps[same].end)
			break;
	proc_free_maps(cm, ncm);
	if (same != nmaps || ncm != nmaps) {
		/* Only the process has a MADV_DONTFORK mapping, and its VmFlags. */
		debug("a mapping is not in the forked copy: VmFlags read while the process is frozen");
		return 1;
	}
	d->vp = xzalloc(p->d.nvmas * sizeof(*d->vp));
	if ((ret = dump_mark_not_forked(pid, d->child, p, d->vp)) != 0 ||
	    (ret = dump_plan_vmas(pid, p, d->vp, o, &d->tr, PLAN_FROZEN)) < 0 ||
	    (ret = dump_copy_pages(pid, p, d->vp, FROZEN_COPY_MAX)) != 0) {
		dump_free_pages(d->vp, p->d.nvmas);
		d->vp = NULL;
		if (ret > 0)
			debug("the page map or the memory not forked is read while the process is frozen");
		return ret;
	}
	return 0;
}

/* Everything between freeze and release: with --fork, up to the fork. */
static int collect_and_write(struct tracee_set *ts, struct dump *d, const struct dump_opts *o)
{
	/* /proc/<live> stands for the process: its leader may have exited. */
	pid_t pid = ts->t[0].tid;
	struct img *img = &d->img;
	struct img_proc *p = &img->procs[0];
	struct track *tr = &d->tr;
	struct map_entry *maps = NULL;
	struct img parent = { 0 };
	size_t nmaps = 0;
	int ret, late;

	d->tracking = (o->track || o->parent) && !o->kill;
	if (d->tracking && ts->leader_gone) {
		/* The uffd would have to be fetched from the leader's fd table,
		 * which died with it: compare page hashes next time instead. */
		warn("the main thread has exited: written pages are not tracked");
		d->tracking = 0;
	}
	phase(NULL);
	/* Just where the vdso and libc are, to find a syscall instruction. */
	ret = proc_read_maps_how(pid, &maps, &nmaps, 0);
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/maps", pid);
	if ((ret = dump_collect_proc(pid, p, ts, &d->status)) < 0 ||
	    (ret = dump_collect_threads(p, ts, &img->h.xstate_size)) < 0 ||
	    (ret = dump_find_syscall_insn(ts, maps, nmaps)) < 0 ||
	    (ret = dump_collect_remote(p, ts, &d->status)) < 0 ||
	    (ret = interrupted()) < 0)
		goto out;
	phase("registers, signals, injected syscalls");
	/*
	 * Read the maps again: the injected scratch page is gone now.  With
	 * --fork (and no tracking, which protects mappings by their VmFlags
	 * while frozen) smaps, which walks every page table, is read from
	 * the copy after the release; its VmFlags are the process's at the
	 * fork.
	 */
	late = o->fork && !d->tracking;
	proc_free_maps(maps, nmaps);
	maps = NULL;
	ret = proc_read_maps_how(pid, &maps, &nmaps, !late);
	if (ret < 0) {
		ret = error_errno(ret, "cannot read /proc/%d/%s", pid, late ? "maps" : "smaps");
		goto out;
	}
	if (o->parent) {
		ret = parent_load(o->parent, o->out, pid, p, &parent, tr, &img->parent);
		if (ret < 0)
			goto out;
		memcpy(img->h.parent_id, parent.h.image_id, sizeof(img->h.parent_id));
		p->d.dirty_method = (uint32_t)tr->method;
	} else {
		track_begin(pid, NULL, tr);
	}
	phase("maps, parent");
	if ((ret = dump_collect_vmas(pid, p, maps, nmaps, o)) < 0 ||
	    (ret = dump_collect_fds(pid, p)) < 0)
		goto out;
	phase("mappings, files");
	if (late) {
		if ((ret = fork_copy(ts, &d->child)) < 0)
			goto out;
		phase("fork");
		ret = fork_frozen(pid, d, o, maps, nmaps);
		phase("memory the fork did not copy");
		if (ret <= 0) {
			d->late = ret == 0;
			goto out;
		}
		proc_free_maps(maps, nmaps);
		maps = NULL;
		if ((ret = proc_read_maps(pid, &maps, &nmaps)) < 0) {
			ret = error_errno(ret, "cannot read /proc/%d/smaps", pid);
			goto out;
		}
		if (nmaps != p->d.nvmas) {
			ret = error("the mappings changed during the dump");
			goto out;
		}
		if ((ret = dump_vmas_set_flags(p, maps, o)) < 0)
			goto out;
		phase("smaps");
	}
	if ((ret = dump_plan_pages(pid, p, &d->vp, o, tr)) < 0 ||
	    (d->tracking && (ret = track_prepare(ts, p, tr)) < 0))
		goto out;
	phase("page map");
	if ((ret = img_writer_open(&d->w, o->out, o->no_sync)) < 0)
		goto out;
	if ((ret = img_write_header(&d->w, &img->h)) < 0 ||
	    (ret = img_write_meta(&d->w, img)) < 0 ||
	    (ret = interrupted()) < 0 ||
	    (ret = dump_write_pages(&(struct page_src){ pid, 0, p, d->vp, tr },
				    &(struct page_dest){ &d->w, &o->codec, o->jobs, d->tracking },
				    o->fork ? PASS_NOT_FORKED : PASS_ALL)) < 0 ||
	    (ret = interrupted()) < 0)
		goto out;
	/* Written pages count from now on: the image is complete, or (with
	 * --fork) its memory is about to be copied as it is. */
	if (d->tracking)
		ret = track_arm(p, tr);
	phase("metadata written, tracking armed");
	if (ret == 0 && o->fork && !d->child) {
		ret = fork_copy(ts, &d->child);
		phase("fork");
	}
out:
	img_free(&parent);
	proc_free_maps(maps, nmaps);
	return ret;
}

/*
 * --fork after the release, from the copy: VmFlags (smaps), the page plan
 * and the metadata when they were left for now, then the pages.  They
 * describe the process at the fork: the copy is that instant.
 */
static int write_forked(struct dump *d, const struct dump_opts *o)
{
	struct img_proc *p = &d->img.procs[0];
	struct map_entry *maps = NULL;
	size_t nmaps = 0;
	int ret;

	if (d->late) {
		uint64_t t = now_ns();

		if ((ret = proc_read_maps(d->child, &maps, &nmaps)) < 0)
			return error_errno(ret, "cannot read /proc/%d/smaps", d->child);
		if (nmaps != p->d.nvmas)
			ret = error("the forked copy's mappings changed");
		if (ret < 0 || (ret = dump_vmas_set_flags(p, maps, o)) < 0 ||
		    (ret = dump_plan_vmas(d->child, p, d->vp, o, &d->tr, PLAN_FORKED)) < 0 ||
		    (ret = img_writer_open(&d->w, o->out, o->no_sync)) < 0 ||
		    (ret = img_write_header(&d->w, &d->img.h)) < 0 ||
		    (ret = img_write_meta(&d->w, &d->img)) < 0) {
			proc_free_maps(maps, nmaps);
			return ret;
		}
		proc_free_maps(maps, nmaps);
		debug("after the release: smaps, page map and metadata from the copy in %.1f ms",
		      (now_ns() - t) / 1e6);
	}
	ret = dump_write_pages(&(struct page_src){ d->child, 0, p, d->vp, &d->tr },
			       &(struct page_dest){ &d->w, &o->codec, o->jobs, d->tracking },
			       d->late ? PASS_ALL : PASS_FORKED);
	return ret ? ret : img_writer_finish(&d->w);
}

struct forked_job {
	struct dump *d;
	const struct dump_opts *o;
};

/* How long the writing may run as SCHED_IDLE before it takes its share. */
#define IDLE_GRACE_S	3

static void nice10(pid_t tid)
{
	setpriority(PRIO_PROCESS, (id_t)tid, 10);
}

static void *forked_thread(void *arg)
{
	struct forked_job *j = arg;
	struct sched_param sp = { 0 };

	/*
	 * The process runs again and ckpt's reader, writer and workers
	 * (created from here, they inherit it) would take both CPUs from it:
	 * SCHED_IDLE runs them only on CPUs the process and everything else
	 * leave idle, so the process never waits for a CPU because of the
	 * dump, and a CPU it leaves costs it nothing (1 GiB: about 1 s
	 * either way with a CPU free).  On a machine saturated by other work
	 * SCHED_IDLE would get almost nothing (1.5-2 min for 1 GiB instead of
	 * 8-13 s at nice 10) while the copy's memory is held: after
	 * IDLE_GRACE_S, write_forked_idle() moves the threads to nice 10.
	 * Only this thread: the main thread, which freezes the process again
	 * to reap the copy, must not be starved while it holds it frozen.
	 */
	if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
		debug("cannot use SCHED_IDLE (%s): nice 10 instead", strerror(errno));
		nice10((pid_t)syscall(SYS_gettid));
	}
	j->d->ret = write_forked(j->d, j->o);
	return NULL;
}

/* Every thread of ckpt but the caller: SCHED_OTHER at nice 10. */
static void leave_idle(void)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	struct sched_param sp = { 0 };
	struct dirent *de;
	DIR *dir = opendir("/proc/self/task");

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		pid_t tid = atoi(de->d_name);

		/* Best effort: without privileges RLIMIT_NICE may forbid it. */
		if (tid > 0 && tid != self && sched_setscheduler(tid, SCHED_OTHER, &sp) == 0)
			nice10(tid);
	}
	closedir(dir);
}

/* write_forked() in a thread of its own, of the lowest priority while the
 * machine has CPU time to spare. */
static int write_forked_idle(struct dump *d, const struct dump_opts *o)
{
	struct forked_job j = { d, o };
	struct timespec until;
	pthread_t t;

	if (pthread_create(&t, NULL, forked_thread, &j))
		return write_forked(d, o);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += IDLE_GRACE_S;
	if (pthread_timedjoin_np(t, NULL, &until) == 0)
		return d->ret;
	debug("still writing after %d s as SCHED_IDLE: nice 10 now", IDLE_GRACE_S);
	/* Threads the writer starts later inherit its new policy. */
	leave_idle();
	pthread_join(t, NULL);
	return d->ret;
}

int dump_run(pid_t pid, const struct dump_opts *o)
{
	struct tracee_set ts = { 0 };
	struct dump d = { .w = { .fd = -1 }, .tr = { .uffd = -1, .fresh = -1, .pmfd = -1 } };
	uint64_t t0 = now_ns(), t_frozen, t_released = 0;
	pid_t ts_live = pid;
	int ret, seccomp;

	seccomp = check_target(pid);
	if (seccomp < 0)
		return seccomp;
	sigguard_install();
	fill_header(&d.img.h);
	d.img.procs = xzalloc(sizeof(*d.img.procs));
	ts.suspend_seccomp = seccomp > 0;
	ret = tracee_freeze(pid, &ts);
	if (ret < 0) {
		if (ret == -EPERM)
			error_errno(ret, "cannot attach (are you root or its owner? see also /proc/sys/kernel/yama/ptrace_scope)");
		else if (ret == -ESRCH)
			error("cannot attach: the process exited");
		else
			error_errno(ret, "cannot attach");
		goto out;
	}
	t_frozen = now_ns();
	ts_live = ts.t[0].tid;
	ret = collect_and_write(&ts, &d, o);
	if (ret < 0) {
		tracee_release(&ts, 0);
		goto out;
	}
	if (o->fork) {
		/* The copy holds the memory: the process goes on at once. */
		uint64_t insn = ts.syscall_insn;

		tracee_release(&ts, 0);
		t_released = now_ns();
		ret = write_forked_idle(&d, o);
		fork_reap(pid, ts_live, d.child, insn);
		d.child = 0;
		if (ret == 0 && o->stop)
			kill(pid, SIGSTOP);
	} else if (!o->kill && !o->stop) {
		/* The image is complete in the page cache: let the process go
		 * before the fsync, which may take long. */
		tracee_release(&ts, 0);
		t_released = now_ns();
		ret = img_writer_finish(&d.w);
	} else {
		/* Killed, or left stopped, only once the image is safely on
		 * disk; if it is not, the process runs on as before. */
		ret = img_writer_finish(&d.w);
		tracee_release(&ts, ret < 0 ? 0 : o->kill ? SIGKILL : SIGSTOP);
		t_released = now_ns();
	}
	debug("frozen for %.1f ms, dump took %.1f ms", (t_released - t_frozen) / 1e6,
	      (now_ns() - t0) / 1e6);
out:
	if (d.child > 0)	/* failed after the fork */
		fork_reap(pid, ts_live, d.child, ts.syscall_insn);
	dump_free_pages(d.vp, d.img.procs[0].d.nvmas);
	track_end(&d.tr);
	img_writer_close(&d.w);
	img_free(&d.img);
	if (ret < 0 && sigguard_fired())
		sigguard_reraise();
	return ret;
}
