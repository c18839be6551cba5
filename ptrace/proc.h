/* Parsing /proc/PID files: stat, status, limits, maps+smaps. */
#ifndef CKPT_PROC_H
#define CKPT_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	char state;		/* R S D T t Z X I ... */
	int ppid, pgrp, session;
	unsigned tty_nr;	/* field 7: the controlling terminal's device number, 0: none */
	int tpgid;		/* field 8: its foreground process group, -1: none */
	unsigned long flags;	/* PF_* */
	int nthreads;		/* field 20: num_threads */
	uint64_t rss;		/* field 24: resident pages */
	uint64_t start_time;	/* clock ticks after boot */
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_signal;	/* field 38: sent to the parent at exit */
	int exit_code;		/* field 52: a zombie's wait status */
	char comm[16];
};

struct proc_status {
	char name[16];		/* Name: the comm, unescaped */
	int tgid;
	uint32_t uid[4], gid[4];
	uint32_t ngroups;
	uint32_t groups[256];
	uint32_t umask;
	int tracer;
	int seccomp;
	int no_new_privs;	/* NoNewPrivs (a thread's own) */
	uint64_t vmlck_kb;	/* VmLck: memory under mlock */
	uint64_t vmsize_kb;	/* VmSize: every mapping's size (mm->total_vm) */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint64_t sig_ign, sig_cgt;	/* SigIgn, SigCgt: bit sig-1 */
};

struct map_entry {
	uint64_t start, end, pgoff;
	uint32_t prot;		/* PROT_* */
	int shared;
	unsigned dev_major, dev_minor;
	uint64_t ino;
	uint32_t vmflags;	/* PM_*: smaps VmFlags (0 from plain maps) */
	char *path;		/* "" for anonymous */
};
#define PM_DONTFORK	(1u << 0)	/* dc: MADV_DONTFORK */
#define PM_DONTDUMP	(1u << 1)	/* dd: MADV_DONTDUMP */
#define PM_HUGEPAGE	(1u << 2)	/* hg: MADV_HUGEPAGE */
#define PM_NOHUGEPAGE	(1u << 3)	/* nh: MADV_NOHUGEPAGE */
#define PM_WIPEONFORK	(1u << 4)	/* wf: MADV_WIPEONFORK */
#define PM_NORESERVE	(1u << 5)	/* nr: MAP_NORESERVE */
#define PM_LOCKED	(1u << 6)	/* lo: mlock */
#define PM_MERGEABLE	(1u << 7)	/* mg: MADV_MERGEABLE */
#define PM_SEQUENTIAL	(1u << 8)	/* sr: MADV_SEQUENTIAL */
#define PM_RANDOM	(1u << 9)	/* rr: MADV_RANDOM */
#define PM_LOCKONFAULT	(1u << 10)	/* lf: mlock2(MLOCK_ONFAULT) */
#define PM_MAYBE_GUARD	(1u << 11)	/* gu: may hold guard regions (VM_MAYBE_GUARD) */
#define PM_MAYWRITE	(1u << 12)	/* mw: VM_MAYWRITE */
#define PM_SEALED	(1u << 13)	/* sl: mseal(2) */
#define PM_GROWSDOWN	(1u << 16)	/* gd */
#define PM_IO		(1u << 17)	/* io: VM_IO, never read */
#define PM_PFNMAP	(1u << 18)	/* pf */
#define PM_ANONHUGE	(1u << 24)	/* not a VmFlag: smaps AnonHugePages > 0 */
#define PM_SHARED_PAGES	(1u << 25)	/* not a VmFlag: smaps Shared_Clean, Shared_Dirty or
					   Shared_Hugetlb > 0 (a page mapped elsewhere too) */
#define PM_SMAPS	(1u << 26)	/* not a VmFlag: read from smaps (the two above are known) */

#define PF_EXITING	0x00000004	/* include/linux/sched.h */
#define PF_KTHREAD	0x00200000	/* include/linux/sched.h */

