/*
 * aarch64: the code and the signal frame a borrowed thread's rt_sigreturn
 * uses (arch.h, ptrace/borrow.c).  ABI facts from the kernel:
 *  - arch/arm64/kernel/signal.c: rt_sigreturn takes struct rt_sigframe
 *    (siginfo, then ucontext) at sp, which must be 16-byte aligned;
 *    restore_sigframe() reads the mask, x0-x30, sp, pc and pstate
 *    (valid_user_regs() must accept it), forgets the syscall (no restart),
 *    then parse_user_sigframe() walks the records in __reserved up to a
 *    zero terminator: an fpsimd_context is required, an sve_context
 *    (vl equal to the thread's) restores the Z, P and FFR registers;
 *  - arch/arm64/include/uapi/asm/sigcontext.h: the records' layout; the
 *    SVE record's registers have the ptrace regset's layout
 *    (SVE_SIG_* and SVE_PT_SVE_* are both built on __SVE_*_OFFSET);
 *  - kernel/signal.c restore_altstack(): do_sigaltstack() errors other
 *    than EFAULT are ignored, so a uc_stack it rejects changes nothing.
 * Not carried: SME state (ZA, streaming mode), which no frame of ours
 * describes; a thread using it is borrowed the old way (borrow.c).
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <asm/ptrace.h>
#include <asm/sigcontext.h>

#include "arch/arch.h"

/* ss_flags that do_sigaltstack() refuses (EINVAL): SS_ONSTACK|SS_DISABLE
 * is no mode (kernel/signal.c, "ss_mode != SS_DISABLE && ..."). */
#define SS_INVALID	3
#define TERMINATOR	16		/* the zero record, 16-byte aligned */
#define SVE_MAX_VQ	16
#ifndef NT_ARM_GCS
#define NT_ARM_GCS	0x410	/* Linux 6.13: guarded control stack */
#endif
#define SVE_PT_MAX	((SVE_PT_SIZE(SVE_MAX_VQ, SVE_PT_REGS_SVE) + 15) / 16 * 16)

struct kucontext {
	uint64_t uc_flags, uc_link;
	struct {
		uint64_t sp;
		int32_t flags, pad;
		uint64_t size;
	} uc_stack;
	uint64_t uc_sigmask;	/* the kernel's sigset_t: 64 signals */
	uint8_t unused[1024 / 8 - sizeof(uint64_t)];
	struct sigcontext uc_mcontext;
};

struct krt_sigframe {
	uint8_t info[128];	/* struct siginfo: not read by rt_sigreturn */
	struct kucontext uc;
};

_Static_assert(offsetof(struct kucontext, uc_mcontext) == 176, "struct ucontext");
_Static_assert(offsetof(struct sigcontext, __reserved) == 288, "struct sigcontext");
_Static_assert(sizeof(struct krt_sigframe) == 4688, "struct rt_sigframe");
_Static_assert(sizeof(struct fpsimd_context) == 528, "struct fpsimd_context");

/* nop; mov x8, #139 (__NR_rt_sigreturn); svc #0: the vdso's
 * __kernel_rt_sigreturn behind its "mysterious NOP"
 * (arch/arm64/kernel/vdso/sigreturn.S). */
static const uint8_t rt_sigreturn[] = {
	0x1f, 0x20, 0x03, 0xd5, 0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4,
};

void arch_find_code(const uint8_t *code, size_t len, uint64_t addr, struct arch_code *c)
{
	const uint8_t *at = memmem(code, len, rt_sigreturn, sizeof(rt_sigreturn));

	/* A restart goes back 4 bytes (do_signal: restart_addr = pc - 4), to
	 * the nop, and falls into rt_sigreturn again: the gadget is also
	 * where injected syscalls return. */
	if (!c->gadget && at && ((uintptr_t)(at - code) & 3) == 0) {
		c->gadget = addr + (uint64_t)(at - code) + 4;
		c->gadget_syscall = c->gadget + 4;
		c->resume = c->gadget;
	}
}

static int getregset(pid_t tid, unsigned type, void *buf, size_t *len)
{
	struct iovec iov = { buf, *len };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)type, &iov) < 0)
		return -errno;
	*len = iov.iov_len;
	return 0;
}

/* The FP/SIMD record, from NT_PRFPREG (whose V registers are the low bits
 * of the Z registers when SVE is live: fpr_get syncs them). */
