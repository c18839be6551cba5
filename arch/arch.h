/*
 * The architecture interface: everything generic code needs to know about
 * a CPU.  Each arch/<name>/ directory implements it: arch-defs.h (register
 * struct alias and inline accessors, found through -Iarch/$(ARCH)),
 * syscall.h (raw syscalls, shared with the stub) and the .c files.
 * No generic file tests __x86_64__ or __aarch64__.
 */
#ifndef CKPT_ARCH_H
#define CKPT_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch-defs.h"

/* One register set of a thread as PTRACE_GETREGSET gave it: what dump
 * stores (image/model.h keeps them per thread) and what the hooks below
 * check and turn into core notes.  type and len are written to the image
 * as they are (image/write.c). */
struct img_regset {
	uint32_t type;		/* NT_* */
	uint32_t len;
	uint8_t *data;
};

/* Register sets dumped per thread, in order; entry 0 is NT_PRSTATUS. */
struct arch_regset_desc {
	uint32_t type;		/* NT_* note type, also the PTRACE_GETREGSET type */
	uint32_t maxlen;	/* buffer to offer PTRACE_GETREGSET */
	int optional;		/* absent on some CPUs: skip on ENODEV/EINVAL */
	const char *name;
};
extern const struct arch_regset_desc arch_regsets[];
extern const unsigned arch_nregsets;

/* Value for ckpt_header.xfeatures: the extended state this CPU enables. */
uint64_t arch_xfeatures(void);

/*
 * Where this CPU keeps each part of the extended register set rs[0..nrs)
 * holds (x86-64: one record per XSAVE feature of the XCR0 the set carries,
 * CPUID leaf 0xd), into out[0..max); the number of records, 0 where the
 * arch has no such layout.  A record is the kernel's x86_xfeat_component
 * (uapi asm/elf.h), as the image's XSAVE_LAYOUT section keeps it.
 */
struct arch_xfeat {
	uint32_t type, size, offset, flags;
};
unsigned arch_xsave_layout(const struct img_regset *rs, unsigned nrs, struct arch_xfeat *out,
			   unsigned max);

/* Set up regs so that resuming at insn executes syscall nr(a[0..5]). */
void arch_prep_syscall(arch_regs_t *r, long nr, const uint64_t a[6], uint64_t insn);

/*
 * tid is stopped and we have just set its registers: make sure the kernel
 * does not take it for a thread inside a syscall when it resumes, so no
 * restart logic is applied to them.  x86-64 keeps that state in orig_rax
 * (part of arch_regs_t: arch_prep_syscall sets it), arm64 apart from the
 * registers (NT_ARM_SYSTEM_CALL).  0 or -errno.
 */
int arch_leave_syscall(pid_t tid);

/*
 * Whether stopped thread tid (registers r) is inside a syscall, and if so
 * (only then) which: arch_syscall_nr().  1 or 0.
 */
int arch_in_syscall(pid_t tid, const arch_regs_t *r);
/* A thread frozen inside restart_syscall(2): set its syscall number to
 * the one being restarted, told by its wchan (read before the freeze).
 * tid: the stopped thread, for what its registers alone do not say. */
void arch_resolve_restart(pid_t tid, arch_regs_t *r, const char *wchan);
/* Syscall number a thread stopped in, or -1 when it was not in one. */
long arch_syscall_nr(const arch_regs_t *r);

/*
 * Registers dumped while a thread was inside an interrupted syscall are
 * rewritten into the ones the kernel would have resumed with after a
 * signal without handler: re-issue the syscall, or -EINTR where the
 * kernel's restart state (restart_block) cannot be carried over.
 */
void arch_fixup_restart(arch_regs_t *r);

