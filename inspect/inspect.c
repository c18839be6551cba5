/*
 * ckpt inspect FILE [--json] (cmd/inspect.c parses the options): what an
 * image holds, for people and scripts.  The image is read once, front to back, so that "-" (a pipe)
 * works: the metadata first, then the page data, of which only the bytes
 * around each thread's PC are kept, and per mapping the number of pages
 * stored.  Everything is checked as ckpt verify checks it.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "image/key.h"
#include "inspect/inspect.h"
#include "common/log.h"
#include "common/util.h"

const char *insp_signal_name(int sig)
{
	static char buf[16];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, sizeof(buf), "SIG%d", sig);
	return buf;
}

int insp_open_file(const char *path)
{
	struct stat st;
	int fd;

	if (path[0] != '/' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	/* O_NONBLOCK: should it have become a FIFO since the stat. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return -1;
	}
	return fd;
}

void insp_vma_perm(const struct img_vma *v, char perm[5])
{
	perm[0] = v->d.prot & 1 ? 'r' : '-';
	perm[1] = v->d.prot & 2 ? 'w' : '-';
	perm[2] = v->d.prot & 4 ? 'x' : '-';
	perm[3] = v->d.flags & CKPT_VMA_SHARED ? 's' : 'p';
	perm[4] = 0;
}

int insp_file_sharer(const struct img *img, const struct img_proc *self, uint32_t id, uint32_t k,
		     int32_t *pid, int *fd)
{
	for (uint32_t i = 0; i < img->h.nprocs; i++) {
		const struct img_proc *q = &img->procs[i];
		int n = q == self ? -1 : img_file_fd(q, id);

		if (n >= 0 && k-- == 0) {
			*pid = q->d.pid;
			*fd = n;
			return 0;
		}
	}
	return -1;
}

int insp_maps_only(const struct img_proc *p, const struct img_file *f)
{
	for (uint32_t i = 0; (f->d.fflags & CKPT_FILEF_MAPPED) && i < p->d.nvmas; i++)
		if ((p->vmas[i].d.flags & CKPT_VMA_MEMFD) && p->vmas[i].d.dev == f->d.dev &&
		    p->vmas[i].d.ino == f->d.ino)
			return 1;
	return 0;
}

/* The mapping's CKPT_VMA_* and CKPT_MADV_* flags as words, comma-separated. */
void insp_vma_flags(const struct img_vma *v, char *buf, size_t len)
{
	static const struct { uint32_t bit; const char *name; } vf[] = {
		{ CKPT_VMA_SHARED, "shared" }, { CKPT_VMA_ANON, "anon" },
		{ CKPT_VMA_FILE, "file" }, { CKPT_VMA_GROWSDOWN, "growsdown" },
		{ CKPT_VMA_HEAP, "heap" }, { CKPT_VMA_STACK, "stack" },
		{ CKPT_VMA_VDSO, "vdso" }, { CKPT_VMA_VVAR, "vvar" },
		{ CKPT_VMA_VVAR_VCLOCK, "vvar_vclock" }, { CKPT_VMA_DELETED, "deleted" },
		{ CKPT_VMA_SKIP, "skip" }, { CKPT_VMA_EXCLUDED, "excluded" },
		{ CKPT_VMA_SHM_ALIAS, "shm-alias" }, { CKPT_VMA_MAYWRITE, "maywrite" },
		{ CKPT_VMA_SYSV, "sysv" }, { CKPT_VMA_MEMFD, "memfd" },
		{ CKPT_VMA_THP, "thp" },
	}, mf[] = {
		{ CKPT_MADV_DONTFORK, "dontfork" }, { CKPT_MADV_DONTDUMP, "dontdump" },
		{ CKPT_MADV_HUGEPAGE, "hugepage" }, { CKPT_MADV_NOHUGEPAGE, "nohugepage" },
		{ CKPT_MADV_WIPEONFORK, "wipeonfork" }, { CKPT_MADV_NORESERVE, "noreserve" },
		{ CKPT_MADV_LOCKED, "locked" }, { CKPT_MADV_MERGEABLE, "mergeable" },
		{ CKPT_MADV_SEALED, "sealed" },
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(vf) + ARRAY_SIZE(mf); i++) {
		int set = i < ARRAY_SIZE(vf) ? v->d.flags & vf[i].bit :
					       v->d.madv & mf[i - ARRAY_SIZE(vf)].bit;
		const char *name = i < ARRAY_SIZE(vf) ? vf[i].name : mf[i - ARRAY_SIZE(vf)].name;

		if (set && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", name);
	}
}

static void prepare_thread(const struct insp *in, const struct img_proc *p,
			   const struct img_thread *t, struct insp_thread *th)
{
	const arch_regs_t *regs = (const arch_regs_t *)t->regsets[0].data;

	th->t = t;
	th->pc = arch_ip(regs);
	th->sp = arch_sp(regs);
	th->syscall = (t->d.flags & CKPT_THREAD_IN_SYSCALL) ? arch_syscall_nr(regs) : -1;
	th->vma = img_find_vma(p, th->pc);
	if (in->opts.symbols)
		insp_symbol(th->vma, th->pc, &th->sym);
	insp_code_want(th);
}

/* Before the page data: everything the metadata alone tells. */
static void prepare(struct insp *in)
{
	in->procs = xzalloc(in->img.h.nprocs * sizeof(*in->procs));
	for (uint32_t i = 0; i < in->img.h.nprocs; i++) {
		struct insp_proc *ip = &in->procs[i];
		const struct img_proc *p = &in->img.procs[i];

		ip->p = p;
		ip->threads = xzalloc(p->d.nthreads * sizeof(*ip->threads));
		ip->stored = xzalloc((p->d.nvmas + 1) * sizeof(*ip->stored));
		ip->handlers = xzalloc(CKPT_NSIG * sizeof(*ip->handlers));
		for (uint32_t k = 0; k < p->d.nthreads; k++)
			prepare_thread(in, p, &p->threads[k], &ip->threads[k]);
		for (int s = 0; s < CKPT_NSIG; s++) {
			uint64_t h = p->sigacts[s].handler;

			if (h > 1 && in->opts.symbols)	/* neither SIG_DFL nor SIG_IGN */
				insp_symbol(img_find_vma(p, h), h, &ip->handlers[s]);
		}
	}
}

/* img_pages_fn: count the block's pages, keep code bytes near PCs. */
static int on_pages(void *arg, uint32_t proc, const struct ckpt_pages *pg, const void *data,
		    size_t len)
{
	struct insp *in = arg;
	struct insp_proc *ip = &in->procs[proc];
	const uint64_t ps = in->img.h.page_size;
	const uint64_t rawlen = pg->npages * ps;
	const struct img_vma *v = img_find_vma(ip->p, pg->addr);	/* checked: found */
	const uint8_t *raw = data;
	uint8_t *buf = NULL;

	if (!(pg->flags & CKPT_PAGES_IN_PARENT))
		ip->stored[v - ip->p->vmas] += pg->npages;
	for (uint32_t k = 0; k < ip->p->d.nthreads; k++) {
		struct insp_thread *th = &ip->threads[k];

		if (!th->code.bytes || th->code.hi <= pg->addr || th->code.lo >= pg->addr + rawlen)
			continue;
		if (pg->flags & CKPT_PAGES_IN_PARENT)
			raw = NULL;
		else if (pg->codec != CKPT_CODEC_NONE && !buf) {
			buf = xmalloc(rawlen);
			raw = img_pages_decode(pg, data, len, buf, rawlen) == 0 ? buf : NULL;
		}
		insp_code_pages(th, pg, raw, ps);
	}
	free(buf);
	return 0;
}

static void insp_free(struct insp *in)
{
	for (uint32_t i = 0; in->procs && i < in->img.h.nprocs; i++) {
		struct insp_proc *ip = &in->procs[i];

		for (uint32_t k = 0; k < ip->p->d.nthreads; k++) {
			free(ip->threads[k].sym.name);
			insp_code_free(&ip->threads[k].code);
		}
		for (int s = 0; s < CKPT_NSIG; s++)
			free(ip->handlers[s].name);
		free(ip->threads);
		free(ip->stored);
		free(ip->handlers);
	}
	free(in->procs);
	img_free(&in->img);
}

int inspect_run(const char *path, const struct inspect_opts *o)
{
	struct insp in = { .path = path, .opts = *o };
	struct img_reader r;
	struct ckpt_section s;
	void *payload = NULL;
	int ret;

	if ((ret = img_key_use_for_reading()) < 0)
		return ret;
	ret = img_load_meta(&r, path, &in.img, &s, &payload);
	if (ret >= 0) {
		prepare(&in);
		ret = img_check_rest(&r, &in.img, &s, payload, ret, IMG_CHECK_DECODE, &in.st, on_pages, &in);
	}
	in.image_bytes = r.off;
	img_reader_close(&r);
	if (ret >= 0) {
		for (uint32_t i = 0; i < in.img.h.nprocs; i++)
			for (uint32_t k = 0; k < in.procs[i].p->d.nthreads; k++)
				insp_code_finish(&in.procs[i].threads[k]);
		if (o->json)
			insp_print_json(&in, stdout);
		else
			insp_print_text(&in, stdout);
		if (fflush(stdout) != 0 || ferror(stdout))
			ret = error_errno(errno, "cannot write the output");
	}
	insp_free(&in);
	return ret;
}
