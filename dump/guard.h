/*
 * The guardian (guard.c): a process of ckpt's own that outlives a killed
 * ckpt dump and undoes what it left in the process it was dumping, as told
 * by a journal ckpt keeps in memory they share.  ckpt writes each entry
 * before the step it describes, and clears it once the step is undone or
 * kept for good.
 */
#ifndef CKPT_GUARD_H
#define CKPT_GUARD_H

#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/netlock.h"
#include "dump/dump.h"
#include "ptrace/tracee.h"

#define GUARD_BEFORE_MAX	64
/* --fork copies journaled, one per process of a tree; past that a copy is
 * not undone by the guardian (it still exits at once by its exit frame,
 * a zombie of its process). */
#define GUARD_COPIES_MAX	1024
/* --track: processes of a tree whose uffd is journaled; past that one
 * does not track (it warns, and its next dump compares pages). */
#define GUARD_UFFD_MAX		256
/* TCP connections ckpt may leave in repair mode (fd-tcp.c) */
#define GUARD_TCP_MAX		1024

enum guard_copy {
	GUARD_COPY_NONE,
	GUARD_COPY_CLONING,	/* clone injected: a copy may exist, pid unknown */
	GUARD_COPY_KNOWN,	/* copy is the --fork copy, to reap */
};

/* The --fork copy of one process. */
struct guard_fork {
	pid_t pid;		/* the process */
	pid_t live;		/* a thread of it to run syscalls in */
	struct tracee_code code;
	int state;		/* enum guard_copy */
	pid_t copy;
	int nbefore;		/* its children with no exit signal before */
	pid_t before[GUARD_BEFORE_MAX];
};

/* --track: where the dump's uffd may be in one process. */
struct guard_uffd {
	pid_t pid;
	pid_t live;		/* a thread of it to run syscalls in */
	struct tracee_code code;
	struct track_undo u;
};

/* --snapshot (snapshot.c): mappings moved aside at most (the rest is read
 * while frozen), and the memory map events the journal can hold. */
#define GUARD_SNAP_SHADOWS	1024
#define GUARD_SNAP_EVENTS	8192

enum guard_snap_state {
	GUARD_SNAP_NONE,
	GUARD_SNAP_ON,		/* shadows may exist: fill the holes, unmap them */
	GUARD_SNAP_FILLED,	/* every page is back, the uffds closed: unmap */
};

/* One mapping moved aside: its pages at shadow, its range at orig left
 * empty (len 0: the shadow is unmapped already). */
struct guard_shadow {
	uint64_t orig, shadow, len;
	uint64_t freed;		/* bytes from the shadow's start unmapped (or about
				   to be): every page there is back or was never there */
};

/* A message read from the uffd of address space mm (0: the process; n:
 * the child of its nth UFFD_EVENT_FORK), read into the journal itself. */
struct guard_snapev {
	int32_t mm;
	int32_t pad;
	struct uffd_msg msg;
};

struct guard_snap {
	pid_t pid, live;
	struct tracee_code code;
	int state;		/* enum guard_snap_state */
	int job_fd;		/* a uffd of ours may be at this fd of the process; -1 */
	int nsh;
	struct guard_shadow sh[GUARD_SNAP_SHADOWS];
	uint32_t nev;		/* events (all but page faults) */
	struct guard_snapev ev[GUARD_SNAP_EVENTS];
};

struct guard_journal {
	pid_t ckpt;		/* the ckpt that writes it */
	pid_t pid;		/* the process dumped (the root of a tree) */
	char out[4096];		/* the image's path, "" for a stream */
	/* --track: each process's uffd, in the order they were set up */
	int nuffd;
	struct guard_uffd uffds[GUARD_UFFD_MAX];
	/* --fork: a copy per process, in the order they were made */
	int ncopies;
	struct guard_fork copies[GUARD_COPIES_MAX];
	/* TCP connections in repair mode: taken out of it */
	int ntcp;
	struct { pid_t pid; int fd; } tcp[GUARD_TCP_MAX];
	/* the network lock (common/netlock.h) of a --kill: removed while the
	 * process runs on, kept once it is killed; "" none */
	char netlock[NETLOCK_NAME_MAX];
	struct guard_snap snap;	/* --snapshot of one process */
	int done;		/* ckpt is done: nothing to undo */
};

/* NULL when there is no guardian (streams, or it could not be started). */
extern volatile struct guard_journal *guard;

/* A clone for --fork is about to be injected in the process of ts; in
 * process pid it made copy (state GUARD_COPY_KNOWN), or none is left. */
void guard_note_clone(const struct tracee_set *ts);
void guard_note_copy(pid_t pid, pid_t copy, int state);

/* Process pid (live: a thread of it, code: its syscall instruction) is
 * about to get a uffd: its journal entry (track.gslot), or -1 when the
 * journal is full or there is no guardian. */
int guard_note_uffd(pid_t pid, pid_t live, const struct tracee_code *code);

/* The TCP connection at fd of process pid goes into repair mode (on) or
 * is out of it again (off); 0, or -1 when the journal is full (then
 * ckpt must not put it into repair mode). */
int guard_note_tcp(pid_t pid, int fd, int on);

/* The network lock name is about to be installed (before the kill), or
 * NULL: there is none to remove, as it is gone or kept for good. */
void guard_note_netlock(const char *name);

/* --snapshot: the guardian holds a copy of fd from now on; drop: it
 * closes every copy it holds (and has when this returns).  0 or -errno. */
int guard_hand_fd(int fd);
int guard_drop_fds(void);
/* In the guardian (snapshot.c): what the journal says is left, undone. */
void snap_rescue(volatile struct guard_snap *j);

/* Before the freeze: the journal and the guardian for process pid. */
int guard_start(pid_t pid, const char *out);
/* ckpt is done, by success or a failure it cleaned up after. */
void guard_stop(void);

#endif
