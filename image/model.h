/*
 * The in-memory form of an image's metadata: what dump fills in and
 * writes, what restore and inspect read.  Fixed parts are the on-disk
 * structs themselves (format.h); variable parts hang off pointers.
 * Page data is not held here: it is streamed (image/write.c, read.c).
 */
#ifndef CKPT_IMAGE_MODEL_H
#define CKPT_IMAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "image/format.h"

/* The XSAVE_LAYOUT section holds the arch's records as they are. */
static_assert(sizeof(struct arch_xfeat) == sizeof(struct ckpt_xfeat) &&
	      offsetof(struct arch_xfeat, offset) == offsetof(struct ckpt_xfeat, offset),
	      "arch_xfeat is ckpt_xfeat");

struct img_thread {
	struct ckpt_thread d;
	struct img_regset *regsets;	/* d.nregsets; [0] is NT_PRSTATUS */
	uint8_t (*pending)[CKPT_SIGINFO_SIZE];	/* d.npending */
	/* dump only, from its /proc status (-1: not read, it exited): the
	 * seccomp mode and NoNewPrivs, for dump/seccomp.c and dump/attrs.c */
	int seccomp, no_new_privs;
};

struct img_vma {
	struct ckpt_vma d;
	char *path;			/* NUL-terminated copy */
};

/* An open file description (FILE section); img->files[id - 1]. */
struct img_file {
	struct ckpt_file d;
	char *path;			/* NUL-terminated copy */
	uint8_t *state;			/* d.state_len bytes, the kind's layout */
	char *what;			/* NUL-terminated description, may be "" */
	uint8_t *data;			/* d.data_len bytes (FILEDATA) */
};

/* A descriptor of a process (FD section). */
struct img_fd {
	struct ckpt_fd d;
};

struct img_seccomp {
	struct ckpt_seccomp d;
	struct ckpt_bpf_insn *insns;		/* d.len */
};

struct img_proc {
	struct ckpt_proc d;
	uint32_t *groups;
	char *exe, *cwd, *root;	/* root: NULL or "" when ckpt's own */
	char *cmdline;			/* d.cmdline_len bytes, NUL-separated */
	uint8_t *auxv;
	uint8_t (*pending)[CKPT_SIGINFO_SIZE];
	struct ckpt_sigaction sigacts[CKPT_NSIG];
	struct ckpt_timers timers;
	struct ckpt_posix_timer *ptimers;	/* timers.ntimers */
	struct arch_xfeat *xfeat;		/* XSAVE layout (x86-64), nxfeat records */
	uint32_t nxfeat;
	int has_attrs;				/* an ATTRS section: attrs, tattrs */
	struct ckpt_attrs attrs;
	struct ckpt_thread_attrs *tattrs;	/* d.nthreads, in thread order */
	struct ckpt_range *guards;		/* guard regions, nguards */
	uint32_t nguards;
	struct img_seccomp *seccomp;		/* filters, oldest first */
	uint32_t nseccomp;
	struct ckpt_shm *shms;			/* SysV segments attached, nshms */
	uint32_t nshms;
	int has_ctty;				/* a CTTY section: ctty, ctty_tty */
	struct ckpt_ctty ctty;
	struct ckpt_fd_tty ctty_tty;
	struct img_thread *threads;
	struct img_vma *vmas;
	struct img_fd *fds;		/* d.nfds, in fd order */
	struct ckpt_lock *locks;	/* file locks it holds (LOCKS), nlocks */
	uint32_t nlocks;
	struct ckpt_cow_run *cow;	/* ncow runs shared with the parent task */
	uint32_t ncow;
	int subreaper;			/* dump only: PR_GET_CHILD_SUBREAPER (to the task's flags) */
};

struct img {
	struct ckpt_header h;
	char *parent;			/* parent image path (incremental), or NULL */
	struct img_proc *procs;		/* h.nprocs */
	/* The tree (CKPT_SEC_TREE); an image without one holds one task,
	 * made up by the reader from procs[0] (parent -1, proc 0). */
	struct ckpt_task *tasks;
	uint32_t ntasks;
	struct img_file *files;		/* nfiles, shared by the fds of every process */
	uint32_t nfiles;
};

/* The task of process i (its PROC index), or NULL. */
const struct ckpt_task *img_task_of(const struct img *img, uint32_t proc);

void img_free(struct img *img);
const struct img_vma *img_find_vma(const struct img_proc *p, uint64_t addr);
/* The index of the process with that PID and start time (an incremental
 * image's process in its parent image), or -1. */
int img_find_proc(const struct img *img, int32_t pid, uint64_t start_time);
/* The file with that id, or NULL. */
struct img_file *img_file(const struct img *img, uint32_t id);
/* A new file at the end of img->files (id nfiles), zeroed; fill it in. */
struct img_file *img_add_file(struct img *img);
/* "POSIX write lock on bytes 10-29", "flock read lock on the whole file" */
void img_lock_text(const struct ckpt_lock *l, char *buf, size_t len);
/* The lowest fd of p with that file, or -1. */
int img_file_fd(const struct img_proc *p, uint32_t id);

#endif