/*
 * Code of the process that borrowing a thread safely needs
 * (ptrace/borrow.c, docs/kill-safety.md), found in its read-only
 * executable mappings (no byte of it is ever written):
 *  - gadget: an instruction sequence that makes the rt_sigreturn syscall
 *    (x86-64 `mov $15,%rax` or %eax, then `syscall`: glibc's and musl's
 *    __restore_rt, Go's runtime.sigreturn; aarch64 `mov x8, #139` then
 *    `svc #0`: the vdso's __kernel_rt_sigreturn);
 *  - resume: where an injected syscall returns to.  It must lead to the
 *    gadget both when the syscall completes and when the kernel restarts
 *    it (after a signal or stop: x86-64 goes back 2 bytes with rax set to
 *    the syscall again, aarch64 4 bytes with x0 as it was).  x86-64: the
 *    `ret` right after some `syscall`: ret pops the gadget's address from
 *    the frame's return slot (as a signal handler returns to its
 *    restorer), and a restart runs the syscall again first.  aarch64: the
 *    gadget itself, when a nop precedes it (the vdso's does): a restart
 *    lands on the nop and rt_sigreturns without redoing the syscall.
 */
struct arch_code {
	uint64_t gadget, gadget_syscall, resume;
	/* A syscall instruction that returns at once: x86-64 the `syscall`
	 * of resume's `syscall; ret`; aarch64 none yet (0).  A trip
	 * (ptrace/trip.c) runs its syscalls there without ptrace stops. */
	uint64_t call;
};
/* Search code[0..len), loaded at addr, for what c still lacks (0). */
void arch_find_code(const uint8_t *code, size_t len, uint64_t addr, struct arch_code *c);
/* Bytes around c's addresses that arch_find_code needs to see to find
 * them again: [addr - before, addr + after). */
#define ARCH_CODE_BEFORE	4
#define ARCH_CODE_AFTER		12

/*
 * A signal frame written below a thread's stack pointer, which the
 * gadget's rt_sigreturn turns back into registers r and signal mask
 * `mask`, with the thread's FP/SIMD state read from tid's regsets (tid 0:
 * the initial FP state) and a uc_stack that sigaltstack rejects, so the
 * alternate signal stack stays as it is.  It occupies [lo, hi) with
 * hi <= below; bytes (hi - lo, malloc'd) are what to write at lo.  sp is
 * the stack pointer with which the gadget's rt_sigreturn reads it;
 * entry_sp the one to give an injected syscall that returns to `resume`
 * (x86-64: 8 bytes lower, the frame's return slot holding `gadget`).
 * 0 or -errno (-E2BIG: the FP state does not fit a frame here).  fp,
 * fplen (in, optional): tid's ARCH_FRAME_FP_NOTE regset as read already
 * (x86-64; aarch64 has none and reads its records from tid).
 */
struct arch_sigframe {
	uint64_t lo, hi, sp, entry_sp;
	uint8_t *bytes;
	const void *fp;
	size_t fplen;
};
int arch_sigframe_build(struct arch_sigframe *f, pid_t tid, uint64_t below, const arch_regs_t *r,
			uint64_t mask, uint64_t gadget);
/*
 * Registers that make a thread, resumed, run nr(a[]) at c->call and then
 * the gadget, whose rt_sigreturn reads frame f (x86-64: the `ret` after
 * the syscall pops f's return slot; aarch64: returns to x30).  No
 * restart logic applies to them.
 */
void arch_prep_call(arch_regs_t *r, long nr, const uint64_t a[6], const struct arch_code *c,
		    const struct arch_sigframe *f);
/*
 * A thread frozen with registers r needs its restart_block when it runs on
 * (x86-64: cut short in a syscall the kernel restarts with
 * restart_syscall, or about to call restart_syscall), which an
 * rt_sigreturn forgets (restore_sigcontext sets it to
 * do_no_restart_syscall).  aarch64 never: its restart is decided before
 * the ptrace stop, and a thread given back issues its syscall anew.
 */
int arch_needs_restart_block(const arch_regs_t *r);
/* Registers that make a thread resting at a ptrace stop run the gadget at
 * `gadget` with stack pointer sp (no syscall restart applied to them). */
void arch_prep_gadget(arch_regs_t *r, uint64_t gadget, uint64_t sp);
/*
 * At a syscall-entry stop: make the syscall about to run nr(a[]) and the
 * thread return to ret_ip with stack pointer sp after it.  x86-64 keeps
 * the number in orig_rax (set here); aarch64 apart from the registers:
 * arch_set_entry_nr(), after the registers are set.
 */
