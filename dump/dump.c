/*
 * ckpt dump: the order of operations.  Nothing is changed in the target
 * until it is frozen; every path out after freezing goes through
 * tracee_release(), which puts registers back and detaches; the image
 * only replaces the destination once it is complete and on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
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
#include "common/killpoint.h"
#include "common/log.h"
#include "common/sigguard.h"
#include "common/util.h"
#include "dump/dump.h"
#include "dump/fd.h"
#include "dump/guard.h"
#include "dump/snapshot.h"

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
	if ((st.state == 'Z' || st.state == 'X') && !proc_has_live_thread(pid))
		return error("process is a zombie (it has exited and waits for its parent)");
	if (st.flags & PF_KTHREAD)
		return error("process is a kernel thread");
	if ((ret = proc_read_status(pid, &ss)) < 0)
		return error_errno(ret, "cannot read /proc/%d/status", pid);
	/* ckpt run and watch hold the job seized between dumps (held.c). */
	if (ss.tracer && !tracee_held_by_us(pid, ss.tracer))
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

int dump_interrupted(void)
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

/* One process of the dump, between its steps. */
struct dproc {
	uint32_t idx;			/* in the image */
	struct tracee_set *ts;		/* its threads, frozen */
	struct img_proc *p;
	struct track tr;
	struct vma_pages *vp;
	pid_t child;			/* --fork: the copy memory is read from */
	int settle;			/* --fork: fork_settle() due after the release */
	struct snap *snap;		/* --snapshot: the mappings moved aside */
	pid_t pid;
	pid_t live;			/* a thread that stands for it (the leader may be gone) */
	struct tracee_code code;	/* its syscall instruction and gadget, for after the release */
	int tracking;
	int late;			/* --fork: VmFlags and page plan after the release */
	struct proc_status status;	/* read once, while frozen */
};

/* What one dump holds between its steps. */
struct dump {
	struct img img;
	struct img_writer w;
	struct tracee_tree tt;	/* the frozen tree (one task with --single) */
	struct dproc *pr;	/* img.h.nprocs */
	int fork;		/* DUMP_FORK_ALWAYS: from copies (choose.c), or NEVER */
	int refused;		/* processes whose fork the kernel refused: written frozen */
	int late;		/* --fork: the metadata too after the release (one process) */
	struct smaps_ahead *ahead;	/* a tree's smaps, read ahead (ahead.c), or NULL */
	int ret;		/* late: what the writing thread came to */
	struct map_entry *pre;	/* --snapshot: smaps read before the freeze */
	size_t npre;
	/* --no-fork: smaps read before the freeze, its syscalls counted */
	struct quiet *quiet;
	struct map_entry *early;
	size_t nearly;
	uint64_t rss;		/* resident bytes, read before the freeze */
	struct page_prep prep;	/* the page writing's start, made while smaps is read */
};

/*
 * --fork without tracking, frozen and forked: read from the process only
 * what the copy cannot give later, the pages of mappings the fork did not
 * copy.  0: the rest waits for the release; 1: it cannot be done so here
 * (the caller reads smaps and plans everything now, as without --fork).
 */
static int fork_frozen(struct dproc *dp, const struct dump_opts *o)
{
	struct img_proc *p = dp->p;
	pid_t pid = dp->live;
	struct proc_status ps, cs;
	int ret;

	/* mlock is not inherited (the copy's smaps would not say "lo"). */
	if (dp->status.vmlck_kb) {
		debug("the process has locked memory: VmFlags read while it is frozen");
		return 1;
	}
	/*
	 * The copy has every mapping of the process, at the same place,
	 * but those under MADV_DONTFORK: dup_mmap (kernel/fork.c) copies
	 * total_vm and takes each of those out of it (vm_stat_account), so
	 * the copy's VmSize is smaller exactly when one is missing.  Two
	 * status files, not the copy's maps (60,000 mappings: 2.9 MB of
	 * text, 20-90 ms of the freeze).
	 */
	if ((ret = proc_read_status(pid, &ps)) < 0 || (ret = proc_read_status(dp->child, &cs)) < 0)
		return error_errno(ret, "cannot read the status of process %d or its copy %d", pid,
				   dp->child);
	if (cs.vmsize_kb != ps.vmsize_kb) {
		/* Only the process has a MADV_DONTFORK mapping, and its VmFlags. */
		debug("a mapping is not in the forked copy (VmSize %" PRIu64 " kB, the process's %" PRIu64
		      " kB): VmFlags read while the process is frozen", cs.vmsize_kb, ps.vmsize_kb);
		return 1;
	}
	dp->vp = xzalloc(p->d.nvmas * sizeof(*dp->vp));
	if ((ret = dump_mark_not_forked(pid, dp->child, p, dp->vp)) != 0 ||
	    (ret = dump_plan_vmas(pid, p, dp->vp, o, &dp->tr, PLAN_FROZEN)) < 0 ||
	    (ret = dump_copy_pages(pid, p, dp->vp, FROZEN_COPY_MAX)) != 0) {
		dump_free_pages(dp->vp, p->d.nvmas);
		dp->vp = NULL;
		if (ret > 0)
			debug("the page map or the memory not forked is read while the process is frozen");
		return ret;
	}
	return 0;
}

/* The same mappings, as /proc/PID/maps tells them (not VmFlags)? */
static int same_maps(const struct map_entry *a, size_t na, const struct map_entry *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end || a[i].pgoff != b[i].pgoff ||
		    a[i].prot != b[i].prot || a[i].shared != b[i].shared ||
		    a[i].dev_major != b[i].dev_major || a[i].dev_minor != b[i].dev_minor ||
		    a[i].ino != b[i].ino || strcmp(a[i].path, b[i].path))
			return 0;
	return 1;
}

