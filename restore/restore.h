/* ckpt restore: recreate a process from an image. */
#ifndef CKPT_RESTORE_H
#define CKPT_RESTORE_H

#include <stdint.h>
#include <sys/types.h>

#include "image/chain.h"
#include "image/image.h"
#include "image/tree.h"
#include "image/stub-abi.h"

struct trust;

enum restore_fill {
	FILL_AUTO,			/* lazy where it can be */
	FILL_LAZY,			/* --lazy: the process runs at once */
	FILL_EAGER,			/* --no-lazy: every page before it runs */
};

struct restore_opts {
	int detach;			/* print the PID and return */
	enum restore_fill fill;
	int pid_ns;			/* into a new PID namespace */
	int rollback_files;		/* truncate grown files back */
	int ignore_file_changes;
	int vouched;			/* --trust: the caller answers for the image */
	const struct trust *trust;	/* set by restore_run (restore/trust.h) */
	int supervised;			/* ckpt run: it forwards the process's signals itself,
					   and gets the process still stopped, seized by the
					   calling thread (tracee_adopt) */
	unsigned own_fds;		/* bit n: fd n (0-2) was ckpt run's own at the
					   dump, and is ckpt's own fd n again */
	uint8_t fd_open_at_start[3];	/* which of 0-2 ckpt restore was given: an fd
					   that led outside the image gets it */
	struct restore_result *result;	/* filled in when not NULL (--detach: no PID printed) */
};

/* restore --json */
struct restore_result {
	pid_t pid;
	int status;			/* as waitpid() gives it (not --detach) */
};

int restore_run(const char *path, const struct restore_opts *o);
/* The same up to the moment the process runs, as a child of ours (ckpt
 * run); nothing printed, nobody waited for.  0 and *pid, or -errno after
 * a message.  With o->supervised it has not run yet: every thread of it
 * (and of the processes of its tree) stays in a ptrace stop of this
 * thread's, for tracee_adopt(). */
int restore_start(const char *path, const struct restore_opts *o, pid_t *pid);
/* ckpt run holds what restore_start made (tracee_adopt): the restore
 * guardian of a tree, which until then kills it whole should ckpt die
 * (restore/guard.c), goes. */
void restore_held(void);
/* From the moment the process runs: SIGINT, SIGTERM, SIGHUP, SIGUSR1 and
 * SIGUSR2 to ckpt restore go to it. */
void restore_forward_signals(pid_t pid);

/* plan.c: the stub's program, built with home-relative pointers and
 * relocated once the home address is known. */
struct plan_thread {
	struct stub_op *ops;
	uint64_t *reloc;		/* per op: bit i = a[i] is a home offset */
	char **what;			/* per op: what it does, for messages */
	uint32_t nops, cap;
	uint64_t pending;		/* home offset of its private pending
					 * siginfos, queued by ckpt (spawn.c) */
	uint32_t npending;
};

/* Where one task's ops are in a tree's plan (then one per helper: a
 * process that makes a group or session whose leader has exited). */
struct plan_proc {
	int32_t helps;			/* a helper: the task it makes; -1: a task */
	uint32_t t0;			/* its first stub thread */
	uint32_t nthreads;		/* its stub threads */
	uint32_t leader_gone;		/* 1: stub thread t0 is an extra, exiting leader */
	uint32_t fill_op;		/* index of thread t0's fill trap (live tasks) */
	uint64_t trap_action;		/* home offset of its SIGTRAP action, set again
					 * after the stub's traps (spawn.c); 0: none */
	uint32_t recv_first, nrecv;	/* its messages of mapped files (plan.recv_ctl) */
	uint64_t fg_group;		/* home offset of its pty's foreground group,
					 * which it gives the pty at the end (ctty.c
					 * ctty_session_fg); 0: none */
};

