/* ckpt dump: freeze a process, collect its state, write an image. */
#ifndef CKPT_DUMP_H
#define CKPT_DUMP_H

#include <sys/stat.h>
#include <sys/types.h>

#include "image/codec.h"
#include "image/image.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"
#include "ptrace/tree.h"

struct dump_opts {
	const char *out;	/* image path or "-" */
	int kill;		/* kill the target once the image is safe */
	int stop;		/* leave it stopped (SIGSTOP) */
	int no_sync;		/* no fsync */
	struct codec_spec codec;	/* page data compression */
	int jobs;		/* compression threads */
	struct { uint64_t start, end; } *exclude;	/* --exclude ranges */
	int nexclude;
	char **exclude_maps;	/* --exclude-mapping names */
	int nexclude_maps;
	const char *parent;	/* --parent: incremental against this image */
	int fork;		/* DUMP_FORK_*: read memory from a copy-on-write child */
	int snapshot;		/* --snapshot: memory moved aside, given back by uffd (snapshot.c) */
	int track;		/* --track: keep track of written pages for later */
	int single;		/* --single: PID alone, not its descendants */
	int no_cow;		/* --per-process-pages: pages shared with a parent stored again */
	int allow_lost_fds;	/* --allow-lost-fds: what cannot be restored is lost */
	int *lose_fds;		/* --lose-fd N: these are lost */
	int lose_sem_undo;	/* --lose-sem-undo: SysV semaphore undo lists are lost */
	int nlose_fds;
	int no_network_lock;	/* --network-lock=skip: connections to peers
				   outside are not locked until the restore */
	struct dump_result *result;	/* filled in when not NULL */
	/* bit n-1: signal n pending in the process is not saved (ckpt run: its
	 * preemption signals were ckpt's, not the job's to get on restore) */
	uint64_t drop_pending;
};

/* dump_opts.fork: --no-fork, --fork, neither (choose.c decides). */
enum { DUMP_FORK_NEVER = 0, DUMP_FORK_ALWAYS = 1, DUMP_FORK_AUTO = 2 };

/* --fork: the most memory kept, while frozen, of mappings a fork does not
 * copy (shared ones); beyond it they are written while frozen instead. */
#define FROZEN_COPY_MAX	(256ull << 20)

/* choose.c: DUMP_FORK_ALWAYS or DUMP_FORK_NEVER for the frozen processes
 * pids (o->fork's own unless it is DUMP_FORK_AUTO); -v says why. */
int dump_choose(const struct dump_opts *o, const pid_t *pids, size_t n);
/* cgroup.c: what forks of a dump's processes may add to their cgroups */
struct fork_charge {
	pid_t pid;
	uint64_t bytes;		/* memory charged to pid's memory cgroup */
	int tasks;		/* processes added to its pids cgroup */
};
/* 1: room under every memory and pids limit above each pid; 0: not, or
 * -errno: not known (why says which limit, or why). */
int cgroup_fork_room(const struct fork_charge *fc, size_t n, char *why, size_t len);

/* What a dump took (ckpt run's log, dump --json). */
struct dump_result {
	uint64_t frozen_ns;	/* the process was frozen this long (--fork: up to the fork) */
	uint64_t total_ns;	/* the whole dump, durable image included */
	int forked;		/* memory read from fork copies (choose.c) */
};

int dump_run(pid_t pid, const struct dump_opts *o);
/* 0, or, once SIGINT/TERM/HUP arrived (common/sigguard.h), the one line
 * that says so, printed, and -1. */
int dump_interrupted(void);

/* collect.c: state read from /proc and ptrace, no injection */
/* ss: /proc/PID/status as it was while frozen, for the steps after */
int dump_collect_proc(pid_t pid, struct img_proc *p, struct tracee_set *ts,
		      struct proc_status *ss);
/* xstate_size: the largest extended register set seen (header field) */
int dump_collect_threads(struct img_proc *p, struct tracee_set *ts, uint32_t *xstate_size);
/* twin.c: fn(arg, i) for every i < n, by a second thread of ours started
 * here and by the caller in twin_finish, which returns the first failure
 * (fn: 0 or -errno).  fn makes no ptrace request. */
struct twin;
struct twin *twin_start(size_t n, int (*fn)(void *arg, size_t i), void *arg);
int twin_finish(struct twin *w);
/* tracer.c: fn(arg) on a thread of ckpt's own, which makes every ptrace
 * request of it (SIGINT/TERM/HUP sent on to it); fn's result once the
 * thread is gone, and with it every task it still traced let go.
 * tracer_exits(): 1 in fn on such a thread (tracee_forget_tree may leave
 * the release to its exit); 0 elsewhere (fn could get no thread). */