/*
 * --snapshot of a single process, frozen: only what the image cannot get
 * later as it was at this instant.
 * - /proc/PID/maps (read by the caller): which mappings there are; cheap,
 *   no page-table walk.
 * - The pages of the mappings not moved aside, and their page plan: the
 *   process writes them again once released (copied into ckpt now,
 *   FROZEN_COPY_MAX at most).
 * - Not the VmFlags: smaps walks every page table (about 20 ms per GiB of
 *   small pages, the whole of the old pause).  They are those of smaps
 *   read just before the freeze, for mappings maps shows unchanged; after
 *   the release snap_check_flags() reads smaps again: a shadow's are the
 *   cut's (nothing of the process changes it; the MADV_DONTFORK is ours),
 *   and a mapping not moved that is still there must show the same, or
 *   the dump fails.  What this cannot see: a madvise that changed a whole
 *   mapping's flags between that read and the freeze and was undone (or
 *   the mapping gone) before the check, and the MADV_DONTFORK of a
 *   shadowed mapping (docs/snapshot.md 3).  Locked memory reads smaps now
 *   (mlock moves to the shadow; `lo` must be the freeze's).
 * - Not the page plan of the moved mappings: their shadows hold exactly
 *   the pages of this instant, planned from there after the release
 *   (dump_plan_moved).
 * 0: the rest waits for the release; 1: smaps is read now, as before.
 */
static int snap_frozen(struct dump *d, struct dproc *dp, const struct dump_opts *o,
		       const struct map_entry *maps, size_t nmaps)
{
	struct img_proc *p = dp->p;
	pid_t pid = dp->live;
	int ret;

	if (dp->status.vmlck_kb) {
		debug("the process has locked memory: VmFlags read while it is frozen");
		return 1;
	}
	if (!d->pre || !same_maps(d->pre, d->npre, maps, nmaps)) {
		debug("the mappings changed since smaps was read: VmFlags read while the process is frozen");
		return 1;
	}
	if ((ret = dump_vmas_set_flags(p, d->pre, o)) < 0)
		return ret;
	dp->vp = xzalloc(p->d.nvmas * sizeof(*dp->vp));
	dp->snap = snap_choose(p, dp->vp, pid);
	if ((ret = dump_plan_vmas(pid, p, dp->vp, o, &dp->tr, PLAN_FROZEN)) < 0 ||
	    (ret = dump_shm_aliases(&d->img, &dp->vp)) < 0 ||
	    (ret = dump_copy_pages(pid, p, dp->vp, FROZEN_COPY_MAX)) != 0) {
		snap_end(dp->snap, NULL);
		dp->snap = NULL;
		dump_free_pages(dp->vp, p->d.nvmas);
		dp->vp = NULL;
		if (ret > 0)
			debug("more than %llu MiB not moved aside: smaps and the page map read while the process is frozen",
			      FROZEN_COPY_MAX >> 20);
		return ret;
	}
	return 0;
}

/* Keep only the pending signals not in mask (siginfo's si_signo first). */
static void drop_from(uint8_t (*q)[CKPT_SIGINFO_SIZE], uint32_t *n, uint64_t mask)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < *n; i++) {
		int32_t sig;

		memcpy(&sig, q[i], sizeof(sig));
		if (sig >= 1 && sig <= 64 && (mask & (1ull << (sig - 1))))
			continue;
		memmove(q[k++], q[i], CKPT_SIGINFO_SIZE);
	}
	*n = k;
}

static void drop_pending(struct img_proc *p, uint64_t mask)
{
	if (!mask)
		return;
	drop_from(p->pending, &p->d.npending, mask);
	for (uint32_t i = 0; i < p->d.nthreads; i++)
		drop_from(p->threads[i].pending, &p->threads[i].d.npending, mask);
}

/* Resident memory from which a single process's smaps is read only after
 * its injected brk(2) (collect_proc): a mapping's walk can then keep brk
 * waiting longer than the steps before it take (1 GiB: 16 ms). */
#define AHEAD_AFTER_BRK	(64ull << 20)

/* remote_hook: a single process's smaps read ahead (collect_proc). */
static void start_ahead(void *arg)
{
	struct dump *d = arg;

	if (d)
		d->ahead = smaps_ahead_start(&d->pr[0].live, 1);
}

/*
 * One process, frozen: everything up to its page plan.  late (--fork of a
 * single process): VmFlags, the page plan and the metadata may wait for
 * the release, read from the copy (dp->late says whether they do).
 */
