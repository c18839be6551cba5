/*
 * The stub's program: every syscall the restored process must make for
 * itself, in order, per thread (image/stub-abi.h).  Pointers go into a
 * data area and are kept home-relative until plan_place() has chosen the
 * home address; plan_serialise() then relocates them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "image/crc32c.h"
#include "ptrace/tracee.h"
#include "restore/lazy.h"
#include "restore/restore.h"
#include "restore/trust.h"

#define STACK_SIZE	(16u << 10)
#define R0 1u		/* reloc bits: a[i] is a home offset */
#define R1 2u
#define R2 4u
#define R3 8u
#define R4 16u

/* Data offsets holding home-relative pointers (prctl_mm_map.auxv). */
static uint64_t *dreloc;
static size_t ndreloc;

static struct stub_op *emit(struct plan *pl, uint32_t ti, uint32_t kind, uint32_t flags, long nr,
			    uint64_t reloc, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			    uint64_t a4, uint64_t a5)
{
	struct plan_thread *t = &pl->t[pl->base + ti];
	struct stub_op *op;

	if (t->nops == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->ops = xrealloc(t->ops, t->cap * sizeof(*t->ops));
		t->reloc = xrealloc(t->reloc, t->cap * sizeof(*t->reloc));
		t->what = xrealloc(t->what, t->cap * sizeof(*t->what));
	}
	t->what[t->nops] = NULL;
	op = &t->ops[t->nops];
	*op = (struct stub_op){ .kind = kind, .flags = flags, .nr = nr, .a = { a0, a1, a2, a3, a4, a5 } };
	t->reloc[t->nops++] = reloc;
	return op;
}

/* Describe the op just emitted on thread ti (for error messages). */
__attribute__((format(printf, 3, 0)))
static void vwhat(struct plan *pl, uint32_t ti, const char *fmt, va_list ap)
{
	struct plan_thread *t = &pl->t[pl->base + ti];
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	free(t->what[t->nops - 1]);
	t->what[t->nops - 1] = s;
}

#define what(...) plan_what(__VA_ARGS__)

#define SYS(pl, ti, nr, ...)		emit(pl, ti, STUB_OP_SYSCALL, 0, nr, 0, __VA_ARGS__)
#define SYSF(pl, ti, fl, nr, ...)	emit(pl, ti, STUB_OP_SYSCALL, fl, nr, 0, __VA_ARGS__)
#define SYSR(pl, ti, fl, rl, nr, ...)	emit(pl, ti, STUB_OP_SYSCALL, fl, nr, rl, __VA_ARGS__)

/* Copy len bytes into the data area; returns their home offset. */
static uint64_t blob(struct plan *pl, const void *p, size_t len)
{
	size_t at = ALIGN_UP(pl->datalen, 8u);

	if (at + len > pl->datacap) {
		pl->datacap = MAX(pl->datacap * 2, at + len + 4096);
		pl->data = xrealloc(pl->data, pl->datacap);
	}
	memset(pl->data + pl->datalen, 0, at - pl->datalen);
	memcpy(pl->data + at, p, len);
	pl->datalen = at + len;
	return pl->data_off + at;
}

/* For the other parts of the plan (attrs.c): one syscall op, its data,
 * what it does. */
void plan_op(struct plan *pl, uint32_t ti, uint32_t flags, uint64_t reloc, long nr, uint64_t a0,
	     uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	emit(pl, ti, STUB_OP_SYSCALL, flags, nr, reloc, a0, a1, a2, a3, a4, a5);
}

uint64_t plan_data(struct plan *pl, const void *p, size_t len)
{
	return blob(pl, p, len);
}

uint64_t plan_data_reloc(struct plan *pl, const void *p, size_t len, size_t ptr_at)
{
	uint64_t off = blob(pl, p, len);

	dreloc = xrealloc(dreloc, (ndreloc + 1) * sizeof(*dreloc));
	dreloc[ndreloc++] = off - pl->data_off + ptr_at;
	return off;
}

void plan_what(struct plan *pl, uint32_t ti, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwhat(pl, ti, fmt, ap);
	va_end(ap);
}

static int is_special(const char *name)
{
	return !strcmp(name, "[vdso]") || !strcmp(name, "[vvar]") || !strcmp(name, "[vvar_vclock]");
}

static uint32_t special_flag(const char *name)
{
	return !strcmp(name, "[vdso]") ? CKPT_VMA_VDSO :
	       !strcmp(name, "[vvar]") ? CKPT_VMA_VVAR : CKPT_VMA_VVAR_VCLOCK;
}

static const struct img_vma *image_special(const struct img_proc *p, uint32_t flag)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		if (p->vmas[i].d.flags & flag)
			return &p->vmas[i];
	return NULL;
}

/* The stub's vdso is ours (same kernel): compare its code with the image's. */
static int check_vdso_code(const struct img_vma *iv)
{
	const void *mine = (const void *)getauxval(AT_SYSINFO_EHDR);
	uint64_t len = iv->d.end - iv->d.start;

	if (!mine || crc32c(0, mine, (size_t)len) != iv->d.crc)
		return error("the vdso of this kernel differs from the image's: cannot restore here "
			     "(the image was made on another kernel)");
	return 0;
}

/*
 * The stub's [vvar]/[vvar_vclock]/[vdso] must land where the image had
 * them, with the same sizes and the same distances between them (vdso
 * code reaches vvar PC-relative).  Otherwise we refuse: the process's
 * saved return addresses and pointers into the vdso would be wrong.
 */
static int check_specials(const struct img_proc *p, const struct stub_map *m, size_t n)
{
	const struct img_vma *iv = image_special(p, CKPT_VMA_VDSO);
	uint64_t sv = 0;
	int nstub = 0, nimg = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++)
		nimg += !!(p->vmas[i].d.flags & CKPT_VMA_SPECIAL);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].name, "[vdso]"))
			sv = m[i].start;
	for (size_t i = 0; i < n; i++) {
		const struct img_vma *v;

		if (!is_special(m[i].name))
			continue;
		nstub++;
		v = image_special(p, special_flag(m[i].name));
		if (!nimg)
			continue;
		if (!v || !iv || !sv || v->d.end - v->d.start != m[i].end - m[i].start ||
		    v->d.start - iv->d.start != m[i].start - sv)
			return error("the vdso layout of this kernel differs from the image's (%s): cannot restore here",
				     m[i].name);
	}
	if (nimg && nimg != nstub)
		return error("the vdso layout of this kernel differs from the image's: cannot restore here");
	return iv ? check_vdso_code(iv) : 0;
}

/* fd: what it is mapped from (a file, a memfd, a shared object), or -1. */
static uint64_t vma_mmap_flags(const struct img_vma *v, int fd)
{
	uint64_t f = MAP_FIXED | ((v->d.flags & CKPT_VMA_SHARED) ? MAP_SHARED : MAP_PRIVATE);

	if (fd < 0)
		f |= MAP_ANONYMOUS;
	if (v->d.flags & CKPT_VMA_GROWSDOWN)
		f |= MAP_GROWSDOWN;
	if (v->d.madv & CKPT_MADV_NORESERVE)
		f |= MAP_NORESERVE;
	return f;
}

static int restored(const struct img_vma *v)
{
	return !(v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL));
}

/* Pages get written into the VMA before its final protection is set. */
static uint32_t initial_prot(const struct img_vma *v)
{
	if (v->d.flags & CKPT_VMA_SYSV)	/* attached writable (restore/sysv.c) */
		return v->d.prot | PROT_READ | PROT_WRITE;
	if (v->d.npages && !((v->d.flags & CKPT_VMA_SHARED) && (v->d.flags & (CKPT_VMA_FILE | CKPT_VMA_MEMFD))))
		return v->d.prot | PROT_READ | PROT_WRITE;
	return v->d.prot;
}

struct range {
	uint64_t start, end;
};

