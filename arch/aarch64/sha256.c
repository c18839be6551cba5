/*
 * aarch64: the SHA-256 compression function with the ARMv8 SHA2
 * instructions (Arm ARM C7.2: SHA256H, SHA256H2, SHA256SU0, SHA256SU1;
 * present when AT_HWCAP has HWCAP_SHA2).  SHA256H/H2 do four rounds on
 * the ABCD and EFGH halves of the state with W[t] + sha256_k[t] for four t;
 * SU0/SU1 compute the next four schedule words (FIPS 180-4, 6.2.2).
 */
#include <errno.h>
#include <sys/auxv.h>
#include <asm/hwcap.h>
#include <arm_neon.h>

#include "arch/arch.h"
#include "common/sha256-k.h"

__attribute__((target("+crypto")))
static void sha256_arm(uint32_t h[8], const uint8_t *p, size_t n)
{
	uint32x4_t abcd = vld1q_u32(h), efgh = vld1q_u32(h + 4);

	for (; n--; p += 64) {
		uint32x4_t abcd0 = abcd, efgh0 = efgh, w[4];

		for (int i = 0; i < 4; i++)
			w[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16 * i)));
		for (int g = 0; g < 16; g++) {
			uint32x4_t m = vaddq_u32(w[g & 3], vld1q_u32(sha256_k + 4 * g)), a = abcd;

			abcd = vsha256hq_u32(abcd, efgh, m);
			efgh = vsha256h2q_u32(efgh, a, m);
			/* W for group g + 4 */
			if (g < 12)
				w[g & 3] = vsha256su1q_u32(vsha256su0q_u32(w[g & 3], w[(g + 1) & 3]),
							   w[(g + 2) & 3], w[(g + 3) & 3]);
		}
		abcd = vaddq_u32(abcd, abcd0);
		efgh = vaddq_u32(efgh, efgh0);
	}
	vst1q_u32(h, abcd);
	vst1q_u32(h + 4, efgh);
}

int arch_sha256_hw(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	static int have = -1;

	if (have < 0)
		have = !!(getauxval(AT_HWCAP) & HWCAP_SHA2);
	if (!have)
		return -ENOSYS;
	sha256_arm(h, p, nblocks);
	return 0;
}
