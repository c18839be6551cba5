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

static inline uint64_t arch_ip(const arch_regs_t *r) { return r->rip; }
static inline uint64_t arch_sp(const arch_regs_t *r) { return r->rsp; }
static inline int64_t arch_retval(const arch_regs_t *r) { return (int64_t)r->rax; }
static inline void arch_set_ip(arch_regs_t *r, uint64_t v) { r->rip = v; }
static inline void arch_set_sp(arch_regs_t *r, uint64_t v) { r->rsp = v; }

#endif
