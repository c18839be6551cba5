/* CRC32C (Castagnoli), the checksum of every header, section and block. */
#ifndef CKPT_CRC32C_H
#define CKPT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c(0, buf, len) checksums buf; feed the result back to continue. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The checksum of A then B from crc32c(0, A) and crc32c(0, B), B being
 * len2 bytes long: lets the pieces be checksummed apart, in any order. */
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

#endif
