/*
 * x86-64: register sets, syscall injection and restart rules.
 * ABI facts: arch/x86/entry/entry_64.S (syscall: nr in rax, args in
 * rdi rsi rdx r10 r8 r9, rcx and r11 clobbered), arch/x86/kernel/signal.c
 * (arch_do_signal_or_restart: the -ERESTART* handling mirrored below).
 */
#include <elf.h>
#include <errno.h>
#include <cpuid.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "arch/arch.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* include/linux/errno.h (kernel-internal values, never seen by programs
 * except in a tracee's registers) */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

const struct arch_regset_desc arch_regsets[] = {
	{ NT_PRSTATUS, sizeof(arch_regs_t), 0, "general" },
	/* The XSAVE area (x87, SSE, AVX, AVX-512, PKRU...) in the standard
	 * (uncompacted) layout; 16 KiB covers AMX tiles as well. */
	{ NT_X86_XSTATE, 16384, 0, "xstate" },
};
const unsigned arch_nregsets = sizeof(arch_regsets) / sizeof(arch_regsets[0]);

uint64_t arch_xfeatures(void)
{
	unsigned a, b, c, d;

	/* CPUID.(EAX=0DH,ECX=0): EDX:EAX = XCR0 bits the CPU supports; the
	 * kernel enables them all that it knows, which is what XSAVE uses. */
	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return 0;
	return ((uint64_t)d << 32) | a;
}

/* Bytes 464..471 of an NT_X86_XSTATE set: the XCR0 of its features
 * (arch/x86/include/asm/user.h, USER_XSTATE_XCR0_WORD). */
#define XSTATE_XCR0_OFF	464

unsigned arch_xsave_layout(const struct img_regset *rs, unsigned nrs, struct arch_xfeat *out,
			   unsigned max)
{
	unsigned n = 0;
	uint64_t xcr0;

	for (unsigned i = 1; i < nrs; i++) {
		if (rs[i].type != NT_X86_XSTATE || rs[i].len < XSTATE_XCR0_OFF + 8)
			continue;
		memcpy(&xcr0, rs[i].data + XSTATE_XCR0_OFF, sizeof(xcr0));
		/* CPUID.(EAX=0DH,ECX=i), i >= 2: EAX = size, EBX = offset in
		 * the standard format (0 for supervisor features), as the
		 * kernel's xstate_offsets[] (arch/x86/kernel/fpu/xstate.c). */
		for (unsigned f = 2; f < 64 && n < max; f++) {
			unsigned a, b, c, d;

			if (!(xcr0 & (1ull << f)) || !__get_cpuid_count(0xd, f, &a, &b, &c, &d) || !b)
				continue;
			out[n++] = (struct arch_xfeat){ .type = f, .size = a, .offset = b };
		}
		break;
	}
	return n;
}

static void set_args(arch_regs_t *r, const uint64_t a[6])
{
	r->rdi = a[0];
	r->rsi = a[1];
	r->rdx = a[2];
	r->r10 = a[3];
	r->r8 = a[4];
	r->r9 = a[5];
}

void arch_prep_syscall(arch_regs_t *r, long nr, const uint64_t a[6], uint64_t insn)
{
	r->rax = (uint64_t)nr;
	set_args(r, a);
	r->rip = insn;
	/* Not in a syscall: the kernel must not apply restart logic to
	 * these registers when the thread leaves its current stop. */
	r->orig_rax = (uint64_t)-1;
}

void arch_prep_gadget(arch_regs_t *r, uint64_t gadget, uint64_t sp)
{
	r->rip = gadget;
	r->rsp = sp;
	/* Not in a syscall: no restart logic on the way out of the stop. */
	r->orig_rax = (uint64_t)-1;
}

void arch_prep_entry(arch_regs_t *r, long nr, const uint64_t a[6], uint64_t ret_ip, uint64_t sp)
{
	/* At syscall entry the kernel takes the number from orig_ax after the
	 * ptrace stop (kernel/entry/common.c syscall_trace_enter) and the
	 * arguments from the registers; it returns to rip with rsp. */
	r->rsp = sp;
	r->orig_rax = (uint64_t)nr;
	set_args(r, a);
	r->rip = ret_ip;
}