static int collect_proc(struct dump *d, struct dproc *dp, const struct dump_opts *o, int late)
{
	struct tracee_set *ts = dp->ts;
	/* /proc/<live> stands for the process: its leader may have exited. */
	pid_t pid = dp->live;
	struct img *img = &d->img;
	struct img_proc *p = dp->p;
	struct track *tr = &dp->tr;
	struct map_entry *maps = NULL, *now = NULL;
	struct img parent = { 0 };
	struct present_scan pre = { 0 };
	struct remote_hook ahead = { .fn = start_ahead };
	size_t nmaps = 0, nnow = 0;
	int ret;

	if (dp->tracking && ts->leader_gone) {
		/* The uffd would have to be fetched from the leader's fd table,
		 * which died with it: compare page hashes next time instead. */
		warn("the main thread has exited: written pages are not tracked");
		dp->tracking = 0;
	}
	late = late && !dp->tracking;
	/*
	 * A single process read while frozen: its smaps by a thread of its
	 * own (ahead.c), while this one reads its registers, runs the
	 * injected syscalls, loads the parent image and finds its present
	 * pages, two page-table walks on two CPUs (smaps of 60,000 mappings:
	 * some 150 ms of the kernel's time; of 1 GiB of small pages: 20 ms,
	 * most of an incremental dump).  The injected brk(2) takes the mmap
	 * lock for writing and waits for the walk of a whole mapping (1 GiB:
	 * 16 ms): with that much memory resident smaps starts only after the
	 * brk (start_ahead); with less, from now on (many small mappings:
	 * their maps read below and the borrow overlap it).  Its own
	 * userfaultfd is registered only after the page plan.
	 */
	if (!late && !d->ahead && img->h.nprocs == 1) {
		if (d->rss >= AHEAD_AFTER_BRK) {
			debug("%" PRIu64 " MiB resident: smaps read ahead from the injected brk on",
			      d->rss >> 20);
			ahead.arg = d;
		} else {
			start_ahead(d);
		}
	}
	phase(NULL);
	/* Just where the vdso and libc are, to find a syscall instruction
	 * and a gadget: the executable mappings (60,000 mappings: most of
	 * the cost of reading maps is parsing it). */
	ret = proc_read_maps_how(pid, &maps, &nmaps, PROC_MAPS_EXEC);
	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/maps", pid);
	if ((ret = dump_collect_proc(pid, p, ts, &dp->status)) < 0 ||
	    (ret = dump_collect_attrs(pid, p, ts->n)) < 0 ||
	    (phase("process"), ret = dump_collect_threads(p, ts, &img->h.xstate_size)) < 0 ||
	    (phase("threads: registers, signals, attributes"),
	     ret = dump_collect_seccomp(p, ts)) < 0)
		goto out;
	/* Threads are borrowed through a sigreturn gadget of the process's
	 * own code (ptrace/borrow.c); none: the old way, -v says so.  The
	 * processes of a tree mostly have their C library at one address:
	 * the last one's, checked here, saves a search.  Found first: its
	 * syscall instruction spares dump_find_syscall_insn a disassembly. */
	if (dp != d->pr && tracee_check_gadget(pid, &dp[-1].ts->code) == 0)
		ts->code.arch = dp[-1].ts->code.arch;
	else if (tracee_find_gadget_in(pid, maps, nmaps, &ts->code) < 0)
		ts->code.arch.gadget = 0;
	if ((ret = dump_find_syscall_insn(ts, maps, nmaps)) < 0)
		goto out;
	/* Before the code is copied anywhere: where thread 0 may be borrowed
	 * alone after the release (ptrace/lone.c). */
	tracee_lone_note(ts);
	if (guard && dp->tracking && (dp->tr.gslot = guard_note_uffd(dp->pid, pid, &ts->code)) < 0) {
		warn("too many processes to keep track of: the written pages of this one are not tracked");
		dp->tracking = 0;
	}
	phase("seccomp, syscall instruction, gadget");
	if ((ret = dump_collect_remote(p, ts, &dp->status, &ahead)) < 0 ||
	    (ret = dump_interrupted()) < 0)
		goto out;
	drop_pending(p, o->drop_pending);
	phase("injected syscalls");
	if (o->parent) {
		char *ref = NULL;

		/* Each process of a tree is found in the parent image by its
		 * PID and start time; one new since is stored in full. */
		ret = parent_load(o->parent, o->out, pid, p, dp == d->pr, &parent, tr, &ref);
		if (ret < 0)
			goto out;
		ret = 0;
		if (!img->parent)
			img->parent = ref;
		else
			free(ref);
		memcpy(img->h.parent_id, parent.h.image_id, sizeof(img->h.parent_id));
		p->d.dirty_method = (uint32_t)tr->method;
	} else {
		track_begin(pid, NULL, tr);
	}
	/*
	 * A single process's layout while its smaps is read: the present
	 * pages found and the mappings classified (what maps tells: files
	 * stat'ed, the vdso read) meanwhile; smaps adds the VmFlags.
	 */
	if (d->ahead && img->h.nprocs == 1) {
		int written = tr->method == CKPT_DIRTY_UFFD;
		size_t nearly = 0;
		const struct map_entry *early = smaps_ahead_peek(d->ahead, &nearly);
		struct smaps_ahead *mr = early ? maps_ahead_start(pid) : NULL;

		/* smaps read before the freeze (read_early): its layout scanned
		 * while another thread reads maps, which must show the same
		 * (60,000 mappings: 28 and 19 ms of the freeze, one after the
		 * other before). */
		if (mr) {
			dump_scan_present(pid, early, nearly, written, &pre);
			if (maps_ahead_take(mr, &now, &nnow) < 0) {
				now = NULL;
				nnow = 0;
			}
			if (!now || !same_maps(early, nearly, now, nnow)) {
				free(pre.r);
				memset(&pre, 0, sizeof(pre));
				if (now)
					dump_scan_present(pid, now, nnow, written, &pre);
			}
		} else if (proc_read_maps_how(pid, &now, &nnow, PROC_MAPS) == 0) {
			dump_scan_present(pid, now, nnow, written, &pre);
		}
		if (now && (ret = dump_collect_vmas(pid, p, now, nnow, o)) < 0)
			goto out;
	}
	/*
	 * Read the maps again: the injected scratch page is gone now.  With
	 * --fork (and no tracking, which protects mappings by their VmFlags
	 * while frozen) smaps, which walks every page table, is read from
	 * the copy after the release; its VmFlags are the process's at the
	 * fork.
	 */
	proc_free_maps(maps, nmaps);
	maps = NULL;
	/* A single process written while frozen: what the page writing does
	 * first while smaps's walk (1 GiB: 7 ms of CPU) is waited for.  The
	 * file's room too, but for an incremental dump, which writes few. */
	d->prep.resident = d->rss;
	if (!late && now && !d->fork && !o->snapshot)
		dump_pages_prepare(&(struct page_dest){ &d->w, &o->codec, o->jobs, dp->tracking, &d->prep },
				   o->parent ? 0 : dump_present_anon(now, nnow, &pre));
	if (late)
		ret = proc_read_maps_how(pid, &maps, &nmaps, PROC_MAPS);
	else
		ret = smaps_ahead_take(d->ahead, (size_t)(dp - d->pr), pid, now, nnow, &maps, &nmaps);
	if (ret < 0) {
		ret = error_errno(ret, "cannot read /proc/%d/%s", pid, late ? "maps" : "smaps");
		goto out;
	}
	phase("maps, parent");
	if (now && nmaps != p->d.nvmas)
		ret = error("the mappings changed during the dump");
	if (ret < 0 || (ret = now ? dump_vmas_set_flags(p, maps, o) :
				    dump_collect_vmas(pid, p, maps, nmaps, o)) < 0 ||
	    (ret = dump_collect_sysv(pid, p, img->h.page_size, o)) < 0 ||
	    (ret = dump_collect_fds(pid, img, p, o)) < 0 ||
	    (ret = dump_collect_ctty(pid, img, p)) < 0)
		goto out;
	phase("mappings, files");
	if (late && o->snapshot) {
		ret = snap_frozen(d, dp, o, maps, nmaps);
		phase("memory not moved aside");
		if (ret <= 0) {
			dp->late = ret == 0;
			goto out;
		}
	} else if (late) {
		/* By default a fork the kernel refuses means the frozen path. */
		if ((ret = fork_copy(ts, &dp->child, o->fork == DUMP_FORK_AUTO, &dp->settle)) < 0)
			goto out;
		if (ret == 0) {
			phase("fork");
			ret = fork_frozen(dp, o);
			phase("memory the fork did not copy");
			if (ret <= 0) {
				dp->late = ret == 0;
				goto out;
			}
		} else {
			d->fork = DUMP_FORK_NEVER;
		}
	}
	if (late) {
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
	if ((ret = dump_plan_pages(pid, p, &dp->vp, o, tr, maps, &pre)) < 0 ||
	    (dp->tracking && (ret = track_prepare(ts, p, tr)) < 0))
		goto out;
	phase("page map");
out:
	free(pre.r);
	img_free(&parent);
	proc_free_maps(now, nnow);
	proc_free_maps(maps, nmaps);
	return ret;
}

/* Everything between freeze and release: with --fork, up to the forks. */
static int collect_and_write(struct dump *d, const struct dump_opts *o)
{
	uint32_t n = d->img.h.nprocs;
	int ret = 0;

	if (o->snapshot && n > 1)
		return error("--snapshot dumps one process, and this is a tree of %u (--single dumps the process alone, --fork a tree)",
			     n);
	/* A single process's VmFlags and page plan can come from its --fork
	 * copy after the release; a tree's are read while it is frozen, its
	 * smaps ahead of the rest (not with tracking, whose injected
	 * userfaultfd registrations change VmFlags). */
	if (n == 1 && d->early) {
		/* read before the freeze, and it made no syscall since */
		d->ahead = smaps_ahead_given(d->early, d->nearly);
		d->early = NULL;
		d->nearly = 0;
	} else if (n > 1 && !o->track && !o->parent) {
		pid_t *pids = xmalloc(n * sizeof(*pids));

		for (uint32_t i = 0; i < n; i++)
			pids[i] = d->pr[i].live;
		d->ahead = smaps_ahead_start(pids, n);
		free(pids);
	}
	for (uint32_t i = 0; i < n && ret == 0; i++) {
		log_set_context("dump %d", d->pr[i].p->d.pid ? d->pr[i].p->d.pid : d->pr[i].ts->pid);
		ret = collect_proc(d, &d->pr[i], o, (d->fork || (o->snapshot && d->pre)) && n == 1);
	}
	smaps_ahead_end(d->ahead);
	d->ahead = NULL;
	log_set_context("dump %d", d->tt.t[0].pid);
	for (uint32_t i = 0; ret == 0 && i < d->img.ntasks; i++) {
		struct ckpt_task *t = &d->img.tasks[i];

		if (t->proc >= 0 && d->img.procs[t->proc].subreaper)
			t->flags |= CKPT_TASK_SUBREAPER;
	}
	if (ret < 0 || (n == 1 && d->pr[0].late)) {
		d->late = ret == 0;
		/* --snapshot: the moves, last before the release */
		if (ret == 0 && d->pr[0].snap) {
			killpoint("dump: frozen, planned");
			if ((ret = snap_begin(d->pr[0].snap, d->pr[0].ts, d->pr[0].p)) < 0)
				d->pr[0].snap = NULL;	/* undone and freed */
			phase("moved aside");
		}
		return ret;
	}
	{
		struct vma_pages **vp = xmalloc(n * sizeof(*vp));

		for (uint32_t i = 0; i < n; i++)
			vp[i] = d->pr[i].vp;
		ret = dump_shm_aliases(&d->img, vp);
		if (ret == 0 && n > 1 && !o->no_cow)
			ret = dump_tree_cow(&d->tt, &d->img, vp);
		free(vp);
		if (ret < 0)
			return ret;
	}
	/* --snapshot: the mappings not moved aside are written while frozen */
	if (o->snapshot)
		d->pr[0].snap = snap_choose(d->pr[0].p, d->pr[0].vp, 0);
	killpoint("dump: frozen, planned");
	if ((ret = img_write_header(&d->w, &d->img.h)) < 0 ||
	    (ret = img_write_meta(&d->w, &d->img)) < 0)
		return ret;
	for (uint32_t i = 0; i < n && ret == 0; i++) {
		struct dproc *dp = &d->pr[i];

		if ((ret = dump_interrupted()) < 0 ||
		    (ret = dump_write_pages(&(struct page_src){ .pid = dp->live, .idx = dp->idx,
							       .p = dp->p, .vp = dp->vp, .tr = &dp->tr },
					    &(struct page_dest){ &d->w, &o->codec, o->jobs, dp->tracking,
								 &d->prep },
					    d->fork || o->snapshot ? PASS_NOT_FORKED : PASS_ALL)) < 0 ||
		    (ret = dump_interrupted()) < 0)
			return ret;
		killpoint("dump: written while frozen");
		/* Written pages count from now on: the image is complete, or
		 * (with --fork) its memory is about to be copied as it is. */
		if (dp->tracking)
			ret = track_arm(dp->ts, dp->p, &dp->tr);
		if (ret == 0 && d->fork && !dp->child &&
		    (ret = fork_copy(dp->ts, &dp->child, o->fork == DUMP_FORK_AUTO, &dp->settle)) == 1) {
			/* Refused (the default only): the rest of its pages
			 * now, from the process itself, frozen. */
			d->refused++;
			ret = dump_write_pages(&(struct page_src){ .pid = dp->live, .idx = dp->idx,
								  .p = dp->p, .vp = dp->vp, .tr = &dp->tr },
					       &(struct page_dest){ &d->w, &o->codec, o->jobs,
								    dp->tracking, NULL },
					       PASS_FORKED);
		}
		if (ret == 0 && dp->snap && (ret = snap_begin(dp->snap, dp->ts, dp->p)) < 0)
			dp->snap = NULL;	/* undone and freed */
	}
	phase("metadata and memory written, tracking armed, forked");
	return ret;
}

/*
 * --fork after the release, from the copies: for a single process its
 * VmFlags (smaps), the page plan and the metadata when they were left for
 * now; then the pages.  They describe the process at the fork: the copy
 * is that instant.
 */
static int write_forked(struct dump *d, const struct dump_opts *o)
{
	struct dproc *dp = &d->pr[0];
	struct img_proc *p = dp->p;
	struct map_entry *maps = NULL;
	size_t nmaps = 0;
	int ret;

	if (d->late) {
		uint64_t t = now_ns();

		if ((ret = proc_read_maps(dp->child, &maps, &nmaps)) < 0)
			return error_errno(ret, "cannot read /proc/%d/smaps", dp->child);
		if (nmaps != p->d.nvmas)
			ret = error("the forked copy's mappings changed");
		if (ret < 0 || (ret = dump_vmas_set_flags(p, maps, o)) < 0 ||
		    (ret = dump_plan_vmas(dp->child, p, dp->vp, o, &dp->tr, PLAN_FORKED)) < 0 ||
		    (ret = img_write_header(&d->w, &d->img.h)) < 0 ||
		    (ret = img_write_meta(&d->w, &d->img)) < 0) {
			proc_free_maps(maps, nmaps);
			return ret;
		}
		proc_free_maps(maps, nmaps);
		debug("after the release: smaps, page map and metadata from the copy in %.1f ms",
		      (now_ns() - t) / 1e6);
	}
	/* The processes run: nothing is gained by writing faster than the
	 * disk, and --compress auto then sees how fast the disk is. */
	d->w.writebehind = 1;
	for (uint32_t i = 0; i < d->img.h.nprocs; i++) {
		dp = &d->pr[i];
		if (!dp->child)		/* its fork was refused: written while frozen */
			continue;
		ret = dump_write_pages(&(struct page_src){ .pid = dp->child, .copy = 1, .idx = dp->idx,
							   .p = dp->p, .vp = dp->vp, .tr = &dp->tr },
				       &(struct page_dest){ &d->w, &o->codec, o->jobs, dp->tracking, NULL },
				       d->late ? PASS_ALL : PASS_FORKED);
		if (ret < 0)
			return ret;
	}
	return img_writer_finish(&d->w);
}

/*
 * --snapshot after the release: the pages moved aside, read from there
 * and each piece given back as it is read; then the rest given back, the
 * shadows unmapped (snapshot.c), and only then the image finished.
 */
static int write_snapshot(struct dump *d, const struct dump_opts *o)
{
	struct dproc *dp = &d->pr[0];
	int ret = 0, ret2;

	snap_serve_ready(dp->snap);
	d->w.writebehind = 1;
	if (d->late) {
		/* What waited for the release: the VmFlags checked, the moved
		 * mappings planned from their shadows, the metadata. */
		uint64_t t = now_ns();

		if ((ret = snap_check_flags(dp->snap, dp->p, d->pre, dp->live)) == 0 &&
		    (ret = dump_plan_moved(dp->live, dp->p, dp->vp, o, &dp->tr,
					   snap_shift(dp->snap))) == 0 &&
		    (ret = img_write_header(&d->w, &d->img.h)) == 0)
			ret = img_write_meta(&d->w, &d->img);
		debug("after the release: smaps checked, page map of the copies and metadata in %.1f ms",
		      (now_ns() - t) / 1e6);
	}
	if (ret == 0)
		ret = dump_write_pages(&(struct page_src){ dp->live, 0, dp->idx, dp->p, dp->vp, &dp->tr,
							   snap_shift(dp->snap), snap_read_hook, dp->snap },
				       &(struct page_dest){ &d->w, &o->codec, o->jobs, dp->tracking, NULL },
				       d->late ? PASS_ALL : PASS_FORKED);
	ret2 = snap_end(dp->snap, NULL);
	dp->snap = NULL;
	if (ret == 0)
		ret = ret2;
	return ret < 0 ? ret : img_writer_finish(&d->w);
}

struct forked_job {
	struct dump *d;
	const struct dump_opts *o;
	int (*write)(struct dump *d, const struct dump_opts *o);
};

/* How long the writing may run as SCHED_IDLE before it takes its share. */
#define IDLE_GRACE_S	3

static void nice10(pid_t tid)
{
	setpriority(PRIO_PROCESS, (id_t)tid, 10);
}

/* Writing after the grace: a fork's copy at nice 10; a --snapshot at the
 * process's own rank, nice 0: until the writer is done the moved memory
 * is held twice, and a nice 10 writer at load 11 took 103 s for 1 GiB
 * where nice 0 took 11 s (2026-12-07). */
#define SNAP_LATE_NICE	0

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
	 * IDLE_GRACE_S, write_idle() moves the threads to nice 10.
	 * Only this thread: the main thread, which freezes the process again
	 * to reap the copy, must not be starved while it holds it frozen.
	 * --snapshot writes the same way, for the same reason: its workers
	 * took the process's CPU for slices at a time; what they do while it
	 * waits (a fault served, a stop of one thread) runs at a higher
	 * priority (snapshot.c reader(), snapstop.c).
	 */
	if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
		debug("cannot use SCHED_IDLE (%s): nice 10 instead", strerror(errno));
		nice10((pid_t)syscall(SYS_gettid));
	}
	j->d->ret = j->write(j->d, j->o);
	return NULL;
}

