/*
 * The running MAC of an image (mac.h).  Hash-then-MAC: each payload is
 * reduced to its SHA-256 (metadata) or its block digest (page data after
 * MAC_META, blockmac.h) and only the 56 bytes of section header and
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
	struct img_hash_job j;
};

void img_mac_start(struct img_mac *m, const struct img_key *key, const struct ckpt_header *h)
{
	img_mac_free(m);
	m->key = key;
	img_block_key_init(&m->bk, key, h);
	if (!key)
		return;
	hmac_sha256_init(&m->h, key->k, sizeof(key->k));
	hmac_sha256_update(&m->h, LABEL, 16);
	hmac_sha256_update(&m->h, h, sizeof(*h));
}

static void feed(struct img_mac *m, const struct ckpt_section *s, const uint8_t d[CKPT_DIGEST_LEN],
		 const struct ckpt_digest *e)
{
	if (m->key) {
		hmac_sha256_update(&m->h, s, sizeof(*s));
		hmac_sha256_update(&m->h, d, CKPT_DIGEST_LEN);
	}
	if (!m->record || !e)
		return;
	if (m->nrec == m->rcap) {
		m->rcap = m->rcap ? m->rcap * 2 : 256;
		m->rec = xrealloc(m->rec, m->rcap * sizeof(*m->rec));
	}
	m->rec[m->nrec] = *e;
	memcpy(m->rec[m->nrec++].digest, d, CKPT_DIGEST_LEN);
}

void img_mac_feed(struct img_mac *m, const struct ckpt_section *s, const uint8_t d[CKPT_DIGEST_LEN])
{
	if (m->key)
		feed(m, s, d, NULL);
}

struct par {
	struct img_hash_job *j;
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
		if (w->j[i].bk) {
			struct iovec iov = { (void *)w->j[i].p, w->j[i].len };

			w->j[i].ok = img_block_digest(w->j[i].bk, w->j[i].idx, w->j[i].type, &iov, 1,
						      w->j[i].d) == 0;
		} else {
			sha256(w->j[i].p, w->j[i].len, w->j[i].d);
		}
	}
}

void img_hash_many(struct img_hash_job *j, size_t n, uint64_t bytes)
{
	struct par w = { .j = j, .n = n, .lock = PTHREAD_MUTEX_INITIALIZER };
	static long ncpu;
	pthread_t t[MAX_THREADS];
	int nt = 0;

	/* sysconf reads /sys/devices/system/cpu/online each time (glibc),
	 * which with 1,000 threads was 3,000 opens in the freeze. */
	if (!n)
		return;
	if (!ncpu)
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (bytes >= PAR_BYTES && n > 1)
		for (; nt < MIN(ncpu, MAX_THREADS) - 1 && (size_t)nt < n - 1; nt++)
			if (pthread_create(&t[nt], NULL, hash_worker, &w))
				break;
	hash_worker(&w);	/* this thread too, or alone */
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
}

/* Hash what was deferred (in parallel when it is worth it), feed it. */
static void flush(struct img_mac *m)
{
	struct img_hash_job *j;

	/* Called for every section signed: nothing deferred is the rule. */
	if (!m->npend)
		return;
	j = xmalloc(m->npend * sizeof(*j));
	for (size_t i = 0; i < m->npend; i++)
		j[i] = m->pend[i].j;
	img_hash_many(j, m->npend, m->pend_bytes);
	for (size_t i = 0; i < m->npend; i++)
		feed(m, &m->pend[i].s, j[i].d, NULL);
	free(j);
	m->npend = 0;
	m->pend_bytes = 0;
}

void img_mac_flush(struct img_mac *m)
{
	flush(m);
}

void img_digest_entry(struct ckpt_digest *e, const struct ckpt_section *s, const struct iovec *iov,
		      int iovcnt)
{
	struct ckpt_pages pg = { 0 };
	struct ckpt_align a;
	uint64_t off = 0;

	memset(e, 0, sizeof(*e));
	e->type = s->type;
	e->proc = s->proc;
	e->size = s->size;
	e->payload_crc = s->payload_crc;
	e->crc = s->crc;
	if (s->type == CKPT_SEC_PAGES_ALIGNED) {
		if (!iov_gather(iov, iovcnt, 0, &a, sizeof(a)))
			return;
		off = sizeof(a) + (uint64_t)a.skip;
	}
	if ((s->type == CKPT_SEC_PAGES || s->type == CKPT_SEC_PAGES_ALIGNED) &&
	    iov_gather(iov, iovcnt, off, &pg, sizeof(pg))) {
		e->addr = pg.addr;
		e->npages = pg.npages;
		e->codec = pg.codec;
		e->pflags = pg.flags;
	}
}

void img_mac_section(struct img_mac *m, const struct ckpt_section *s, const struct iovec *iov,
		     int iovcnt, int defer)
{
	uint8_t d[CKPT_DIGEST_LEN];
	struct ckpt_digest e;
	struct sha256 c;

	if (!m->key && !m->record)
		return;
	if (m->record)
		img_digest_entry(&e, s, iov, iovcnt);
	/* deferred: a reader's mapping, never a numbered page block */
	if (defer && iovcnt == 1 && !m->record) {
		if (m->npend == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 256;
			m->pend = xrealloc(m->pend, m->cap * sizeof(*m->pend));
		}
		m->pend[m->npend++] = (struct mac_pend){
			.s = *s, .j = { .p = iov[0].iov_base, .len = iov[0].iov_len },
		};
		m->pend_bytes += iov[0].iov_len;
		return;
	}
	flush(m);
	if (m->record) {
		/* after MAC_META: a page data section, numbered */
		img_block_digest(&m->bk, m->nrec, s->type, iov, iovcnt, d);
		feed(m, s, d, &e);
		return;
	}
	sha256_init(&c);
	for (int i = 0; i < iovcnt; i++)
		sha256_update(&c, iov[i].iov_base, iov[i].iov_len);
	sha256_final(&c, d);
	feed(m, s, d, NULL);
}

void img_mac_block(struct img_mac *m, const struct ckpt_section *s, const struct iovec *iov,
		   int iovcnt, const uint8_t *h)
{
	uint8_t d[CKPT_DIGEST_LEN];
	struct ckpt_digest e;

	if (!m->key)
		return;
	if (!h || !m->record || m->bk.alg != CKPT_DIGEST_POLY1305_AES) {
		img_mac_section(m, s, iov, iovcnt, 0);
		return;
	}
	flush(m);
	img_digest_entry(&e, s, iov, iovcnt);
	img_block_tag(&m->bk, m->nrec, h, d);
	feed(m, s, d, &e);
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
	free(m->rec);
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
