/*
 * The PT_NOTE segment of a core file (core.h), as the kernel writes it
 * (fs/binfmt_elf.c write_note_info): the first thread's NT_PRSTATUS, then
 * the process-wide NT_PRPSINFO, NT_AUXV and NT_FILE, then that thread's
 * other register notes; then each further thread's NT_PRSTATUS and
 * register notes.  The leader comes first (ckpt's thread 0).  Each note is
 * an Elf64_Nhdr, the name with its NUL, the data, both padded to 4 bytes
 * (writenote()).  Last, the arch's process-wide notes
 * (elf_coredump_extra_notes_write).  Struct layouts: <sys/procfs.h>, which is the kernel's
 * include/linux/elfcore.h on 64-bit Linux.
 *
 * NT_SIGINFO is left out: no signal made this core (pr_cursig is 0 too),
 * and gdb does without it.
 */
#include <assert.h>
#include <elf.h>
#include <gelf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>

#include "arch/arch.h"
#include "common/util.h"
#include "image/core.h"

/* NT_PRSTATUS's pr_reg is the NT_PRSTATUS regset as ckpt dumped it
 * (fill_thread_core_info: regset_get(view->regsets[0], ..., pr_reg)). */
static_assert(sizeof(((struct elf_prstatus *)0)->pr_reg) == sizeof(arch_regs_t),
	      "pr_reg is the general regset");
static_assert(offsetof(struct elf_prstatus, pr_reg) == 112, "elf_prstatus layout (64-bit)");
static_assert(sizeof(struct elf_prpsinfo) == 136, "elf_prpsinfo layout (64-bit)");

struct notes {
	uint8_t *buf;
	size_t len, cap;
};

static void append(struct notes *n, const void *p, size_t len)
{
	if (!len)
		return;
	if (n->len + len + 3 > n->cap) {
		n->cap = MAX(n->cap * 2, n->len + len + 3 + 4096);
		n->buf = xrealloc(n->buf, n->cap);
	}
	memcpy(n->buf + n->len, p, len);
	n->len += len;
}

static void pad4(struct notes *n)
{
	static const uint8_t zeros[3];

	append(n, zeros, ALIGN_UP(n->len, 4u) - n->len);
}

static void add(struct notes *n, const char *name, uint32_t type, const void *desc, size_t len)
{
	GElf_Nhdr h = {
		.n_namesz = (GElf_Word)strlen(name) + 1,
		.n_descsz = (GElf_Word)len,
		.n_type = type,
	};

	append(n, &h, sizeof(h));
	append(n, name, h.n_namesz);
	pad4(n);
	append(n, desc, len);
	pad4(n);
}

/* Signals pending for this thread alone, bit n-1 = signal n (the kernel's
 * p->pending.signal.sig[0], fill_prstatus). */
static uint64_t pending_mask(const struct img_thread *t)
{
	uint64_t mask = 0;

	for (uint32_t i = 0; i < t->d.npending; i++) {
		int32_t signo;

		memcpy(&signo, t->pending[i], sizeof(signo));	/* si_signo */
		if (signo >= 1 && signo <= 64)
			mask |= 1ull << (signo - 1);
	}
	return mask;
}

static void add_prstatus(struct notes *n, const struct img_proc *p, const struct img_thread *t,
			 int fpvalid)
{
	struct elf_prstatus st;

	/* pr_info, pr_cursig: no signal; the times are not in the image. */
	memset(&st, 0, sizeof(st));
	st.pr_sigpend = pending_mask(t);
	st.pr_sighold = t->d.sigmask;
	st.pr_pid = t->d.tid;
	st.pr_ppid = p->d.ppid;
	st.pr_pgrp = p->d.pgid;
	st.pr_sid = p->d.sid;
	memcpy(&st.pr_reg, t->regsets[0].data, sizeof(st.pr_reg));
	st.pr_fpvalid = fpvalid;
	add(n, "CORE", NT_PRSTATUS, &st, sizeof(st));
}