/* mlock: as root, beyond RLIMIT_MEMLOCK (CAP_IPC_LOCK, mlock(2)). */
static void plan_lock(struct plan *pl, uint32_t ti, const struct img_vma *v)
{
	if (!(v->d.madv & CKPT_MADV_LOCKED) || !restored(v))
		return;
	/*
	 * mlock2(MLOCK_ONFAULT): only what is or will be faulted in.  A
	 * PROT_NONE mapping (a thread stack's guard under mlockall) is
	 * locked, but mlock without ONFAULT then fails ENOMEM all the same:
	 * it cannot fault in what may not be touched (mm/gup.c
	 * __mm_populate, mm/mlock.c).  So ONFAULT first, which fails only
	 * where locking does (RLIMIT_MEMLOCK), then without it, which only
	 * clears the ONFAULT flag there: its ENOMEM says nothing lost.
	 */
	int none = v->d.prot == PROT_NONE && !(v->d.madv & CKPT_MADV_LOCKONFAULT);

	SYSF(pl, ti, STUB_OPF_MAYFAIL, SYS_mlock2, v->d.start, v->d.end - v->d.start,
	     v->d.madv & CKPT_MADV_LOCKONFAULT || none ? MLOCK_ONFAULT : 0, 0, 0, 0);
	what(pl, ti, "lock %#lx-%#lx in memory", (unsigned long)v->d.start, (unsigned long)v->d.end);
	if (none)
		SYSF(pl, ti, STUB_OPF_MAYFAIL | STUB_OPF_IFOK, SYS_mlock2, v->d.start,
		     v->d.end - v->d.start, 0, 0, 0, 0);
}

/*
 * mseal(2) (Linux >= 6.10): a sealed mapping can no longer be unmapped,
 * moved, remapped over or have its protection changed, so the process's
 * last ops, once every mapping is made, protected, advised and locked.
 * (Not filled lazily: lazy_vma.)
 */
static void plan_seals(struct plan *pl, const struct img_proc *p)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		if (!(v->d.madv & CKPT_MADV_SEALED) || !restored(v))
			continue;
		SYS(pl, 0, SYS_mseal, v->d.start, v->d.end - v->d.start, 0, 0, 0, 0);
		what(pl, 0, "seal %#lx-%#lx (mseal)", (unsigned long)v->d.start, (unsigned long)v->d.end);
	}
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The pieces of [a, b) outside the sorted, disjoint ranges k[0..n): at
 * most n + 1, into out. */
static size_t pieces(uint64_t a, uint64_t b, const struct range *k, size_t n, struct range *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n && a < b; i++) {
		if (k[i].end <= a || k[i].start >= b)
			continue;
		if (k[i].start > a)
			out[m++] = (struct range){ a, k[i].start };
		a = k[i].end;
	}
	if (a < b)
		out[m++] = (struct range){ a, b };
	return m;
}

/*
 * A child made by a fork keeps of its parent's memory the parts that
 * hold pages they still share (its COW runs, docs/trees.md 3.3): each the
 * overlap of a mapping of its own with a compatible one of its parent.
 * -1 when a run lies outside any such part (a damaged image).
 */
static ssize_t plan_keep(const struct img_proc *c, const struct img_proc *q, struct range **out)
{
	const uint64_t ps = (uint64_t)getpagesize();
	struct range *k = xzalloc((c->ncow + 1) * sizeof(*k));
	size_t n = 0;

	for (uint32_t r = 0; r < c->ncow; r++) {
		uint64_t a = c->cow[r].addr, b = a + c->cow[r].npages * ps;
		const struct img_vma *v = img_find_vma(c, a), *u = img_find_vma(q, a);
		struct range piece;

		if (n && a < k[n - 1].end) {
			if (b > k[n - 1].end)
				goto bad;
			continue;
		}
		if (!v || !u || !restored(v) || !restored(u) || !img_cow_compatible(v, u))
			goto bad;
		piece = (struct range){ MAX(v->d.start, u->d.start), MIN(v->d.end, u->d.end) };
		if (b > piece.end)
			goto bad;
		k[n++] = piece;
	}
	*out = k;
	return (ssize_t)n;
bad:
	free(k);
	return -1;
}

/* In a kept part: what is not a COW run dropped (it reads as zero, or as
 * the file, as it did in the child), the part writable for the fill. */
static void plan_kept(struct plan *pl, const struct img_proc *p, const struct range *k, size_t nk)
{
	const uint64_t ps = (uint64_t)getpagesize();

	for (size_t i = 0; i < nk; i++) {
		const struct img_vma *v = img_find_vma(p, k[i].start);
		uint64_t at = k[i].start;

		SYS(pl, 0, SYS_mprotect, k[i].start, k[i].end - k[i].start, initial_prot(v), 0, 0, 0);
		what(pl, 0, "protect %#lx-%#lx, kept from the parent", (unsigned long)k[i].start,
		     (unsigned long)k[i].end);
		for (uint32_t r = 0; r <= p->ncow && at < k[i].end; r++) {
			uint64_t a = r < p->ncow ? p->cow[r].addr : k[i].end;

			if (a < at || a > k[i].end)
				continue;
			if (a > at)
				SYS(pl, 0, SYS_madvise, at, a - at, MADV_DONTNEED, 0, 0, 0);
			at = r < p->ncow ? a + p->cow[r].npages * ps : k[i].end;
		}
	}
}

/* A pointer at data offset at (home-relative) to relocate. */
static void data_reloc(struct plan *pl, uint64_t at)
{
	dreloc = xrealloc(dreloc, (ndreloc + 1) * sizeof(*dreloc));
	dreloc[ndreloc++] = at - pl->data_off;
}

/* recvmsg() of message k of the socket: one byte and n descriptors. */
static void plan_receive(struct plan *pl, const struct spawn_fds *sf, int k, int n)
{
	const size_t ctl = CMSG_SPACE(MAP_FDS_PER_MSG * sizeof(int));
	struct iovec iov = { 0 };
	struct msghdr m = { 0 };
	uint64_t byte, ctl_off, iov_off, msg_off;
	static const uint8_t zeros[CMSG_SPACE(MAP_FDS_PER_MSG * sizeof(int))];

	byte = blob(pl, zeros, 8);
	ctl_off = blob(pl, zeros, ctl);
	iov.iov_base = (void *)(uintptr_t)byte;
	iov.iov_len = 1;
	iov_off = blob(pl, &iov, sizeof(iov));
	data_reloc(pl, iov_off + offsetof(struct iovec, iov_base));
	m.msg_iov = (void *)(uintptr_t)iov_off;
	m.msg_iovlen = 1;
	m.msg_control = (void *)(uintptr_t)ctl_off;
	m.msg_controllen = ctl;
	msg_off = blob(pl, &m, sizeof(m));
	data_reloc(pl, msg_off + offsetof(struct msghdr, msg_iov));
	data_reloc(pl, msg_off + offsetof(struct msghdr, msg_control));
	SYSR(pl, 0, 0, R1, SYS_recvmsg, (uint64_t)sf->sock_slot, msg_off, MSG_CMSG_CLOEXEC, 0, 0, 0);
	what(pl, 0, "receive message %d of the mapped files (%d files)", k + 1, n);
	pl->recv_ctl = xrealloc(pl->recv_ctl, (pl->nrecv + 1) * sizeof(*pl->recv_ctl));
	pl->recv_ctl[pl->nrecv++] = ctl_off;
}

/*
 * Huge-page advice as soon as the mapping is made, not with the rest after
 * the fill: the populate below and the fill fault pages in, and a fault
 * in a mapping that may have transparent huge pages (THP "always", or
 * MADV_HUGEPAGE) takes a whole 2 MiB page (do_huge_pmd_anonymous_page,
 * mm/huge_memory.c), which advice given later does not undo.  A mapping
 * the process kept to small pages (MADV_NOHUGEPAGE) would come back 512
 * times as resident where it had one page written, and one it asked huge
 * pages for would come back without.  (PR_SET_THP_DISABLE likewise comes
 * first, restore/attrs.c.)  A forked child inherits its parent's advice
 * on what it keeps of the parent's mappings.
 */
static void plan_thp_advice(struct plan *pl, const struct img_vma *v)
{
	int advice = (v->d.madv & CKPT_MADV_HUGEPAGE) ? MADV_HUGEPAGE :
		     (v->d.madv & CKPT_MADV_NOHUGEPAGE) ? MADV_NOHUGEPAGE : 0;

	if (advice)
		SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_madvise, v->d.start, v->d.end - v->d.start,
		     (uint64_t)advice, 0, 0, 0);
}

/* One mapping, from fd (-1: anonymous), but for the parts of it a forked
 * child keeps (pc: room for nkeep + 1 pieces). */
