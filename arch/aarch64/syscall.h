/*
 * aarch64 raw syscalls for freestanding code (the restore stub).
 * Convention (arch/arm64/kernel/syscall.c invoke_syscall, and
 * tools/include/nolibc/arch-aarch64.h): svc #0 with the number in x8 and
 * arguments in x0-x5; the result comes back in x0 (-4095..-1 = -errno)
 * and every other register is preserved.
 */
#ifndef CKPT_ARCH_SYSCALL_H
#define CKPT_ARCH_SYSCALL_H

static inline long raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a0;
	register long x1 __asm__("x1") = a1;
	register long x2 __asm__("x2") = a2;
	register long x3 __asm__("x3") = a3;
	register long x4 __asm__("x4") = a4;
	register long x5 __asm__("x5") = a5;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory", "cc");
	return x0;
}

#define raw_syscall0(n)			raw_syscall6(n, 0, 0, 0, 0, 0, 0)
#define raw_syscall1(n, a)		raw_syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define raw_syscall2(n, a, b)		raw_syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define raw_syscall3(n, a, b, c)	raw_syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw_syscall4(n, a, b, c, d)	raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/*
 * Stop for the tracer: brk raises SIGTRAP even with every signal blocked
 * (arch/arm64/kernel/debug-monitors.c brk_handler, force_sig), reported
 * as a signal-delivery-stop with pc still at the brk: the tracer resumes
 * us ARCH_TRAP_SKIP bytes further on.
 */
static inline void arch_trap(void)
{
	__asm__ volatile("brk #0" ::: "memory");
}

#endif
