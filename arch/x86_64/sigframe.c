/*
 * x86-64: the code and the signal frame a borrowed thread's rt_sigreturn
 * uses (arch.h, ptrace/borrow.c).  ABI facts from the kernel:
 *  - arch/x86/kernel/signal_64.c: rt_sigreturn takes the frame at sp - 8,
 *    so the ucontext is at sp; restore_sigcontext() copies every general
 *    register, forces CPL 3 in cs/ss, sets orig_ax = -1 (no restart);
 *  - arch/x86/kernel/signal.c arch_do_signal_or_restart(): a syscall that
 *    returned -ERESTART* is restarted with rax = orig_ax, rip - 2;
 *  - include/uapi/asm-generic/ucontext.h and
 *    arch/x86/include/uapi/asm/sigcontext.h: the layouts below;
 *  - arch/x86/kernel/fpu/signal.c: fpstate NULL means the initial FP state;
 *    otherwise check_xstate_in_sigframe() wants FP_XSTATE_MAGIC1 and the
 *    sizes in the FXSAVE area's sw_reserved bytes and FP_XSTATE_MAGIC2
 *    right after xstate_size bytes (else only x87/SSE are restored), with
 *    xstate_size no larger than the task's own user_size, and XRSTOR
 *    needs the area 64-byte aligned;
 *  - kernel/signal.c restore_altstack(): do_sigaltstack() errors other
 *    than EFAULT are ignored, so a uc_stack it rejects changes nothing.
 */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "arch/arch.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#ifndef NT_X86_SHSTK
#define NT_X86_SHSTK 0x204	/* Linux 6.6: the shadow stack pointer */
#endif

#define FP_XSTATE_MAGIC1	0x46505853u
#define FP_XSTATE_MAGIC2	0x46505845u
#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4
#define SW_RESERVED_OFF		464	/* struct fxregs_state.sw_reserved */
#define XSTATE_BV_OFF		512	/* struct xstate_header.xfeatures */
#define FXSAVE_SIZE		512
#define XSAVE_MIN		576	/* legacy area and XSAVE header */
#define XSAVE_MAX		16384
/* ss_flags that do_sigaltstack() refuses (EINVAL): SS_ONSTACK|SS_DISABLE
 * is no mode (kernel/signal.c, "ss_mode != SS_DISABLE && ..."). */
#define SS_INVALID		3

struct ksigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate;
	uint64_t reserved1[8];
};

struct kucontext {
	uint64_t uc_flags, uc_link;
	struct {
		uint64_t sp;
		int32_t flags, pad;
		uint64_t size;
	} uc_stack;
	struct ksigcontext uc_mcontext;
	uint64_t uc_sigmask;	/* the kernel's sigset_t: 64 signals */
};

struct fpx_sw_bytes {
	uint32_t magic1, extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size, padding[7];
};

_Static_assert(sizeof(struct ksigcontext) == 256, "struct sigcontext_64");
_Static_assert(offsetof(struct kucontext, uc_mcontext) == 40, "struct ucontext");
_Static_assert(sizeof(struct kucontext) == 304, "struct ucontext");
_Static_assert(sizeof(struct fpx_sw_bytes) == 48, "struct _fpx_sw_bytes");

static const uint8_t mov_rax[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
static const uint8_t mov_eax[] = { 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
static const uint8_t syscall_ret[] = { 0x0f, 0x05, 0xc3 };

void arch_find_code(const uint8_t *code, size_t len, uint64_t addr, struct arch_code *c)
{
	const uint8_t *at;

	/* glibc and musl __restore_rt; Go's runtime.sigreturn */
	if (!c->gadget && ((at = memmem(code, len, mov_rax, sizeof(mov_rax))) ||
			   (at = memmem(code, len, mov_eax, sizeof(mov_eax))))) {
		c->gadget = addr + (uint64_t)(at - code);
		c->gadget_syscall = c->gadget + (*at == 0xb8 ? 5 : 7);
	}
	/* any syscall wrapper that returns at once */
	if (!c->resume && (at = memmem(code, len, syscall_ret, sizeof(syscall_ret)))) {
		c->call = addr + (uint64_t)(at - code);
		c->resume = c->call + 2;
	}
}

/*
 * How much of the (standard format) XSAVE area holds the components
 * present in it: each user component's offset and size come from
 * CPUID.(EAX=0DH,ECX=i) (EBX, EAX), as the kernel's own layout does
 * (arch/x86/kernel/fpu/xstate.c setup_xstate_cache).  Never more than
 * the task's user_size, which covers every component it may use.
 */
static uint32_t xstate_used(uint64_t xstate_bv)
{
	/* CPUID is slow where it traps (virtual machines): asked once. */
	static uint32_t ends[64];
	static int known;
	uint32_t end = XSAVE_MIN;

	if (!known) {
		for (unsigned i = 2; i < 63; i++) {
			unsigned a, b, c, d;

			/* ECX bit 0: a supervisor component, not in our area */
			if (__get_cpuid_count(0xd, i, &a, &b, &c, &d) && !(c & 1))
				ends[i] = a + b;
		}
		known = 1;
	}
	for (unsigned i = 2; i < 63; i++)
		if ((xstate_bv & (1ull << i)) && ends[i] > end)
			end = ends[i];
	return end;
}

/* The thread's FP state as an XSAVE area with the sigframe's markers;
 * *len 0 when the thread has none to give (tid 0).  From f->fp when the
 * caller has read it already. */
static int read_fpstate(pid_t tid, const struct arch_sigframe *f, uint8_t *buf, uint32_t *len)
{
	struct iovec iov = { buf, XSAVE_MAX };
	struct fpx_sw_bytes sw = { 0 };
	uint64_t bv;

	*len = 0;
	if (!tid)
		return 0;
	if (f->fp && f->fplen >= XSAVE_MIN && f->fplen <= XSAVE_MAX) {
		memcpy(buf, f->fp, f->fplen);
		iov.iov_len = f->fplen;
	} else if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) < 0) {
		/* A CPU without XSAVE: the FXSAVE area alone, marked as such
		 * (magic1 0: the kernel restores x87 and SSE only). */
		iov.iov_len = FXSAVE_SIZE;
		if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRFPREG, &iov) < 0)
			return -errno;
		memset(buf + SW_RESERVED_OFF, 0, sizeof(sw));
		*len = FXSAVE_SIZE;
		return 0;
	}
	if (iov.iov_len < XSAVE_MIN)
		return -EPROTO;
	memcpy(&bv, buf + XSTATE_BV_OFF, sizeof(bv));
	sw.magic1 = FP_XSTATE_MAGIC1;
	sw.xstate_size = xstate_used(bv);
	if (sw.xstate_size > iov.iov_len)
		return -E2BIG;
	sw.extended_size = sw.xstate_size + sizeof(uint32_t);
	sw.xfeatures = bv | 3;	/* x87 and SSE always */
	memcpy(buf + SW_RESERVED_OFF, &sw, sizeof(sw));
	*len = sw.xstate_size;
	return 0;
}