/* Every SCHED_IDLE thread of ckpt but the caller: SCHED_OTHER at nice
 * (not --snapshot's SCHED_FIFO reader, snapshot.c). */
static void leave_idle(int nice)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	struct sched_param sp = { 0 };
	struct dirent *de;
	DIR *dir = opendir("/proc/self/task");

	snap_stop_idle_over(nice);	/* before the look: see there */
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		pid_t tid = atoi(de->d_name);

		/* Best effort: without privileges RLIMIT_NICE may forbid it. */
		if (tid > 0 && tid != self && sched_getscheduler(tid) == SCHED_IDLE &&
		    sched_setscheduler(tid, SCHED_OTHER, &sp) == 0)
			setpriority(PRIO_PROCESS, (id_t)tid, nice);
	}
	closedir(dir);
}

/*
 * pthread_timedjoin_np() (until NULL: pthread_join()), serving a held
 * process meanwhile (ckpt run): it runs again, still seized by this
 * thread, and each signal it gets stops it until we let it go on.
 */
static int held_join(pthread_t t, const struct timespec *until)
{
	for (;;) {
		struct timespec step;
		int ret;

		if (tracee_held_poll(NULL) != 0)	/* none held, or it ended */
			return until ? pthread_timedjoin_np(t, NULL, until) : pthread_join(t, NULL);
		clock_gettime(CLOCK_REALTIME, &step);
		step.tv_nsec += 20 * 1000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		if (until && (step.tv_sec > until->tv_sec ||
			      (step.tv_sec == until->tv_sec && step.tv_nsec >= until->tv_nsec)))
			return pthread_timedjoin_np(t, NULL, until);
		if ((ret = pthread_timedjoin_np(t, NULL, &step)) != ETIMEDOUT)
			return ret;
	}
}

