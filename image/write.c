/* Writing an image (image.h).  Serialises img model structs to sections. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/crc32c.h"
#include "image/image.h"
#include "image/key.h"

#define WBUF_SIZE (1u << 20)

int img_writer_open(struct img_writer *w, const char *path, int no_sync)
{
	memset(w, 0, sizeof(*w));
	w->no_sync = no_sync;
	w->mac.key = img_key_signing();	/* started at the header */
	w->buf = xmalloc(WBUF_SIZE);
	if (!strcmp(path, "-")) {
		w->fd = STDOUT_FILENO;
		w->is_stream = 1;
		w->path = xstrdup("-");
		return 0;
	}
	return img_dest_open(w, path);	/* dest.c: beside FILE, or a stream */
}

void img_writer_touch(struct img_writer *w)
{
	/* Past what it holds: a header or metadata written already stays. */
	if (w->buf)
		memset(w->buf + w->buflen, 0, WBUF_SIZE - w->buflen);
}

static int flush(struct img_writer *w)
{
	int ret;

	if (!w->buflen)
		return 0;
	ret = write_all(w->fd, w->buf, w->buflen);
	if (ret < 0)
		return error_errno(ret, "cannot write \"%s\"", w->path);
	w->written += w->buflen;
	w->buflen = 0;
	return 0;
}

/* Payloads this big go to write(2) straight from where they are: a
 * page block is a MiB, and copying it into the buffer first cost 7% of
 * a dump. */
#define DIRECT_MIN (64u << 10)

static int put(struct img_writer *w, const void *p, size_t len)
{
	int ret;

	/* placing, the file offset is not where the next byte goes */
	if (w->placing)
		return error("\"%s\": a section written while page blocks are placed", w->path);

	if (w->buflen + len > WBUF_SIZE || len >= DIRECT_MIN) {
		ret = flush(w);
		if (ret < 0)
			return ret;
	}
	if (len >= DIRECT_MIN) {
		ret = write_all(w->fd, p, len);
		if (ret < 0)
			return error_errno(ret, "cannot write \"%s\"", w->path);
		w->written += len;
		return 0;
	}
	if (len)	/* p may be NULL then (no timers, no groups) */
		memcpy(w->buf + w->buflen, p, len);
	w->buflen += len;
	return 0;
}

void img_writer_sign(struct img_writer *w, const struct img_key *key)
{
	w->mac.key = key;	/* started at the header */
}

int img_write_header(struct img_writer *w, struct ckpt_header *h)
{
	const struct img_key *key = w->mac.key;

	/* Tests of older images: signed as format 2 was, SHA-256 digests. */
	int v2 = key && w->sign_format2;

	memcpy(h->magic, CKPT_MAGIC, sizeof(h->magic));
	h->version = v2 ? 2 : CKPT_VERSION;
	h->header_size = sizeof(*h);
	h->flags = key ? h->flags | CKPT_HDR_MAC | CKPT_HDR_DIGESTS | CKPT_HDR_BLOCK_MAC :
			 h->flags & ~(CKPT_HDR_MAC | CKPT_HDR_DIGESTS | CKPT_HDR_BLOCK_MAC);
	if (v2)
		h->flags &= ~CKPT_HDR_BLOCK_MAC;
	/* Fresh for each signing write, never the one of an image read: the
	 * page blocks' keys (blockmac.h) must not be those of another image. */
	memset(h->sign_nonce, 0, sizeof(h->sign_nonce));
	if (key && !v2 && getrandom(h->sign_nonce, sizeof(h->sign_nonce), 0) != sizeof(h->sign_nonce))
		return error_errno(errno, "cannot draw random bytes to sign \"%s\"", w->path);
	h->crc = 0;
	h->crc = crc32c(0, h, sizeof(*h));
	img_mac_start(&w->mac, key, h);
	return put(w, h, sizeof(*h));
}

static struct ckpt_section section_header(uint32_t type, uint32_t proc, uint64_t size,
					  uint32_t payload_crc)
{
	struct ckpt_section s = { .type = type, .proc = proc, .size = size,
				  .payload_crc = payload_crc };

	s.crc = crc32c(0, &s, offsetof(struct ckpt_section, crc));
	return s;
}

