/*
 * The restore stub: a freestanding program (no libc) that ckpt execs from
 * a memfd to get a fresh process, moves itself into anonymous memory at an
 * address ckpt chose, and then executes ckpt's plan (image/stub-abi.h).
 * All policy lives in ckpt; this file only executes and reports.
 */
#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>
#include <linux/mman.h>
#include <linux/sched.h>

#pragma GCC visibility push(hidden)

#include "syscall.h"
#include "image/stub-abi.h"

#define EEXIST	17
#define EPERM	1
#define EINVAL	22
#define STUB_PROT_RWX	7

extern char __stub_start[], __stub_end[];
extern char stub_syscall_insn[];
void stub_jump(uint64_t sp, void (*fn)(void *), void *arg) __attribute__((noreturn));
long stub_clone3(struct clone_args *ca, size_t size, void (*fn)(void *), void *arg);
void stub_boot(long *sp) __attribute__((noreturn));

static __attribute__((noreturn)) void die(int code)
{
	for (;;)
		raw_syscall1(__NR_exit_group, code);
}

static void copy(void *dst, const void *src, size_t n)
{
	volatile char *d = dst;		/* volatile: no call to memcpy */
	const char *s = src;

	while (n--)
		*d++ = *s++;
}

static int is_err(long r)
{
	return r < 0 && r > -4096;
}

static void stop(struct stub_thread *t, uint32_t state)
{
	t->state = state;
	arch_trap();
	t->state = STUB_ST_RUN;
}

static void thread_main(void *arg) __attribute__((noreturn));

static long do_clone(struct stub_thread *nt, uint64_t tid)
{
	struct clone_args ca = { 0 };
	int64_t want = (int64_t)tid;
	long r;

	ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
		   CLONE_THREAD | CLONE_SYSVSEM;
	ca.stack = nt->stack_top - 4096 * 4;
	ca.stack_size = 4096 * 4;
	if (want) {
		ca.set_tid = (uint64_t)(uintptr_t)&want;
		ca.set_tid_size = 1;
	}
	r = stub_clone3(&ca, sizeof(ca), thread_main, nt);
	/* The tid is taken or we may not choose it: any tid will do; ckpt
	 * sees which one from the op's result and warns. */
	if (want && (r == -EEXIST || r == -EPERM || r == -EINVAL)) {
		ca.set_tid = 0;
		ca.set_tid_size = 0;
		r = stub_clone3(&ca, sizeof(ca), thread_main, nt);
	}
	return r;
}

/* A process: a copy of this one (its own copy of home, where its stub
 * thread's ops wait), started on that thread's stack.  Its PID is the one
 * asked for or none: a tree is made with its own PIDs (ckpt refuses
 * otherwise). */
static long do_fork(const struct stub_op *op)
{
	struct stub_thread *nt = (struct stub_thread *)(uintptr_t)op->a[0];
	struct clone_args ca = { 0 };
	int64_t want = (int64_t)op->a[1];

	ca.flags = op->a[2];
	ca.exit_signal = op->a[3];
	ca.stack = nt->stack_top - 4096 * 4;
	ca.stack_size = 4096 * 4;
	if (want) {
		ca.set_tid = (uint64_t)(uintptr_t)&want;
		ca.set_tid_size = 1;
	}
	return stub_clone3(&ca, sizeof(ca), thread_main, nt);
}

static void thread_main(void *arg)
{
	struct stub_thread *t = arg;
	struct stub_op *ops = (struct stub_op *)(uintptr_t)t->ops;
	uint32_t i;

	t->tid = raw_syscall0(__NR_gettid);
	t->state = STUB_ST_RUN;
	for (i = 0; i < t->nops; i++) {
		struct stub_op *op = &ops[i];
		long r = 0;

		t->cur = i;
		if (((op->flags & STUB_OPF_IFFAILED) && (i == 0 || !is_err(ops[i - 1].ret))) ||
		    ((op->flags & STUB_OPF_IFOK) && i && is_err(ops[i - 1].ret))) {
			op->ret = 0;
			continue;
		}
		if (op->flags & STUB_OPF_A1_TID)
			op->a[1] = (uint64_t)t->tid;
		if (op->flags & STUB_OPF_A0_PID)
			op->a[0] = (uint64_t)raw_syscall0(__NR_getpid);
		if (op->flags & STUB_OPF_A0_KEPT)
			op->a[0] = t->kept;
		switch (op->kind) {
		case STUB_OP_SYSCALL:
			r = raw_syscall6(op->nr, (long)op->a[0], (long)op->a[1],
					 (long)op->a[2], (long)op->a[3],
					 (long)op->a[4], (long)op->a[5]);
			break;
		case STUB_OP_TRAP:
			stop(t, STUB_ST_TRAP);
			break;
		case STUB_OP_CLONE:
			r = do_clone((struct stub_thread *)(uintptr_t)op->a[0], op->a[1]);
			break;
		case STUB_OP_FORK:
			r = do_fork(op);
			break;
		default:
			r = -EINVAL;
		}
		op->ret = r;
		if (op->flags & STUB_OPF_KEEP)
			t->kept = (uint32_t)r;
		if (is_err(r) && !(op->flags & STUB_OPF_MAYFAIL)) {
			t->err = r;
			for (;;)
				stop(t, STUB_ST_ERROR);
		}
	}
	/* ckpt now replaces this thread's registers; it never resumes here. */
	for (;;)
		stop(t, STUB_ST_DONE);
}

static void stub_main(void *arg) __attribute__((noreturn));
static void stub_main(void *arg)
{
	struct stub_plan *p = arg;
	struct stub_thread *t = (struct stub_thread *)(uintptr_t)p->threads;

	thread_main(&t[0]);
}

static long parse_fd(const char *s)
{
	long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* Entered from _start with the kernel's initial stack. */
void stub_boot(long *sp)
{
	char **argv = (char **)(sp + 1);
	struct stub_plan hdr, *p;
	long fd, r;
	char *home;
	size_t self = (size_t)(__stub_end - __stub_start);

	if (sp[0] < 2 || (fd = parse_fd(argv[1])) < 0)
		die(STUB_EXIT_USAGE);
	r = raw_syscall4(__NR_pread64, fd, &hdr, sizeof(hdr), 0);
	if (r != sizeof(hdr) || hdr.magic != STUB_MAGIC || hdr.version != STUB_VERSION ||
	    hdr.plan_off < self || hdr.plan_off + hdr.plan_size > hdr.home_size)
		die(STUB_EXIT_PLAN);
	r = raw_syscall6(__NR_mmap, (long)hdr.home, (long)hdr.home_size, STUB_PROT_RWX,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if ((uint64_t)r != hdr.home)
		die(STUB_EXIT_HOME);
	home = (char *)(uintptr_t)hdr.home;
	copy(home, __stub_start, self);
	r = raw_syscall4(__NR_pread64, fd, home + hdr.plan_off, hdr.plan_size, 0);
	if (r != (long)hdr.plan_size)
		die(STUB_EXIT_PLAN);
	raw_syscall1(__NR_close, fd);
	p = (struct stub_plan *)(home + hdr.plan_off);
	p->syscall_insn = hdr.home + (uint64_t)(stub_syscall_insn - __stub_start);
	/* Continue in the copy: same code, same offsets, new place. */
	stub_jump(((struct stub_thread *)(uintptr_t)p->threads)[0].stack_top,
		  (void (*)(void *))(home + ((char *)stub_main - __stub_start)), p);
}
