/*
 * x86-64: an XSAVE area from another CPU, made fit for this one.
 *
 * NT_X86_XSTATE is the standard (uncompacted) XSAVE format, where each
 * extended feature sits at an offset CPUID leaf 0xd gives, and those
 * offsets are the CPU's own: Intel keeps the AVX-512 opmask at 1088 (after
 * the MPX area), AMD Zen 4 at 832; a CPU without PKRU ends its area
 * sooner.  The kernel takes a set only in its own layout and exactly its
 * own size (arch/x86/kernel/fpu/regset.c xstateregs_set: "a whole
 * standard-format XSAVE buffer", else EFAULT; xstate.c
 * validate_user_xstate_header: no feature it does not enable, else
 * EINVAL).  So an image made on another CPU is moved feature by feature
 * from the dumping CPU's offsets (the image's XSAVE_LAYOUT section) to
 * this CPU's, before restore creates anything; a feature the process may
 * use and this CPU lacks is refused by name (glibc picked its string
 * functions by CPUID at start: they would fault on the first call).
 */
#include <cpuid.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "common/log.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

#define XCR0_OFF	464	/* USER_XSTATE_XCR0_WORD, arch/x86/include/asm/user.h */
#define XSTATE_BV_OFF	512	/* struct xstate_header: xfeatures, xcomp_bv */
#define XCOMP_BV_OFF	520
#define HDR_END		576	/* legacy area (512) + XSAVE header (64) */
#define AVX_OFF		576	/* feature 2's offset, the same on every CPU */

#define F_PKRU		9
#define F_TILECFG	17
#define F_TILEDATA	18
/* The value the kernel gives every new process (init_pkru_value): all
 * keys but 0 access-disabled; a process that never used pkeys has it. */
#define PKRU_DEFAULT	0x55555554u

static const char *feature_name(unsigned f)
{
	static const char *const names[] = {
		[2] = "AVX", [3] = "MPX bounds registers", [4] = "MPX CSR",
		[5] = "AVX-512 opmask registers", [6] = "AVX-512 upper ZMM halves",
		[7] = "AVX-512 registers ZMM16-31", [9] = "protection keys (PKRU)",
		[17] = "AMX tile configuration", [18] = "AMX tile data",
		[19] = "APX registers",
	};

	return f < sizeof(names) / sizeof(names[0]) && names[f] ? names[f] : "an XSAVE feature";
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* XCR0 as the kernel set it: the user features every task's XSAVE area
 * has room for (dynamic ones, AMX, included). */
static uint64_t host_xcr0(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 3;
	/* xgetbv with ecx 0: XCR0 in edx:eax */
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return (uint64_t)d << 32 | a;
}

/* This CPU's offset and size of feature f (0, 0 if it has none). */
static void host_place(unsigned f, uint32_t *off, uint32_t *size)
{
	unsigned a = 0, b = 0, c, d;

	if (!__get_cpuid_count(0xd, f, &a, &b, &c, &d))
		a = b = 0;
	*size = a;
	*off = b;
}

/* Where the image says the dumping CPU kept feature f; AVX's place is
 * fixed, and an image without a layout section (made before it) came
 * from a CPU whose layout is assumed to be this one's. */
static int image_place(unsigned f, const struct arch_xfeat *xf, unsigned nxf, uint32_t *off,
		       uint32_t *size)
{
	for (unsigned i = 0; i < nxf; i++)
		if (xf[i].type == f) {
			*off = xf[i].offset;
			*size = xf[i].size;
			return 1;
		}
	if (f == 2) {
		*off = AVX_OFF;
		*size = 256;
		return 1;
	}
	if (nxf == 0) {
		host_place(f, off, size);
		return *size != 0;
	}
	return 0;
}

/*
 * Whether feature f, which this CPU lacks, can be left behind: PKRU at
 * its default (the process never changed its keys' rights), AMX when the
 * process holds no tile state (it asked for AMX with arch_prctl before
 * using it, and the state is in its init form: XSTATE_BV clear).
 */
static int can_drop(unsigned f, const struct img_regset *rs, uint64_t bv, const struct arch_xfeat *xf,
		    unsigned nxf)
{
	uint32_t off, size;

	if (f == F_TILECFG || f == F_TILEDATA)
		return !(bv & 1ull << f);
	if (f != F_PKRU)
		return 0;
	if (!(bv & 1ull << f))
		return 1;
	if (!image_place(f, xf, nxf, &off, &size) || size < 4 || (uint64_t)off + 4 > rs->len)
		return 0;
	uint32_t pkru;

	memcpy(&pkru, rs->data + off, sizeof(pkru));
	return pkru == PKRU_DEFAULT;
}

int arch_check_regset(struct img_regset *rs, const struct arch_xfeat *xf, unsigned nxf)
{
	uint64_t xcr0, bv, have = host_xcr0(), keep;
	uint32_t need = HDR_END, off, size, ioff, isize;
	int same;

	if (rs->type != NT_X86_XSTATE)
		return 0;
	if (rs->len < HDR_END)
		return error("the image's XSAVE registers are damaged (%u bytes)", rs->len);
	xcr0 = get64(rs->data + XCR0_OFF);
	bv = get64(rs->data + XSTATE_BV_OFF);
	if (get64(rs->data + XCOMP_BV_OFF) || bv & ~xcr0)
		return error("the image's XSAVE registers are damaged (header %#llx, XCR0 %#llx)",
			     (unsigned long long)bv, (unsigned long long)xcr0);
	for (unsigned f = 2; f < 64; f++)
		if (xcr0 & ~have & 1ull << f && !can_drop(f, rs, bv, xf, nxf))
			return error("the process may use %s (XSAVE feature %u: the CPU it was "
				     "dumped on had it), which this CPU does not have: cannot restore "
				     "here", feature_name(f), f);

	/* This CPU's size: the end of the last feature it enables. */
	for (unsigned f = 2; f < 64; f++)
		if (have & 1ull << f) {
			host_place(f, &off, &size);
			if (off && off + size > need)
				need = off + size;
		}
	keep = bv & have;
	same = rs->len == need;
	for (unsigned f = 2; f < 64 && same; f++)
		if (keep & 1ull << f) {
			host_place(f, &off, &size);
			same = image_place(f, xf, nxf, &ioff, &isize) && ioff == off;
		}
	if (same && keep == bv && xcr0 == (xcr0 & have))
		return 0;

	uint8_t *out = calloc(1, need);

	if (!out)
		return error("XSAVE registers: out of memory");
	memcpy(out, rs->data, HDR_END);
	for (unsigned f = 2; f < 64; f++) {
		if (!(keep & 1ull << f))
			continue;
		host_place(f, &off, &size);
		if (!image_place(f, xf, nxf, &ioff, &isize) || isize != size ||
		    (uint64_t)ioff + isize > rs->len || ioff < HDR_END) {
			free(out);
			return error("the image's XSAVE registers are damaged (feature %u: %u bytes at "
				     "%u in %u)", f, isize, ioff, rs->len);
		}
		memcpy(out + off, rs->data + ioff, size);
	}
	/* Features this CPU does not have were found droppable above. */
	put64(out + XSTATE_BV_OFF, keep);
	put64(out + XCR0_OFF, xcr0 & have);
	free(rs->data);
	rs->data = out;
	rs->len = need;
	return 0;
}