/* With a user shadow stack (CET), rt_sigreturn wants a restore token on
 * it (arch/x86/kernel/shstk.c restore_signal_shadow_stack), which our
 * frame has not: its regset answers only while one is enabled (ENODEV
 * else, arch/x86/kernel/fpu/regset.c ssp_get).  EINVAL: the kernel has
 * no such regset (no CONFIG_X86_USER_SHADOW_STACK, kernel/ptrace.c
 * ptrace_regset), for no thread: not asked again (a request a thread,
 * 1,000 in a trip of 1,000 threads). */
static int shadow_stack(pid_t tid)
{
	static int no_regset;
	uint64_t ssp;
	struct iovec iov = { &ssp, sizeof(ssp) };

	if (no_regset)
		return 0;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_SHSTK, &iov) == 0)
		return 1;
	no_regset = errno == EINVAL;
	return 0;
}

int arch_sigframe_build(struct arch_sigframe *f, pid_t tid, uint64_t below, const arch_regs_t *r,
			uint64_t mask, uint64_t gadget)
{
	/* On the stack: a malloc'd 16 KiB per frame was fresh heap, and a
	 * page fault or four, for each of 1,000 threads (ptrace/trip.c). */
	uint8_t fp[XSAVE_MAX + sizeof(uint32_t)];
	struct kucontext uc = { 0 };
	struct ksigcontext *sc = &uc.uc_mcontext;
	uint32_t fplen, magic2 = FP_XSTATE_MAGIC2;
	uint64_t fpaddr = below;
	int ret;

	if (tid && shadow_stack(tid))
		return -EOPNOTSUPP;
	if ((ret = read_fpstate(tid, f, fp, &fplen)) < 0)
		return ret;
	if (fplen) {
		fpaddr = (below - fplen - sizeof(magic2)) & ~63ull;
		memcpy(fp + fplen, &magic2, sizeof(magic2));
		uc.uc_flags = UC_FP_XSTATE;
	}
	/* The ucontext at sp, as rt_sigreturn wants; below it the return
	 * slot (rt_sigframe.pretcode) the `ret` at resume pops. */
	f->sp = (fpaddr - sizeof(uc)) & ~15ull;
	f->entry_sp = f->lo = f->sp - sizeof(uint64_t);
	f->hi = fplen ? fpaddr + fplen + sizeof(magic2) : f->sp + sizeof(uc);
	f->bytes = calloc(1, f->hi - f->lo);
	if (!f->bytes)
		return -ENOMEM;
	uc.uc_flags |= UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	uc.uc_stack.flags = SS_INVALID;
	uc.uc_sigmask = mask;
	*sc = (struct ksigcontext){
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rdi = r->rdi, .rsi = r->rsi, .rbp = r->rbp, .rbx = r->rbx,
		.rdx = r->rdx, .rax = r->rax, .rcx = r->rcx, .rsp = r->rsp,
		.rip = r->rip, .eflags = r->eflags,
		.cs = (uint16_t)r->cs, .ss = (uint16_t)r->ss,
		.fpstate = fplen ? fpaddr : 0,
	};
	memcpy(f->bytes, &gadget, sizeof(gadget));
	memcpy(f->bytes + sizeof(gadget), &uc, sizeof(uc));
	if (fplen)
		memcpy(f->bytes + (fpaddr - f->lo), fp, fplen + sizeof(magic2));
	return 0;
}