struct plan {
	uint32_t nthreads;		/* stub threads, of every task */
	struct plan_proc *procs;	/* per task of the image (img->ntasks), then per helper */
	uint32_t nhelpers;
	struct tree_way *ways;		/* per task: how its session and group are made */
	uint32_t base;			/* while building: the task's first stub thread */
	uint32_t leader_gone;		/* while building: 1, stub thread 0 is an extra, exiting leader */
	struct plan_thread *t;
	uint8_t *data;			/* blobs the ops point to */
	size_t datalen, datacap;
	uint64_t plan_off;		/* home offset of struct stub_plan */
	uint64_t data_off;		/* home offset of data[0] */
	uint64_t stub_size;		/* bytes of stub code at home offset 0 */
	uint64_t stack_size;		/* per thread */
	uint64_t home;			/* chosen address (0 until placed) */
	uint64_t size;			/* total home size */
	uint32_t fill_op;		/* while building: index of thread 0's fill trap */
	uint64_t trap_action;		/* while building: home offset of SIGTRAP's action, 0 */
	int owner_rules;		/* an unsigned image restored by root
					   (trust.h): what needs privilege runs
					   once the ids are the owner's */
	uint64_t *recv_ctl;		/* per message received: home offset of its control data */
	uint32_t nrecv;
	int uffd;			/* the stub makes a userfaultfd (lazy.c) */
	uint32_t uffd_op, uffd_close_op;	/* thread 0's ops that make and close it */
};

/* A mapping of the stub process before it starts (from /proc/PID/maps). */
struct stub_map {
	uint64_t start, end;
	char name[32];
};

struct spawn_fds;

/* The plan of every task of img (sf: each process's descriptors, by PROC
 * index); maps: the root stub's mappings as it starts; t: the trust
 * basis the image was held to (trust.h; NULL: none); uffd: the root stub
 * makes a userfaultfd before its fill trap (one process: lazy.c). */
int plan_build(struct plan *pl, const struct img *img, const struct stub_map *maps, size_t nmaps,
	       const struct spawn_fds *sf, uint64_t stub_size, const struct trust *tr, int uffd);
/* Address of thread ti's op k in the stub (once placed). */
uint64_t plan_op_addr(const struct plan *pl, uint32_t ti, uint32_t k);
/* Lowest address of stub thread ti's stack (once placed). */
uint64_t plan_stack_bottom(const struct plan *pl, uint32_t ti);
/* One syscall op on stub thread ti (reloc: bit i = a[i] is a home offset,
 * as plan_data() returns), its data, and what it does for messages. */
void plan_op(struct plan *pl, uint32_t ti, uint32_t flags, uint64_t reloc, long nr, uint64_t a0,
	     uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);
uint64_t plan_data(struct plan *pl, const void *p, size_t len);
/* The same, for data holding a home-relative pointer at offset ptr_at. */
uint64_t plan_data_reloc(struct plan *pl, const void *p, size_t len, size_t ptr_at);
__attribute__((format(printf, 3, 4)))
void plan_what(struct plan *pl, uint32_t ti, const char *fmt, ...);

/* attrs.c: the ATTRS and GUARDS sections.  attrs_check() refuses, before
 * anything is made, what this restore may not give (one place to decide
 * what an image may ask for: root's rights only when the image's word is
 * taken, trust.h trust_as_root); the plan_attrs_*() add the ops, at the
 * start of the plan (mm), in the process's part before its threads are
 * made, and in each thread's part before and after its credentials. */
int attrs_check(const struct img_proc *p, const struct trust *t);
void plan_attrs_mm(struct plan *pl, const struct img_proc *p);
void plan_attrs_guards(struct plan *pl, const struct img_proc *p);
/* mlockall(MCL_FUTURE): the process's last op, after every mapping is made */
void plan_attrs_lock_future(struct plan *pl, const struct img_proc *p);
void plan_attrs_process(struct plan *pl, const struct img_proc *p);
void plan_attrs_thread(struct plan *pl, uint32_t ti, const struct img_proc *p, uint32_t k);
void plan_attrs_thread_late(struct plan *pl, uint32_t ti, const struct img_proc *p, uint32_t k);

/* caps.c: capabilities and securebits, per thread around its ids (called
 * by the plan_attrs_thread*() above), and what may be asked (attrs_check) */
int caps_check(const struct img_proc *p, const struct trust *t);
void plan_caps_pre(struct plan *pl, uint32_t ti, const struct img_proc *p);
void plan_caps_post(struct plan *pl, uint32_t ti, const struct img_proc *p);