static void map_vma(struct plan *pl, const struct img_vma *v, int fd, const struct range *keep,
		    size_t nkeep, struct range *pc)
{
	size_t np = pieces(v->d.start, v->d.end, keep, nkeep, pc);

	for (size_t k = 0; k < np; k++) {
		SYS(pl, 0, SYS_mmap, pc[k].start, pc[k].end - pc[k].start, initial_prot(v),
		    vma_mmap_flags(v, fd), (uint64_t)(int64_t)fd,
		    fd >= 0 ? v->d.pgoff + (pc[k].start - v->d.start) : 0);
		what(pl, 0, "map %#lx-%#lx %s", (unsigned long)pc[k].start, (unsigned long)pc[k].end,
		     v->path[0] ? v->path : "(anonymous)");
	}
	plan_thp_advice(pl, v);
	/* Mostly to be filled: fault it all in at once here, not page by
	 * page under process_vm_writev (a third of a restore).  Not what is
	 * kept from the parent: that would copy what is shared; not what
	 * userfaultfd fills (a page there must be missing). */
	if (np == 1 && pc[0].start == v->d.start && pc[0].end == v->d.end &&
	    v->d.npages * 4096 >= (v->d.end - v->d.start) / 2 && (initial_prot(v) & PROT_WRITE) &&
	    !(v->d.flags & (CKPT_VMA_FILE | CKPT_VMA_MEMFD)) && !(pl->uffd && lazy_vma(v)))
		SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_madvise, v->d.start, v->d.end - v->d.start,
		     23 /* MADV_POPULATE_WRITE, Linux 5.14 */, 0, 0, 0);
}

/* A slot of the process's own to close once its mappings are made: not
 * one of a tree's slots, which it holds until its children are made (they
 * inherit them, and tree.c tree_recv_slots counts on every one). */
static void close_own(struct plan *pl, const struct spawn_fds *sf, int fd)
{
	if (fd >= 0 && (!sf->extra_base || fd < sf->extra_base))
		SYS(pl, 0, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
}

/*
 * Every mapping at its place: anonymous ones, those of the process's
 * memfds and shared objects first, then the files, message by message
 * (mapfiles.c): receive one, map what needs its files, close them, so
 * that the stub never holds more than one message's worth.
 */
static void plan_maps(struct plan *pl, const struct img_proc *p, const struct spawn_fds *sf,
		      const struct range *keep, size_t nkeep)
{
	uint32_t *order = xmalloc((p->d.nvmas + 1) * sizeof(*order));
	uint32_t *start = xzalloc(((size_t)sf->nmsgs + 1) * sizeof(*start)), *next;
	struct range *pc = xmalloc((nkeep + 1) * sizeof(*pc));

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		if (!restored(&p->vmas[i]))
			continue;
		if (p->vmas[i].d.flags & CKPT_VMA_SYSV)
			plan_sysv_attach(pl, p, &p->vmas[i], sf);
		else if (sf->map_msg[i] < 0)
			map_vma(pl, &p->vmas[i], sf->map_fd[i], keep, nkeep, pc);
		else
			start[sf->map_msg[i] + 1]++;
	}
	/* The mappings of each message, in address order (a counting sort). */
	for (int k = 0; k < sf->nmsgs; k++)
		start[k + 1] += start[k];
	next = xmemdup(start, ((size_t)sf->nmsgs + 1) * sizeof(*start));
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		if (restored(&p->vmas[i]) && sf->map_msg[i] >= 0)
			order[next[sf->map_msg[i]]++] = i;
	for (int k = 0; k < sf->nmsgs; k++) {
		plan_receive(pl, sf, k, sf->msg_files[k]);
		for (uint32_t j = start[k]; j < start[k + 1]; j++)
			map_vma(pl, &p->vmas[order[j]], sf->recv_fd[sf->map_pos[order[j]]], keep, nkeep,
				pc);
		for (int f = 0; f < sf->msg_files[k]; f++)
			SYS(pl, 0, SYS_close, (uint64_t)sf->recv_fd[f], 0, 0, 0, 0, 0);
	}
	close_own(pl, sf, sf->sock_slot);
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		if (sf->map_src[i] >= 0)
			close_own(pl, sf, sf->map_fd[i]);
	free(pc);
	free(next);
	free(start);
	free(order);
}

int plan_check_received(const struct plan *pl, uint32_t k, const struct spawn_fds *sf, pid_t pid)
{
	union {
		uint8_t buf[CMSG_SPACE(MAP_FDS_PER_MSG * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct cmsghdr *c = &u.align;

	for (uint32_t m = 0; m < pl->procs[k].nrecv; m++) {
		size_t n = (size_t)sf->msg_files[m];
		int ret = mem_read(pid, pl->home + pl->recv_ctl[pl->procs[k].recv_first + m], u.buf,
				   sizeof(u.buf));

		if (ret < 0)
			return error_errno(ret, "cannot read what the restore stub received");
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(n * sizeof(int)) ||
		    memcmp(CMSG_DATA(c), sf->recv_fd, n * sizeof(int)))
			return error("the restore stub received the mapped files of message %u at "
				     "other descriptors than it mapped them from", m + 1);
	}
	return 0;
}

/* The mappings, from those the process starts with (m: the stub's, or its
 * parent's for a forked child) to the image's, then the fill trap.  keep:
 * parts of m a forked child keeps (plan_keep), mapped already. */
static void plan_memory(struct plan *pl, const struct img_proc *p, const struct stub_map *m,
			size_t n, const struct spawn_fds *sf, uint64_t tmp_off, const struct range *keep,
			size_t nkeep)
{
	struct range *pc = xmalloc((nkeep + 1) * sizeof(*pc));
	uint64_t off = tmp_off;

	/* Specials out of the way (into home), then the stub's old self. */
	for (size_t i = 0; i < n; i++) {
		if (!is_special(m[i].name))
			continue;
		SYSR(pl, 0, 0, R4, SYS_mremap, m[i].start, m[i].end - m[i].start,
		     m[i].end - m[i].start, MREMAP_MAYMOVE | MREMAP_FIXED, off, 0);
		off += m[i].end - m[i].start;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0, np = is_special(m[i].name) ? 0 : pieces(m[i].start, m[i].end, keep, nkeep, pc);
		     k < np; k++)
			SYS(pl, 0, SYS_munmap, pc[k].start, pc[k].end - pc[k].start, 0, 0, 0, 0);
	free(pc);
	plan_maps(pl, p, sf, keep, nkeep);
	plan_kept(pl, p, keep, nkeep);

	/* Its uffd, for ckpt to take (pidfd_getfd) at the fill trap; the
	 * process's own copy is closed right after: only ckpt holds it. */
	if (pl->uffd) {
		pl->uffd_op = pl->t[pl->base].nops;
		SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0);
		what(pl, 0, "create a userfaultfd");
	}
	pl->fill_op = pl->t[pl->base].nops;
	emit(pl, 0, STUB_OP_TRAP, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	if (pl->uffd) {
		/* a[0]: the fd, written in by ckpt at the trap */
		pl->uffd_close_op = pl->t[pl->base].nops;
		SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_close, (uint64_t)-1, 0, 0, 0, 0, 0);
	}
}

/* After the fill: protections, advice, and the vdso where it belongs.  m:
 * the root stub's first mappings, for the order the specials were put
 * into home in (every process of a tree has them there at this point). */
static void plan_settle(struct plan *pl, const struct img_proc *p, const struct stub_map *m,
			size_t n, uint64_t tmp_off)
{
	uint64_t off;

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		static const struct { uint32_t bit; int advice; } adv[] = {
			{ CKPT_MADV_DONTFORK, MADV_DONTFORK }, { CKPT_MADV_DONTDUMP, MADV_DONTDUMP },
			/* huge-page advice: as the mapping is made (plan_thp_advice) */
			{ CKPT_MADV_WIPEONFORK, MADV_WIPEONFORK }, { CKPT_MADV_MERGEABLE, MADV_MERGEABLE },
			{ CKPT_MADV_SEQUENTIAL, MADV_SEQUENTIAL }, { CKPT_MADV_RANDOM, MADV_RANDOM },
		};
		uint64_t len = v->d.end - v->d.start;

		if (!restored(v))
			continue;
		if (initial_prot(v) != v->d.prot) {
			SYS(pl, 0, SYS_mprotect, v->d.start, len, v->d.prot, 0, 0, 0);
			what(pl, 0, "protect %#lx-%#lx", (unsigned long)v->d.start, (unsigned long)v->d.end);
		}
		for (size_t k = 0; k < ARRAY_SIZE(adv); k++)
			if (v->d.madv & adv[k].bit)
				SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_madvise, v->d.start, len,
				     (uint64_t)adv[k].advice, 0, 0, 0);
		if (!pl->owner_rules)
			plan_lock(pl, 0, v);
	}
	plan_attrs_guards(pl, p);
	/* Specials to where the image had them. */
	off = tmp_off;
	for (size_t i = 0; i < n; i++) {
		const struct img_vma *v;
		uint64_t len = m[i].end - m[i].start;

		if (!is_special(m[i].name))
			continue;
		v = image_special(p, special_flag(m[i].name));
		if (v) {
			SYSR(pl, 0, 0, R0, SYS_mremap, off, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			     v->d.start, 0);
			what(pl, 0, "move %s to %#lx", m[i].name, (unsigned long)v->d.start);
		}
		else
			SYSR(pl, 0, 0, R0, SYS_munmap, off, len, 0, 0, 0, 0);
		off += len;
	}
}