int tracer_run(int (*fn)(void *arg), void *arg);
int tracer_exits(void);
/* remote.c: state only a syscall inside the target can read */
int dump_find_syscall_insn(struct tracee_set *ts, const struct map_entry *maps, size_t n);
/* after_brk (or NULL): called once brk(2), the one syscall run there that
 * takes the mmap lock for writing, is done (the others only read). */
struct remote_hook {
	void (*fn)(void *arg);
	void *arg;
};
int dump_collect_remote(struct img_proc *p, struct tracee_set *ts, const struct proc_status *ss,
			const struct remote_hook *after_brk);
/* attrs.c: the ATTRS section: the process's and room for nthreads
 * threads' (before dump_collect_threads); each thread's, thread i's of p
 * (tid) once collect.c has read its status (procfd: /proc), by either
 * twin; dump_attrs_remote() from inside the process (remote.c), with its
 * VmLck (kB: locked memory is warned of) and the result of PR_GET_DUMPABLE */
int dump_collect_attrs(pid_t live, struct img_proc *p, size_t nthreads);
int dump_thread_attrs(struct img_proc *p, size_t i, pid_t tid, int procfd);
int dump_attrs_remote(struct img_proc *p, struct tracee_set *ts, uint64_t locked_kb, long dumpable);
/* sysv.c: the SYSV_SHM section, after the VMAs (page: the page size), and
 * the refusal of a semaphore undo list (live: the process's PID here) */
int dump_collect_sysv(pid_t live, struct img_proc *p, uint64_t page, const struct dump_opts *o);
/* The bytes segment id holds now, resident or swapped: 0, or -errno. */
int dump_sysv_held(int id, uint64_t *bytes);
/* seccomp.c: the SECCOMP section, or a refusal by name */
int dump_collect_seccomp(struct img_proc *p, const struct tracee_set *ts);
/* remote.c: syscall nr run in thread t; 0 with *res its result, or -errno
 * after a message */
int dump_rcall(struct tracee_set *ts, struct tracee *t, long nr, uint64_t a0, uint64_t a1,
	       uint64_t a2, uint64_t a3, long *res);
/* vmas.c */
int dump_collect_vmas(pid_t pid, struct img_proc *p, const struct map_entry *maps, size_t n,
		      const struct dump_opts *o);
/* Add smaps' VmFlags to mappings collected from /proc/PID/maps (--fork). */
int dump_vmas_set_flags(struct img_proc *p, const struct map_entry *maps, const struct dump_opts *o);
/* fd.c: the open files (fd.h) */
int dump_collect_fds(pid_t pid, struct img *img, struct img_proc *p, const struct dump_opts *o);
/* ctty.c: the CTTY section, once the files are read */
int dump_collect_ctty(pid_t pid, const struct img *img, struct img_proc *p);
/* fd-file.c: whether link (a /proc/PID/fd or cwd link) names a file or
 * directory that was removed, st being the inode's; then its " (deleted)"
 * is cut off. */
int path_was_removed(char *link, const struct stat *st);
/* pages.c: which pages to save (pagemap), then stream them into w */
struct page_run {
	uint64_t addr;
	uint64_t npages;
};
struct vma_pages {
	struct page_run *runs;		/* pages to read and store */
	size_t nruns;
	struct page_run *same;		/* present, unchanged since the parent */
	size_t nsame;
	struct page_run *guards;	/* guard regions (no data) */
	size_t nguards;
	/* --fork: read from the frozen process, not from the copy (shared
	 * memory, MADV_DONTFORK, MADV_WIPEONFORK) */
	int frozen;
	uint8_t *copy;			/* its runs' pages, taken while frozen */
	size_t copy_len;
	/* Private pages another process maps too (pagemap bit 56 clear):
	 * read from the process itself without pinning them, or reading
	 * them would copy them (mem_readv_unpinned). */
	int cow;
	/* smaps counted no page of it as mapped elsewhere (PM_SMAPS without
	 * PM_SHARED_PAGES): cow is 0 without a look at the page map. */
	int unshared;
};

/* track.c: pages written since the parent; tracking for the next dump */
/* Where this dump's uffd may be in the process, to take it out again if
 * the dump does not complete (also in the guardian's journal, guard.h). */
