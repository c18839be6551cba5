/*
 * x86-64: the register notes of a core file (arch/arch.h arch_core_notes).
 * The kernel's regset view (arch/x86/kernel/ptrace.c x86_64_regsets[])
 * writes, after NT_PRSTATUS: NT_PRFPREG, the 512-byte FXSAVE image
 * (struct user_fpregs_struct, <sys/user.h>), then NT_X86_XSTATE, the whole
 * XSAVE area in the standard layout; and once per process, after every
 * thread's notes, NT_X86_XSAVE_LAYOUT: where each feature is in that area
 * (arch/x86/kernel/fpu/xstate.c elf_coredump_extra_notes_write, Linux
 * 6.12).  ckpt dumps only the XSAVE area; as PTRACE_GETREGSET returns it
 * (xstate.c __copy_xstate_to_uabi_buf), its legacy region is filled in
 * even for components in their init state, so NT_PRFPREG is made from it.
 *
 * One departure from the kernel, for gdb: gdb reads the x87, SSE, AVX,
 * MPX, AVX-512 and PKRU state of an XSAVE note, and up to gdb 13 insists
 * that the note is exactly as long as those features of its XCR0 need
 * (gdbsupport/x86-xstate.h X86_XSTATE_SIZE; "Unexpected size of section
 * `.reg-xstate/N'" otherwise); gdb 14 and later give up the note's AVX and
 * later registers when its size is not one they know.  With features past
 * those (AMX tiles: the area is 11008 bytes), the kernel's own core gets
 * that warning.  So when the image says where every feature is (its XSAVE
 * layout) and the others all come after the ones gdb reads, the note stops
 * where those end, and its XCR0 and XSTATE_BV name only what it holds,
 * which is what gcore writes; the layout note describes that note.
 */
#include <assert.h>
#include <elf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/user.h>

#include "arch/arch.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#define NT_X86_XSAVE_LAYOUT	0x205	/* uapi linux/elf.h, Linux 6.12 */

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
#define XSTATE_BV_OFF	512	/* the XSAVE header's first field */
#define XSAVE_HDR_END	576	/* the extended features start here */
/* The features gdb reads: x87, SSE, AVX, MPX (2), AVX-512 (3), PKRU
 * (gdbsupport/x86-xstate.h X86_XSTATE_ALL_MASK). */
#define GDB_XFEATURES	0x2ffull
#define ARCH_MAX_XFEAT	64	/* features are bits of XCR0 */

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * How much of an XSAVE area of len bytes with features xcr0 the note
 * keeps, and the XCR0 it then says: all of it, unless the layout puts
 * every feature gdb does not read after all those it does.
 */
static size_t note_size(uint64_t xcr0, size_t len, const struct arch_xfeat *xf, unsigned nxf,
			uint64_t *note_xcr0)
{
	size_t end = XSAVE_HDR_END;
	uint64_t have = 0;

	*note_xcr0 = xcr0;
	if (!(xcr0 & ~GDB_XFEATURES) || !nxf)
		return len;
	for (unsigned i = 0; i < nxf; i++) {
		have |= 1ull << (xf[i].type & 63);
		if (xcr0 & GDB_XFEATURES & (1ull << (xf[i].type & 63)) &&
		    xf[i].offset + (size_t)xf[i].size > end)
			end = xf[i].offset + (size_t)xf[i].size;
	}
	for (unsigned i = 0; i < nxf; i++)
		if (!(GDB_XFEATURES & (1ull << (xf[i].type & 63))) && xf[i].offset < end)
			return len;
	if ((xcr0 & ~3ull & ~have) || end > len)	/* the layout does not fit */
		return len;
	*note_xcr0 = xcr0 & GDB_XFEATURES;
	return end;
}

static const struct img_regset *xstate(const struct img_regset *rs, unsigned nrs)
{
	for (unsigned i = 1; i < nrs; i++)
		if (rs[i].type == NT_X86_XSTATE && rs[i].len >= XSAVE_HDR_END)
			return &rs[i];
	return NULL;
}

void arch_core_notes(const struct img_regset *rs, unsigned nrs, const struct arch_xfeat *xf,
		     unsigned nxf, arch_note_fn *note, void *ctx)
{
	const struct img_regset *xs = xstate(rs, nrs);
	uint8_t fx[FXSAVE_SIZE], *buf;
	uint64_t xcr0, bv;
	size_t len;

	if (!xs)
		return;
	memcpy(fx, xs->data, SW_RESERVED);
	memset(fx + SW_RESERVED, 0, FXSAVE_SIZE - SW_RESERVED);
	note(ctx, NT_PRFPREG, "CORE", fx, sizeof(fx));
	len = note_size(get64(xs->data + SW_RESERVED), xs->len, xf, nxf, &xcr0);
	buf = malloc(len);
	if (!buf)
		return;
	memcpy(buf, xs->data, len);
	bv = get64(buf + XSTATE_BV_OFF) & xcr0;
	memcpy(buf + SW_RESERVED, &xcr0, sizeof(xcr0));
	memcpy(buf + XSTATE_BV_OFF, &bv, sizeof(bv));
	note(ctx, NT_X86_XSTATE, "LINUX", buf, len);
	free(buf);
}

void arch_core_proc_notes(const struct img_regset *rs, unsigned nrs, const struct arch_xfeat *xf,
			  unsigned nxf, arch_note_fn *note, void *ctx)
{
	const struct img_regset *xs = xstate(rs, nrs);
	struct arch_xfeat out[ARCH_MAX_XFEAT];
	unsigned n = 0;
	uint64_t xcr0;

	if (!xs || !nxf)
		return;
	note_size(get64(xs->data + SW_RESERVED), xs->len, xf, nxf, &xcr0);
	/* One x86_xfeat_component per extended feature of the note, in
	 * feature order as the kernel's for_each_extended_xfeature(). */
	for (unsigned f = 2; f < 64; f++)
		for (unsigned i = 0; i < nxf && n < ARCH_MAX_XFEAT; i++)
			if (xf[i].type == f && (xcr0 & (1ull << f)))
				out[n++] = xf[i];
	if (n)
		note(ctx, NT_X86_XSAVE_LAYOUT, "LINUX", out, n * sizeof(out[0]));
}