/* prctl(2): timer_create() takes the id from *timerid (Linux >= 6.16). */
#define PR_TIMER_CREATE_RESTORE_IDS	77

/* Timers, once the threads a timer may signal exist, with the time left. */
static void plan_timers(struct plan *pl, const struct img_proc *p)
{
	for (int which = 0; which < 3; which++) {
		struct ckpt_itimer it = p->timers.itimer[which];

		/*
		 * ITIMER_REAL that expired while the process was stopped has
		 * no time left (getitimer says 0) but keeps its interval: the
		 * kernel arms it again when the SIGALRM is taken
		 * (dequeue_signal, kernel/signal.c).  setitimer cannot set an
		 * interval without a value: one interval left, which the
		 * pending SIGALRM (restored with the other pending signals)
		 * finds armed, as the kernel would have armed it.
		 */
		if (which == 0 /* ITIMER_REAL */ && !it.value_sec && !it.value_usec &&
		    (it.interval_sec || it.interval_usec)) {
			it.value_sec = it.interval_sec;
			it.value_usec = it.interval_usec;
		}
		if (!it.value_sec && !it.value_usec)
			continue;
		SYSR(pl, 0, 0, R1, SYS_setitimer, (uint64_t)which, blob(pl, &it, sizeof(it)), 0, 0, 0, 0);
		what(pl, 0, "set interval timer %d", which);
	}
	if (!p->timers.ntimers)
		return;
	SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0, 0);
	what(pl, 0, "give POSIX timers back their ids (needs Linux >= 6.16)");
	for (uint32_t i = 0; i < p->timers.ntimers; i++) {
		const struct ckpt_posix_timer *t = &p->ptimers[i];
		/* struct sigevent: value, signo, notify, then the tid at 16 */
		struct { uint64_t value; int32_t signo, notify, tid, pad[11]; } ev = {
			t->sigval, t->signo, t->notify, t->notify_tid, { 0 },
		};
		struct { int64_t isec, insec, vsec, vnsec; } its = {
			t->interval_ns / 1000000000, t->interval_ns % 1000000000,
			t->value_ns / 1000000000, t->value_ns % 1000000000,
		};
		int32_t id = t->id;

		SYSR(pl, 0, 0, R1 | R2, SYS_timer_create, (uint64_t)t->clockid, blob(pl, &ev, sizeof(ev)),
		     blob(pl, &id, sizeof(id)), 0, 0, 0);
		what(pl, 0, "create POSIX timer %d", t->id);
		if (t->value_ns) {
			SYSR(pl, 0, 0, R2, SYS_timer_settime, (uint64_t)t->id, 0, blob(pl, &its, sizeof(its)),
			     0, 0, 0);
			what(pl, 0, "arm POSIX timer %d", t->id);
		}
	}
	SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0, 0);
}

/*
 * p's resource limits (say: warn of a hard limit lowered).  A zombie takes
 * its parent's (plan_zombie): the image has none of its own, and its
 * parent's stub forked it with ckpt's, RLIMIT_NOFILE raised for the restore.
 */
static void plan_rlimits(struct plan *pl, const struct img_proc *p, int say)
{
	for (int i = 0; i < CKPT_NRLIMIT; i++) {
		struct rlimit64 want = { p->d.rlim[i].cur, p->d.rlim[i].max }, have;

		/* A hard limit above ours needs CAP_SYS_RESOURCE: try (unless
		 * the image is only its owner's), and fall back to the most we
		 * can give (ckpt warns, see spawn.c). */
		getrlimit64(i, &have);
		if (!pl->owner_rules) {
			SYSR(pl, 0, STUB_OPF_MAYFAIL, R2, SYS_prlimit64, 0, (uint64_t)i,
			     blob(pl, &want, sizeof(want)), 0, 0, 0);
			what(pl, 0, "restore resource limit %d (hard limit above ckpt's own needs CAP_SYS_RESOURCE)", i);
		}
		if (say && pl->owner_rules && want.rlim_max > have.rlim_max) {
			char v[24] = "unlimited";

			if (want.rlim_max != RLIM64_INFINITY)
				snprintf(v, sizeof(v), "%llu", (unsigned long long)want.rlim_max);
			warn("resource limit %d: hard limit %s lowered to ckpt's own, %llu, since the "
			     "image is not signed by this machine's key", i, v,
			     (unsigned long long)have.rlim_max);
		}
		want.rlim_max = MIN(want.rlim_max, have.rlim_max);
		want.rlim_cur = MIN(want.rlim_cur, want.rlim_max);
		SYSR(pl, 0, (pl->owner_rules ? 0 : STUB_OPF_IFFAILED) | STUB_OPF_MAYFAIL, R2,
		     SYS_prlimit64, 0, (uint64_t)i, blob(pl, &want, sizeof(want)), 0, 0, 0);
		if (pl->owner_rules)
			what(pl, 0, "restore resource limit %d", i);
	}
}

static void plan_process(struct plan *pl, const struct img_proc *p, const struct spawn_fds *sf)
{
	struct prctl_mm_map mm = {
		.start_code = p->d.start_code, .end_code = p->d.end_code,
		.start_data = p->d.start_data, .end_data = p->d.end_data,
		.start_brk = p->d.start_brk, .brk = p->d.brk, .start_stack = p->d.start_stack,
		.arg_start = p->d.arg_start, .arg_end = p->d.arg_end,
		.env_start = p->d.env_start, .env_end = p->d.env_end,
		.auxv_size = p->d.auxv_len,
		.exe_fd = (uint32_t)sf->exe_slot,
	};
	uint64_t auxv = blob(pl, p->auxv, p->d.auxv_len), mmoff;

	/* With the exe (needs CAP_CHECKPOINT_RESTORE), else without it. */
	mm.auxv = (__u64 *)(uintptr_t)auxv;
	mmoff = plan_data_reloc(pl, &mm, sizeof(mm), offsetof(struct prctl_mm_map, auxv));
	mm.exe_fd = (uint32_t)-1;
	SYSR(pl, 0, sf->exe_slot >= 0 ? STUB_OPF_MAYFAIL : 0, R2, SYS_prctl, PR_SET_MM,
	     PR_SET_MM_MAP, mmoff, sizeof(mm), 0, 0);
	what(pl, 0, sf->exe_slot >= 0 ? "set /proc/PID/exe to \"%s\" (needs CAP_CHECKPOINT_RESTORE)" :
	     "set the memory layout (prctl PR_SET_MM_MAP)", p->exe);
	if (sf->exe_slot >= 0) {
		uint64_t mm2 = plan_data_reloc(pl, &mm, sizeof(mm), offsetof(struct prctl_mm_map, auxv));

		SYSR(pl, 0, STUB_OPF_IFFAILED, R2, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, mm2,
		     sizeof(mm), 0, 0);
		what(pl, 0, "set the memory layout (prctl PR_SET_MM_MAP)");
		if (!sf->files_shared)	/* a slot its parent closes (plan_live) */
			SYS(pl, 0, SYS_close, (uint64_t)sf->exe_slot, 0, 0, 0, 0, 0);
	}
	SYS(pl, 0, SYS_personality, p->d.personality, 0, 0, 0, 0, 0);
	SYS(pl, 0, SYS_umask, p->d.umask, 0, 0, 0, 0, 0);
	/* The directory files.c opened with the process's credentials: a
	 * path walked by the stub, as root, could lead anywhere. */
	if (sf->cwd_slot >= 0) {
		SYS(pl, 0, SYS_fchdir, (uint64_t)sf->cwd_slot, 0, 0, 0, 0, 0);
		what(pl, 0, "change directory to \"%s\"", p->cwd);
		if (!sf->files_shared)
			SYS(pl, 0, SYS_close, (uint64_t)sf->cwd_slot, 0, 0, 0, 0, 0);
	} else {
		char *cwd = xstrndup(p->cwd, p->d.cwd_len);

		SYSR(pl, 0, 0, R0, SYS_chdir, blob(pl, cwd, strlen(cwd) + 1), 0, 0, 0, 0, 0);
		what(pl, 0, "change directory to \"%s\"", cwd);
		free(cwd);
	}
	plan_rlimits(pl, p, 1);
	for (int sig = 1; sig <= CKPT_NSIG; sig++) {
		const struct ckpt_sigaction *sa = &p->sigacts[sig - 1];

		if (sig == SIGKILL || sig == SIGSTOP || (!sa->handler && !sa->flags && !sa->mask))
			continue;
		SYSR(pl, 0, 0, R1, SYS_rt_sigaction, (uint64_t)sig, blob(pl, sa, sizeof(*sa)), 0, 8, 0, 0);
		what(pl, 0, "set the action of signal %d", sig);
		/* The stub's traps reset it: set again after them (spawn.c). */
		if (sig == SIGTRAP)
			pl->trap_action = pl->t[pl->base].ops[pl->t[pl->base].nops - 1].a[1];
	}
	fd_plan(pl, sf);
	plan_attrs_process(pl, p);
	/* Stub thread 0 is the leader: image thread 0, unless the leader had
	 * exited (then every image thread is a new one, see plan_build). */
	for (uint32_t i = pl->leader_gone ? 0 : 1; i < p->d.nthreads; i++) {
		emit(pl, 0, STUB_OP_CLONE, 0, 0, R0, pl->plan_off + sizeof(struct stub_plan) +
		     (pl->base + i + pl->leader_gone) * sizeof(struct stub_thread),
		     (uint64_t)p->threads[i].d.tid, 0, 0, 0, 0);
		what(pl, 0, "create thread %d", p->threads[i].d.tid);
	}
	plan_seccomp(pl, p);
	plan_timers(pl, p);
	for (uint32_t i = 0; i < p->d.npending; i++) {
		int sig = p->pending[i][0] | p->pending[i][1] << 8;

		SYSR(pl, 0, STUB_OPF_A0_PID, R2, SYS_rt_sigqueueinfo, 0, (uint64_t)sig,
		     blob(pl, p->pending[i], CKPT_SIGINFO_SIZE), 0, 0, 0);
	}
}