int proc_read_stat(pid_t pid, struct proc_stat *st);
int proc_read_status(pid_t pid, struct proc_status *st);
/* The same from path relative to dirfd ("TID/status" in /proc/PID/task:
 * a shorter walk than /proc/TID/status, which counts with 1,000 threads). */
int proc_read_status_at(int dirfd, const char *path, struct proc_status *st);
/* status text as read (buf: parsed in place, kept by the caller). */
void proc_parse_status(char *buf, struct proc_status *st);
/* What a dump keeps of each thread's status (collect.c), parsed alone:
 * the whole parse (sscanf of Uid and Gid...) cost some 9 us a thread,
 * more than the kernel's making of the text. */
struct proc_task_status {
	char name[16];		/* Name: the comm, unescaped */
	int seccomp;		/* Seccomp: its mode */
	int no_new_privs;	/* NoNewPrivs */
};
void proc_parse_task_status(char *buf, struct proc_task_status *st);
/* Thread tid's status: its file opened before the freeze (taskfiles),
 * else TID/status in taskfd (/proc/PID/task). */
int proc_read_task_status(int taskfd, pid_t tid, struct proc_task_status *st);

/*
 * Per-thread /proc files a dump reads while frozen, opened before the
 * freeze (taskfiles.c): for each thread of pid listed now (as many as
 * RLIMIT_NOFILE allows), its wchan, status and timerslack_ns.
 * taskfiles_read reads thread tid's file once (it stays open until
 * taskfiles_close, after the pause): 0, -ENOENT when there is none (a
 * thread started since, or read already), or -errno (-ESRCH: the thread
 * opened for has ended); on any error the caller opens the file itself.
 * taskfiles_read may run in two threads at once for different files.
 * taskfiles_held: how many fds they hold now.
 */
enum { TASKFILE_WCHAN, TASKFILE_STATUS, TASKFILE_SLACK, TASKFILE_N };
void taskfiles_open(pid_t pid, size_t nthreads);
int taskfiles_read(pid_t tid, int which, char **buf);
size_t taskfiles_held(void);
void taskfiles_close(void);

/* Whether a thread of pid other than its leader is alive (a zombie leader
 * with live threads is a process whose main thread called pthread_exit). */
int proc_has_live_thread(pid_t pid);
/* rlim[i][0] = soft, [1] = hard, in the order of RLIMIT_*; ~0 = unlimited */
int proc_read_limits(pid_t pid, uint64_t rlim[][2], int n);
/* smaps of pid (VMAs with VmFlags); free with proc_free_maps. */
int proc_read_maps(pid_t pid, struct map_entry **out, size_t *n);
/* how: PROC_MAPS (/proc/PID/maps, fast, no VmFlags), PROC_SMAPS (with
 * VmFlags), PROC_MAPS_EXEC (maps, only the executable mappings). */
enum { PROC_MAPS, PROC_SMAPS, PROC_MAPS_EXEC };
int proc_read_maps_how(pid_t pid, struct map_entry **out, size_t *n, int how);
/* smaps, as proc_read_maps, stop(arg) asked every 64 KiB of text read:
 * nonzero, -ECANCELED and nothing kept. */
int proc_read_smaps_unless(pid_t pid, int (*stop)(void *), void *arg, struct map_entry **out,
			   size_t *n);
void proc_free_maps(struct map_entry *m, size_t n);
/* The mapping [*start, *end) of pid holding addr, *stack 1 if it is its
 * [stack]; -ENOENT: none. */
int proc_vma_of(pid_t pid, uint64_t addr, uint64_t *start, uint64_t *end, int *stack);
/* The maps or smaps text (how: PROC_MAPS, PROC_SMAPS) read from fd to its
 * end, parsed through a buffer of chunk bytes (0: the default; it grows
 * for a longer line). */
int proc_parse_maps_fd(int fd, int how, size_t chunk, struct map_entry **out, size_t *n);
/* Parse one maps line; 0 or -EINVAL.  m->path points into line. */
int proc_parse_maps_line(char *line, struct map_entry *m);

#endif