/* write (write_forked() or write_snapshot()) in a thread of its own, of
 * the lowest priority while the machine has CPU time to spare. */
static int write_idle(struct dump *d, const struct dump_opts *o,
		      int (*write)(struct dump *d, const struct dump_opts *o))
{
	struct forked_job j = { d, o, write };
	struct timespec until;
	pthread_t t;

	snap_stop_idle_over(-1);	/* in its grace (ckpt run: a dump before ended it) */
	if (pthread_create(&t, NULL, forked_thread, &j))
		return write(d, o);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += IDLE_GRACE_S;
	if (held_join(t, &until) == 0)
		return d->ret;
	debug("still writing after %d s as SCHED_IDLE: nice %d now", IDLE_GRACE_S,
	      o->snapshot ? SNAP_LATE_NICE : 10);
	/* Threads the writer starts later inherit its new policy. */
	leave_idle(o->snapshot ? SNAP_LATE_NICE : 10);
	held_join(t, NULL);
	return d->ret;
}

/* --single: PID alone, saying which of its children are left out. */
static int freeze_single(pid_t pid, struct tracee_tree *tt, int seccomp)
{
	struct tree_task *t = xzalloc(sizeof(*t));
	pid_t *kids;
	size_t n;
	int ret;

	t->pid = pid;
	t->parent = -1;
	t->ts.suspend_seccomp = seccomp > 0;
	ret = tracee_freeze(pid, &t->ts);
	if (ret < 0) {
		if (ret == -EPERM)
			error_errno(ret, "cannot attach (are you root or its owner? see also /proc/sys/kernel/yama/ptrace_scope)");
		else if (ret == -ESRCH)
			error("cannot attach: the process exited");
		else if (ret == -EAGAIN && t->ts.vfork_child)
			error("the process is in vfork(): its child %d has not called exec or _exit in %d s",
			      t->ts.vfork_child, TRACEE_VFORK_MS / 1000);
		else
			error_errno(ret, "cannot attach");
		free(t);
		return ret;
	}
	tt->t = t;
	tt->n = tt->cap = 1;
	proc_read_stat(pid, &t->st);
	n = proc_children(pid, &kids);
	for (size_t i = 0; i < n; i++) {
		struct proc_stat st;

		if (proc_read_stat(kids[i], &st) == 0)
			info("--single: child %d (%s) left out", kids[i], st.comm);
	}
	free(kids);
	return 0;
}

