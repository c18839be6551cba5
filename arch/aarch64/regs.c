/*
 * aarch64: register sets, syscall injection and restart rules.
 * ABI facts: arch/arm64/include/uapi/asm/ptrace.h (the regsets' layouts),
 * arch/arm64/kernel/ptrace.c (aarch64_regsets[], in the order the kernel
 * lists them and writes them into core files), arch/arm64/kernel/syscall.c
 * (svc #0: nr in x8, args in x0-x5, result in x0) and
 * arch/arm64/kernel/signal.c do_signal (syscall restart, see below).
 */
#include <elf.h>
#include <errno.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "arch/arch.h"

#define SVC0	0xd4000001u	/* svc #0 (Arm ARM C6.2 SVC) */

#ifndef NT_ARM_PAC_ENABLED_KEYS
#define NT_ARM_PAC_ENABLED_KEYS	0x40a	/* Linux 5.13, include/uapi/linux/elf.h */
#endif

/* Largest SVE vector the architecture allows: 2048 bits, vq = 16
 * (Arm ARM, ZCR_ELx.LEN); SVE_PT_SIZE() is header + Z, P, FFR, FPSR/FPCR. */
#define SVE_MAX_VQ	16
#define SVE_MAXLEN	((SVE_PT_SIZE(SVE_MAX_VQ, SVE_PT_REGS_SVE) + 15) / 16 * 16)

const struct arch_regset_desc arch_regsets[] = {
	{ NT_PRSTATUS, sizeof(arch_regs_t), 0, "general" },
	/* struct user_fpsimd_state: v0-v31, fpsr, fpcr (528 bytes). */
	{ NT_PRFPREG, sizeof(struct user_fpsimd_state), 0, "fpsimd" },
	/* tpidr_el0, and tpidr2_el0 since Linux 6.0 (16 bytes; 8 before). */
	{ NT_ARM_TLS, 16, 0, "tls" },
	/*
	 * The syscall number the kernel thinks the thread is in.  A thread
	 * we stop is never in one any more (see arch_fixup_restart), so this
	 * is -1; setting it back at restore makes sure the kernel applies
	 * no restart logic to the registers we give the thread.
	 */
	{ NT_ARM_SYSTEM_CALL, sizeof(int), 0, "syscall" },
	/* SVE: struct user_sve_header + (with SVE_PT_REGS_SVE) Z0-31, P0-15,
	 * FFR at the thread's vector length; EINVAL without SVE. */
	{ NT_ARM_SVE, SVE_MAXLEN, 1, "sve" },
	/* Pointer authentication: which keys are enabled, and the keys
	 * (CONFIG_CHECKPOINT_RESTORE).  Return addresses signed with the
	 * old keys fail to authenticate under new ones.  EINVAL without
	 * PAC.  NT_ARM_PAC_MASK is left out: it cannot be set. */
	{ NT_ARM_PAC_ENABLED_KEYS, sizeof(long), 1, "pac-enabled-keys" },
	{ NT_ARM_PACA_KEYS, sizeof(struct user_pac_address_keys), 1, "pac-address-keys" },
	{ NT_ARM_PACG_KEYS, sizeof(struct user_pac_generic_keys), 1, "pac-generic-keys" },
	/* prctl(PR_SET_TAGGED_ADDR_CTRL) state, MTE mode included. */
	{ NT_ARM_TAGGED_ADDR_CTRL, sizeof(long), 1, "tagged-addr-ctrl" },
};
const unsigned arch_nregsets = sizeof(arch_regsets) / sizeof(arch_regsets[0]);

_Static_assert(sizeof(arch_regs_t) == 272, "NT_PRSTATUS is struct user_pt_regs");
_Static_assert(sizeof(struct user_fpsimd_state) == 528, "NT_PRFPREG size");

uint64_t arch_xfeatures(void)
{
	/* format.h: aarch64 images record AT_HWCAP (asm/hwcap.h bits). */
	return getauxval(AT_HWCAP);
}

/* The FP/SIMD and SVE sets describe their own layout. */
unsigned arch_xsave_layout(const struct img_regset *rs, unsigned nrs, struct arch_xfeat *out,
			   unsigned max)
{
	(void)rs;
	(void)nrs;
	(void)out;
	(void)max;
	return 0;
}

void arch_prep_syscall(arch_regs_t *r, long nr, const uint64_t a[6], uint64_t insn)
{
	r->regs[8] = (uint64_t)nr;
	for (int i = 0; i < 6; i++)
		r->regs[i] = a[i];
	r->pc = insn;
	/* The kernel's "in a syscall" state is not in these registers:
	 * arch_leave_syscall() clears it once they are set. */
}

#ifndef PSR_BTYPE_MASK
#define PSR_BTYPE_MASK	0x00000c00	/* arch/arm64/include/uapi/asm/ptrace.h */
#endif

void arch_prep_gadget(arch_regs_t *r, uint64_t gadget, uint64_t sp)
{
	r->pc = gadget;
	r->sp = sp;
	/* Reached by no branch: no BTI landing-pad check pending. */
	r->pstate &= ~(uint64_t)PSR_BTYPE_MASK;
}