void arch_prep_call(arch_regs_t *r, long nr, const uint64_t a[6], const struct arch_code *c,
		    const struct arch_sigframe *f)
{
	r->rax = (uint64_t)nr;
	set_args(r, a);
	r->rip = c->call;
	/* The return slot below the frame holds the gadget's address. */
	r->rsp = f->entry_sp;
	r->orig_rax = (uint64_t)-1;
}

int arch_needs_restart_block(const arch_regs_t *r)
{
	return (long)r->rax == -ERESTART_RESTARTBLOCK || (long)r->rax == SYS_restart_syscall ||
	       (long)r->orig_rax == SYS_restart_syscall;
}

void arch_forget_restart(arch_regs_t *r)
{
	r->orig_rax = (uint64_t)-1;
}

int arch_set_entry_nr(pid_t tid, long nr)
{
	(void)tid;
	(void)nr;
	return 0;
}

int arch_leave_syscall(pid_t tid)
{
	/* Nothing outside the registers: orig_rax is in arch_regs_t. */
	(void)tid;
	return 0;
}

int arch_in_syscall(pid_t tid, const arch_regs_t *r)
{
	(void)tid;
	return arch_syscall_nr(r) >= 0;
}

/*
 * A thread found in restart_syscall(2) was restarting an interrupted
 * wait (a ptrace stop or SIGSTOP before ours); its registers still hold
 * that wait's arguments.  Which one it was, the kernel only says in the
 * thread's wchan: make the registers say it again.
 */
void arch_resolve_restart(pid_t tid, arch_regs_t *r, const char *wchan)
{
	long nr = -1;

	(void)tid;
	if ((long)r->orig_rax != SYS_restart_syscall || !wchan)
		return;
	if (strstr(wchan, "poll"))
		nr = SYS_poll;
	else if (strstr(wchan, "futex"))
		nr = SYS_futex;
	else if (strstr(wchan, "nanosleep"))
		/* clock_nanosleep's first argument is a clock id, nanosleep's
		 * a pointer */
		nr = r->rdi < 64 ? SYS_clock_nanosleep : SYS_nanosleep;
	if (nr >= 0)
		r->orig_rax = (uint64_t)nr;
}

long arch_syscall_nr(const arch_regs_t *r)
{
	return (long)r->orig_rax;
}

void arch_fixup_restart(arch_regs_t *r)
{
	if ((long)r->orig_rax < 0)
		return;
	switch ((long)r->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		r->rax = r->orig_rax;
		r->rip -= ARCH_SYSCALL_INSN_LEN;
		break;
	case -ERESTART_RESTARTBLOCK:
		/* restart_syscall would need the dumped thread's restart_block
		 * (a sleep's expiry, a poll's remaining time), which is gone.
		 * A relative sleep is issued again for the time left, which the
		 * kernel wrote to *rem at the stop: the request pointer becomes
		 * rem (nanosleep: rdi = rsi; clock_nanosleep: rdx = r10); only
		 * without rem it returns EINTR.  Everything else (poll, futex,
		 * absolute sleeps) is issued again as it was, waiting at most
		 * its full timeout once more. */
		if ((r->orig_rax == SYS_nanosleep && !r->rsi) ||
		    (r->orig_rax == SYS_clock_nanosleep && !(r->rsi & TIMER_ABSTIME) && !r->r10)) {
			r->rax = (uint64_t)-EINTR;
			break;
		}
		if (r->orig_rax == SYS_nanosleep)
			r->rdi = r->rsi;
		else if (r->orig_rax == SYS_clock_nanosleep && !(r->rsi & TIMER_ABSTIME))
			r->rdx = r->r10;
		r->rax = r->orig_rax;
		r->rip -= ARCH_SYSCALL_INSN_LEN;
		break;
	}
	r->orig_rax = (uint64_t)-1;
}
