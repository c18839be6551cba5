/* Page-data codecs: none, zlib, zstd, lz4 (CKPT_CODEC_* in format.h). */
#ifndef CKPT_CODEC_H
#define CKPT_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct codec_spec {
	uint16_t codec;		/* CKPT_CODEC_* */
	int level;		/* codec's own scale; 0 = its default */
	int adaptive;		/* compress a block only if that does not slow
				   the dump down, else store it raw */
};

/* "none", "zlib", "zstd", "lz4", each optionally ":LEVEL"; "auto" (lz4,
 * adaptive).  0 or -EINVAL. */
int codec_parse(const char *s, struct codec_spec *out);
const char *codec_name(uint16_t codec);
/* Worst-case encoded size of len bytes. */
size_t codec_bound(uint16_t codec, size_t len);
/*
 * Encode src into dst (cap bytes, at least codec_bound()).  Returns the
 * encoded length, or -E2BIG when it would not be smaller than the input
 * (the caller then stores the block raw), or another -errno.
 */
long codec_encode(const struct codec_spec *c, const void *src, size_t len, void *dst, size_t cap);
/* Decode exactly rawlen bytes; -EBADMSG if the data does not decode to
 * exactly that. */
int codec_decode(uint16_t codec, const void *src, size_t len, void *dst, size_t rawlen);

#endif