/* seccomp.c: the SECCOMP section, installed once every thread is made;
 * only root may (seccomp_check, from attrs_check) */
int seccomp_check(const struct img_proc *p, const struct trust *t);
void plan_seccomp(struct plan *pl, const struct img_proc *p);

/* Pick a home address: a hole free in every process's image and in the stub. */
int plan_place(struct plan *pl, const struct img *img, const struct stub_map *maps, size_t nmaps);
/* At a process's fill trap: its stub received every mapped file at the
 * fd number the plan mapped it from (sf->recv_fd).  k: its task index.
 * 0 or -errno after a message. */
int plan_check_received(const struct plan *pl, uint32_t k, const struct spawn_fds *sf, pid_t pid);
/* For other modules' parts of the plan (restore/fd.c): a syscall op on
 * thread ti (a[i] a home offset where reloc bit i is set), a blob in the
 * data area (its home offset), what the last op does (for messages). */
#define PLAN_R(i)	(1u << (i))
struct stub_op *plan_syscall(struct plan *pl, uint32_t ti, uint32_t flags, uint64_t reloc, long nr,
			     const uint64_t a[6]);
uint64_t plan_blob(struct plan *pl, const void *p, size_t len);
/* ctty.c: the controlling terminal (CTTY) */
struct ctty {
	int fd;		/* ckpt restore's terminal (/dev/tty), -1: none or not used */
	int fg;		/* ckpt restore is its foreground job */
	int steal;	/* the root leads a new session and takes the terminal */
	int skip;	/* --detach, ckpt run: the terminal is left as it is */
};
void ctty_open(struct ctty *ct, const struct img_proc *p, const struct restore_opts *o);
void ctty_close(struct ctty *ct);
void ctty_child(const struct ctty *ct);
void ctty_plan(struct plan *pl, const struct img *img, const struct img_proc *p);
void ctty_plan_fg(struct plan *pl, const struct img *img, const struct img_proc *p);
uint64_t ctty_session_fg(struct plan *pl, const struct img *img, const struct img_proc *p);
int ctty_slave_fd(const struct img *img, const struct img_proc *p);
void ctty_finish(const struct ctty *ct, const struct img *img, const struct img_proc *p, pid_t pid);
void ctty_report(const struct img_proc *p, pid_t pid);

/* restore/fd.c: the process's own part of its fds */
void fd_plan(struct plan *pl, const struct spawn_fds *sf);
/* restore/fd-lock.c: the process takes its file locks again (LOCKS), once
 * every fd is in place and none is closed any more */
void fd_plan_locks(struct plan *pl, const struct img *img, const struct img_proc *p);
/* Serialise: struct stub_plan, threads, data, ops; relocated to pl->home. */
int plan_serialise(const struct plan *pl, uint8_t **out, size_t *len);
void plan_free(struct plan *pl);

/* The files behind mappings reach the stub in messages (SCM_RIGHTS) of
 * at most this many, on a socket: restore never needs a descriptor per
 * mapped file at once (SCM_MAX_FD, include/net/scm.h). */
#define MAP_FDS_PER_MSG	253

