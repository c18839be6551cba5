/*
 * aarch64: the register notes of a core file (arch/arch.h arch_core_notes).
 * ckpt dumps the kernel's own regsets (arch/arm64/kernel/ptrace.c
 * aarch64_regsets[]) in the kernel's order, so the notes after NT_PRSTATUS
 * are the dumped sets as they are: NT_PRFPREG named "CORE", the NT_ARM_*
 * ones "LINUX" (fs/binfmt_elf.c fill_thread_core_info).
 */
#include <elf.h>
#include <string.h>

#include "arch/arch.h"

void arch_core_notes(const struct img_regset *rs, unsigned nrs, const struct arch_xfeat *xf,
		     unsigned nxf, arch_note_fn *note, void *ctx)
{
	(void)xf;
	(void)nxf;
	for (unsigned i = 1; i < nrs; i++) {
		size_t len = rs[i].len;

		/* NT_ARM_SVE was read into a buffer for the largest vector
		 * length; the header says how much of it is the state. */
		if (rs[i].type == NT_ARM_SVE && len >= sizeof(struct user_sve_header)) {
			struct user_sve_header h;

			memcpy(&h, rs[i].data, sizeof(h));
			if (h.size >= sizeof(h) && h.size < len)
				len = h.size;
		}
		note(ctx, rs[i].type, rs[i].type == NT_PRFPREG ? "CORE" : "LINUX", rs[i].data, len);
	}
}

/* Nothing process-wide: the kernel's arm64 core dumps have no extra notes. */
void arch_core_proc_notes(const struct img_regset *rs, unsigned nrs, const struct arch_xfeat *xf,
			  unsigned nxf, arch_note_fn *note, void *ctx)
{
	(void)rs;
	(void)nrs;
	(void)xf;
	(void)nxf;
	(void)note;
	(void)ctx;
}
