/* aarch64 register layout and accessors (see arch/arch.h). */
#ifndef CKPT_ARCH_DEFS_H
#define CKPT_ARCH_DEFS_H

#include <stdint.h>
#include <asm/ptrace.h>

/*
 * struct user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h): x0-x30, sp,
 * pc, pstate; the NT_PRSTATUS regset, 272 bytes.  It does not hold the
 * syscall number: that is the separate NT_ARM_SYSTEM_CALL regset.
 */
typedef struct user_pt_regs arch_regs_t;

#define ARCH_NAME		"aarch64"
#define ARCH_ELF_MACHINE	183	/* EM_AARCH64 */
#define ARCH_SYSCALL_INSN_LEN	4	/* svc #0 = d4000001 */
/*
 * Bytes a tracer must move pc past the stub's trap to resume after it:
 * brk reports pc at the brk itself (arch/arm64/kernel/debug-monitors.c,
 * brk_handler does not advance it), where int3 reports the next insn.
 */
#define ARCH_TRAP_SKIP		4
/* Registers set at a syscall-exit stop are not all kept: x7 is put back
 * after it (arch/arm64/kernel/ptrace.c report_syscall). */
#define ARCH_SYSCALL_STOP_KEEPS_REGS	0
/* A syscall discards SVE state beyond v0-v31 (arch/arm64/kernel/syscall.c
 * fp_user_discard; Documentation/arm64/sve.rst, "System call behaviour"). */
#define ARCH_SYSCALL_KEEPS_EXT_REGS	0
/* Which: NT_ARM_SVE (ptrace/borrow.c puts it back after our syscalls). */
#define ARCH_SYSCALL_DISCARDS_NOTE	0x405

/* No red zone (AAPCS64): the kernel's signal frames start right below sp
 * (arch/arm64/kernel/signal.c get_sigframe), and so do ours. */
#define ARCH_RED_ZONE		0
/* do_signal() rewinds an interrupted syscall before get_signal(), that is
 * before the ptrace stop, and forgets it (forget_syscall): a thread given
 * back its frozen registers restarts from them, not from the kernel's
 * restart decision (restart_syscall is not chosen again). */
#define ARCH_RESTART_AFTER_STOP	0
/* None: the frame's records are read from the thread (arch_sigframe.fp). */
#define ARCH_FRAME_FP_NOTE	0

static inline uint64_t arch_ip(const arch_regs_t *r) { return r->pc; }
static inline uint64_t arch_sp(const arch_regs_t *r) { return r->sp; }
static inline int64_t arch_retval(const arch_regs_t *r) { return (int64_t)r->regs[0]; }
static inline void arch_set_ip(arch_regs_t *r, uint64_t v) { r->pc = v; }
static inline void arch_set_sp(arch_regs_t *r, uint64_t v) { r->sp = v; }

#endif