static void plan_creds(struct plan *pl, uint32_t ti, const struct img_proc *p);

/* SCHED_DEADLINE takes its parameters from sched_setattr(2) only; after
 * the thread's affinity (a deadline thread's must span its root domain,
 * kernel/sched/syscalls.c), and after its last clone (a deadline thread
 * may not fork: sched_fork).  Admission control may refuse it: a warning. */
static void plan_deadline(struct plan *pl, uint32_t ti, const struct img_thread *t,
			  const struct ckpt_thread_attrs *a)
{
	struct ckpt_sched_attr sa = {
		.size = sizeof(sa), .policy = SCHED_DEADLINE,
		.flags = a->sched_flags | ((t->d.sched_policy & SCHED_RESET_ON_FORK) ? 1 : 0),
		.runtime = a->dl_runtime, .deadline = a->dl_deadline, .period = a->dl_period,
	};

	SYSR(pl, ti, STUB_OPF_MAYFAIL, R1, SYS_sched_setattr, 0, blob(pl, &sa, sizeof(sa)), 0, 0, 0, 0);
	what(pl, ti, "set SCHED_DEADLINE (runtime %llu, deadline %llu, period %llu ns) on thread %d",
	     (unsigned long long)a->dl_runtime, (unsigned long long)a->dl_deadline,
	     (unsigned long long)a->dl_period, t->d.tid);
}

/* A CPU the image names may not exist here: then ckpt warns. */
static void plan_sched(struct plan *pl, uint32_t ti, const struct img_proc *p, uint32_t k)
{
	const struct img_thread *t = &p->threads[k];

	if (t->d.ncpus) {
		SYSR(pl, ti, STUB_OPF_MAYFAIL, R2, SYS_sched_setaffinity, 0, sizeof(t->d.cpus),
		     blob(pl, t->d.cpus, sizeof(t->d.cpus)), 0, 0, 0);
		what(pl, ti, "set the CPU affinity of thread %d", t->d.tid);
	}
	if (p->has_attrs && p->tattrs[k].dl_period) {
		plan_deadline(pl, ti, t, &p->tattrs[k]);
	} else {
		struct sched_param sp = { .sched_priority = (int)t->d.sched_priority };

		SYSR(pl, ti, STUB_OPF_MAYFAIL, R2, SYS_sched_setscheduler, 0, t->d.sched_policy,
		     blob(pl, &sp, sizeof(sp)), 0, 0, 0);
		what(pl, ti, "set the scheduling policy %u of thread %d", t->d.sched_policy, t->d.tid);
	}
	SYSF(pl, ti, STUB_OPF_MAYFAIL, SYS_setpriority, PRIO_PROCESS, 0, (uint64_t)(int64_t)t->d.nice,
	     0, 0, 0);
	what(pl, ti, "set the nice value %d of thread %d", t->d.nice, t->d.tid);
}

/* What each thread does for itself, last: stub thread ti is image thread k. */
static void plan_thread_tail(struct plan *pl, uint32_t ti, const struct img_proc *p, uint32_t k)
{
	const struct img_thread *t = &p->threads[k];

	if (t->d.clear_tid)
		SYS(pl, ti, SYS_set_tid_address, t->d.clear_tid, 0, 0, 0, 0, 0);
	/* The kernel insists on its own struct size (24 on 64-bit). */
	if (t->d.robust_list)
		SYS(pl, ti, SYS_set_robust_list, t->d.robust_list, 3 * sizeof(uint64_t), 0, 0, 0, 0);
	if (t->d.rseq_addr) {
		SYS(pl, ti, SYS_rseq, t->d.rseq_addr, t->d.rseq_len, 0, t->d.rseq_sig, 0, 0);
		what(pl, ti, "register rseq area %#lx", (unsigned long)t->d.rseq_addr);
	}
	if (!(t->d.altstack_flags & SS_DISABLE)) {
		struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss = {
			t->d.altstack_sp, (int32_t)(t->d.altstack_flags & ~(uint32_t)SS_ONSTACK), 0,
			t->d.altstack_size,
		};
		SYSR(pl, ti, 0, R0, SYS_sigaltstack, blob(pl, &ss, sizeof(ss)), 0, 0, 0, 0, 0);
	}
	SYSR(pl, ti, 0, R1, SYS_prctl, PR_SET_NAME, blob(pl, t->d.comm, sizeof(t->d.comm)), 0, 0, 0, 0);
	/* Queued by ckpt after the thread's last trap, which would take a
	 * pending SIGTRAP for its own (spawn.c finish). */
	if (t->d.npending) {
		pl->t[pl->base + ti].pending = blob(pl, t->pending, t->d.npending * (size_t)CKPT_SIGINFO_SIZE);
		pl->t[pl->base + ti].npending = t->d.npending;
	}
	/* Scheduling before credentials: raising priority may need root;
	 * but only an image root vouches for gets what only root may set. */
	if (!pl->owner_rules)
		plan_sched(pl, ti, p, k);
	plan_attrs_thread(pl, ti, p, k);
	plan_creds(pl, ti, p);
	plan_attrs_thread_late(pl, ti, p, k);
	if (pl->owner_rules)
		plan_sched(pl, ti, p, k);
}

/* Credentials are per thread at the syscall level; the process's own
 * ids, and never more (ckpt refused earlier if we may not). */
static void plan_creds(struct plan *pl, uint32_t ti, const struct img_proc *p)
{
	if (geteuid() == 0)
		SYSR(pl, ti, 0, R1, SYS_setgroups, p->d.ngroups,
		     blob(pl, p->groups, p->d.ngroups * sizeof(uint32_t)), 0, 0, 0, 0);
	SYS(pl, ti, SYS_setresgid, p->d.gid[0], p->d.gid[1], p->d.gid[2], 0, 0, 0);
	what(pl, ti, "set group ids to %u", p->d.gid[1]);
	SYS(pl, ti, SYS_setresuid, p->d.uid[0], p->d.uid[1], p->d.uid[2], 0, 0, 0);
	what(pl, ti, "set user ids to %u", p->d.uid[1]);
	if (p->d.gid[3] != p->d.gid[1])
		SYS(pl, ti, SYS_setfsgid, p->d.gid[3], 0, 0, 0, 0, 0);
	if (p->d.uid[3] != p->d.uid[1])
		SYS(pl, ti, SYS_setfsuid, p->d.uid[3], 0, 0, 0, 0, 0);
}

