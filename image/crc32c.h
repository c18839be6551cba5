/* CRC32C (Castagnoli), the checksum of every header, section and block. */
#ifndef CKPT_CRC32C_H
#define CKPT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c(0, buf, len) checksums buf; feed the result back to continue. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
