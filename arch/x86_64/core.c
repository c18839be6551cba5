/*
 * x86-64: the register notes of a core file (arch/arch.h arch_core_notes).
 * The kernel's regset view (arch/x86/kernel/ptrace.c x86_64_regsets[])
 * writes, after NT_PRSTATUS: NT_PRFPREG, the 512-byte FXSAVE image
 * (struct user_fpregs_struct, <sys/user.h>), then NT_X86_XSTATE, the whole
 * XSAVE area in the standard layout.  ckpt dumps only the XSAVE area; as
 * PTRACE_GETREGSET returns it (arch/x86/kernel/fpu/xstate.c
 * __copy_xstate_to_uabi_buf), its legacy region is filled in even for
 * components in their init state, so NT_PRFPREG is made from it.
 */
#include <assert.h>
#include <elf.h>
#include <stddef.h>
#include <string.h>
#include <sys/user.h>

#include "arch/arch.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

#define FXSAVE_SIZE	512
/*
 * The last 48 bytes of the legacy region, sw_reserved in the kernel's
 * struct fxregs_state: NT_X86_XSTATE carries the xstate_fx_sw_bytes there
 * (XCR0, which gdb reads), NT_PRFPREG zeros (xfpregs_get copies the FX part
 * only; checked with PTRACE_GETREGSET on Linux 6.18).
 */
#define SW_RESERVED	(offsetof(struct user_fpregs_struct, padding) + 12 * sizeof(uint32_t))
static_assert(sizeof(struct user_fpregs_struct) == FXSAVE_SIZE, "FXSAVE image size");
static_assert(SW_RESERVED == 464, "sw_reserved offset");

void arch_core_notes(const struct img_regset *rs, unsigned nrs,
		     void (*note)(void *ctx, uint32_t type, const char *name, const void *data,
				  size_t len),
		     void *ctx)
{
	const struct img_regset *xs = NULL;
	uint8_t fx[FXSAVE_SIZE];

	for (unsigned i = 1; i < nrs; i++)
		if (rs[i].type == NT_X86_XSTATE)
			xs = &rs[i];
	if (!xs)
		return;
	if (xs->len >= FXSAVE_SIZE) {
		memcpy(fx, xs->data, SW_RESERVED);
		memset(fx + SW_RESERVED, 0, FXSAVE_SIZE - SW_RESERVED);
		note(ctx, NT_PRFPREG, "CORE", fx, sizeof(fx));
	}
	note(ctx, NT_X86_XSTATE, "LINUX", xs->data, xs->len);
}
