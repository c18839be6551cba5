/*
 * aarch64: can this CPU take a dumped thread's register sets back?
 * Checked before restore creates anything, so that a missing CPU feature
 * is one clear line instead of a failed PTRACE_SETREGSET at the end.
 */
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>

#include "arch/arch.h"
#include "common/log.h"

/*
 * Whether this CPU and kernel support SVE vector length vl (bytes).
 * PR_SVE_SET_VL with PR_SVE_SET_VL_ONEXEC only changes the length ckpt's
 * own next exec would get (the restore stub's, which then gets vl from
 * the image anyway), and returns the length the kernel chose: the
 * largest supported one not above vl (arch/arm64/kernel/fpsimd.c
 * vec_set_vector_length, vec_prctl_status).
 */
static int sve_vl_supported(unsigned vl)
{
	int r = prctl(PR_SVE_SET_VL, vl | PR_SVE_SET_VL_ONEXEC, 0, 0, 0);

	return r >= 0 && (unsigned)(r & PR_SVE_VL_LEN_MASK) == vl;
}

static int check_sve(const struct img_regset *rs, unsigned long hwcap)
{
	struct user_sve_header h;

	if (rs->len < sizeof(h))
		return error("the image's SVE registers are damaged (%u bytes)", rs->len);
	memcpy(&h, rs->data, sizeof(h));
	if (!(hwcap & HWCAP_SVE))
		return error("the image was made on a CPU with SVE (vector length %u bits), "
			     "this one has none: cannot restore here", h.vl * 8u);
	if (!sve_vl_supported(h.vl))
		return error("the image uses SVE vectors of %u bits, which this CPU does not "
			     "support: cannot restore here", h.vl * 8u);
	return 0;
}

int arch_check_regset(struct img_regset *rs, const struct arch_xfeat *xf, unsigned nxf)
{
	unsigned long hwcap = getauxval(AT_HWCAP);

	(void)xf;	/* no layout on arm64: each note is one feature */
	(void)nxf;
	switch (rs->type) {
	case NT_ARM_SVE:
		return check_sve(rs, hwcap);
	case NT_ARM_PACA_KEYS:
		if (!(hwcap & HWCAP_PACA))
			return error("the image was made on a CPU with pointer authentication "
				     "and this one has none: cannot restore here");
		return 0;
	case NT_ARM_PACG_KEYS:
		if (!(hwcap & HWCAP_PACG))
			return error("the image was made on a CPU with generic pointer "
				     "authentication and this one has none: cannot restore here");
		return 0;
	}
	return 0;
}