/* Where a task's stub thread i is, home-relative (STUB_OP_CLONE, _FORK). */
static uint64_t thread_off(const struct plan *pl, uint32_t i)
{
	return pl->plan_off + sizeof(struct stub_plan) + i * sizeof(struct stub_thread);
}

/* close_range(2), Linux 5.9; the same number on x86-64 and arm64. */
#ifndef SYS_close_range
#define SYS_close_range	436
#endif

/* Whether the image had signal sig pending for the whole process. */
static int pending_in(const struct img_proc *p, int sig)
{
	for (uint32_t i = 0; i < p->d.npending; i++)
		if ((p->pending[i][0] | p->pending[i][1] << 8) == sig)
			return 1;
	return 0;
}

/*
 * A child's own session or group, done by itself first thing (see
 * image/tree.c for the ways).  Its parent puts it in its group as well,
 * right after the fork (plan_children): as a shell does, both, so that
 * whichever runs first makes it so and a later sibling always finds the
 * group there.
 */
static void plan_own_group(struct plan *pl, const struct img *img, const struct ckpt_task *t)
{
	const struct tree_way *w = &pl->ways[t - img->tasks];

	if (w->sid == WAY_OWN) {
		SYS(pl, 0, SYS_setsid, 0, 0, 0, 0, 0, 0);
		what(pl, 0, "make process %d a session leader", t->pid);
	} else if (w->pgid == WAY_OWN || w->pgid == WAY_JOIN) {
		SYS(pl, 0, SYS_setpgid, 0, (uint64_t)(w->pgid == WAY_OWN ? 0 : t->pgid), 0, 0, 0, 0);
		what(pl, 0, "put process %d in process group %d", t->pid, t->pgid);
	}
}

/* The helper of task c: it makes c's group or session (its leader has
 * exited: the helper has its PID), then c in it, as a child of c's parent
 * (CLONE_PARENT), and ends; the parent reaps it (plan_children). */
static void plan_helper(struct plan *pl, const struct img *img, const struct ckpt_task *c,
			uint32_t ci, uint64_t fs)
{
	if (pl->ways[ci].sid == WAY_HELPER) {
		SYS(pl, 0, SYS_setsid, 0, 0, 0, 0, 0, 0);
		what(pl, 0, "make session %d again (its leader has exited)", c->sid);
	} else {
		SYS(pl, 0, SYS_setpgid, 0, 0, 0, 0, 0, 0);
		what(pl, 0, "make process group %d again (its leader has exited)", c->pgid);
	}
	/* clone3: with CLONE_PARENT the exit signal is ours (it must be 0). */
	emit(pl, 0, STUB_OP_FORK, 0, 0, R0, thread_off(pl, pl->procs[ci].t0), (uint64_t)c->pid,
	     CLONE_PARENT | fs, 0, 0, 0);
	what(pl, 0, "create process %d with its PID in group %d", c->pid, c->pgid);
	SYS(pl, 0, SYS_exit_group, 0, 0, 0, 0, 0, 0);
	(void)img;
}

/* A forked child, first: it dies with its parent until the end, takes
 * its session or group, and its own descriptors instead of its parent's:
 * each from the slot where the root stub got it (restore/tree.c). */
static void plan_child_start(struct plan *pl, const struct img *img, const struct ckpt_task *t,
			     const struct spawn_fds *sf)
{
	SYS(pl, 0, SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
	plan_own_group(pl, img, t);
	if (sf->files_shared)	/* its parent's fds are its own */
		return;
	SYS(pl, 0, SYS_close_range, 0, (uint64_t)sf->extra_base - 1, 0, 0, 0, 0);
	what(pl, 0, "close the descriptors process %d inherited", t->pid);
	/* and whatever the root stub was given above the slots */
	SYS(pl, 0, SYS_close_range, (uint64_t)sf->extra_end, ~0u, 0, 0, 0, 0);
	for (int i = 0; i < sf->nfds; i++) {
		if (sf->slot[i] < 0)	/* it opens it itself (fd_plan) */
			continue;
		SYS(pl, 0, SYS_dup3, (uint64_t)sf->slot[i], (uint64_t)sf->target[i],
		    sf->cloexec[i] ? O_CLOEXEC : 0, 0, 0, 0);
		what(pl, 0, "install fd %d of process %d", sf->target[i], t->pid);
	}
}

/*
 * Task t's children, in the order they were made: each forked with its
 * PID, put in its group, a zombie waited for (it stays one: WNOWAIT); the
 * signal their ends sent us taken back unless it was pending at dump.
 */
static void plan_children(struct plan *pl, const struct img *img, const struct ckpt_task *t)
{
	const struct img_proc *p = &img->procs[t->proc];
	int32_t me = (int32_t)(t - img->tasks);
	uint64_t drain = 0;

	for (uint32_t i = 0; i < img->ntasks; i++) {
		const struct ckpt_task *c = &img->tasks[i];
		const struct tree_way *w = &pl->ways[i];
		uint64_t fs = (c->fs_of == me ? CLONE_FS : 0) | (c->files_of == me ? CLONE_FILES : 0);

		if (c->parent != me)
			continue;
		if (w->sid == WAY_HELPER || w->pgid == WAY_HELPER) {
			uint32_t h = img->ntasks;
			int32_t hpid = w->sid == WAY_HELPER ? c->sid : c->pgid;

			while (pl->procs[h].helps != (int32_t)i)
				h++;
			emit(pl, 0, STUB_OP_FORK, 0, 0, R0, thread_off(pl, pl->procs[h].t0), (uint64_t)hpid,
			     fs, c->exit_signal, 0, 0);
			what(pl, 0, "create a helper with PID %d for process %d", hpid, c->pid);
			SYS(pl, 0, SYS_waitid, P_PID, (uint64_t)hpid, 0, WEXITED, 0, 0);
			what(pl, 0, "reap the helper %d", hpid);
		} else {
			emit(pl, 0, STUB_OP_FORK, 0, 0, R0, thread_off(pl, pl->procs[i].t0),
			     (uint64_t)c->pid, fs, c->exit_signal, 0, 0);
			what(pl, 0, "create process %d with its PID", c->pid);
		}
		if (w->sid == WAY_INHERIT && (w->pgid == WAY_OWN || w->pgid == WAY_JOIN)) {
			SYSF(pl, 0, c->proc < 0 ? STUB_OPF_MAYFAIL : 0, SYS_setpgid, (uint64_t)c->pid,
			     (uint64_t)c->pgid, 0, 0, 0, 0);
			what(pl, 0, "put process %d in process group %d", c->pid, c->pgid);
		}
		if (c->files_of == me) {
			/* One fd table: the child uses slots of it (its own, its
			 * children's) until it is made, and nothing here may
			 * close or open a descriptor meanwhile (spawn.c lets
			 * this trap go once the child is at its last). */
			emit(pl, 0, STUB_OP_TRAP, 0, 0, 0, i + 1, 0, 0, 0, 0, 0);
			what(pl, 0, "wait until process %d, which shares this fd table, is made",
			     c->pid);
		}
		if (c->exit_signal && !pending_in(p, (int)c->exit_signal) &&
		    (c->proc < 0 || w->sid == WAY_HELPER || w->pgid == WAY_HELPER))
			drain |= 1ull << (c->exit_signal - 1);
		if (c->proc >= 0)
			continue;
		{
			uint8_t info[128] = { 0 };

			SYSR(pl, 0, 0, R2, SYS_waitid, P_PID, (uint64_t)c->pid, blob(pl, info, sizeof(info)),
			     WEXITED | WNOWAIT, 0, 0);
			what(pl, 0, "wait for process %d to end (it stays a zombie)", c->pid);
		}
	}
	for (int sig = 1; sig <= CKPT_NSIG; sig++) {
		uint64_t one = 1ull << (sig - 1);
		struct timespec zero = { 0, 0 };

		if (!(drain & one))
			continue;
		SYSR(pl, 0, STUB_OPF_MAYFAIL, R0 | R2, SYS_rt_sigtimedwait, blob(pl, &one, sizeof(one)), 0,
		     blob(pl, &zero, sizeof(zero)), 8, 0, 0);
	}
}

/* A zombie: its group, name and ids, then it ends as it had ended. */
static void plan_zombie(struct plan *pl, const struct img *img, const struct ckpt_task *t)
{
	int code = t->exit_status;

	plan_own_group(pl, img, t);
	/* Its limits as its parent's (the ones it was forked with, most
	 * likely), not ckpt's; before its ids change, which may forbid it. */
	if (t->parent >= 0 && img->tasks[t->parent].proc >= 0)
		plan_rlimits(pl, &img->procs[img->tasks[t->parent].proc], 0);
	SYSR(pl, 0, 0, R1, SYS_prctl, PR_SET_NAME, blob(pl, t->comm, sizeof(t->comm)), 0, 0, 0, 0);
	SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_setresgid, t->gid, t->gid, t->gid, 0, 0, 0);
	SYSF(pl, 0, STUB_OPF_MAYFAIL, SYS_setresuid, t->uid, t->uid, t->uid, 0, 0, 0);
	if (code & 0x7f) {
		/* Killed: by that signal again, without a core (so without
		 * the core flag either: WCOREDUMP is not restored). */
		struct rlimit64 none = { 0, 0 };
		struct ckpt_sigaction dfl = { 0 };
		uint64_t one = 1ull << ((code & 0x7f) - 1);

		SYSR(pl, 0, STUB_OPF_MAYFAIL, R2, SYS_prlimit64, 0, RLIMIT_CORE,
		     blob(pl, &none, sizeof(none)), 0, 0, 0);
		SYSR(pl, 0, STUB_OPF_MAYFAIL, R1, SYS_rt_sigaction, (uint64_t)(code & 0x7f),
		     blob(pl, &dfl, sizeof(dfl)), 0, 8, 0, 0);
		SYSR(pl, 0, 0, R1, SYS_rt_sigprocmask, SIG_UNBLOCK, blob(pl, &one, sizeof(one)), 0, 8, 0, 0);
		SYSF(pl, 0, STUB_OPF_A0_PID, SYS_kill, 0, (uint64_t)(code & 0x7f), 0, 0, 0, 0);
	}
	SYS(pl, 0, SYS_exit_group, (uint64_t)((code >> 8) & 0xff), 0, 0, 0, 0, 0);
}

