/*
 * aarch64: CRC32C with the ARMv8 CRC32C{B,H,W,X} instructions (Arm ARM
 * C6.2, optional in ARMv8.0, present when AT_HWCAP has HWCAP_CRC32).
 */
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <asm/hwcap.h>

#include "arch/arch.h"

__attribute__((target("+crc")))
static uint32_t crc32c_arm(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		crc = __builtin_aarch64_crc32cb(crc, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		crc = __builtin_aarch64_crc32cx(crc, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = __builtin_aarch64_crc32cb(crc, *p++);
	return crc;
}

int arch_crc32c_hw(uint32_t *crc, const void *buf, size_t len)
{
	static int have = -1;

	if (have < 0)
		have = !!(getauxval(AT_HWCAP) & HWCAP_CRC32);
	if (!have)
		return -ENOSYS;
	*crc = crc32c_arm(*crc, buf, len);
	return 0;
}
