/* x86-64 register layout and accessors (see arch/arch.h). */
#ifndef CKPT_ARCH_DEFS_H
#define CKPT_ARCH_DEFS_H

#include <stdint.h>
#include <sys/user.h>

/* struct user_regs_struct from <sys/user.h>: the NT_PRSTATUS regset. */
typedef struct user_regs_struct arch_regs_t;

#define ARCH_NAME		"x86_64"
#define ARCH_ELF_MACHINE	62	/* EM_X86_64 */
#define ARCH_SYSCALL_INSN_LEN	2	/* 0f 05 */
/* Bytes a tracer must move rip past the stub's trap to resume after it:
 * none, int3 reports the address after itself. */
#define ARCH_TRAP_SKIP		0
/* Registers set at a syscall-exit stop are all kept. */
#define ARCH_SYSCALL_STOP_KEEPS_REGS	1
/* A syscall leaves the extended (XSAVE) register state alone. */
#define ARCH_SYSCALL_KEEPS_EXT_REGS	1
/* None (ptrace/borrow.c). */
#define ARCH_SYSCALL_DISCARDS_NOTE	0

/* Bytes below the stack pointer that code may use without moving it (the
 * System V x86-64 ABI's red zone); the kernel's signal frames go below
 * them (arch/x86/kernel/signal.c get_sigframe), and so do ours. */
#define ARCH_RED_ZONE		128
/* The kernel decides on restarting an interrupted syscall after the
 * ptrace stop (arch/x86/kernel/signal.c arch_do_signal_or_restart, after
 * get_signal): a thread given back its frozen registers restarts it
 * exactly as it would have, restart_block included. */
#define ARCH_RESTART_AFTER_STOP	1
/* The regset a signal frame's FP state is made of (arch_sigframe.fp):
 * NT_X86_XSTATE. */
#define ARCH_FRAME_FP_NOTE	0x202

static inline uint64_t arch_ip(const arch_regs_t *r) { return r->rip; }
static inline uint64_t arch_sp(const arch_regs_t *r) { return r->rsp; }
static inline int64_t arch_retval(const arch_regs_t *r) { return (int64_t)r->rax; }
static inline void arch_set_ip(arch_regs_t *r, uint64_t v) { r->rip = v; }
static inline void arch_set_sp(arch_regs_t *r, uint64_t v) { r->rsp = v; }

#endif