/* Stub threads a task needs: a live process's threads (one more when its
 * leader had exited), one for a zombie. */
static uint32_t task_threads(const struct img *img, const struct ckpt_task *t)
{
	const struct img_proc *p;

	if (t->proc < 0)
		return 1;
	p = &img->procs[t->proc];
	return p->d.nthreads + !!(p->d.flags & CKPT_PROC_LEADER_GONE);
}

/*
 * The mappings a forked child starts with: its parent's, as they are at
 * the parent's fill trap (its specials are in home then, and home is the
 * same in all).  The child unmaps them and maps its own (plan_memory).
 */
static struct stub_map *parent_layout(const struct img_proc *par, size_t *n)
{
	struct stub_map *m = xzalloc((par->d.nvmas + 1) * sizeof(*m));

	*n = 0;
	for (uint32_t i = 0; i < par->d.nvmas; i++)
		if (restored(&par->vmas[i])) {
			m[*n].start = par->vmas[i].d.start;
			m[*n].end = par->vmas[i].d.end;
			(*n)++;
		}
	return m;
}

/* A live process: its own session and group, its descriptors (from the
 * slots it inherited, tree.c), its memory, its children, the rest. */
/*
 * Its root directory (chroot), after everything the stub opens or enters
 * by path (the working directory too: chroot leaves it where it is), and
 * while the stub may still (CAP_SYS_CHROOT, before the credentials).
 * Only on root's word for the image: a root an image chose could hold
 * set-user-ID programs and a password file of its own (the reason chroot
 * needs the capability).
 */
static int plan_root(struct plan *pl, const struct img_proc *p)
{
	char *root = xstrndup(p->root, p->d.root_len);

	if (pl->owner_rules) {
		int ret = error("process %d had its root directory changed to \"%s\" (chroot): only "
				"root restores that, from an image it vouches for (signed by this "
				"machine's key, or --trust)", p->d.pid, root);

		free(root);
		return ret;
	}
	SYSR(pl, 0, 0, R0, SYS_chroot, blob(pl, root, strlen(root) + 1), 0, 0, 0, 0, 0);
	what(pl, 0, "change the root directory to \"%s\" (chroot)", root);
	free(root);
	return 0;
}

static int plan_live(struct plan *pl, const struct img *img, const struct ckpt_task *t,
		     const struct stub_map *maps, size_t nmaps, const struct spawn_fds *sf)
{
	const struct img_proc *p = &img->procs[t->proc];
	struct stub_map *start = (struct stub_map *)maps;
	struct range *keep = NULL;
	size_t nstart = nmaps;
	ssize_t nkeep = 0;

	if (t->parent >= 0) {
		const struct img_proc *q = &img->procs[img->tasks[t->parent].proc];

		if ((nkeep = plan_keep(p, q, &keep)) < 0)
			return error("image is corrupted: process %d shares pages with its parent "
				     "where their mappings differ", t->pid);
		plan_child_start(pl, img, t, sf);
		start = parent_layout(q, &nstart);
	}
	plan_attrs_mm(pl, p);
	plan_memory(pl, p, start, nstart, sf, pl->stub_size, keep, (size_t)nkeep);
	free(keep);
	if (start != maps)
		free(start);
	if (t->flags & CKPT_TASK_SUBREAPER) {
		SYS(pl, 0, SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0);
		what(pl, 0, "make process %d a child subreaper", t->pid);
	}
	/* Its terminal before its children: they inherit it at fork (a
	 * controlling terminal is the caller's, TIOCSCTTY). */
	ctty_plan(pl, img, p);
	ctty_plan_fg(pl, img, p);
	pl->procs[t - img->tasks].fg_group = ctty_session_fg(pl, img, p);
	plan_children(pl, img, t);
	plan_settle(pl, p, maps, nmaps, pl->stub_size);
	plan_process(pl, p, sf);
	/* The other processes' descriptors, once its children have theirs. */
	if (sf->extra_base && !sf->files_shared)
		SYS(pl, 0, SYS_close_range, (uint64_t)sf->extra_base, ~0u, 0, 0, 0, 0);
	fd_plan_locks(pl, img, p);
	if (p->d.root_len && plan_root(pl, p) < 0)
		return -EPERM;
	for (uint32_t k = 0; k < p->d.nthreads; k++)
		plan_thread_tail(pl, k + pl->leader_gone, p, k);
	if (pl->leader_gone) {
		/* As a zombie it shows its credentials in /proc: the process's. */
		plan_creds(pl, 0, p);
		/* The parent-death signal is per thread and a zombie leader
		 * still sends its own when ckpt exits (kernel/exit.c
		 * forget_original_parent): drop the one spawn.c gave it.  ckpt
		 * sets the process's on a live thread (spawn.c finish). */
		SYS(pl, 0, SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0);
	}
	/* Locked within the process's own RLIMIT_MEMLOCK, once its ids are set. */
	for (uint32_t i = 0; pl->owner_rules && i < p->d.nvmas; i++)
		plan_lock(pl, 0, &p->vmas[i]);
	plan_attrs_lock_future(pl, p);
	plan_seals(pl, p);
	if (pl->leader_gone)
		SYS(pl, 0, SYS_exit, 0, 0, 0, 0, 0, 0);
	return 0;
}

