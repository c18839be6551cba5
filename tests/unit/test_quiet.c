/*
 * dump/quiet.c: what may change a process's VmFlags with no syscall of it
 * must keep its early smaps read from standing for the frozen one.
 *
 * A DAMON kdamond that works on virtual addresses may madvise a process's
 * memory (hg/nh flip), so while one runs that is not known to work on
 * physical ones the early smaps read is not taken.  The sysfs, module and
 * /proc trees are made here, under a temporary directory, as the kernel
 * lays them out (mm/damon/sysfs.c: kdamonds/N/{state,pid},
 * kdamonds/N/contexts/M/operations; mm/damon/reclaim.c kdamond_pid;
 * kthreadd's children and their comm).
 *
 * io_uring's IORING_OP_MADVISE runs in an io-wq worker, and may be queued
 * with no syscall: a child here submits a pipe read linked to a madvise,
 * then spins; the test writes the pipe once the child is watched, and the
 * read's completion queues the madvise from task_work in the child.  The
 * watch must see it (root: tracepoint counts).
 */
#include <linux/io_uring.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "dump/dump.h"
#include "harness.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ASSERT_TRUE((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ASSERT_EQ(0, mkdir(path, 0755));
}

/*
 * A tree: the admin interface's kdamond 0 (paddr, on, PID 107: DAMON_RECLAIM's
 * kind) and kdamond 1 (ops, state, PID 108); kthreadd's children 3, 107 and
 * 108, as /proc lays them out (108 a kdamond only with ops).
 */
static void tree(const char *ops, const char *state)
{
	snprintf(root, sizeof(root), "/tmp/ckpt-damon-XXXXXX");
	ASSERT_TRUE(mkdtemp(root) != NULL);
	dir("admin");
	dir("admin/0");
	put("admin/0/state", "on\n");
	put("admin/0/pid", "107\n");
	dir("admin/0/contexts");
	put("admin/0/contexts/nr_contexts", "1\n");
	dir("admin/0/contexts/0");
	put("admin/0/contexts/0/operations", "paddr\n");
	put("admin/nr_kdamonds", "2\n");
	dir("admin/1");
	put("admin/1/state", state);
	put("admin/1/pid", "108\n");
	dir("admin/1/contexts");
	dir("admin/1/contexts/0");
	put("admin/1/contexts/0/operations", ops);
	dir("modules");
	dir("proc");
	dir("proc/2");
	dir("proc/2/task");
	dir("proc/2/task/2");
	put("proc/2/task/2/children", "3 107 108 ");
	dir("proc/3");
	put("proc/3/comm", "kworker/R-rcu_g\n");
	dir("proc/107");
	put("proc/107/comm", "kdamond.0\n");
	dir("proc/108");
	put("proc/108/comm", ops[0] ? "kdamond.1\n" : "ksmd\n");
}

static void done(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ASSERT_EQ(0, system(cmd));
}

static pid_t may_madvise(void)
{
	char admin[96], modules[96], proc[96];
	struct damon_roots r = { admin, modules, proc };

	snprintf(admin, sizeof(admin), "%s/admin", root);
	snprintf(modules, sizeof(modules), "%s/modules", root);
	snprintf(proc, sizeof(proc), "%s/proc", root);
	return quiet_damon_may_madvise(&r);
}

/* quiet_damon_may_madvise of a tree with kdamond 1 (ops, state) */
static pid_t damon(const char *ops, const char *state)
{
	pid_t who;

	tree(ops, state);
	who = may_madvise();
	done();
	return who;
}

TEST(damon_on_virtual_addresses_refuses)
{
	EXPECT_EQ(-1, damon("vaddr\n", "on\n"));
	EXPECT_EQ(-1, damon("fvaddr\n", "on\n"));
}

TEST(damon_off_or_on_physical_addresses_does_not)
{
	EXPECT_EQ(0, damon("paddr\n", "on\n"));
	EXPECT_EQ(0, damon("", "off\n"));	/* off: no kdamond.1 thread */
}

/* A kdamond the admin interface did not start (debugfs before 6.9, a
 * module, a kernel caller): not known to be paddr's, unless a module
 * that works on physical addresses says it is its own. */