/* One struct dproc per live task of the frozen tree, and the tree's
 * relations for the image. */
static int setup_procs(struct dump *d, const struct dump_opts *o)
{
	uint32_t n = 0, k = 0;

	for (size_t i = 0; i < d->tt.n; i++)
		n += !d->tt.t[i].zombie;
	d->img.h.nprocs = n;
	d->img.procs = xzalloc(n * sizeof(*d->img.procs));
	d->pr = xzalloc(n * sizeof(*d->pr));
	for (size_t i = 0; i < d->tt.n; i++) {
		struct tree_task *t = &d->tt.t[i];
		struct dproc *dp = &d->pr[k];

		if (t->zombie)
			continue;
		dp->idx = k;
		dp->ts = &t->ts;
		dp->p = &d->img.procs[k++];
		dp->pid = t->pid;
		dp->live = t->ts.t[0].tid;
		dp->tr = (struct track){ .uffd = -1, .fresh = -1, .pmfd = -1, .gslot = -1, .tree = n > 1,
					 .undo = { .tmp = -1, .slot = -1, .old = -1 } };
		dp->tracking = (o->track || o->parent) && !o->kill;
	}
	/* A process under another dump's --snapshot: its memory is in
	 * shadows that dump's guardian gives back.  Looked at now that all
	 * are frozen, the named one again (snap_lock looked before the
	 * freeze; a --snapshot that froze, moved and released it since
	 * listens on its lock by now), but for a --snapshot's own. */
	for (uint32_t i = o->snapshot ? 1 : 0; i < n; i++)
		if (snap_check(d->pr[i].pid, i == 0) < 0)
			return -EBUSY;
	return o->single ? 0 : dump_tree_tasks(&d->tt, &d->img);
}

/* Fork or not (choose.c), for the processes frozen. */
static int choose(const struct dump *d, const struct dump_opts *o)
{
	pid_t *pids = xmalloc(d->img.h.nprocs * sizeof(*pids));
	int how;

	for (uint32_t i = 0; i < d->img.h.nprocs; i++)
		pids[i] = d->pr[i].live;
	how = dump_choose(o, pids, d->img.h.nprocs);
	free(pids);
	return how;
}

/* --fork, after the release: each copy's first stop, and its doom. */
static int settle_copies(struct dump *d)
{
	int ret = 0;

	for (uint32_t i = 0; ret == 0 && i < d->img.h.nprocs; i++)
		if (d->pr[i].settle && d->pr[i].child > 0)
			ret = fork_settle(d->pr[i].pid, &d->pr[i].child, &d->pr[i].code);
	return ret;
}

/* --fork: the copies go, each reaped in its process. */
static void reap_copies(struct dump *d)
{
	for (uint32_t i = 0; d->pr && i < d->img.h.nprocs; i++)
		if (d->pr[i].child > 0) {
			fork_reap(d->pr[i].pid, d->pr[i].live, d->pr[i].child, &d->pr[i].code);
			d->pr[i].child = 0;
		}
}

