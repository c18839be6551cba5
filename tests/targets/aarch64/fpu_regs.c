/*
 * aarch64 counterpart of tests/targets/fpu_regs.c: registers across a
 * dump.  fpu_hold() below loads v0-v31 (or, with SVE, z0-z31, p0-p15 and
 * FFR at the thread's vector length), a non-default FPCR and FPSR, and
 * x7 and x19-x28 with known values, waits for GO without touching them,
 * stores them all and checks.  x7 is there because arm64 puts it back
 * after a syscall stop (arch/arm64/kernel/ptrace.c report_syscall).
 * A watcher thread polls for $CKPT_GO and sets a flag the holder reads.
 * "spin" busy-waits on that flag, so the dump most likely catches it in
 * user space, with live SVE state; "sleep" nanosleeps between looks, so
 * it is caught inside a syscall, and a syscall discards SVE state beyond
 * the FP/SIMD registers (Documentation/arm64/sve.rst): only v0-v31 are
 * checked then.
 * Usage: fpu_regs spin|sleep [thread]
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <asm/hwcap.h>

#include "../target.h"
#include "../mem.h"

#define ZMAX	256	/* largest SVE vector, bytes */

struct regs {
	uint64_t x[12];			/* x7, x19-x28 */
	uint8_t v[32][16];
	uint64_t fpcr, fpsr;
	struct timespec ts;		/* the "sleep" wait */
	uint8_t z[32 * ZMAX];		/* z0-z31, VL bytes apart */
	uint8_t p[16 * ZMAX / 8];	/* p0-p15, VL/8 bytes apart */
	uint8_t ffr[ZMAX / 8];
};

/* The offsets the asm below uses. */
static_assert(offsetof(struct regs, v) == 96, "v");
static_assert(offsetof(struct regs, fpcr) == 608, "fpcr");
static_assert(offsetof(struct regs, fpsr) == 616, "fpsr");
static_assert(offsetof(struct regs, ts) == 624, "ts");
static_assert(offsetof(struct regs, z) == 640, "z");
static_assert(offsetof(struct regs, p) == 8832, "p");
static_assert(offsetof(struct regs, ffr) == 9344, "ffr");

/*
 * void fpu_hold(const struct regs *in, struct regs *out,
 *               atomic_int *flag, long sleep, int sve)
 * x9 = in, x10 = out, x11 = flag, x12 = sleep, x14 = sve throughout.
 */
#define LDZ(n)	"ldr z" #n ", [x15, #" #n ", mul vl]\n"
#define STZ(n)	"str z" #n ", [x15, #" #n ", mul vl]\n"
#define LDP(n)	"ldr p" #n ", [x15, #" #n ", mul vl]\n"
#define STP(n)	"str p" #n ", [x15, #" #n ", mul vl]\n"
#define X16(M)	M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) \
		M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define X32(M)	X16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) \
		M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)

void fpu_hold(const struct regs *in, struct regs *out, atomic_int *flag, long sleep, int sve);
asm(".arch armv8.2-a+sve\n"
    ".text\n"
    ".globl fpu_hold\n"
    ".type fpu_hold, %function\n"
    "fpu_hold:\n"
    "stp x29, x30, [sp, #-160]!\n"
    "stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n stp x23, x24, [sp, #48]\n"
    "stp x25, x26, [sp, #64]\n stp x27, x28, [sp, #80]\n"
    "stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n"
    "stp d12, d13, [sp, #128]\n stp d14, d15, [sp, #144]\n"
    "mov x9, x0\n mov x10, x1\n mov x11, x2\n mov x12, x3\n mov x14, x4\n"
    "ldr x15, [x9, #608]\n msr fpcr, x15\n"
    "ldr x15, [x9, #616]\n msr fpsr, x15\n"
    "cbnz x14, 1f\n"
    "add x15, x9, #96\n"
    "ld1 {v0.16b-v3.16b}, [x15], #64\n ld1 {v4.16b-v7.16b}, [x15], #64\n"
    "ld1 {v8.16b-v11.16b}, [x15], #64\n ld1 {v12.16b-v15.16b}, [x15], #64\n"
    "ld1 {v16.16b-v19.16b}, [x15], #64\n ld1 {v20.16b-v23.16b}, [x15], #64\n"
    "ld1 {v24.16b-v27.16b}, [x15], #64\n ld1 {v28.16b-v31.16b}, [x15], #64\n"
    "b 2f\n"
    "1:\n"
    "mov x16, #9344\n add x15, x9, x16\n ldr p0, [x15]\n wrffr p0.b\n"
    "mov x16, #8832\n add x15, x9, x16\n" X16(LDP)
    "add x15, x9, #640\n" X32(LDZ)
    "2:\n"
    "ldr x7, [x9]\n"
    "ldp x19, x20, [x9, #8]\n ldp x21, x22, [x9, #24]\n ldp x23, x24, [x9, #40]\n"
    "ldp x25, x26, [x9, #56]\n ldp x27, x28, [x9, #72]\n"
    /* Wait: only x0, x1, x8, x15 change from here on. */
    "3:\n"
    "cbz x12, 4f\n"
    "mov x8, #101\n add x0, x9, #624\n mov x1, #0\n svc #0\n"	/* nanosleep */
    "4:\n"
    "ldar w15, [x11]\n"
    "cbz w15, 3b\n"
    "str x7, [x10]\n"
    "stp x19, x20, [x10, #8]\n stp x21, x22, [x10, #24]\n stp x23, x24, [x10, #40]\n"
    "stp x25, x26, [x10, #56]\n stp x27, x28, [x10, #72]\n"
    "mrs x15, fpcr\n str x15, [x10, #608]\n"
    "mrs x15, fpsr\n str x15, [x10, #616]\n"
    "add x15, x10, #96\n"
    "st1 {v0.16b-v3.16b}, [x15], #64\n st1 {v4.16b-v7.16b}, [x15], #64\n"
    "st1 {v8.16b-v11.16b}, [x15], #64\n st1 {v12.16b-v15.16b}, [x15], #64\n"
    "st1 {v16.16b-v19.16b}, [x15], #64\n st1 {v20.16b-v23.16b}, [x15], #64\n"
    "st1 {v24.16b-v27.16b}, [x15], #64\n st1 {v28.16b-v31.16b}, [x15], #64\n"
    "cbz x14, 5f\n"
    "add x15, x10, #640\n" X32(STZ)
    "mov x16, #8832\n add x15, x10, x16\n" X16(STP)
    "mov x16, #9344\n add x15, x10, x16\n rdffr p0.b\n str p0, [x15]\n"
    "5:\n"
    /* Back to what compiled code expects. */
    "msr fpcr, xzr\n msr fpsr, xzr\n"
    "ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n"
    "ldp d12, d13, [sp, #128]\n ldp d14, d15, [sp, #144]\n"
    "ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n"
    "ldp x25, x26, [sp, #64]\n ldp x27, x28, [sp, #80]\n"
    "ldp x29, x30, [sp], #160\n"
    "ret\n"
    ".size fpu_hold, .-fpu_hold\n");