int plan_build(struct plan *pl, const struct img *img, const struct stub_map *maps, size_t nmaps,
	       const struct spawn_fds *sf, uint64_t stub_size, const struct trust *tr, int uffd)
{
	uint64_t specials = 0;
	char why[256];
	int ret;

	memset(pl, 0, sizeof(*pl));
	pl->owner_rules = trust_owner_rules(tr);
	pl->uffd = uffd;
	free(dreloc);
	dreloc = NULL;
	ndreloc = 0;
	for (uint32_t i = 0; i < img->h.nprocs; i++) {
		if ((ret = check_specials(&img->procs[i], maps, nmaps)) < 0)
			return ret;
	}
	pl->ways = xzalloc(img->ntasks * sizeof(*pl->ways));
	if (img_tree_ways(img, pl->ways, why, sizeof(why)) < 0)
		return error("%s", why);
	for (uint32_t i = 0; i < img->ntasks; i++)
		pl->nhelpers += pl->ways[i].sid == WAY_HELPER || pl->ways[i].pgid == WAY_HELPER;
	pl->procs = xzalloc((img->ntasks + pl->nhelpers) * sizeof(*pl->procs));
	for (uint32_t i = 0, h = img->ntasks; i < img->ntasks; i++) {
		pl->procs[i].helps = -1;
		pl->procs[i].t0 = pl->nthreads;
		pl->procs[i].nthreads = task_threads(img, &img->tasks[i]);
		pl->nthreads += pl->procs[i].nthreads;
		if (pl->ways[i].sid == WAY_HELPER || pl->ways[i].pgid == WAY_HELPER)
			pl->procs[h++].helps = (int32_t)i;
	}
	for (uint32_t h = img->ntasks; h < img->ntasks + pl->nhelpers; h++) {
		pl->procs[h].t0 = pl->nthreads++;
		pl->procs[h].nthreads = 1;
	}
	pl->t = xzalloc(pl->nthreads * sizeof(*pl->t));
	pl->stub_size = ALIGN_UP(stub_size, 4096u);
	pl->stack_size = STACK_SIZE;
	for (size_t i = 0; i < nmaps; i++)
		if (is_special(maps[i].name))
			specials += maps[i].end - maps[i].start;
	/* Home: stub code | room for the specials | struct stub_plan, threads,
	 * data, ops | stacks.  Sizes past the data are known at the end. */
	pl->plan_off = pl->stub_size + specials;
	pl->data_off = pl->plan_off + sizeof(struct stub_plan) +
		       pl->nthreads * sizeof(struct stub_thread);
	for (uint32_t i = 0; i < img->ntasks; i++) {
		const struct ckpt_task *t = &img->tasks[i];

		pl->base = pl->procs[i].t0;
		pl->fill_op = 0;
		pl->trap_action = 0;
		pl->procs[i].recv_first = pl->nrecv;
		pl->leader_gone = t->proc >= 0 && (img->procs[t->proc].d.flags & CKPT_PROC_LEADER_GONE);
		if (t->proc < 0)
			plan_zombie(pl, img, t);
		else if ((ret = plan_live(pl, img, t, maps, nmaps, &sf[t->proc])) < 0)
			return ret;
		pl->procs[i].leader_gone = pl->leader_gone;
		pl->procs[i].fill_op = pl->fill_op;
		pl->procs[i].trap_action = pl->trap_action;
		pl->procs[i].nrecv = pl->nrecv - pl->procs[i].recv_first;
	}
	for (uint32_t h = img->ntasks; h < img->ntasks + pl->nhelpers; h++) {
		uint32_t ci = (uint32_t)pl->procs[h].helps;
		const struct ckpt_task *c = &img->tasks[ci];

		pl->base = pl->procs[h].t0;
		pl->leader_gone = 0;
		plan_helper(pl, img, c, ci, c->fs_of == c->parent ? CLONE_FS : 0);
	}
	pl->base = 0;
	return 0;
}

struct stub_op *plan_syscall(struct plan *pl, uint32_t ti, uint32_t flags, uint64_t reloc, long nr,
			     const uint64_t a[6])
{
	return emit(pl, ti, STUB_OP_SYSCALL, flags, nr, reloc, a[0], a[1], a[2], a[3], a[4], a[5]);
}

uint64_t plan_blob(struct plan *pl, const void *p, size_t len)
{
	return blob(pl, p, len);
}

/* Offsets of thread ti's ops, of the stacks, and the home size. */
static uint64_t ops_offset(const struct plan *pl, uint32_t ti)
{
	uint64_t off = ALIGN_UP(pl->data_off + pl->datalen, 64u);

	for (uint32_t i = 0; i < ti; i++)
		off += pl->t[i].nops * sizeof(struct stub_op);
	return off;
}

uint64_t plan_op_addr(const struct plan *pl, uint32_t ti, uint32_t k)
{
	return pl->home + ops_offset(pl, ti) + k * sizeof(struct stub_op);
}

static uint64_t stacks_offset(const struct plan *pl)
{
	return ALIGN_UP(ops_offset(pl, pl->nthreads), 4096u);
}

uint64_t plan_stack_bottom(const struct plan *pl, uint32_t ti)
{
	return pl->home + stacks_offset(pl) + ti * pl->stack_size;
}

static uint64_t home_size(const struct plan *pl)
{
	return stacks_offset(pl) + pl->nthreads * pl->stack_size;
}

int plan_place(struct plan *pl, const struct img *img, const struct stub_map *maps, size_t nmaps)
{
	/* Stay inside what every 47/48-bit user address space allows. */
	const uint64_t lo = 0x10000000ull, hi = 0x7f0000000000ull, gap = 1ull << 20;
	size_t n = 0, total = nmaps;
	struct range *r;
	uint64_t at = lo;

	for (uint32_t k = 0; k < img->h.nprocs; k++)
		total += img->procs[k].d.nvmas;
	r = xmalloc((total ? total : 1) * sizeof(*r));
	pl->size = home_size(pl);
	/* One home for the whole tree: free in every process. */
	for (uint32_t k = 0; k < img->h.nprocs; k++)
		for (uint32_t i = 0; i < img->procs[k].d.nvmas; i++)
			r[n++] = (struct range){ img->procs[k].vmas[i].d.start, img->procs[k].vmas[i].d.end };
	for (size_t i = 0; i < nmaps; i++)
		r[n++] = (struct range){ maps[i].start, maps[i].end };
	qsort(r, n, sizeof(*r), cmp_range);
	/* First hole with a margin on both sides (a growing stack below or
	 * a mapping placed right after must not touch home). */
	for (size_t i = 0; i < n && at <= hi; i++) {
		/* A mapping that reaches the top of the address space leaves
		 * no room above it: end + gap must not wrap to a low address. */
		uint64_t after = r[i].end > UINT64_MAX - gap ? UINT64_MAX : r[i].end + gap;

		if (after <= at)
			continue;
		if (r[i].start >= at + pl->size + gap)
			break;
		at = MAX(at, after);
	}
	free(r);
	if (at > hi || pl->size > hi - at)
		return error("no room for the restore stub in the image's address space");
	pl->home = at;
	return 0;
}

int plan_serialise(const struct plan *pl, uint8_t **out, size_t *len)
{
	uint64_t stacks = stacks_offset(pl);
	size_t total = (size_t)(stacks - pl->plan_off);
	uint8_t *buf = xzalloc(total);
	struct stub_plan *sp = (struct stub_plan *)buf;
	struct stub_thread *th = (struct stub_thread *)(sp + 1);
	uint8_t *data = buf + (pl->data_off - pl->plan_off);

	*sp = (struct stub_plan){
		.magic = STUB_MAGIC, .version = STUB_VERSION, .nthreads = pl->nthreads,
		.home = pl->home, .home_size = pl->size, .plan_off = pl->plan_off,
		.plan_size = total, .threads = pl->home + pl->plan_off + sizeof(*sp),
	};
	memcpy(data, pl->data, pl->datalen);
	for (size_t i = 0; i < ndreloc; i++) {
		uint64_t v;

		memcpy(&v, data + dreloc[i], sizeof(v));
		v += pl->home;
		memcpy(data + dreloc[i], &v, sizeof(v));
	}
	for (uint32_t ti = 0; ti < pl->nthreads; ti++) {
		const struct plan_thread *t = &pl->t[ti];
		uint64_t off = ops_offset(pl, ti);
		struct stub_op *ops = (struct stub_op *)(buf + (off - pl->plan_off));

		th[ti] = (struct stub_thread){
			.ops = pl->home + off, .nops = t->nops,
			.stack_top = pl->home + stacks + (ti + 1) * pl->stack_size,
		};
		for (uint32_t k = 0; k < t->nops; k++) {
			ops[k] = t->ops[k];
			for (int a = 0; a < 6; a++)
				if (t->reloc[k] & (1u << a))
					ops[k].a[a] += pl->home;
		}
	}
	*out = buf;
	*len = total;
	return 0;
}

void plan_free(struct plan *pl)
{
	for (uint32_t i = 0; pl->t && i < pl->nthreads; i++) {
		for (uint32_t k = 0; k < pl->t[i].nops; k++)
			free(pl->t[i].what[k]);
		free(pl->t[i].what);
		free(pl->t[i].ops);
		free(pl->t[i].reloc);
	}
	free(pl->t);
	free(pl->procs);
	free(pl->ways);
	free(pl->data);
	free(pl->recv_ctl);
	free(dreloc);
	dreloc = NULL;
	ndreloc = 0;
	memset(pl, 0, sizeof(*pl));
}