/* Before the freeze: the destination opened (an impossible one fails
 * with nothing touched) and the guardian started (guard.c): whatever the
 * destination, a killed ckpt can leave a TCP connection in repair mode
 * or --kill's network lock behind. */
static int prepare(pid_t pid, struct dump *d, const struct dump_opts *o)
{
	int ret = img_writer_open(&d->w, o->out, o->no_sync);

	if (ret < 0)
		return ret;
	if ((ret = guard_start(pid, d->w.is_stream ? "-" : d->w.path)) < 0)
		warn("cannot start a guardian (%s): a kill -9 of ckpt could leave things behind",
		     strerror(-ret));
	return 0;
}

/* A dump that failed after tracking was set up: each process's uffd out
 * again, in the process still frozen or with one thread frozen. */
static void untrack(struct dump *d, int frozen)
{
	for (uint32_t i = 0; d->pr && i < d->img.h.nprocs; i++) {
		struct dproc *dp = &d->pr[i];

		if (dp->tracking)
			track_abandon(&dp->tr, dp->pid, dp->live, &dp->code, frozen ? dp->ts : NULL);
	}
}

/* It succeeded: the uffds stay. */
static void track_keep(struct dump *d)
{
	for (uint32_t i = 0; d->pr && i < d->img.h.nprocs; i++)
		if (d->pr[i].tracking)
			track_commit(&d->pr[i].tr);
}

/*
 * What the dump allocates while frozen, per thread of the job: register
 * sets (x86-64's XSAVE area: some 3 KiB), a trip's frames and the stack
 * bytes they cover (twice that), the thread's part of the metadata and
 * of the text of smaps, with room for the growth of their buffers.
 * Measured with 1,000 threads: some 3,800 page faults (15 MiB) in the
 * pause without it (perf record -e page-faults).
 */
#define WARM_PER_THREAD	(24u << 10)

/* Before the freeze, for the job's threads: the heap touched (heapwarm.c)
 * and their /proc files opened (taskfiles.c); a job of a few threads
 * allocates and opens too little to be worth it.  Its resident size noted
 * meanwhile (collect_proc). */
static void warm_heap(pid_t pid, struct dump *d)
{
	struct proc_stat st;

	if (proc_read_stat(pid, &st) < 0)
		return;
	d->rss = st.rss * (uint64_t)getpagesize();
	if (st.nthreads < 16)
		return;
	heap_warm((size_t)st.nthreads * WARM_PER_THREAD);
	img_writer_touch(&d->w);	/* the metadata goes through it */
	/* The threads' wchan, status and timer slack: opened now, read
	 * once frozen (ptrace/taskfiles.c).  The root's threads only. */
	taskfiles_open(pid, (size_t)st.nthreads);
}

/*
 * --no-fork of a process alone: its smaps read while it runs, its
 * syscalls counted from before the read (quiet.c), so that a freeze
 * after none may take the VmFlags read (smaps of 60,000 mappings: some
 * 150 ms of the kernel's time, most of the pause).  Only the VmFlags and
 * what the page plan needs; the counters smaps adds are not for the
 * freeze: AnonHugePages (khugepaged changes it, frozen or not: a hint to
 * restore) is kept, and "no page mapped elsewhere" (PM_SMAPS without
 * PM_SHARED_PAGES: no look at the page map) is dropped for MADV_MERGEABLE
 * memory, whose pages ksmd may merge meanwhile with no syscall of the
 * process.  Not with tracking or a parent (incremental dumps: left as
 * they were).
 */
static void read_early(pid_t pid, struct dump *d, const struct dump_opts *o)
{
	/* choose.c: --kill and --stop never fork */
	int frozen = o->fork == DUMP_FORK_NEVER || (o->fork == DUMP_FORK_AUTO && (o->kill || o->stop));

	if (!frozen || o->track || o->parent || !quiet_worth(pid) ||
	    !(d->quiet = quiet_watch(pid, !o->single)))
		return;
	/* Given up at the first syscall counted: smaps of 60,000 mappings
	 * read for nothing was 1.6x the whole dump and +50% of its CPU. */
	if (proc_read_smaps_unless(pid, quiet_moved, d->quiet, &d->early, &d->nearly) < 0) {
		d->early = NULL;
		d->nearly = 0;
		quiet_end(d->quiet);
		d->quiet = NULL;
		return;
	}
	for (size_t i = 0; i < d->nearly; i++)
		if (d->early[i].vmflags & PM_MERGEABLE)
			d->early[i].vmflags &= ~PM_SMAPS;
}

/* The tree let go (tracee_release_tree); when, for "frozen for". */
static uint64_t release(struct dump *d, int sig)
{
	uint64_t t;

	phase(NULL);
	tracee_release_tree(&d->tt, sig);
	phase("release");
	t = now_ns();
	/* read while frozen, closed only now (ptrace/taskfiles.c) */
	taskfiles_close();
	return t;
}

/* The frozen part of a dump, on the thread that traces (tracer.c). */
struct frozen {
	struct dump *d;
	const struct dump_opts *o;
	pid_t pid;
	int seccomp;
	int reached;	/* as far as the release: "frozen for" says how long */
	int finish;	/* the image complete but for img_writer_finish() */
	uint64_t t_frozen, t_released;	/* t_released 0: by the tracer's exit */
};

/* Released by the exit of the thread that traces (tracer.c), or 0: the
 * caller releases. */
static int release_by_exit(struct dump *d)
{
	phase(NULL);
	if (!tracer_exits() || tracee_forget_tree(&d->tt) < 0)
		return 0;
	killpoint("dump: tracer exits");
	return 1;
}

