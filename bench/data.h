/*
 * The benchmark's page contents, shared by target.c (which holds them) and
 * limits.c (which compresses the same bytes).  A page's bytes depend only
 * on (kind, page index, generation), so a rewrite gives new contents and
 * both programs see the same data.
 *
 *   random  xorshift64* output: incompressible
 *   text    words from a fixed pseudo-vocabulary with spaces, punctuation,
 *           numbers and line breaks: about as compressible as English
 *           prose or a log file (zstd -1 about 2.5x, lz4 about 2x)
 */
#ifndef BENCH_DATA_H
#define BENCH_DATA_H

#include <stdint.h>
#include <string.h>

#define BENCH_PAGE	4096u
#define VOCAB		2048u

enum { DATA_RANDOM, DATA_TEXT };

static inline uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: a good seed from a counter */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t xs_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

struct vocab {
	char word[VOCAB][16];	/* word[i][0] is its length */
};

static inline void vocab_init(struct vocab *v)
{
	static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz";
	uint64_t s = 0x5eed5eed5eedull;

	for (unsigned i = 0; i < VOCAB; i++) {
		/* Short words are common, as in prose: lengths 1..12. */
		unsigned len = 1 + (unsigned)(xs_next(&s) % 4) + (unsigned)(xs_next(&s) % 5) +
			       (unsigned)(xs_next(&s) % 4);

		v->word[i][0] = (char)len;
		for (unsigned j = 1; j <= len; j++) {
			/* Skewed letter frequencies: the minimum of two draws. */
			unsigned a = (unsigned)(xs_next(&s) % 26), b = (unsigned)(xs_next(&s) % 26);

			v->word[i][j] = letters[a < b ? a : b];
		}
	}
}

static inline void fill_page(void *dst, int kind, const struct vocab *v, uint64_t page,
			     uint64_t gen)
{
	uint64_t s = mix64(page * 0x100000001b3ull + gen) | 1;
	unsigned char *p = dst;

	if (kind == DATA_RANDOM) {
		uint64_t *q = dst;

		for (unsigned i = 0; i < BENCH_PAGE / 8; i++)
			q[i] = xs_next(&s);
		return;
	}
	for (unsigned off = 0, col = 0; off < BENCH_PAGE;) {
		uint64_t r = xs_next(&s);
		/* Zipf-like choice: the square of a uniform draw favours low
		 * indices, so a few words are frequent. */
		uint64_t u = r & 0xffff;
		unsigned idx = (unsigned)((u * u) >> 21) % VOCAB;
		const char *w = v->word[idx];
		unsigned len = (unsigned char)w[0];
		char tmp[32];
		unsigned n = 0;

		if ((r >> 16 & 63) == 0) {
			/* a number now and then */
			unsigned num = (unsigned)(r >> 24) % 100000;

			do {
				tmp[n++] = (char)('0' + num % 10);
				num /= 10;
			} while (num);
		} else {
			memcpy(tmp, w + 1, len);
			n = len;
		}
		switch (r >> 22 & 31) {
		case 0: case 1:
			tmp[n++] = ',';
			break;
		case 2:
			tmp[n++] = '.';
			break;
		}
		col += n + 1;
		tmp[n++] = col > 72 ? (col = 0, '\n') : ' ';
		if (n > BENCH_PAGE - off)
			n = BENCH_PAGE - off;
		memcpy(p + off, tmp, n);
		off += n;
	}
}

#endif