TEST(damon_kdamond_of_another_interface_refuses)
{
	char cmd[128];

	tree("paddr\n", "off\n");	/* 108 runs, but not as admin's kdamond 1 */
	EXPECT_EQ(108, may_madvise());
	dir("modules/damon_reclaim");
	dir("modules/damon_reclaim/parameters");
	put("modules/damon_reclaim/parameters/kdamond_pid", "108\n");
	EXPECT_EQ(0, may_madvise());
	put("proc/2/task/2/children", "3 107 108 109 ");
	dir("proc/109");
	put("proc/109/comm", "kdamond.2\n");
	EXPECT_EQ(109, may_madvise());
	/* no children file (CONFIG_PROC_CHILDREN): every process looked at */
	snprintf(cmd, sizeof(cmd), "rm %s/proc/2/task/2/children", root);
	ASSERT_EQ(0, system(cmd));
	EXPECT_EQ(109, may_madvise());
	put("proc/109/comm", "bash\n");
	EXPECT_EQ(0, may_madvise());
	done();
}

/*
 * In the child: a read of fd linked to MADV_DONTDUMP of mem (a page),
 * submitted; the ring's completion tail, or NULL.
 */
static volatile unsigned *uring_chain(int fd, void *mem)
{
	struct io_uring_params p = { 0 };
	static char buf[1];
	int ring = (int)syscall(SYS_io_uring_setup, 4, &p);
	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	struct io_uring_sqe *sqe;
	unsigned *array, tail;
	char *sq;

	if (ring < 0 || !(p.features & IORING_FEAT_SINGLE_MMAP))
		return NULL;
	sq = mmap(NULL, MAX(sq_len, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe)),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
	sqe = mmap(NULL, p.sq_entries * sizeof(*sqe), PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		   IORING_OFF_SQES);
	if (sq == MAP_FAILED || sqe == MAP_FAILED)
		return NULL;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe[0].opcode = IORING_OP_READ;
	sqe[0].fd = fd;
	sqe[0].addr = (uintptr_t)buf;
	sqe[0].len = 1;
	sqe[0].flags = IOSQE_IO_LINK;
	sqe[1].opcode = IORING_OP_MADVISE;
	sqe[1].addr = (uintptr_t)mem;
	sqe[1].len = (uint32_t)getpagesize();
	sqe[1].fadvise_advice = MADV_DONTDUMP;
	array = (unsigned *)(sq + p.sq_off.array);
	tail = *(unsigned *)(sq + p.sq_off.tail);
	for (unsigned i = 0; i < 2; i++)
		array[(tail + i) & *(unsigned *)(sq + p.sq_off.ring_mask)] = i;
	__atomic_store_n((unsigned *)(sq + p.sq_off.tail), tail + 2, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring, 2, 0, 0, NULL, 0) != 2)
		return NULL;
	return (volatile unsigned *)(sq + p.cq_off.tail);
}

/* stage: 1 the child submitted and spins, 2 it saw both completions, -1 failed */
static void uring_child(int fd, volatile int *stage)
{
	void *mem = mmap(NULL, (size_t)getpagesize(), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile unsigned *cq_tail;

	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* a failed ASSERT ends the test's process */
	if (!(cq_tail = mem == MAP_FAILED ? NULL : uring_chain(fd, mem))) {
		*stage = -1;
		_exit(1);
	}
	*stage = 1;
	while (*cq_tail < 2)
		;	/* no syscall */
	*stage = 2;
	for (;;)
		;
}

static int wait_stage(volatile int *stage, int want)
{
	for (int i = 0; i < 60 * 1000 && *stage != want && *stage >= 0; i++)
		usleep(1000);
	return *stage;
}

TEST(io_uring_work_queued_without_a_syscall_is_counted)
{
	volatile int *stage = mmap(NULL, sizeof(*stage), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct quiet *q;
	int p[2];
	pid_t child;

	if (geteuid() || access("/sys/kernel/tracing/events/io_uring/io_uring_queue_async_work/id", R_OK)) {
		TH_LOG("skipped: not root, or no io_uring tracepoints in tracefs");
		return;
	}
	ASSERT_TRUE(stage != MAP_FAILED);
	ASSERT_EQ(0, pipe(p));
	ASSERT_TRUE((child = fork()) >= 0);
	if (child == 0)
		uring_child(p[0], stage);
	ASSERT_EQ(1, wait_stage(stage, 1));
	q = quiet_watch(child, 1);
	if (!q)
		kill(child, SIGKILL);
	ASSERT_TRUE(q != NULL);
	EXPECT_EQ(0, quiet_moved(q));
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(2, wait_stage(stage, 2));
	/* no syscall of the child: what io_uring queued for io-wq, counted */
	EXPECT_EQ(1, quiet_moved(q));
	quiet_end(q);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

TEST_HARNESS_MAIN