static int frozen_run(void *arg)
{
	struct frozen *f = arg;
	struct dump *d = f->d;
	const struct dump_opts *o = f->o;
	int ret;

	phase(NULL);
	ret = o->single ? freeze_single(f->pid, &d->tt, f->seccomp) : tracee_freeze_tree(f->pid, &d->tt);
	if (ret < 0)
		return ret;
	phase("freeze (before \"frozen for\")");
	f->t_frozen = now_ns();
	if (d->quiet && !quiet_held(d->quiet)) {
		proc_free_maps(d->early, d->nearly);
		d->early = NULL;
		d->nearly = 0;
	}
	quiet_end(d->quiet);	/* not waited for (quiet.c) */
	d->quiet = NULL;
	if (d->early)
		debug("VmFlags read before the freeze: the process made no syscall since");
	if ((ret = setup_procs(d, o)) == 0) {
		d->fork = choose(d, o);
		phase("fork or not (choose.c)");
		ret = collect_and_write(d, o);
	}
	for (uint32_t i = 0; i < d->img.h.nprocs; i++)
		d->pr[i].code = d->pr[i].ts->code;
	if (ret < 0) {
		untrack(d, 1);
		tracee_release_tree(&d->tt, 0);
		return ret;
	}
	f->reached = 1;
	if (d->fork || o->snapshot) {
		/* The copies hold the memory: the processes go on at once. */
		f->t_released = release(d, 0);
		if (o->snapshot) {
			ret = write_idle(d, o, write_snapshot);
		} else {
			if ((ret = settle_copies(d)) == 0)
				ret = write_idle(d, o, write_forked);
			reap_copies(d);
		}
		if (ret < 0)
			untrack(d, 0);
		for (uint32_t i = 0; ret == 0 && o->stop && i < d->img.h.nprocs; i++)
			kill(d->pr[i].pid, SIGSTOP);
	} else if (!o->kill && !o->stop) {
		/* The image is complete in the page cache: let the processes go
		 * before the fsync, which may take long. */
		f->finish = 1;
		if (!release_by_exit(d))
			f->t_released = release(d, 0);
	} else {
		/* Killed, or left stopped, only once the image is safely on
		 * disk; if it is not, the processes run on as before. */
		ret = img_writer_finish(&d->w);
		/* TCP connections dropped silently by the kill, unless one
		 * received what the image misses: then not killed at all */
		if (ret == 0 && o->kill &&
		    (ret = fd_tcp_before_kill(&d->img, 1, o->no_network_lock)) < 0 && !d->w.is_stream &&
		    d->w.path)
			unlink(d->w.path);
		if (ret < 0)
			untrack(d, 1);
		f->t_released = release(d, ret < 0 ? 0 : o->kill ? SIGKILL : SIGSTOP);
		if (ret == 0 && o->kill)
			fd_tcp_lock_kept();
	}
	return ret;
}

/* The frozen part on a thread of its own, whose exit can release: a
 * --no-fork dump of a process that is let go to run on (not --kill or
 * --stop; --fork's copies stay traced while the image is written). */
static int on_tracer(pid_t pid, const struct dump_opts *o)
{
	return o->fork == DUMP_FORK_NEVER && !o->snapshot && !o->kill && !o->stop &&
	       !tracee_is_held(pid);
}

int dump_run(pid_t pid, const struct dump_opts *o)
{
	struct dump d = { .w = { .fd = -1 } };
	struct frozen f = { .d = &d, .o = o, .pid = pid };
	uint64_t t0 = now_ns();
	unsigned long said = log_errors_said();
	int ret, seccomp;

	/* Before the guardian's fork: it keeps a --snapshot's lock.  Before
	 * the target's checks: a --snapshot under way has it traced now and
	 * then (a thread stopped to free memory), which says less. */
	if ((ret = snap_lock(pid, o->snapshot)) < 0)
		return ret;
	seccomp = check_target(pid);
	if (seccomp < 0) {
		snap_unlock();
		return seccomp;
	}
	sigguard_install();
	fill_header(&d.img.h);
	if ((ret = prepare(pid, &d, o)) < 0)
		goto out;
	/* --snapshot: the VmFlags, read while the process runs (snap_frozen) */
	phase(NULL);
	if (o->snapshot && proc_read_maps(pid, &d.pre, &d.npre) < 0) {
		d.pre = NULL;
		d.npre = 0;
	}
	if (!o->snapshot)
		read_early(pid, &d, o);
	phase("smaps before the freeze");
	warm_heap(pid, &d);
	phase("heap warmed");
	killpoint("dump: before the freeze");
	f.seccomp = seccomp;
	ret = on_tracer(pid, o) ? tracer_run(frozen_run, &f) : frozen_run(&f);
	if (!f.reached)
		goto out;
	if (f.finish) {
		if (!f.t_released) {
			/* tracer_run returned once the tracing thread was gone */
			phase("release (the tracing thread's exit)");
			f.t_released = now_ns();
			taskfiles_close();
		}
		ret = img_writer_finish(&d.w);
		if (ret < 0)
			untrack(&d, 0);
	}
	if (ret == 0)
		track_keep(&d);
	debug("frozen for %.1f ms, dump took %.1f ms", (f.t_released - f.t_frozen) / 1e6,
	      (now_ns() - t0) / 1e6);
	if (o->result) {
		o->result->frozen_ns = f.t_released - f.t_frozen;
		o->result->total_ns = now_ns() - t0;
		o->result->forked = d.fork == DUMP_FORK_ALWAYS && !d.refused;
	}
out:
	taskfiles_close();
	nofile_restore();	/* raised by taskfiles.c, fd.c */
	fd_tcp_before_kill(&d.img, 0, 0);
	reap_copies(&d);	/* failed after a fork */
	for (uint32_t i = 0; d.pr && i < d.img.h.nprocs; i++) {
		if (d.pr[i].snap)	/* chosen, not begun */
			snap_end(d.pr[i].snap, NULL);
		dump_free_pages(d.pr[i].vp, d.pr[i].p->d.nvmas);
		track_end(&d.pr[i].tr);
	}
	free(d.pr);
	dump_pages_unprepare(&d.prep);
	proc_free_maps(d.pre, d.npre);
	quiet_end(d.quiet);
	proc_free_maps(d.early, d.nearly);
	img_writer_close(&d.w);
	img_free(&d.img);
	heap_cool();
	if (log_verbose > 1)
		debug("kill points passed: %ld", killpoints_passed());
	guard_stop();
	snap_unlock();
	if (ret < 0 && sigguard_fired()) {
		/* Whatever call the signal broke off (EINTR says nothing,
		 * log.c), the one line is the interruption's. */
		if (log_errors_said() == said)
			dump_interrupted();
		sigguard_reraise();
	}
	return ret;
}
