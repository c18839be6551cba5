/*
 * x86-64 raw syscalls for freestanding code (the restore stub).
 * Convention (entry_64.S): nr in rax, args in rdi rsi rdx r10 r8 r9,
 * result in rax (-4095..-1 = -errno); the instruction clobbers rcx, r11.
 */
#ifndef CKPT_ARCH_SYSCALL_H
#define CKPT_ARCH_SYSCALL_H

static inline long raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define raw_syscall0(n)			raw_syscall6(n, 0, 0, 0, 0, 0, 0)
#define raw_syscall1(n, a)		raw_syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define raw_syscall2(n, a, b)		raw_syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define raw_syscall3(n, a, b, c)	raw_syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw_syscall4(n, a, b, c, d)	raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* Stop for the tracer: SIGTRAP, reported as a signal-delivery-stop. */
static inline void arch_trap(void)
{
	__asm__ volatile("int3" ::: "memory");
}

#endif