struct track_undo {
	int tmp;		/* a new uffd: the fd userfaultfd() gave it, -1 */
	int slot;		/* the fd it goes to when armed, -1: none */
	int old;		/* --parent: the fd the parent's is at, -1 */
	int armed;		/* re-protecting: what it knew of the parent is gone */
	uint64_t ino;		/* its inode, 0: not known yet */
	uint64_t slot_had;	/* inode of an earlier dump's uffd at slot, 0 */
};
struct track {
	int method;			/* CKPT_DIRTY_* */
	int uffd;			/* our copy of the process's uffd, -1 */
	int fresh;			/* a uffd made by this dump, -1 */
	int old_fd;			/* where the parent left it in the process */
	int pmfd;			/* /proc/PID/pagemap */
	struct { uint64_t addr, hash; } *hashes;	/* the parent's, by address */
	size_t nhashes;
	/* The process's COW runs in the parent image: not stored for it
	 * there, so never left IN_PARENT to it (pages.c), whatever the
	 * kernel says was written. */
	struct page_run *cow;
	size_t ncow;
	/* A tree (this image or the parent's): shared anonymous memory is
	 * written through other processes' page tables, which this uffd does
	 * not see, and is stored with whichever process maps it first: its
	 * pages are all stored (track_written says it does not know). */
	int tree;
	int gslot;			/* its entry in the guardian's journal, -1 */
	struct track_undo undo;
	/* Mappings whose scan this dump trusted: registered with our uffd,
	 * not another one of the process's (track_written). */
	struct track_range { uint64_t start, end; } *own;
	size_t nown, ownsorted;
};
/* pp: the process in the parent image, NULL for none (all stored). */
/* The fd a new file gets in frozen process p: the lowest free one (fs/file.c
 * alloc_fd), from the fd table collected while frozen (track.c). */
int dump_lowest_free_fd(const struct img_proc *p);
int track_begin(pid_t pid, const struct img_proc *pp, struct track *tr);
/* Written regions of v since the parent, or -EPERM/-ENOENT when unknown. */
int track_written(struct track *tr, const struct img_vma *v, struct page_run **out, size_t *n);
/* Would track_written know v's (0), or -EPERM/-ENOENT?  Without its scan:
 * for a caller that has v's PAGE_IS_WRITTEN from a scan of its own. */
int track_owns(struct track *tr, const struct img_vma *v);
/* Before the metadata is written: the uffd for the next dump (the parent's
 * or a new one) and its fd to be, p->d.track_fd.  Then, once the image is
 * complete and the process still frozen, the uffd goes to that fd and
 * protects again: the next dump counts from here.  Nothing an earlier
 * dump left is touched before track_arm(). */
int track_prepare(struct tracee_set *ts, struct img_proc *p, struct track *tr);
int track_arm(struct tracee_set *ts, struct img_proc *p, struct track *tr);
int track_fd_base(const struct img_proc *p);
/* fd is a tracking uffd ckpt left in the process (not the program's). */
int track_is_ours(const struct img_proc *p, int fd, const char *link);
void track_end(struct track *tr);
/* The dump failed: its uffd out of the process again (in `frozen`, or
 * with one thread frozen for it); or it succeeded: the uffd stays. */
void track_abandon(struct track *tr, pid_t pid, pid_t live, const struct tracee_code *code,
		   struct tracee_set *frozen);
void track_commit(struct track *tr);
void track_undo(pid_t pid, pid_t live, const struct tracee_code *code, struct tracee_set *frozen,
		const struct track_undo *u);
/* parent.c: the parent image (metadata and page hashes).  root: now is
 * the dumped tree's root, which must be the parent image's.  0, or 1 when
 * the process is not in the parent image (new since: stored in full). */
int parent_load(const char *path, const char *child, pid_t live, struct img_proc *now, int root,
		struct img *parent, struct track *tr, char **ref);
int parent_hash(const struct track *tr, uint64_t addr, uint64_t *hash);
/* cnt pages at addr appended to runs (n of them, room for cap), merged
 * with the last run when they follow it. */
void dump_add_run(struct page_run **runs, size_t *n, size_t *cap, uint64_t addr, uint64_t cnt);
/* ahead.c: a tree's smaps read by a thread of its own while it is frozen */
struct smaps_ahead;
/* Read the smaps of pids[0..n) in turn; NULL if no thread could start. */
struct smaps_ahead *smaps_ahead_start(const pid_t *pids, size_t n);
/* The smaps of process i (pid), once read; read now if it does not hold
 * the mappings pid has now (now[0..nnow): its maps read after ckpt's last
 * change to them; NULL: read here), or a is NULL.  As proc_read_maps_how. */
int smaps_ahead_take(struct smaps_ahead *a, size_t i, pid_t pid, const struct map_entry *now,
		     size_t nnow, struct map_entry **out, size_t *n);
