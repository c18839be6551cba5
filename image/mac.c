/*
 * The running MAC of an image (mac.h).  Hash-then-MAC: each payload is
 * reduced to its SHA-256 and only the 56 bytes of section header and
 * digest go through the HMAC, which is what lets the payloads be hashed
 * on several threads and still be fed in their order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "image/mac.h"

#define LABEL		"ckpt image MAC 1"	/* 16 bytes, format.h */
#define PAR_BYTES	(8u << 20)		/* deferred bytes worth threads */
#define MAX_THREADS	16

struct mac_pend {
	struct ckpt_section s;
	const uint8_t *p;
	size_t len;
	uint8_t d[SHA256_LEN];
};

void img_mac_start(struct img_mac *m, const struct img_key *key, const struct ckpt_header *h)
{
	img_mac_free(m);
	m->key = key;
	if (!key)
		return;
	hmac_sha256_init(&m->h, key->k, sizeof(key->k));
	hmac_sha256_update(&m->h, LABEL, 16);
	hmac_sha256_update(&m->h, h, sizeof(*h));
}

static void feed(struct img_mac *m, const struct ckpt_section *s, const uint8_t d[SHA256_LEN])
{
	hmac_sha256_update(&m->h, s, sizeof(*s));
	hmac_sha256_update(&m->h, d, SHA256_LEN);
}

struct par {
	struct mac_pend *pend;
	size_t n, next;
	pthread_mutex_t lock;
};

static void *hash_worker(void *arg)
{
	struct par *w = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&w->lock);
		i = w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->n)
			return NULL;
		sha256(w->pend[i].p, w->pend[i].len, w->pend[i].d);
	}
}

/* Hash what was deferred (in parallel when it is worth it), feed it. */
static void flush(struct img_mac *m)
{
	struct par w = { .pend = m->pend, .n = m->npend, .lock = PTHREAD_MUTEX_INITIALIZER };
	static long ncpu;
	pthread_t t[MAX_THREADS];
	int nt = 0;

	/* Called for every section signed: nothing deferred is the rule, and
	 * sysconf reads /sys/devices/system/cpu/online each time (glibc),
	 * which with 1,000 threads was 3,000 opens in the freeze. */
	if (!m->npend)
		return;
	if (!ncpu)
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (m->pend_bytes >= PAR_BYTES && m->npend > 1)
		for (; nt < MIN(ncpu, MAX_THREADS) - 1 && (size_t)nt < m->npend - 1; nt++)
			if (pthread_create(&t[nt], NULL, hash_worker, &w))
				break;
	hash_worker(&w);	/* this thread too, or alone */
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < m->npend; i++)
		feed(m, &m->pend[i].s, m->pend[i].d);
	m->npend = 0;
	m->pend_bytes = 0;
}

void img_mac_section(struct img_mac *m, const struct ckpt_section *s, const struct iovec *iov,
		     int iovcnt, int defer)
{
	uint8_t d[SHA256_LEN];
	struct sha256 c;

	if (!m->key)
		return;
	if (defer && iovcnt == 1) {
		if (m->npend == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 256;
			m->pend = xrealloc(m->pend, m->cap * sizeof(*m->pend));
		}
		m->pend[m->npend++] = (struct mac_pend){ .s = *s, .p = iov[0].iov_base,
							 .len = iov[0].iov_len };
		m->pend_bytes += iov[0].iov_len;
		return;
	}
	flush(m);
	sha256_init(&c);
	for (int i = 0; i < iovcnt; i++)
		sha256_update(&c, iov[i].iov_base, iov[i].iov_len);
	sha256_final(&c, d);
	feed(m, s, d);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void img_mac_tag(struct img_mac *m, uint32_t type, uint64_t nsections, struct ckpt_mac *out)
{
	struct hmac_sha256 h;
	uint8_t trailer[12];

	memset(out, 0, sizeof(*out));
	out->alg = CKPT_MAC_HMAC_SHA256;
	out->nsections = nsections;
	if (!m->key)
		return;
	flush(m);
	memcpy(out->key_id, m->key->id, sizeof(out->key_id));
	put_le(trailer, type, 4);
	put_le(trailer + 4, nsections, 8);
	h = m->h;
	hmac_sha256_update(&h, trailer, sizeof(trailer));
	hmac_sha256_peek(&h, out->mac);
	memset(&h, 0, sizeof(h));
}

enum img_mac_status img_mac_check(struct img_mac *m, uint32_t type, const struct ckpt_mac *in)
{
	struct ckpt_mac want;

	if (!m->key)
		return IMG_MAC_UNCHECKED;
	if (memcmp(in->key_id, m->key->id, sizeof(in->key_id)))
		return IMG_MAC_OTHER_KEY;
	img_mac_tag(m, type, in->nsections, &want);
	return ct_equal(want.mac, in->mac, sizeof(want.mac)) ? IMG_MAC_OK : IMG_MAC_MISMATCH;
}

void img_mac_free(struct img_mac *m)
{
	free(m->pend);
	memset(m, 0, sizeof(*m));
}

const char *img_mac_status_text(enum img_mac_status st)
{
	switch (st) {
	case IMG_MAC_UNCHECKED:
		return "signed, but this machine's key cannot be read to check it";
	case IMG_MAC_OK:
		return "signed by this machine's key";
	case IMG_MAC_OTHER_KEY:
		return "signed with another machine's key";
	case IMG_MAC_MISMATCH:
		return "signed by this machine's key, but changed since";
	default:
		return "not signed";
	}
}

const char *img_mac_status_word(enum img_mac_status st)
{
	static const char *const w[] = {
		[IMG_MAC_NONE] = "none", [IMG_MAC_UNCHECKED] = "unchecked", [IMG_MAC_OK] = "ok",
		[IMG_MAC_OTHER_KEY] = "other-key", [IMG_MAC_MISMATCH] = "mismatch",
	};

	return (unsigned)st < ARRAY_SIZE(w) ? w[st] : "none";
}
