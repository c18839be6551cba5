/*
 * Floating-point and vector registers across a dump: x87 (all 8 stack
 * slots, and a non-default control word), MXCSR (non-default), and
 * xmm0-15, or ymm0-15 with AVX, or zmm0-31 and k1-k7 with AVX-512, all
 * loaded with known values by fpu_hold() below.  While the registers
 * hold them, it waits for $CKPT_GO with raw syscalls from the same asm
 * (the kernel keeps user FPU state across syscalls), so no compiled code
 * touches a register between load and store.  "spin" busy-waits between
 * checks, so the dump most likely catches it running in user space;
 * "sleep" nanosleeps, so it is caught inside a syscall.  With "thread"
 * a second thread does all this while the main thread waits to join it.
 * Usage: fpu_regs spin|sleep [thread]
 */
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "target.h"
#include "mem.h"

enum { LVL_SSE, LVL_AVX, LVL_AVX512 };

struct fpregs {
	unsigned char st[8][16];	/* 80-bit x87 values, 16 bytes apart */
	unsigned char z[32][64];	/* zmm (ymm/xmm: the low 32/16 bytes) */
	uint16_t k[8];			/* k1-k7 in k[1..7] */
	uint16_t fcw;
	uint16_t pad;
	uint32_t mxcsr;
	struct timespec ts;		/* the "sleep" wait */
} __attribute__((aligned(64)));

/* The offsets the asm below uses. */
static_assert(offsetof(struct fpregs, z) == 128, "z");
static_assert(offsetof(struct fpregs, k) == 2176, "k");
static_assert(offsetof(struct fpregs, fcw) == 2192, "fcw");
static_assert(offsetof(struct fpregs, mxcsr) == 2196, "mxcsr");
static_assert(offsetof(struct fpregs, ts) == 2200, "ts");
static_assert(SYS_access == 21 && SYS_nanosleep == 35, "syscall numbers");

/*
 * void fpu_hold(const struct fpregs *in, struct fpregs *out, const char *go,
 *               long spin, int level)
 * Loads everything from in, waits until access(go, F_OK) == 0 (spinning
 * spin iterations, or nanosleeping in->ts when spin is 0, between
 * checks), stores everything to out, then puts back the defaults.
 */
#define LD(n)	"vmovdqu64 128+" #n "*64(%rbx), %zmm" #n "\n"
#define ST(n)	"vmovdqu64 %zmm" #n ", 128+" #n "*64(%r12)\n"
#define LDY(n)	"vmovdqu 128+" #n "*64(%rbx), %ymm" #n "\n"
#define STY(n)	"vmovdqu %ymm" #n ", 128+" #n "*64(%r12)\n"
#define LDX(n)	"movdqu 128+" #n "*64(%rbx), %xmm" #n "\n"
#define STX(n)	"movdqu %xmm" #n ", 128+" #n "*64(%r12)\n"
#define LDK(n)	"kmovw 2176+" #n "*2(%rbx), %k" #n "\n"
#define STK(n)	"kmovw %k" #n ", 2176+" #n "*2(%r12)\n"
#define X16(M)	M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) \
		M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define X32(M)	X16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) \
		M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)
#define K7(M)	M(1) M(2) M(3) M(4) M(5) M(6) M(7)

