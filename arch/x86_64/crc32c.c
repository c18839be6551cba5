/* x86-64: CRC32C with the SSE4.2 crc32 instruction (Intel SDM, CRC32). */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

int arch_crc32c_hw(uint32_t *crc, const void *buf, size_t len)
{
	static int have = -1;

	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("sse4.2");
	}
	if (!have)
		return -ENOSYS;
	*crc = crc32c_sse42(*crc, buf, len);
	return 0;
}
