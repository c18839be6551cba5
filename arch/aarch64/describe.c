/*
 * aarch64: what ckpt inspect needs to show a thread.  Register order and
 * names follow struct user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h),
 * the NT_PRSTATUS regset: x0-x30, sp, pc, pstate, every one 8 bytes.
 */
#include <capstone/capstone.h>
#include <stddef.h>

#include "arch/arch.h"

#define X(n) { "x" #n, offsetof(arch_regs_t, regs) + 8 * (n) }
#define REG(r) { #r, offsetof(arch_regs_t, r) }

const struct arch_reg_name arch_reg_names[] = {
	REG(pc), REG(sp), REG(pstate),
	X(0), X(1), X(2), X(3), X(4), X(5), X(6), X(7), X(8), X(9), X(10),
	X(11), X(12), X(13), X(14), X(15), X(16), X(17), X(18), X(19), X(20),
	X(21), X(22), X(23), X(24), X(25), X(26), X(27), X(28), X(29), X(30),
};
const unsigned arch_nreg_names = sizeof(arch_reg_names) / sizeof(arch_reg_names[0]);

_Static_assert(sizeof(((arch_regs_t *)0)->regs[0]) == 8, "aarch64 registers are 8 bytes");

void arch_disasm_mode(int *arch, int *mode)
{
	*arch = CS_ARCH_ARM64;
	*mode = CS_MODE_ARM;
}