static void add_prpsinfo(struct notes *n, const struct img_proc *p)
{
	size_t len = MIN((size_t)p->d.cmdline_len, (size_t)ELF_PRARGSZ - 1);
	struct elf_prpsinfo ps;

	memset(&ps, 0, sizeof(ps));
	/* The image keeps no scheduler state: the process was running ('R')
	 * unless it was in a job-control stop ('T'); fill_psinfo's "RSDTZW". */
	ps.pr_state = (p->d.flags & CKPT_PROC_STOPPED) ? 3 : 0;
	ps.pr_sname = "RSDTZW"[(int)ps.pr_state];
	ps.pr_uid = p->d.uid[0];
	ps.pr_gid = p->d.gid[0];
	ps.pr_pid = p->d.pid;
	ps.pr_ppid = p->d.ppid;
	ps.pr_pgrp = p->d.pgid;
	ps.pr_sid = p->d.sid;
	memcpy(ps.pr_fname, p->d.comm, MIN(sizeof(ps.pr_fname), sizeof(p->d.comm)) - 1);
	/* The start of the command line, NULs as spaces (fill_psinfo). */
	memcpy(ps.pr_psargs, p->cmdline, len);
	for (size_t i = 0; i < len; i++)
		if (!ps.pr_psargs[i])
			ps.pr_psargs[i] = ' ';
	add(n, "CORE", NT_PRPSINFO, &ps, sizeof(ps));
}

/*
 * NT_FILE (fill_files_note): count, page size, then {start, end, file
 * offset in pages} per file-backed mapping, then their names, each NUL
 * terminated; all longs.  gdb uses it to find what was mapped where.
 */
static void add_files(struct notes *n, const struct img_proc *p, uint64_t ps)
{
	struct notes d = { 0 };
	uint64_t count = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++)
		count += core_has_vma(&p->vmas[i]) && p->vmas[i].path[0] == '/';
	if (!count)
		return;
	append(&d, &count, sizeof(count));
	append(&d, &ps, sizeof(ps));
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		uint64_t e[3] = { v->d.start, v->d.end, v->d.pgoff / ps };

		if (core_has_vma(v) && v->path[0] == '/')
			append(&d, e, sizeof(e));
	}
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		if (core_has_vma(v) && v->path[0] == '/')
			append(&d, v->path, strlen(v->path) + 1);
	}
	add(n, "CORE", NT_FILE, d.buf, d.len);
	free(d.buf);
}

/* A thread's register notes, gathered before its NT_PRSTATUS is written
 * (pr_fpvalid says whether NT_PRFPREG is among them). */
struct regnotes {
	struct notes n;
	int fpvalid;
};

static void add_regnote(void *ctx, uint32_t type, const char *name, const void *data, size_t len)
{
	struct regnotes *r = ctx;

	add(&r->n, name, type, data, len);
	r->fpvalid |= type == NT_PRFPREG;
}

void core_notes(const struct img *img, const struct img_proc *p, uint8_t **buf, size_t *len)
{
	struct notes n = { 0 };
	struct regnotes r = { 0 };

	for (uint32_t i = 0; i < p->d.nthreads; i++) {
		const struct img_thread *t = &p->threads[i];

		r.n.len = 0;
		r.fpvalid = 0;
		arch_core_notes(t->regsets, t->d.nregsets, p->xfeat, p->nxfeat, add_regnote, &r);
		add_prstatus(&n, p, t, r.fpvalid);
		if (i == 0) {
			add_prpsinfo(&n, p);
			if (p->d.auxv_len)
				add(&n, "CORE", NT_AUXV, p->auxv, p->d.auxv_len);
			add_files(&n, p, img->h.page_size);
		}
		append(&n, r.n.buf, r.n.len);
	}
	r.n.len = 0;
	arch_core_proc_notes(p->threads[0].regsets, p->threads[0].d.nregsets, p->xfeat, p->nxfeat,
			     add_regnote, &r);
	append(&n, r.n.buf, r.n.len);
	free(r.n.buf);
	*buf = n.buf;
	*len = n.len;
}