void smaps_ahead_end(struct smaps_ahead *a);
/* One process's smaps read before (maps[0..n), handed over): taken as
 * smaps_ahead_take takes what the thread read. */
struct smaps_ahead *smaps_ahead_given(struct map_entry *maps, size_t n);
/* What smaps_ahead_given was handed, not taken yet (n of them), or NULL. */
const struct map_entry *smaps_ahead_peek(const struct smaps_ahead *a, size_t *n);
/* /proc/PID/maps (no VmFlags) read by a thread of its own; taken (and
 * the thread ended) by maps_ahead_take, as proc_read_maps_how. */
struct smaps_ahead *maps_ahead_start(pid_t pid);
int maps_ahead_take(struct smaps_ahead *a, struct map_entry **out, size_t *n);

/* quiet.c: a process's syscalls counted from before its smaps is read to
 * its freeze.  NULL: they cannot be (not root, too many threads, an
 * io_uring worker, with alone a child, another process sharing its
 * memory, or a DAMON kdamond that may madvise it).  quiet_held, once
 * frozen: 1 if no thread of it entered or left a syscall or queued
 * io_uring work since, and none came or went. */
struct quiet;
/* Whether pid has enough mappings for the counts to pay (quiet.c). */
int quiet_worth(pid_t pid);
struct quiet *quiet_watch(pid_t pid, int alone);
int quiet_held(struct quiet *q);
/* Whether a count moved already (q a struct quiet: proc_read_smaps_unless's
 * stop, so that a job that fails the test costs smaps up to its syscall). */
int quiet_moved(void *q);
/* Where quiet_damon_may_madvise looks (tests: a tree of their own):
 * /sys/kernel/mm/damon/admin/kdamonds, /sys/module, /proc. */
struct damon_roots {
	const char *admin, *modules, *proc;
};
/* Whether DAMON may madvise a process's memory (quiet-damon.c): the PID of
 * a kdamond not known to work on physical addresses, -1 for an admin one
 * on with virtual addresses (or if kdamonds cannot be listed), 0 if none. */
pid_t quiet_damon_may_madvise(const struct damon_roots *r);
void quiet_end(struct quiet *q);

/* The present or swapped pages of a process's mappings (PAGEMAP_SCAN),
 * found before its VmFlags (smaps) are: the two page-table walks on two
 * CPUs.  r: NULL when not scanned (no PAGEMAP_SCAN: before Linux 6.7). */
struct present_scan {
	struct ckpt_page_region *r;
	size_t n;
	uint64_t lo, hi;	/* the range scanned */
	int written;		/* with PAGE_IS_WRITTEN (tracked by our uffd) */
};
/* Of every mapping of maps but [vsyscall]: what any plan of them needs;
 * written: PAGE_IS_WRITTEN too, which the plan takes for track_owns()
 * mappings instead of a walk of each (track_written's). */
void dump_scan_present(pid_t pid, const struct map_entry *maps, size_t n, int written,
		       struct present_scan *ps);
/* Present bytes of maps' private anonymous mappings (ps: their scan). */
uint64_t dump_present_anon(const struct map_entry *maps, size_t n, const struct present_scan *ps);
/* maps: p's mappings as read (one per VMA, in order), or NULL; pre: a
 * dump_scan_present of them (its regions are taken), or NULL. */
int dump_plan_pages(pid_t pid, struct img_proc *p, struct vma_pages **out,
		    const struct dump_opts *o, struct track *tr, const struct map_entry *maps,
		    struct present_scan *pre);
/* PLAN_FORKED also drops the frozen mappings that smaps now says not to save. */
enum plan_which { PLAN_ALL, PLAN_FROZEN, PLAN_FORKED };
int dump_plan_vmas(pid_t pid, struct img_proc *p, struct vma_pages *vp, const struct dump_opts *o,
		   struct track *tr, enum plan_which which);
/* --snapshot after the release: the mappings not frozen planned from
 * their shadows (mapping i read at its address + shift[i]). */
int dump_plan_moved(pid_t pid, struct img_proc *p, struct vma_pages *vp, const struct dump_opts *o,
		    struct track *tr, const int64_t *shift);
/* Has pid a present or swapped page in v: 1, 0 or -errno (-ENOTTY: no PAGEMAP_SCAN). */
int dump_has_pages(pid_t pid, const struct img_vma *v);
/* ioctl(PAGEMAP_SCAN), or -1 and ENOTTY under CKPT_NO_PAGEMAP_SCAN (tests). */
struct ckpt_pm_scan_arg;
long dump_pagemap_scan(int pmfd, struct ckpt_pm_scan_arg *a);
/* --fork: set vp[i].frozen for the mappings whose pages the forked child
 * does not have; 1 when that cannot be told without smaps. */