static long sleep_mode;
static atomic_int go_flag;

static void *watch(void *arg)
{
	(void)arg;
	while (!target_go())
		target_sleep_ms(5);
	atomic_store(&go_flag, 1);
	return NULL;
}

static const char *const xname[] = {
	"x7", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
};

static void *hold_and_check(void *arg)
{
	static struct regs in, out;
	int sve = !sleep_mode && (getauxval(AT_HWCAP) & HWCAP_SVE);
	unsigned vl = sve ? (unsigned)prctl(PR_SVE_GET_VL) & PR_SVE_VL_LEN_MASK : 16;
	pthread_t w;

	(void)arg;
	if (vl > ZMAX)
		sve = 0, vl = 16;
	printf("fpu_regs: %s, %u-bit vectors\n", sve ? "sve" : "fpsimd", vl * 8);
	fflush(stdout);
	pat_fill(in.x, sizeof(in.x), 0x7a);
	pat_fill(in.v, sizeof(in.v), 0xf0);
	pat_fill(in.z, sizeof(in.z), 0xf1);
	pat_fill(in.p, sizeof(in.p), 0xf2);
	/* FFR as a first-fault load leaves it: leading elements active. */
	memset(in.ffr, 0, sizeof(in.ffr));
	memset(in.ffr, 0xff, vl / 16);
	/* FPCR: default NaN, flush to zero, round toward zero (default 0);
	 * FPSR: QC and IXC, sticky (Arm ARM D17.2.55, D17.2.57). */
	in.fpcr = 1u << 25 | 1u << 24 | 3u << 22;
	in.fpsr = 1u << 27 | 1u << 4;
	in.ts.tv_nsec = 5000000;
	memset(&out, 0xa5, sizeof(out));
	if ((errno = pthread_create(&w, NULL, watch, NULL))) {
		target_fail("watcher thread: %s", strerror(errno));
		return NULL;
	}
	target_ready();
	fpu_hold(&in, &out, &go_flag, sleep_mode, sve);
	pthread_join(w, NULL);

	for (int i = 0; i < 11; i++)
		CHECK(out.x[i] == in.x[i], "%s is %#llx, want %#llx", xname[i],
		      (unsigned long long)out.x[i], (unsigned long long)in.x[i]);
	CHECK(out.fpcr == in.fpcr, "FPCR is %#llx, want %#llx", (unsigned long long)out.fpcr,
	      (unsigned long long)in.fpcr);
	CHECK(out.fpsr == in.fpsr, "FPSR is %#llx, want %#llx", (unsigned long long)out.fpsr,
	      (unsigned long long)in.fpsr);
	for (int i = 0; i < 32; i++) {
		const uint8_t *want = sve ? in.z + i * vl : in.v[i];

		CHECK(!memcmp(out.v[i], want, 16), "v%d differs", i);
		if (sve)
			CHECK(!memcmp(out.z + i * vl, want, vl), "z%d differs above bit 128", i);
	}
	for (int i = 0; sve && i < 16; i++)
		CHECK(!memcmp(out.p + i * vl / 8, in.p + i * vl / 8, vl / 8), "p%d differs", i);
	if (sve)
		CHECK(!memcmp(out.ffr, in.ffr, vl / 8), "FFR differs");
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;

	if (argc < 2 || (strcmp(argv[1], "spin") && strcmp(argv[1], "sleep")) ||
	    (argc > 2 && strcmp(argv[2], "thread"))) {
		fprintf(stderr, "usage: fpu_regs spin|sleep [thread]\n");
		return 2;
	}
	sleep_mode = !strcmp(argv[1], "sleep");
	if (argc < 3) {
		hold_and_check(NULL);
	} else if ((errno = pthread_create(&th, NULL, hold_and_check, NULL)) ||
		   (errno = pthread_join(th, NULL))) {
		target_fail("thread: %s", strerror(errno));
	}
	return target_exit();
}