static int put_fpsimd(uint8_t *rec, pid_t tid)
{
	struct fpsimd_context fc = { .head = { FPSIMD_MAGIC, sizeof(fc) } };
	struct user_fpsimd_state st;
	size_t len = sizeof(st);
	int ret;

	if (tid && (ret = getregset(tid, NT_PRFPREG, &st, &len)) < 0)
		return ret;
	if (tid) {
		memcpy(fc.vregs, st.vregs, sizeof(fc.vregs));
		fc.fpsr = st.fpsr;
		fc.fpcr = st.fpcr;
	}
	memcpy(rec, &fc, sizeof(fc));
	return (int)sizeof(fc);
}

/* The SVE record when the thread's SVE state is live (else 0 bytes):
 * header, then the Z/P/FFR block as NT_ARM_SVE has it; -E2BIG if it does
 * not fit beside the others (vectors over 512 bits need extra_context). */
static int put_sve(uint8_t *rec, size_t room, pid_t tid)
{
	struct user_sve_header h;
	struct sve_context sc = { .head = { SVE_MAGIC, 0 } };
	uint8_t *buf;
	size_t len = SVE_PT_MAX, need;
	unsigned vq;
	int ret;

	if (!tid || !(buf = malloc(SVE_PT_MAX)))
		return tid ? -ENOMEM : 0;
	ret = getregset(tid, NT_ARM_SVE, buf, &len);
	if (ret == -EINVAL || ret == -ENODEV || (ret == 0 && len < sizeof(h))) {
		free(buf);	/* no SVE on this CPU */
		return 0;
	}
	memcpy(&h, buf, sizeof(h));
	if (ret < 0 || (h.flags & SVE_PT_REGS_MASK) != SVE_PT_REGS_SVE) {
		free(buf);
		return ret;
	}
	vq = sve_vq_from_vl(h.vl);
	need = (SVE_SIG_CONTEXT_SIZE(vq) + 15) / 16 * 16;
	if (need > room || len < SVE_PT_SVE_OFFSET + SVE_SIG_REGS_SIZE(vq)) {
		free(buf);
		return -E2BIG;
	}
	sc.head.size = (uint32_t)need;
	sc.vl = h.vl;
	memset(rec, 0, need);
	memcpy(rec, &sc, sizeof(sc));
	memcpy(rec + SVE_SIG_REGS_OFFSET, buf + SVE_PT_SVE_OFFSET, SVE_SIG_REGS_SIZE(vq));
	free(buf);
	return (int)need;
}

/* With a guarded control stack enabled, rt_sigreturn wants a GCS
 * record and a cap token on it (arch/arm64/kernel/signal.c
 * gcs_restore_signal), which our frame has not.  struct user_gcs:
 * features_enabled, features_locked, gcspr_el0; bit 0 = enabled. */
static int control_stack(pid_t tid)
{
	uint64_t gcs[3] = { 0 };
	size_t len = sizeof(gcs);

	return getregset(tid, NT_ARM_GCS, gcs, &len) == 0 && (gcs[0] & 1);
}

int arch_sigframe_build(struct arch_sigframe *f, pid_t tid, uint64_t below, const arch_regs_t *r,
			uint64_t mask, uint64_t gadget)
{
	struct kucontext *uc = calloc(1, sizeof(*uc));
	uint8_t *rec;
	size_t used;
	int n;

	if (!uc)
		return -ENOMEM;
	if (tid && control_stack(tid)) {
		free(uc);
		return -EOPNOTSUPP;
	}
	/* Like the kernel's get_sigframe(): the whole frame below sp. */
	(void)gadget;	/* reached from resume, not by a return */
	f->entry_sp = f->sp = (below - sizeof(struct krt_sigframe)) & ~15ull;
	f->lo = f->sp + offsetof(struct krt_sigframe, uc);
	uc->uc_stack.flags = SS_INVALID;
	uc->uc_sigmask = mask;
	memcpy(uc->uc_mcontext.regs, r->regs, sizeof(uc->uc_mcontext.regs));
	uc->uc_mcontext.sp = r->sp;
	uc->uc_mcontext.pc = r->pc;
	uc->uc_mcontext.pstate = r->pstate;
	rec = uc->uc_mcontext.__reserved;
	if ((n = put_fpsimd(rec, tid)) < 0 ||
	    (used = (size_t)n,
	     n = put_sve(rec + used, sizeof(uc->uc_mcontext.__reserved) - used - TERMINATOR, tid)) < 0) {
		free(uc);
		return n;
	}
	used += (size_t)n + TERMINATOR;	/* calloc'd: the terminator is zero */
	f->hi = f->lo + offsetof(struct kucontext, uc_mcontext.__reserved) + used;
	f->bytes = (uint8_t *)uc;	/* uc starts at lo; only hi - lo are written */
	return 0;
}