/*
 * Signing: before a section of this type, MAC_META must be written.
 * Every payload is fed to the MAC as it is written: page data by its
 * block digest (blockmac.h), which the page workers have mostly computed
 * already, while the data was in their cache.
 */
static int before_section(struct img_writer *w, uint32_t type)
{
	if (!w->mac.key || w->meta_mac || type == CKPT_SEC_MAC_META)
		return 0;
	if (type == CKPT_SEC_PAGES || type == CKPT_SEC_HASHES || type == CKPT_SEC_MAC_ALL ||
	    type == CKPT_SEC_END)
		return img_writer_meta_done(w);
	return 0;
}

static int mac_now(const struct img_writer *w, uint32_t type)
{
	return w->mac.key && type != CKPT_SEC_MAC_ALL && type != CKPT_SEC_END;
}

const struct img_block_key *img_writer_block_key(const struct img_writer *w)
{
	return w->mac.key && w->mac.bk.alg == CKPT_DIGEST_POLY1305_AES ? &w->mac.bk : NULL;
}

static int write_section(struct img_writer *w, uint32_t type, uint32_t proc,
			 const struct iovec *iov, int iovcnt, const uint32_t *crc)
{
	struct ckpt_section s;
	uint64_t size = 0;
	uint32_t pcrc = crc ? *crc : 0;
	int i, ret;

	if ((ret = before_section(w, type)) < 0)
		return ret;
	for (i = 0; i < iovcnt; i++) {
		size += iov[i].iov_len;
		if (!crc)
			pcrc = crc32c(pcrc, iov[i].iov_base, iov[i].iov_len);
	}
	s = section_header(type, proc, size, pcrc);
	if (mac_now(w, type))
		img_mac_section(&w->mac, &s, iov, iovcnt, 0);
	ret = put(w, &s, sizeof(s));
	for (i = 0; i < iovcnt && ret == 0; i++)
		ret = put(w, iov[i].iov_base, iov[i].iov_len);
	if (ret == 0)
		w->nsections++;
	return ret;
}

int img_write_section(struct img_writer *w, uint32_t type, uint32_t proc,
		      const struct iovec *iov, int iovcnt)
{
	return write_section(w, type, proc, iov, iovcnt, NULL);
}

int img_writer_meta_done(struct img_writer *w)
{
	struct ckpt_mac mac;
	struct iovec iov = { &mac, sizeof(mac) };
	int ret;

	if (!w->mac.key || w->meta_mac)
		return 0;
	img_mac_tag(&w->mac, CKPT_SEC_MAC_META, w->nsections, &mac);
	if ((ret = write_section(w, CKPT_SEC_MAC_META, 0, &iov, 1, NULL)) < 0)
		return ret;
	w->meta_mac = 1;
	/* From here on each section's digest goes into DIGESTS too. */
	w->mac.record = 1;
	return 0;
}

static const uint8_t zeros[8];

static int write_seccomp(struct img_writer *w, uint32_t idx, const struct img_proc *p)
{
	struct iovec *iov = xmalloc(2 * p->nseccomp * sizeof(*iov));
	int ret;

	for (uint32_t i = 0; i < p->nseccomp; i++) {
		iov[2 * i] = (struct iovec){ (void *)&p->seccomp[i].d, sizeof(p->seccomp[i].d) };
		iov[2 * i + 1] = (struct iovec){ p->seccomp[i].insns,
						 p->seccomp[i].d.len * sizeof(struct ckpt_bpf_insn) };
	}
	ret = img_write_section(w, CKPT_SEC_SECCOMP, idx, iov, 2 * (int)p->nseccomp);
	free(iov);
	return ret;
}