void arch_prep_entry(arch_regs_t *r, long nr, const uint64_t a[6], uint64_t ret_ip, uint64_t sp);
int arch_set_entry_nr(pid_t tid, long nr);
/* A thread stopped on its way out of a syscall the kernel is about to
 * restart (x86-64: after the stop): have it return instead.  aarch64
 * rewinds before the stop (to the nop before the gadget, for ours). */
void arch_forget_restart(arch_regs_t *r);

/* Address of the first syscall instruction in code (a function body
 * loaded at addr), found by disassembly.  0, or -ENOENT. */
int arch_find_syscall_insn(const uint8_t *code, size_t len, uint64_t addr, uint64_t *insn);

/*
 * Whether this CPU can take a dumped register set back (restore checks
 * every thread's before it creates anything): 0, or the reason printed
 * (error()) and its -errno, e.g. an image that used SVE on a CPU without.
 * xf[0..nxf) is the process's layout as the image recorded it (x86-64:
 * XSAVE_LAYOUT); a set the dumping CPU laid out otherwise is rewritten in
 * place (rs->data reallocated) into this CPU's layout.
 */
int arch_check_regset(struct img_regset *rs, const struct arch_xfeat *xf, unsigned nxf);

/* CRC32C with the CPU's instruction; -ENOSYS when there is none. */
int arch_crc32c_hw(uint32_t *crc, const void *buf, size_t len);
/* SHA-256 compression of nblocks 64-byte blocks into h with the CPU's
 * instructions (image/sha256.c); -ENOSYS when there are none. */
int arch_sha256_hw(uint32_t h[8], const uint8_t *p, size_t nblocks);

/*
 * Describing a thread (ckpt inspect).  The general registers to print,
 * in order, each a 64-bit field at off bytes into arch_regs_t.
 */
struct arch_reg_name {
	const char *name;
	uint32_t off;
};
extern const struct arch_reg_name arch_reg_names[];
extern const unsigned arch_nreg_names;

/* Capstone's cs_arch and cs_mode for this CPU's code. */
void arch_disasm_mode(int *cs_arch, int *cs_mode);

/* Name of syscall nr on this arch ("clock_nanosleep"), or NULL. */
const char *arch_syscall_name(long nr);

/* Syscalls that change no mapping, which dump/quiet.c does not count
 * (arch_quiet_syscalls[0..arch_nquiet_syscalls), by the tracepoint's id). */
extern const int arch_quiet_syscalls[];
extern const unsigned arch_nquiet_syscalls;

/*
 * Core files (image/core.c).  The notes that follow a thread's NT_PRSTATUS,
 * made from its dumped register sets (rs[0..nrs), rs[0] = NT_PRSTATUS) and
 * passed to note() in the order the kernel writes them: its regset view's
 * order, NT_PRFPREG named "CORE", the others "LINUX" (fs/binfmt_elf.c
 * fill_thread_core_info).  An arch whose dumped regsets are the kernel's
 * notes as they are (aarch64: NT_PRFPREG, NT_ARM_TLS...) passes rs[1..nrs).
 */
typedef void arch_note_fn(void *ctx, uint32_t type, const char *name, const void *data,
			  size_t len);
/* xf[0..nxf): the process's extended register layout (arch_xsave_layout),
 * nxf = 0 when the image has none. */
void arch_core_notes(const struct img_regset *rs, unsigned nrs, const struct arch_xfeat *xf,
		     unsigned nxf, arch_note_fn *note, void *ctx);
/* The process-wide notes that follow every thread's (x86-64:
 * NT_X86_XSAVE_LAYOUT, elf_coredump_extra_notes_write); rs, nrs: the first
 * thread's register sets. */
void arch_core_proc_notes(const struct img_regset *rs, unsigned nrs, const struct arch_xfeat *xf,
			  unsigned nxf, arch_note_fn *note, void *ctx);

#endif