int dump_mark_not_forked(pid_t pid, pid_t child, const struct img_proc *p, struct vma_pages *vp);
void dump_free_pages(struct vma_pages *vp, uint32_t n);
/* pagewrite.c: read, compress (jobs threads) and write them */
/* Which mappings a pass writes: --fork reads those a fork does not copy
 * (vma_pages.frozen) from the frozen process first. */
enum page_pass { PASS_ALL, PASS_NOT_FORKED, PASS_FORKED };
/* Copy the frozen mappings' pages into vp[i].copy; 1 if more than max bytes. */
int dump_copy_pages(pid_t pid, const struct img_proc *p, struct vma_pages *vp, uint64_t max);
/* Whose pages (read from pid: the process, or its --fork copy), and
 * where they go. */
struct page_src {
	pid_t pid;			/* the process, or its --fork copy */
	int copy;			/* pid is a --fork copy: pages may be pinned */
	uint32_t idx;			/* the process's index in the image */
	const struct img_proc *p;
	const struct vma_pages *vp;	/* per mapping of p */
	const struct track *tr;
	/* --snapshot: mapping i's pages are read at their address + shift[i]
	 * (its shadow), and each piece read is handed to read_hook (given
	 * back to the process) before it is stored; NULL: none */
	const int64_t *shift;
	int (*read_hook)(void *arg, const uint64_t *addr, const uint8_t *raw, size_t n);
	void *hook_arg;
};
/* What a direct write of page data (dump_write_pages) can have ready
 * before the page plan: its workers' buffers, room in the file, the
 * MAC's algorithms (dump_pages_prepare).  Zero: nothing ready. */
struct page_prep {
	uint8_t *own;			/* jobs workers' buffers, touched */
	size_t ownlen;
	int jobs;
	uint64_t reserved_to;		/* the file allocated up to here */
	uint8_t *raw;			/* in order: the ring's slot buffers, touched */
	size_t nraw;			/* slots of them */
	uint64_t resident;		/* the process's resident bytes (set by the caller) */
};
struct page_dest {
	struct img_writer *w;
	const struct codec_spec *codec;
	int jobs;			/* compression threads */
	int hashes;			/* write HASHES sections too */
	struct page_prep *prep;		/* taken from, or NULL */
};
int dump_write_pages(const struct page_src *src, const struct page_dest *dst, enum page_pass pass);
/* Get ready what dump_write_pages to dst would do first: if it will write
 * directly (no codec, a regular file), bytes, a guess of the page data's
 * size, allocated in the file; in order (through the writer thread), the
 * slot buffers.  Best effort: what fails is done then. */
void dump_pages_prepare(const struct page_dest *dst, uint64_t bytes);
void dump_pages_unprepare(struct page_prep *pr);
/* tree.c: a tree's relations (TREE section), checked restorable */
int dump_tree_tasks(const struct tracee_tree *tt, struct img *img);
/* cow.c: pages shared copy-on-write with the parent process, out of
 * vp[i]'s runs into img->procs[i].cow (vp: each process's page plan). */
int dump_tree_cow(const struct tracee_tree *tt, struct img *img, struct vma_pages **vp);
/* shmobj.c: mappings of one shared object (anonymous, a deleted file, a
 * SysV segment) after its first: marked CKPT_VMA_SHM_ALIAS, their pages an
 * earlier mapping stores (the same offsets in the object) left out of vp.
 * A SysV segment holding pages no mapping of the image has present is
 * stored whole with its first attach.  0, or -errno after a message. */
int dump_shm_aliases(struct img *img, struct vma_pages **vp);
/* fork.c: --fork.  fork_copy: 0 with *child the copy, -errno after a
 * message, or (refusal_ok) 1 if the kernel refused the fork.  *settle 1:
 * the copy is not stopped yet, fork_settle() after the release, from the
 * same thread (its tracer), waits for its first stop and dooms it. */
int fork_copy(struct tracee_set *ts, pid_t *child, int refusal_ok, int *settle);
int fork_settle(pid_t pid, pid_t *child, const struct tracee_code *code);
void fork_reap(pid_t pid, pid_t live, pid_t child, const struct tracee_code *code);
/* Wait (up to 10 minutes, fork.c) until pid is a zombie: 0, or
 * -ESRCH/-ETIMEDOUT. */
int fork_until_zombie(pid_t pid);

#endif
