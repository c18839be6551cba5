/* Content hash of a page, for incremental dumps without kernel help. */
#ifndef CKPT_HASH_H
#define CKPT_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of len bytes (a multiple of 8). */
uint64_t ckpt_page_hash(const void *p, size_t len);

#endif
