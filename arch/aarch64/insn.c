/* aarch64: find a syscall instruction by disassembly (capstone). */
#include "common/capstone.h"
#include <errno.h>
#include <string.h>

#include "arch/arch.h"

/* svc #0, little-endian (Arm ARM C6.2 SVC: 0xd4000001 | imm16 << 5).
 * Linux takes any immediate, but #0 is what every libc and vdso uses. */
static const uint8_t svc0[4] = { 0x01, 0x00, 0x00, 0xd4 };

int arch_find_syscall_insn(const uint8_t *code, size_t len, uint64_t addr, uint64_t *insn)
{
	csh h;
	cs_insn *ci;
	int ret = -ENOENT;

	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK)
		return -ENOSYS;
	/* Data in text (literal pools) stops capstone: go on past it. */
	cs_option(h, CS_OPT_SKIPDATA, CS_OPT_ON);
	ci = cs_malloc(h);
	while (ci && cs_disasm_iter(h, &code, &len, &addr, ci)) {
		if (ci->id == ARM64_INS_SVC && ci->size == 4 && !memcmp(ci->bytes, svc0, 4)) {
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
