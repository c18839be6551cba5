/* x86-64: find a syscall instruction by disassembly (capstone). */
#include "common/capstone.h"
#include <errno.h>

#include "arch/arch.h"

int arch_find_syscall_insn(const uint8_t *code, size_t len, uint64_t addr, uint64_t *insn)
{
	csh h;
	cs_insn *ci;
	int ret = -ENOENT;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOSYS;
	ci = cs_malloc(h);
	while (ci && cs_disasm_iter(h, &code, &len, &addr, ci)) {
		if (ci->id == X86_INS_SYSCALL) {
			*insn = ci->address;
			ret = 0;
			break;
		}
	}
	if (ci)
		cs_free(ci, 1);
	cs_close(&h);
	return ret;
}