static int write_proc(struct img_writer *w, uint32_t idx, const struct img_proc *p)
{
	struct iovec iov[] = {
		{ (void *)&p->d, sizeof(p->d) },
		{ p->groups, p->d.ngroups * sizeof(uint32_t) },
		{ p->exe, p->d.exe_len },
		{ p->cwd, p->d.cwd_len },
		{ p->cmdline, p->d.cmdline_len },
		{ p->auxv, p->d.auxv_len },
		{ p->pending, p->d.npending * (size_t)CKPT_SIGINFO_SIZE },
		{ p->root, p->d.root_len },
	};
	struct iovec sa = { (void *)p->sigacts, sizeof(p->sigacts) };
	struct iovec tm[] = {
		{ (void *)&p->timers, sizeof(p->timers) },
		{ p->ptimers, p->timers.ntimers * sizeof(*p->ptimers) },
	};
	struct iovec xf = { p->xfeat, p->nxfeat * sizeof(*p->xfeat) };
	struct iovec at[] = {
		{ (void *)&p->attrs, sizeof(p->attrs) },
		{ p->tattrs, p->attrs.nthreads * sizeof(*p->tattrs) },
	};
	struct iovec gu = { p->guards, p->nguards * sizeof(*p->guards) };
	int ret = img_write_section(w, CKPT_SEC_PROC, idx, iov, ARRAY_SIZE(iov));

	if (ret == 0)
		ret = img_write_section(w, CKPT_SEC_SIGACTS, idx, &sa, 1);
	if (ret == 0)
		ret = img_write_section(w, CKPT_SEC_TIMERS, idx, tm, 2);
	if (ret == 0 && p->has_attrs)
		ret = img_write_section(w, CKPT_SEC_ATTRS, idx, at, 2);
	if (ret == 0 && p->nxfeat)
		ret = img_write_section(w, CKPT_SEC_XSAVE_LAYOUT, idx, &xf, 1);
	if (ret == 0 && p->nguards)
		ret = img_write_section(w, CKPT_SEC_GUARDS, idx, &gu, 1);
	if (ret == 0 && p->nseccomp)
		ret = write_seccomp(w, idx, p);
	if (ret == 0 && p->nshms)
		ret = img_write_section(w, CKPT_SEC_SYSV_SHM, idx,
					&(struct iovec){ p->shms, p->nshms * sizeof(*p->shms) }, 1);
	if (ret == 0 && p->has_ctty)
		ret = img_write_section(w, CKPT_SEC_CTTY, idx, (struct iovec[]){
			{ (void *)&p->ctty, sizeof(p->ctty) },
			{ (void *)&p->ctty_tty, sizeof(p->ctty_tty) } }, 2);
	return ret;
}

static int write_thread(struct img_writer *w, uint32_t idx, const struct img_thread *t)
{
	int n = 0, ret;
	struct iovec *iov = xmalloc(sizeof(*iov) * (2 + 3 * t->d.nregsets));

	iov[n++] = (struct iovec){ (void *)&t->d, sizeof(t->d) };
	for (uint32_t i = 0; i < t->d.nregsets; i++) {
		const struct img_regset *rs = &t->regsets[i];

		iov[n++] = (struct iovec){ (void *)rs, 2 * sizeof(uint32_t) };
		iov[n++] = (struct iovec){ rs->data, rs->len };
		iov[n++] = (struct iovec){ (void *)zeros, ALIGN_UP(rs->len, 8u) - rs->len };
	}
	iov[n++] = (struct iovec){ t->pending, t->d.npending * (size_t)CKPT_SIGINFO_SIZE };
	ret = img_write_section(w, CKPT_SEC_THREAD, idx, iov, n);
	free(iov);
	return ret;
}

/* A FILE section, then what it carries, in blocks a reader may hold at once. */
static int write_file(struct img_writer *w, uint32_t idx, const struct img_file *f)
{
	struct iovec iov[] = {
		{ (void *)&f->d, sizeof(f->d) },
		{ f->path, f->d.path_len },
		{ f->state, f->d.state_len },
		{ f->what, f->d.what_len },
	};
	int ret = img_write_section(w, CKPT_SEC_FILE, idx, iov, ARRAY_SIZE(iov));

	for (uint64_t off = 0; !ret && off < f->d.data_len; off += CKPT_MAX_BLOCK / 2) {
		struct ckpt_filedata fd = { .id = f->d.id, .offset = off };
		struct iovec fiov[] = {
			{ &fd, sizeof(fd) },
			{ f->data + off, MIN(f->d.data_len - off, (uint64_t)CKPT_MAX_BLOCK / 2) },
		};
		ret = img_write_section(w, CKPT_SEC_FILEDATA, idx, fiov, 2);
	}
	return ret;
}

