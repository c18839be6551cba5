/*
 * Page-data codecs.  Each block is encoded on its own (no shared
 * dictionary or stream state), so blocks can be compressed and
 * decompressed in parallel and in any order.
 */
#include <errno.h>
#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/codec.h"
#include "image/format.h"

static const char *const names[] = {
	[CKPT_CODEC_NONE] = "none", [CKPT_CODEC_ZLIB] = "zlib",
	[CKPT_CODEC_ZSTD] = "zstd", [CKPT_CODEC_LZ4] = "lz4",
};

const char *codec_name(uint16_t codec)
{
	return codec < sizeof(names) / sizeof(names[0]) ? names[codec] : "unknown";
}

int codec_parse(const char *s, struct codec_spec *out)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	out->level = 0;
	out->adaptive = 0;
	if (!strcmp(s, "auto")) {
		out->codec = CKPT_CODEC_LZ4;
		out->adaptive = 1;
		return 0;
	}
	for (uint16_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *end;
		long lv;

		if (strlen(names[i]) != n || strncmp(s, names[i], n))
			continue;
		out->codec = i;
		if (!colon)
			return 0;
		lv = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || i == CKPT_CODEC_NONE ||
		    (i == CKPT_CODEC_ZLIB && (lv < 1 || lv > 9)) ||
		    (i == CKPT_CODEC_ZSTD && (lv < -7 || lv > 22 || lv == 0)) ||
		    (i == CKPT_CODEC_LZ4 && (lv < 1 || lv > 65537)))
			return -EINVAL;
		out->level = (int)lv;
		return 0;
	}
	return -EINVAL;
}

size_t codec_bound(uint16_t codec, size_t len)
{
	switch (codec) {
	case CKPT_CODEC_ZLIB:
		return compressBound((uLong)len);
	case CKPT_CODEC_ZSTD:
		return ZSTD_compressBound(len);
	case CKPT_CODEC_LZ4:
		return (size_t)LZ4_compressBound((int)len);
	}
	return len;
}

static long zlib_encode(int level, const void *src, size_t len, void *dst, size_t cap)
{
	uLongf out = (uLongf)cap;

	if (compress2(dst, &out, src, (uLong)len, level ? level : 1) != Z_OK)
		return -EIO;
	return (long)out;
}

/*
 * Each thread's zstd contexts, made on first use and reused: making one
 * costs more than compressing a block.  They go with the thread (the key's
 * destructor), not with the process: every dump_write_pages() and restore
 * starts worker threads of its own, so a process that dumps again and again
 * (dump_run in a loop, as ckpt run's supervisor does, with LZ4 today) would
 * keep one context per worker per dump, a high level's being tens of MiB.
 * A __thread pointer has no destructor.
 */
struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

static pthread_key_t zkey;
static pthread_once_t zonce = PTHREAD_ONCE_INIT;
static int zkey_ok;

static void zctx_free(void *p)
{
	struct zctx *z = p;

	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

static void zkey_make(void)
{
	zkey_ok = pthread_key_create(&zkey, zctx_free) == 0;
}

static struct zctx *zctx_get(void)
{
	struct zctx *z;

	pthread_once(&zonce, zkey_make);
	if (!zkey_ok)
		return NULL;
	if ((z = pthread_getspecific(zkey)))
		return z;
	if (!(z = calloc(1, sizeof(*z))))
		return NULL;
	if (pthread_setspecific(zkey, z)) {
		free(z);
		return NULL;
	}
	return z;
}

static long zstd_encode(int level, const void *src, size_t len, void *dst, size_t cap)
{
	struct zctx *z = zctx_get();
	size_t r;

	if (!z || (!z->c && !(z->c = ZSTD_createCCtx())))
		return -ENOMEM;
	r = ZSTD_compressCCtx(z->c, dst, cap, src, len, level ? level : 1);
	return ZSTD_isError(r) ? -EIO : (long)r;
}

static int zstd_decode(const void *src, size_t len, void *dst, size_t rawlen)
{
	struct zctx *z = zctx_get();
	size_t r;

	if (!z || (!z->d && !(z->d = ZSTD_createDCtx())))
		return -ENOMEM;
	r = ZSTD_decompressDCtx(z->d, dst, rawlen, src, len);
	return (ZSTD_isError(r) || r != rawlen) ? -EBADMSG : 0;
}

static long lz4_encode(int level, const void *src, size_t len, void *dst, size_t cap)
{
	/* LZ4's "level" is its acceleration factor (higher = faster). */
	int r = LZ4_compress_fast(src, dst, (int)len, (int)cap, level ? level : 1);

	return r > 0 ? r : -EIO;
}

long codec_encode(const struct codec_spec *c, const void *src, size_t len, void *dst, size_t cap)
{
	long r;

	switch (c->codec) {
	case CKPT_CODEC_ZLIB:
		r = zlib_encode(c->level, src, len, dst, cap);
		break;
	case CKPT_CODEC_ZSTD:
		r = zstd_encode(c->level, src, len, dst, cap);
		break;
	case CKPT_CODEC_LZ4:
		r = lz4_encode(c->level, src, len, dst, cap);
		break;
	default:
		return -E2BIG;
	}
	if (r >= 0 && (size_t)r >= len)
		return -E2BIG;
	return r;
}

int codec_decode(uint16_t codec, const void *src, size_t len, void *dst, size_t rawlen)
{
	switch (codec) {
	case CKPT_CODEC_NONE:
		if (len != rawlen)
			return -EBADMSG;
		memcpy(dst, src, len);
		return 0;
	case CKPT_CODEC_ZLIB: {
		uLongf out = (uLongf)rawlen;

		if (uncompress(dst, &out, src, (uLong)len) != Z_OK || out != rawlen)
			return -EBADMSG;
		return 0;
	}
	case CKPT_CODEC_ZSTD:
		return zstd_decode(src, len, dst, rawlen);
	case CKPT_CODEC_LZ4:
		if (len > INT32_MAX || rawlen > INT32_MAX ||
		    LZ4_decompress_safe(src, dst, (int)len, (int)rawlen) != (int)rawlen)
			return -EBADMSG;
		return 0;
	}
	return -EBADMSG;
}
