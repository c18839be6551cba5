/*
 * x86-64: what ckpt inspect needs to show a thread.  Register order and
 * names follow struct user_regs_struct (<sys/user.h>), the NT_PRSTATUS
 * regset; every field is 8 bytes.
 */
#include <assert.h>
#include <capstone/capstone.h>
#include <stddef.h>

#include "arch/arch.h"

#define REG(r) { #r, offsetof(arch_regs_t, r) }

const struct arch_reg_name arch_reg_names[] = {
	REG(rip), REG(rsp), REG(rbp), REG(rax), REG(rbx), REG(rcx), REG(rdx),
	REG(rsi), REG(rdi), REG(r8), REG(r9), REG(r10), REG(r11), REG(r12),
	REG(r13), REG(r14), REG(r15), REG(orig_rax), REG(eflags), REG(cs),
	REG(ss), REG(ds), REG(es), REG(fs), REG(gs), REG(fs_base), REG(gs_base),
};
const unsigned arch_nreg_names = sizeof(arch_reg_names) / sizeof(arch_reg_names[0]);

static_assert(sizeof(((arch_regs_t *)0)->rip) == 8, "x86-64 registers are 8 bytes");

void arch_disasm_mode(int *cs_arch, int *cs_mode)
{
	*cs_arch = CS_ARCH_X86;
	*cs_mode = CS_MODE_64;
}
