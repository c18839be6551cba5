/*
 * What ckpt hands the restore stub: a plan, i.e. per thread a list of
 * operations (mostly raw syscalls) with every pointer argument already
 * resolved to an address in the stub's "home" mapping.  All decisions are
 * made in ckpt (restore/plan.c); the stub only executes and reports.
 *
 * Protocol: ckpt writes the plan into a memfd, passes its fd number as
 * argv[1], and execs the stub.  The stub maps home at plan.home, copies
 * itself to its start and the plan to plan.plan_off, and runs thread 0's
 * ops.  STUB_OP_TRAP and the end of a list stop the thread with a trap
 * (SIGTRAP to the tracer) after updating its struct stub_thread.
 * Included by freestanding code: <stdint.h> only.
 */
#ifndef CKPT_STUB_ABI_H
#define CKPT_STUB_ABI_H

#include <stdint.h>

#define STUB_MAGIC	0x31425453544b43ull	/* "CKTSTB1" */
#define STUB_VERSION	2

enum stub_op_kind {
	STUB_OP_SYSCALL = 1,	/* ret = syscall(nr, a[0..5]) */
	STUB_OP_TRAP    = 2,	/* stop; ckpt resumes us (a[0] is ckpt's:
				   restore/plan.c plan_children) */
	STUB_OP_CLONE   = 3,	/* start thread a[0] (index), wanted tid a[1] */
	STUB_OP_FORK    = 4,	/* a new process (clone3 without CLONE_VM: a copy
				   of this one) whose thread runs stub thread at
				   address a[0]; PID a[1] (0: any), clone flags
				   a[2] (CLONE_FILES, CLONE_FS, CLONE_PARENT),
				   exit signal a[3]; ret: its PID */
};

#define STUB_OPF_MAYFAIL	1u	/* store a negative result and go on */
#define STUB_OPF_IFFAILED	2u	/* run only if the previous op failed */
#define STUB_OPF_A1_TID		4u	/* a[1] = the running thread's tid */
#define STUB_OPF_A0_PID		8u	/* a[0] = the process's pid, as it sees it */
#define STUB_OPF_KEEP		16u	/* keep the result (an fd, an id) in kept */
#define STUB_OPF_A0_KEPT	32u	/* a[0] = the result kept last */
#define STUB_OPF_IFOK		64u	/* run only if the previous op succeeded
					   (skipped: ret 0) */

struct stub_op {
	uint32_t kind;
	uint32_t flags;
	int64_t  nr;
	uint64_t a[6];
	int64_t  ret;		/* written by the stub */
};

enum stub_state {
	STUB_ST_RUN   = 1,
	STUB_ST_TRAP  = 2,	/* at an STUB_OP_TRAP (cur) */
	STUB_ST_DONE  = 3,	/* all ops done */
	STUB_ST_ERROR = 4,	/* op cur failed with err */
};

struct stub_thread {
	uint64_t ops;		/* address of struct stub_op[nops] */
	uint32_t nops;
	uint32_t state;		/* enum stub_state, written by the stub */
	uint64_t stack_top;
	int64_t  tid;		/* written by the stub */
	uint32_t cur;		/* op index at the last stop */
	uint32_t kept;		/* STUB_OPF_KEEP's, for STUB_OPF_A0_KEPT */
	int64_t  err;		/* -errno of the failed op */
};

struct stub_plan {
	uint64_t magic;		/* STUB_MAGIC */
	uint32_t version;	/* STUB_VERSION */
	uint32_t nthreads;
	uint64_t home;		/* address of the stub's anonymous home */
	uint64_t home_size;
	uint64_t plan_off;	/* where this struct goes in home */
	uint64_t plan_size;	/* bytes of plan, this struct included */
	uint64_t threads;	/* address of struct stub_thread[nthreads] */
	uint64_t syscall_insn;	/* written by the stub: a syscall insn in home */
};

/* Exit codes of a stub that failed before it could report through home. */
#define STUB_EXIT_USAGE	120
#define STUB_EXIT_PLAN	121
#define STUB_EXIT_HOME	122

#endif