int img_write_meta(struct img_writer *w, const struct img *img)
{
	int ret = 0;

	if (img->parent) {
		struct iovec iov = { img->parent, strlen(img->parent) };

		ret = img_write_section(w, CKPT_SEC_PARENT, 0, &iov, 1);
	}
	/* One process alone needs no tree: its image stays as before trees. */
	if (!ret && img->ntasks > 1) {
		struct ckpt_tree t = { .ntasks = img->ntasks };
		struct iovec iov[] = {
			{ &t, sizeof(t) }, { img->tasks, img->ntasks * sizeof(*img->tasks) },
		};

		ret = img_write_section(w, CKPT_SEC_TREE, 0, iov, 2);
	}
	for (uint32_t i = 0; i < img->h.nprocs && !ret; i++) {
		const struct img_proc *p = &img->procs[i];

		ret = write_proc(w, i, p);
		for (uint32_t k = 0; k < p->d.nthreads && !ret; k++)
			ret = write_thread(w, i, &p->threads[k]);
		for (uint32_t k = 0; k < p->d.nvmas && !ret; k++) {
			struct iovec iov[] = {
				{ (void *)&p->vmas[k].d, sizeof(p->vmas[k].d) },
				{ p->vmas[k].path, p->vmas[k].d.path_len },
			};
			ret = img_write_section(w, CKPT_SEC_VMA, i, iov, 2);
		}
		if (!ret && p->ncow) {
			struct iovec iov = { p->cow, p->ncow * sizeof(*p->cow) };

			ret = img_write_section(w, CKPT_SEC_COW, i, &iov, 1);
		}
		/* The files first (every one, with the first process, for now:
		 * an FD names a FILE that came before it), then the fds. */
		for (uint32_t k = 0; i == 0 && k < img->nfiles && !ret; k++)
			ret = write_file(w, i, &img->files[k]);
		for (uint32_t k = 0; k < p->d.nfds && !ret; k++) {
			struct iovec iov = { (void *)&p->fds[k].d, sizeof(p->fds[k].d) };

			ret = img_write_section(w, CKPT_SEC_FD, i, &iov, 1);
		}
		if (!ret && p->nlocks) {
			struct iovec iov = { p->locks, p->nlocks * sizeof(*p->locks) };

			ret = img_write_section(w, CKPT_SEC_LOCKS, i, &iov, 1);
		}
	}
	return ret;
}

int img_write_pages(struct img_writer *w, uint32_t proc, uint64_t addr, uint32_t npages,
		    uint16_t codec, const void *data, size_t len)
{
	struct img_block b = { .pg = { .addr = addr, .npages = npages, .codec = codec },
			       .data = data, .len = len };

	b.crc = crc32c(crc32c(0, &b.pg, sizeof(b.pg)), data, len);
	return img_write_blocks(w, proc, &b, 1);
}

int img_write_pages_crc(struct img_writer *w, uint32_t proc, const struct ckpt_pages *pg,
			const void *data, size_t len, uint32_t crc)
{
	struct img_block b = { .pg = *pg, .data = data, .len = len, .crc = crc };

	return img_write_blocks(w, proc, &b, 1);
}

/* Past r bytes written of the n iovecs at *iov (a short write). */
static void iov_advance(struct iovec **iov, int *n, size_t r)
{
	for (; *n > 0 && r >= (*iov)->iov_len; (*iov)++, (*n)--)
		r -= (*iov)->iov_len;
	if (*n > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + r;
		(*iov)->iov_len -= r;
	}
}

/* All of iov, however many writev calls that takes (iov is used up). */
static int writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, MIN(n, IOV_MAX));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

#define BATCH 64	/* big blocks per writev */

/* Zeros for the skip of aligned sections (< one page). */
static const uint8_t skip_zeros[CKPT_MAX_ALIGN_SKIP];

static int batch_out(struct img_writer *w, struct img_batch *bt)
{
	int ret = writev_all(w->fd, bt->iov, bt->niov);

	if (ret < 0)
		return error_errno(ret, "cannot write \"%s\"", w->path);
	if (bt->with_buf)
		w->buflen = 0;
	w->written += bt->bytes;
	bt->nhdr = bt->niov = bt->with_buf = 0;
	bt->bytes = 0;
	return 0;
}

static void add_iov(struct img_batch *bt, const void *p, size_t len)
{
	if (len) {
		bt->iov[bt->niov++] = (struct iovec){ (void *)p, len };
		bt->bytes += len;
	}
}

/*
 * A big block into the batch: raw data as PAGES_ALIGNED, its data at a
 * page boundary of the file (whole pages into the page cache, and a
 * restore can use them in place); compressed data as PAGES.
 */