void arch_prep_call(arch_regs_t *r, long nr, const uint64_t a[6], const struct arch_code *c,
		    const struct arch_sigframe *f)
{
	r->regs[8] = (uint64_t)nr;
	for (int i = 0; i < 6; i++)
		r->regs[i] = a[i];
	r->regs[30] = c->gadget;	/* the `ret` after the svc */
	r->pc = c->call;
	r->sp = f->sp;
	r->pstate &= ~(uint64_t)PSR_BTYPE_MASK;
}

int arch_needs_restart_block(const arch_regs_t *r)
{
	(void)r;
	return 0;
}

void arch_prep_entry(arch_regs_t *r, long nr, const uint64_t a[6], uint64_t ret_ip, uint64_t sp)
{
	(void)nr;	/* arch_set_entry_nr(): not in these registers */
	for (int i = 0; i < 6; i++)
		r->regs[i] = a[i];
	r->pc = ret_ip;
	r->sp = sp;
}

void arch_forget_restart(arch_regs_t *r)
{
	(void)r;
}

int arch_set_entry_nr(pid_t tid, long nr)
{
	int v = (int)nr;
	struct iovec iov = { &v, sizeof(v) };

	/* arch/arm64/kernel/ptrace.c system_call_set; the syscall run after
	 * an entry stop is regs->syscallno (syscall_trace_enter). */
	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_ARM_SYSTEM_CALL, &iov) < 0)
		return -errno;
	return 0;
}

int arch_leave_syscall(pid_t tid)
{
	/* syscallno = -1 makes in_syscall() false, so do_signal() leaves x0
	 * and pc alone. */
	return arch_set_entry_nr(tid, -1);
}

/* Whether the instruction at pc is svc #0. */
static int at_svc(pid_t tid, uint64_t pc)
{
	uint32_t insn = 0;
	struct iovec local = { &insn, sizeof(insn) }, remote = { (void *)(uintptr_t)pc, 4 };

	return process_vm_readv(tid, &local, 1, &remote, 1, 0) == 4 && insn == SVC0;
}

/*
 * By the time a thread inside a syscall stops for us, do_signal() has done
 * forget_syscall() and, to restart it, rewound pc to its svc with x0 back
 * (arch_fixup_restart): NT_ARM_SYSTEM_CALL says -1.  What is left is the
 * pc at an svc #0 and the number in x8, exactly as for a thread about to
 * make that syscall, which it is: either way it issues it when it runs.
 */
int arch_in_syscall(pid_t tid, const arch_regs_t *r)
{
	return at_svc(tid, r->pc);
}

/*
 * What the registers no longer say (arch_fixup_restart), the wchan of a
 * thread at its svc does:
 * - x8 = restart_syscall: it was restarting a wait cut short before ours
 *   (SIGSTOP/SIGCONT, a dump that let it run on); setup_restart_syscall()
 *   changed only x8, x0-x5 are still that wait's arguments.
 * - a relative nanosleep/clock_nanosleep: cut by our freeze, it had
 *   -ERESTART_RESTARTBLOCK, and the kernel wrote the time left to *rem
 *   first (kernel/time/hrtimer.c do_nanosleep, nanosleep_copyout).  It is
 *   issued again for that time (the request pointer becomes rem), as on
 *   x86-64; without rem, for its whole time again.
 * arm64 has no poll syscall; ppoll does not use restart_syscall.
 */
void arch_resolve_restart(pid_t tid, arch_regs_t *r, const char *wchan)
{
	__u64 *x = r->regs;
	int sleeping = wchan && strstr(wchan, "nanosleep"), futex = wchan && strstr(wchan, "futex");

	if ((!sleeping && !futex) || !at_svc(tid, r->pc))
		return;
	if (x[8] == SYS_restart_syscall)
		/* clock_nanosleep's first argument is a clock id, nanosleep's
		 * a pointer */
		x[8] = futex ? SYS_futex : x[0] < 64 ? SYS_clock_nanosleep : SYS_nanosleep;
	if (sleeping && x[8] == SYS_nanosleep && x[1])
		x[0] = x[1];
	else if (sleeping && x[8] == SYS_clock_nanosleep && !(x[1] & TIMER_ABSTIME) && x[3])
		x[2] = x[3];
}

long arch_syscall_nr(const arch_regs_t *r)
{
	return (long)r->regs[8];
}

/*
 * Nothing to rewrite.  arch/arm64/kernel/signal.c do_signal(), unlike
 * x86-64, handles -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND and
 * -ERESTART_RESTARTBLOCK *before* get_signal(), that is before any ptrace
 * stop: it sets x0 back to orig_x0, pc back to the svc and the syscall
 * number to -1.  A thread we dumped inside a syscall therefore resumes by
 * issuing it again with its original number (x8) and arguments (CRIU's
 * aarch64 port restarts them the same way).
 *
 * -ERESTART_RESTARTBLOCK (nanosleep, relative clock_nanosleep, futex
 * waits with a timeout; arm64 has no poll) would have been redirected to
 * restart_syscall only after the stop, and its restart_block does not
 * survive a dump anyway.  The registers no longer tell it apart from the
 * other three (x0 is overwritten); the wchan does, at dump time:
 * arch_resolve_restart() makes a relative sleep ask for the time left.
 * Futex waits start again with their whole timeout.
 */
void arch_fixup_restart(arch_regs_t *r)
{
	(void)r;
}
