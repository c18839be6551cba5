/*
 * The page-data codecs (image/codec.c): every codec's round trip, and the
 * zstd contexts a thread makes are freed when the thread ends, so a process
 * that dumps and restores again and again with new worker threads each time
 * does not grow by one context per thread.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/codec.h"
#include "image/format.h"
#include "harness.h"

#define LEN	(256 * 1024)	/* a 64-page chunk, as dump/pagewrite.c encodes */

/* Page-like data: compressible, not trivially. */
static void fill(uint8_t *p, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (i & 64) ? (uint8_t)(i >> 3) : (uint8_t)(x >> 28);
	}
}

/* Encode with c and decode again; 0 if the bytes came back. */
static int round_trip(const struct codec_spec *c, unsigned seed)
{
	size_t cap = codec_bound(c->codec, LEN);
	uint8_t *raw = malloc(LEN), *enc = malloc(cap), *back = malloc(LEN);
	long n;
	int ret = -1;

	if (!raw || !enc || !back)
		goto out;
	fill(raw, LEN, seed);
	n = codec_encode(c, raw, LEN, enc, cap);
	if (n > 0 && codec_decode(c->codec, enc, (size_t)n, back, LEN) == 0 &&
	    !memcmp(raw, back, LEN))
		ret = 0;
out:
	free(raw);
	free(enc);
	free(back);
	return ret;
}

TEST(every_codec_round_trips)
{
	static const char *const specs[] = { "zlib", "zlib:9", "zstd", "zstd:19", "zstd:-5",
					     "lz4", "lz4:8" };

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct codec_spec c;

		ASSERT_EQ(0, codec_parse(specs[i], &c));
		EXPECT_EQ(0, round_trip(&c, (unsigned)i)) {
			TH_LOG("%s", specs[i]);
		}
	}
}

static void *one_dump(void *arg)
{
	struct codec_spec *c = arg;

	return (void *)(intptr_t)round_trip(c, 7);
}

/* Bytes malloc has given out and not had back (every arena, mmapped too). */
static size_t in_use(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/*
 * Thread after thread compresses and decompresses with zstd, then ends,
 * as the workers of one dump after another do.  Before, each left its
 * contexts behind (a __thread pointer has no destructor): at level 19,
 * 5.6 MiB a thread, 90 MiB for the 16.  What malloc holds after the 16 is
 * what it held after the first two, give or take a 20th of one context.
 */
TEST(zstd_contexts_go_with_their_thread)
{
	struct codec_spec c;
	size_t base = 0, now;

	ASSERT_EQ(0, codec_parse("zstd:19", &c));
	for (int i = 0; i < 18; i++) {
		pthread_t t;
		void *r;

		ASSERT_EQ(0, pthread_create(&t, NULL, one_dump, &c));
		ASSERT_EQ(0, pthread_join(t, &r));
		ASSERT_EQ(0, (intptr_t)r);
		if (i == 1)
			base = in_use();
	}
	now = in_use();
	TH_LOG("malloc holds %zu bytes after 2 threads, %zu after 18", base, now);
	EXPECT_LT(now, base + 256 * 1024);
}

TEST_HARNESS_MAIN