static void add_block(struct img_writer *w, struct img_batch *bt, uint32_t proc,
		      const struct img_block *b)
{
	const size_t hs = sizeof(struct ckpt_section), ps = (size_t)getpagesize();
	uint64_t at;
	uint32_t crc = b->crc;
	int aligned = b->pg.codec == CKPT_CODEC_NONE;

	if (!bt->niov) {
		bt->at = w->written;
		if (w->buflen) {
			add_iov(bt, w->buf, w->buflen);
			bt->with_buf = 1;
		}
	}
	at = bt->at + bt->bytes;
	bt->hdr[bt->nhdr].pg = b->pg;
	if (aligned) {
		struct ckpt_align *a = &bt->hdr[bt->nhdr].a;
		size_t before = sizeof(*a) + sizeof(b->pg);

		*a = (struct ckpt_align){ .skip = (uint32_t)((ps - (at + hs + before) % ps) % ps) };
		/* CRC(a, zeros, pg, data) from CRC(pg, data): prefix, then joined. */
		crc = crc32c_combine(crc32c(crc32c(0, a, sizeof(*a)), skip_zeros, a->skip), crc,
				     sizeof(b->pg) + b->len);
		bt->hdr[bt->nhdr].s = section_header(CKPT_SEC_PAGES_ALIGNED, proc,
						     before + a->skip + b->len, crc);
		add_iov(bt, &bt->hdr[bt->nhdr].s, hs + sizeof(*a));
		add_iov(bt, skip_zeros, a->skip);
		add_iov(bt, &bt->hdr[bt->nhdr].pg, sizeof(b->pg));
		if (mac_now(w, CKPT_SEC_PAGES_ALIGNED)) {
			struct iovec piov[] = { { a, sizeof(*a) }, { (void *)skip_zeros, a->skip },
						{ (void *)&b->pg, sizeof(b->pg) }, { (void *)b->data, b->len } };

			img_mac_block(&w->mac, &bt->hdr[bt->nhdr].s, piov, 4, b->hashed ? b->hash : NULL);
		}
	} else {
		bt->hdr[bt->nhdr].s = section_header(CKPT_SEC_PAGES, proc, sizeof(b->pg) + b->len, crc);
		add_iov(bt, &bt->hdr[bt->nhdr].s, hs);
		add_iov(bt, &bt->hdr[bt->nhdr].pg, sizeof(b->pg));
		if (mac_now(w, CKPT_SEC_PAGES)) {
			struct iovec piov[] = { { (void *)&b->pg, sizeof(b->pg) },
						{ (void *)b->data, b->len } };

			img_mac_block(&w->mac, &bt->hdr[bt->nhdr].s, piov, 2, b->hashed ? b->hash : NULL);
		}
	}
	add_iov(bt, b->data, b->len);
	bt->nhdr++;
}

int img_write_blocks(struct img_writer *w, uint32_t proc, const struct img_block *b, size_t n)
{
	struct img_batch bt = { .nhdr = 0 };
	int ret = 0;

	static_assert(offsetof(typeof(bt.hdr[0]), a) == sizeof(struct ckpt_section),
		      "no padding between a section header and its ckpt_align");
	if ((ret = before_section(w, CKPT_SEC_PAGES)) < 0)
		return ret;
	for (size_t k = 0; k < n && ret == 0; k++, b++) {
		if (b->len < DIRECT_MIN) {
			/* Small (IN_PARENT, compressed well): through the buffer,
			 * after what is waiting. */
			struct ckpt_section s = section_header(CKPT_SEC_PAGES, proc,
							       sizeof(b->pg) + b->len, b->crc);
			struct iovec piov[] = { { (void *)&b->pg, sizeof(b->pg) },
						{ (void *)b->data, b->len } };

			if (mac_now(w, CKPT_SEC_PAGES))
				img_mac_block(&w->mac, &s, piov, 2, b->hashed ? b->hash : NULL);

			if (bt.niov && (ret = batch_out(w, &bt)) < 0)
				break;
			if ((ret = put(w, &s, sizeof(s))) < 0 || (ret = put(w, &b->pg, sizeof(b->pg))) < 0 ||
			    (ret = put(w, b->data, b->len)) < 0)
				break;
		} else {
			add_block(w, &bt, proc, b);
			if (bt.nhdr == BATCH && (ret = batch_out(w, &bt)) < 0)
				break;
		}
		w->nsections++;
		if (!(b->pg.flags & CKPT_PAGES_IN_PARENT)) {
			w->npages += b->pg.npages;
			w->raw_bytes += (uint64_t)b->pg.npages * (uint64_t)getpagesize();
			w->stored_bytes += b->len;
		}
	}
	return ret == 0 && bt.niov ? batch_out(w, &bt) : ret;
}