/* files.c: the fd table, opened by ckpt before it forks */
struct spawn_fds {
	int nfds;			/* entries, as img_proc.fds */
	int *target;			/* fd number in the restored process */
	int *src;			/* fd in ckpt to dup there; -1: the process
					   opens it itself (fd_plan) */
	int *cloexec;			/* FD_CLOEXEC wanted */
	int nmaps;			/* image VMAs */
	int *map_fd;			/* per VMA: fd number to map it from in the stub
					   (its memfd's, a tree's shared object's), -1 */
	int *map_src;			/* per VMA: ckpt's fd for map_fd, -1 */
	int *map_msg;			/* per VMA: message bringing its file, -1 */
	int *map_pos;			/* per VMA: its file's place in that message */
	int nmsgs;			/* messages queued on the socket */
	int *msg_files;			/* files in each */
	int sock_src, sock_slot;	/* the socket's end for the stub, -1 */
	int recv_fd[MAP_FDS_PER_MSG];	/* fd numbers a message's files get in the
					   stub: the lowest free (mapfiles_recv_slots,
					   tree_recv_slots) */
	int exe_src, exe_slot;		/* exe for PR_SET_MM_MAP, -1 */
	int cwd_src, cwd_slot;		/* working directory (O_PATH), -1 */
	int plan_src, plan_slot;	/* the plan memfd */
	int stub_src;			/* the stub ELF memfd (exec'd) */
	const char *fail;		/* files_install_child: what failed (a literal) */
	int fail_fd;			/* and the fd number it concerns, -1 */
	int base;			/* first helper fd number in the stub */
	int *tmp, ntmp;			/* scratch for the child */
	/* A tree (restore/tree.c): the root stub also gets every other
	 * process's descriptors, at slots from extra_base on, which the
	 * processes forked from it take theirs from. */
	int extra_base;			/* 0: no tree */
	int extra_end;			/* past the last slot */
	int nextra, *extra_src;		/* the root's: ckpt's fds for those slots */
	int *slot;			/* another process's: per fd, its slot */
	int files_shared;		/* it shares its parent's fd table (CLONE_FILES):
					   it installs no fd and closes no slot, its
					   parent's are its own (plan.c) */
	struct fd_restore *fr;		/* restore/fd.h: the files behind the fds,
					   one for every process of a tree */
	int fr_own;			/* fr is this one's to free */
	const struct img_proc *p;	/* the process */
	int *shm_id;			/* per SYSV_SHM segment: its id here (sysv.c) */
	uint8_t *shm_made;		/* per segment: made by this restore */
};

/* share: the fd_restore of the tree's processes opened before (NULL: the
 * first); a file several processes hold is made once, by the first. */
int files_open(const struct img *img, const struct img_proc *p, const struct restore_opts *o,
	       struct spawn_fds *sf, struct fd_restore *share);
/* Once every process's files are open: drop what only the making needed. */
void files_opened(struct spawn_fds *sf);
/* Every process of the image has made its mappings: the memfd seals that
 * would have refused them, added (restore/fd.c fd_restore_seal); sf is
 * the first process's.  0 or -errno after a message. */
int files_seal(struct spawn_fds *sf);
/* While files_open() runs: open path with the process's credentials (or,
 * for an image whose word is taken, ckpt's when theirs do not reach): the
 * fd, or -errno.  Every file of the process is opened through it. */
int files_open_path(const char *path, int flags);
/* While files_open() runs: fn(arg) with ckpt's own credentials when the
 * image's word is taken, else with the process's, as every file is made:
 * for what only ckpt's capabilities make (a TCP connection: TCP_REPAIR
 * needs CAP_NET_ADMIN, which a process that is not root lacks).  What fn
 * returns (an fd, or -errno). */
int files_with_ckpt_creds(int (*fn)(void *arg), void *arg);
/* mapfiles.c: the files behind the mappings, one per distinct path (and
 * write access), queued on a socket for the stub (sock_src, map_msg,
 * map_pos); a memfd mapping maps its memfd from a slot of its own
 * (map_src, map_fd, numbered from *next_slot). */
int mapfiles_open(const struct img *img, const struct img_proc *p, struct spawn_fds *sf,
		  int *next_slot);
/* recv_fd[] from the stub's fd table (/proc/PID/fd) as it will be when
 * it receives the files: after exec, before it closes the plan. */
int mapfiles_recv_slots(pid_t pid, struct spawn_fds *sf);
/* In the forked child: install the table (async-signal-safe only).
 * Returns the fd of the stub ELF to exec, or -1 with errno, fail and
 * fail_fd set. */
int files_install_child(struct spawn_fds *sf);
void files_close(struct spawn_fds *sf);
/* sysv.c: each SysV segment of process k of img found or made again, or
 * taken from an earlier process of the image (0 or -errno after a
 * message; sf: every process's); the ops attaching it at each of its
 * attaches; and, when the restore failed, the segments it made removed. */
int sysv_open(const struct img *img, struct spawn_fds *sf, uint32_t k);
void plan_sysv_attach(struct plan *pl, const struct img_proc *p, const struct img_vma *v,
		      const struct spawn_fds *sf);