void fpu_hold(const struct fpregs *in, struct fpregs *out, const char *go, long spin, int level);
asm(".text\n"
    ".globl fpu_hold\n"
    ".type fpu_hold, @function\n"
    "fpu_hold:\n"
    "push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "mov %rdi, %rbx\n mov %rsi, %r12\n mov %rdx, %r13\n mov %rcx, %r14\n mov %r8d, %r15d\n"
    "fninit\n"
    "fldcw 2192(%rbx)\n"
    "fldt 0(%rbx)\n fldt 16(%rbx)\n fldt 32(%rbx)\n fldt 48(%rbx)\n"
    "fldt 64(%rbx)\n fldt 80(%rbx)\n fldt 96(%rbx)\n fldt 112(%rbx)\n"
    "ldmxcsr 2196(%rbx)\n"
    "cmp $2, %r15d\n je 3f\n"
    "cmp $1, %r15d\n je 2f\n"
    X16(LDX) "jmp 4f\n"
    "2:\n" X16(LDY) "jmp 4f\n"
    "3:\n" X32(LD) K7(LDK)
    /* Wait: only rax, rcx, rdi, rsi, r11 change from here on. */
    "4:\n"
    "mov $21, %eax\n mov %r13, %rdi\n xor %esi, %esi\n syscall\n"
    "test %rax, %rax\n jz 6f\n"
    "test %r14, %r14\n jz 5f\n"
    "mov %r14, %rcx\n"
    "7: dec %rcx\n jnz 7b\n"
    "jmp 4b\n"
    "5: mov $35, %eax\n lea 2200(%rbx), %rdi\n xor %esi, %esi\n syscall\n"
    "jmp 4b\n"
    "6:\n"
    "fnstcw 2192(%r12)\n"
    "fstpt 0(%r12)\n fstpt 16(%r12)\n fstpt 32(%r12)\n fstpt 48(%r12)\n"
    "fstpt 64(%r12)\n fstpt 80(%r12)\n fstpt 96(%r12)\n fstpt 112(%r12)\n"
    "stmxcsr 2196(%r12)\n"
    "cmp $2, %r15d\n je 3f\n"
    "cmp $1, %r15d\n je 2f\n"
    X16(STX) "jmp 4f\n"
    "2:\n" X16(STY) "vzeroupper\n jmp 4f\n"
    "3:\n" X32(ST) K7(STK) "vzeroupper\n"
    "4:\n"
    /* Back to what compiled code expects. */
    "fninit\n"
    "movl $0x1f80, -4(%rsp)\n ldmxcsr -4(%rsp)\n"
    "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbx\n"
    "ret\n"
    ".size fpu_hold, .-fpu_hold\n");

static const char *const level_name[] = { "sse", "avx", "avx512" };
static const char *const vreg_name[] = { "xmm", "ymm", "zmm" };

static long spin;

static void *hold_and_check(void *arg)
{
	static struct fpregs in, out;
	const char *go = getenv("CKPT_GO");
	int level = LVL_SSE, nvec = 16, vlen = 16;

	(void)arg;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		level = LVL_AVX512, nvec = 32, vlen = 64;
	else if (__builtin_cpu_supports("avx"))
		level = LVL_AVX, vlen = 32;
	printf("fpu_regs: %s\n", level_name[level]);
	fflush(stdout);

	for (int i = 0; i < 8; i++) {
		long double v = (long double)(i + 1) / 7.0L * (i & 1 ? -1 : 1);

		memcpy(in.st[i], &v, 10);
	}
	pat_fill(in.z, sizeof(in.z), 0xf0);
	for (int i = 1; i < 8; i++)
		in.k[i] = (uint16_t)(0x1111 * i ^ 0x8001);
	in.fcw = 0x0a7f;	/* round up, 53-bit precision (default 0x037f) */
	in.mxcsr = 0xffc0;	/* FZ, DAZ, round toward zero (default 0x1f80) */
	in.ts.tv_nsec = 5000000;
	memset(&out, 0xa5, sizeof(out));
	target_ready();
	fpu_hold(&in, &out, go ? go : "/", spin, level);

	/* fstpt pops: st(0), the last value loaded, comes out first. */
	for (int i = 0; i < 8; i++)
		CHECK(!memcmp(out.st[i], in.st[7 - i], 10), "x87 st(%d) differs", i);
	CHECK(out.fcw == in.fcw, "x87 control word is %#x, want %#x", out.fcw, in.fcw);
	CHECK(out.mxcsr == in.mxcsr, "MXCSR is %#x, want %#x", out.mxcsr, in.mxcsr);
	for (int i = 0; i < nvec; i++) {
		int lo = memcmp(out.z[i], in.z[i], 16);
		int hi = memcmp(out.z[i] + 16, in.z[i] + 16, (size_t)vlen - 16);

		CHECK(!lo && !hi, "%s%d differs (%s)", vreg_name[level], i,
		      lo && hi ? "low and high parts" : lo ? "low 128 bits" : "above bit 128");
	}
	if (level == LVL_AVX512)
		for (int i = 1; i < 8; i++)
			CHECK(out.k[i] == in.k[i], "k%d is %#x, want %#x", i, out.k[i], in.k[i]);
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
	if (!strcmp(argv[1], "spin"))
		spin = 4 << 20;
	if (argc < 3) {
		hold_and_check(NULL);
	} else if ((errno = pthread_create(&th, NULL, hold_and_check, NULL)) ||
		   (errno = pthread_join(th, NULL))) {
		target_fail("thread: %s", strerror(errno));
	}
	return target_exit();
}