/* A small block (compressed, or a few pages): PAGES, not aligned, as
 * img_write_blocks puts it through the buffer. */
static void add_small(struct img_writer *w, struct img_batch *bt, uint32_t proc,
		      const struct img_block *b)
{
	struct ckpt_section *s = &bt->hdr[bt->nhdr].s;

	*s = section_header(CKPT_SEC_PAGES, proc, sizeof(b->pg) + b->len, b->crc);
	bt->hdr[bt->nhdr].pg = b->pg;
	if (mac_now(w, CKPT_SEC_PAGES)) {
		struct iovec piov[] = { { (void *)&b->pg, sizeof(b->pg) },
					{ (void *)b->data, b->len } };

		img_mac_block(&w->mac, s, piov, 2, b->hashed ? b->hash : NULL);
	}
	add_iov(bt, s, sizeof(*s));
	add_iov(bt, &bt->hdr[bt->nhdr].pg, sizeof(b->pg));
	add_iov(bt, b->data, b->len);
	bt->nhdr++;
}

int img_writer_place(struct img_writer *w, int on)
{
	int ret;

	if (!on) {
		w->placing = 0;
		if (lseek(w->fd, (off_t)w->written, SEEK_SET) < 0)
			return error_errno(errno, "cannot seek in \"%s\"", w->path);
		return 0;
	}
	if (w->is_stream)
		return error("\"%s\": page blocks placed in a stream", w->path);
	if ((ret = img_writer_meta_done(w)) < 0 || (ret = flush(w)) < 0)
		return ret;
	w->placing = 1;
	return 0;
}

int img_place_blocks(struct img_writer *w, uint32_t proc, const struct img_block *b, size_t n,
		     struct img_batch *bt)
{
	bt->nhdr = bt->niov = bt->with_buf = 0;
	bt->at = w->written;
	bt->bytes = 0;
	if (!w->placing || n > IMG_BATCH_MAX)
		return error("\"%s\": %zu page blocks placed at once", w->path, n);
	for (size_t k = 0; k < n; k++, b++) {
		if (b->len < DIRECT_MIN)
			add_small(w, bt, proc, b);
		else
			add_block(w, bt, proc, b);
		w->nsections++;
		if (!(b->pg.flags & CKPT_PAGES_IN_PARENT)) {
			w->npages += b->pg.npages;
			w->raw_bytes += (uint64_t)b->pg.npages * (uint64_t)getpagesize();
			w->stored_bytes += b->len;
		}
	}
	w->written += bt->bytes;
	return 0;
}

int img_batch_write(struct img_writer *w, const struct img_batch *bt)
{
	struct iovec iov[4 * IMG_BATCH_MAX + 1];
	struct iovec *v = iov;
	int n = bt->niov;
	uint64_t at = bt->at;

	memcpy(iov, bt->iov, (size_t)n * sizeof(*iov));
	while (n > 0) {
		ssize_t r = pwritev(w->fd, v, MIN(n, IOV_MAX), (off_t)at);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		at += (uint64_t)r;
		iov_advance(&v, &n, (size_t)r);
	}
	return 0;
}

int img_writer_reserve(struct img_writer *w, uint64_t len)
{
	struct statfs st;

	/* Best effort: a filesystem without fallocate just allocates as the
	 * data comes; a full one will say so at write().  Pages that turn
	 * out zero are not written, so never take more than half of what is
	 * free: the guess must not starve anyone else of space meanwhile. */
	if (w->is_stream || !len || fstatfs(w->fd, &st) < 0 ||
	    len > (uint64_t)st.f_bavail * (uint64_t)st.f_bsize / 2)
		return 0;
	if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)(w->written + w->buflen), (off_t)len) < 0)
		return 0;
	w->reserved = 1;
	return 1;
}