void sysv_close(const struct img_proc *p, struct spawn_fds *sf, int failed);
/* tree.c: each shared anonymous object several mappings map made once
 * (0 or -errno after a message); then the slots of every process's
 * descriptors in the root stub (sf: one per process of img, files_open()
 * done). */
int tree_shm(struct spawn_fds *sf, const struct img *img);
void tree_fds(struct spawn_fds *sf, const struct img *img);
/* recv_fd[] of a process forked by its parent's stub: the lowest numbers
 * free in it when it receives its files (plan.c plan_child_start). */
void tree_recv_slots(struct spawn_fds *sf, const struct spawn_fds *root_table);

/* pidns.c: --pid-ns */
struct pidns {
	pid_t init;		/* the namespace's PID 1, in our namespace */
	int wfd;		/* tells init whom to wait for */
	int own;		/* our own PID namespace, to go back to */
};
int pidns_enter(struct pidns *ns);
int pidns_started(struct pidns *ns, pid_t pid);
/* In the child: a mount namespace with the PID namespace's /proc. */
int pidns_child_mounts(void);
void pidns_release(struct pidns *ns, int kill_init);

/* How spawn.c fills the process's memory. */
enum fill_how {
	HOW_CLASSIC,		/* process_vm_writev, as the image is read */
	HOW_EAGER,		/* through userfaultfd, before the process runs */
	HOW_LAZY,		/* through userfaultfd, while it runs */
};

struct lazy;
struct guard;
struct spawn_fill {
	enum fill_how how;
	struct guard *g;	/* HOW_LAZY: keeps the running process traced */
	struct lazy *lz;	/* HOW_LAZY: out, still filling */
};

/* One restore, from the image to the running process. */
struct restore_job {
	const char *path;		/* the image (its parents are beside it) */
	const struct restore_opts *o;
	const struct img *img;		/* its metadata */
	struct img_stream in;		/* the page data after the metadata */
	struct pidns *ns;		/* --pid-ns */
	struct spawn_fill *fill;	/* how its memory is filled */
	pid_t pid;			/* the restored process */
};

/* spawn.c: create the process from j->img, fill it with the page data
 * that follows in j->in, and let it run; j->pid gets its PID. */
int restore_spawn(struct restore_job *j);

/* pages.c: stream page data into the stub process.  For the newest image
 * only is NULL and the pages it leaves to its parent are added to later;
 * for a parent, only its pages in `only` are written, and what it leaves
 * to its own parent goes to later.  Only process proc's sections: it
 * stops at the first of a later process (a tree), leaving it in hand. */
struct ranges;
int pages_fill(struct img_stream *in, const struct img *img, pid_t pid, uint32_t proc,
	       const struct ranges *only, struct ranges *later);
/* One section after the metadata, checked before anything is done with
 * it: 1 to apply it (a PAGES block that fits its mapping, or for a parent
 * the ranges in only), 0 to pass over it (HASHES, IN_PARENT runs, which
 * go to later, blocks only does not want), or -errno after a message.
 * Exposed for tests/fuzz. */
int pages_check(const struct img *img, const struct ckpt_section *s, const void *payload,
		uint64_t at, const struct ranges *only, struct ranges *later);
/* merge.c: flatten a chain into one full image */
int merge_run(const char *path, const char *out, int no_sync);
/* chain.c: the pages an incremental image leaves to its parents, from
 * them (image/chain.h finds and checks them), each held to the trust
 * basis t (NULL: none); proc: the process of img being filled (pid). */
int chain_fill(const char *path, const struct img *img, uint32_t proc, pid_t pid,
	       struct ranges *wanted, const struct trust *t);
/* For each parent in turn with the pages still wanted (only) of it,
 * opened and held as hold says (image/chain.h; NULL: nothing more):
 * fn(arg, its path, in: its reader at its first page section as
 * img_read_meta left it, its metadata, only, later: what it leaves to
 * its own parent).  fn returns 0, 1 to keep the reader open (it then
 * owns it and closes it), or -errno. */
typedef int chain_fn(void *arg, const char *ppath, struct img_stream *in, struct img *par,
		     const struct ranges *only, struct ranges *later);
int chain_walk(const char *path, const struct img *img, struct ranges *wanted,
	       const struct chain_hold *hold, chain_fn *fn, void *arg);

#endif