/*
 * The table of what came after MAC_META (format.h, struct ckpt_digest),
 * right before MAC_ALL: fed to the MAC like any section, so MAC_ALL
 * vouches for it, and a lazy restore checks MAC_ALL over it alone.
 */
static int write_digests(struct img_writer *w)
{
	struct ckpt_digests d = { .alg = w->mac.bk.alg };
	struct iovec iov[2];

	img_mac_flush(&w->mac);
	w->mac.record = 0;
	d.count = w->mac.nrec;
	if (d.count > CKPT_MAX_DIGESTS)
		return error("\"%s\": too many page data sections to sign (%llu, at most %u)", w->path,
			     (unsigned long long)d.count, CKPT_MAX_DIGESTS);
	iov[0] = (struct iovec){ &d, sizeof(d) };
	iov[1] = (struct iovec){ w->mac.rec, w->mac.nrec * sizeof(*w->mac.rec) };
	return write_section(w, CKPT_SEC_DIGESTS, 0, iov, 2, NULL);
}

static int write_mac_all(struct img_writer *w)
{
	struct ckpt_mac mac;
	struct iovec iov = { &mac, sizeof(mac) };
	int ret;

	if (!w->mac.key)
		return 0;
	if ((ret = img_writer_meta_done(w)) < 0)
		return ret;
	if ((ret = write_digests(w)) < 0)
		return ret;
	img_mac_tag(&w->mac, CKPT_SEC_MAC_ALL, w->nsections, &mac);
	return write_section(w, CKPT_SEC_MAC_ALL, 0, &iov, 1, NULL);
}

#define PUSH_CHUNK (8ull << 20)

void img_writer_push_to(struct img_writer *w, uint64_t upto)
{
	/* Best effort: errors show at the fsync.  Two chunks in flight at
	 * most, the older waited for (sync_file_range(2), "write-behind"). */
	if (!w->writebehind || w->is_stream || w->no_sync)
		return;
	while (upto >= w->pushed + PUSH_CHUNK) {
		sync_file_range(w->fd, (off_t)w->pushed, (off_t)PUSH_CHUNK, SYNC_FILE_RANGE_WRITE);
		if (w->pushed >= PUSH_CHUNK)
			sync_file_range(w->fd, (off_t)(w->pushed - PUSH_CHUNK), (off_t)PUSH_CHUNK,
					SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					SYNC_FILE_RANGE_WAIT_AFTER);
		w->pushed += PUSH_CHUNK;
	}
}

uint64_t img_writer_on_disk(const struct img_writer *w)
{
	/* (no write-behind: nothing waits for the disk before the end) */
	if (!w->writebehind || w->is_stream || w->no_sync)
		return UINT64_MAX;
	/* img_writer_push_to waited for all but the last chunk it started */
	return w->pushed >= PUSH_CHUNK ? w->pushed - PUSH_CHUNK : 0;
}

void img_writer_push(struct img_writer *w)
{
	img_writer_push_to(w, w->written);
}

int img_writer_finish(struct img_writer *w)
{
	struct ckpt_end end = { 0 };
	struct iovec iov = { &end, sizeof(end) };
	int ret = write_mac_all(w);

	end.nsections = w->nsections;
	end.npages = w->npages;
	end.raw_bytes = w->raw_bytes;
	if (ret == 0)
		ret = img_write_section(w, CKPT_SEC_END, 0, &iov, 1);

	if (ret == 0)
		ret = flush(w);
	if (ret < 0)
		return ret;
	/* Give back what was reserved and not used (compressed data, zero
	 * pages): ext4 and xfs free blocks past the end only on truncate. */
	if (w->reserved && ftruncate(w->fd, (off_t)w->written) < 0)
		return error_errno(errno, "cannot truncate \"%s\"", w->path);
	if (!w->no_sync && fsync(w->fd) < 0 && !(w->is_stream && (errno == EINVAL || errno == EROFS)))
		return error_errno(errno, "cannot fsync \"%s\"", w->path);
	if (w->is_stream)
		return 0;
	return img_dest_commit(w);
}

void img_writer_close(struct img_writer *w)
{
	img_dest_abandon(w);
	free(w->buf);
	w->buf = NULL;
	free(w->path);
	w->path = NULL;
	img_mac_free(&w->mac);
}
