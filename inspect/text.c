/* ckpt inspect: the summary for people (see inspect.h for what it holds). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arch/arch.h"
#include "inspect/inspect.h"
#include "image/fdkind.h"
#include "common/util.h"

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* A NUL-separated argv as one line, words separated by spaces. */
static void print_cmdline(FILE *f, const char *s, size_t len)
{
	while (len && !s[len - 1])
		len--;
	for (size_t i = 0; i < len; i++)
		fputc(s[i] ? s[i] : ' ', f);
}

static void print_sigset(FILE *f, uint64_t set)
{
	if (!set) {
		fputs(" none", f);
		return;
	}
	for (int s = 1; s <= CKPT_NSIG; s++)
		if (set & (1ull << (s - 1)))
			fprintf(f, " %s", insp_signal_name(s));
}

/* Signal numbers of n 128-byte siginfos (si_signo is the first int). */
static void print_pending(FILE *f, const char *label, const uint8_t (*si)[CKPT_SIGINFO_SIZE],
			  uint32_t n)
{
	if (!n)
		return;
	fprintf(f, "%s", label);
	for (uint32_t i = 0; i < n; i++) {
		int32_t signo;

		memcpy(&signo, si[i], sizeof(signo));
		fprintf(f, " %s", insp_signal_name(signo));
	}
	fputc('\n', f);
}

static void print_sym(FILE *f, const struct insp_sym *s, uint64_t addr)
{
	if (!s->name)
		return;
	fprintf(f, " in %s+%#llx%s", s->name, (unsigned long long)(addr - s->start),
		s->file_changed ? " (file changed since the dump)" : "");
}

static void print_header(FILE *f, const struct insp *in)
{
	const struct ckpt_header *h = &in->img.h;
	time_t t = (time_t)h->created;
	char when[64] = "?";
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(f, "image     %s (%llu bytes)\n", in->path, (unsigned long long)in->image_bytes);
	fprintf(f, "format    version %u, %s, %u-byte pages, xfeatures %#llx\n", h->version,
		h->machine == ARCH_ELF_MACHINE ? ARCH_NAME : "?", h->page_size,
		(unsigned long long)h->xfeatures);
	fprintf(f, "created   %s on %.*s, kernel %.*s\n", when, (int)sizeof(h->host), h->host,
		(int)sizeof(h->kernel), h->kernel);
	fprintf(f, "image id  ");
	hex(f, h->image_id, sizeof(h->image_id));
	fprintf(f, "\nparent    ");
	if (is_all_zero(h->parent_id, sizeof(h->parent_id)))
		fprintf(f, "none");
	else
		hex(f, h->parent_id, sizeof(h->parent_id));
	fprintf(f, "\nsignature %s", img_mac_status_text(in->st.mac));
	if (in->st.mac != IMG_MAC_NONE) {
		fprintf(f, " (key ");
		hex(f, in->st.key_id, sizeof(in->st.key_id));
		fputc(')', f);
	}
	fputc('\n', f);
}

static void print_proc(FILE *f, const struct img_proc *p)
{
	const struct ckpt_proc *d = &p->d;

	fprintf(f, "\nprocess   %d (%.*s), parent %d, group %d, session %d%s%s\n", d->pid,
		(int)sizeof(d->comm), d->comm, d->ppid, d->pgid, d->sid,
		d->flags & CKPT_PROC_STOPPED ? ", stopped (job control)" : "",
		d->flags & CKPT_PROC_UNDUMPABLE ? ", not dumpable" : "");
	if (p->has_ctty)
		fprintf(f, "terminal  device %u:%u, foreground group %d%s%s\n",
			(unsigned)(p->ctty.rdev >> 8) & 0xfff,
			(unsigned)((p->ctty.rdev & 0xff) | ((p->ctty.rdev >> 12) & 0xfff00)), p->ctty.tpgid,
			p->ctty.cflags & CKPT_CTTY_PTY ? ", a pty of the image" : "",
			p->ctty.cflags & CKPT_CTTY_TERMIOS ? "" : ", termios unknown");
	fprintf(f, "command   ");
	print_cmdline(f, p->cmdline, d->cmdline_len);
	fprintf(f, "\nexe       %s\ncwd       %s\n", p->exe, p->cwd);
	fprintf(f, "uid       %u (real) %u (effective) %u (saved) %u (fs)\n",
		d->uid[0], d->uid[1], d->uid[2], d->uid[3]);
	fprintf(f, "gid       %u (real) %u (effective) %u (saved) %u (fs)\ngroups   ",
		d->gid[0], d->gid[1], d->gid[2], d->gid[3]);
	for (uint32_t i = 0; i < d->ngroups; i++)
		fprintf(f, " %u", p->groups[i]);
	fprintf(f, "%s\ncaps      effective %#llx permitted %#llx inheritable %#llx bounding %#llx ambient %#llx\n",
		d->ngroups ? "" : " none", (unsigned long long)d->cap_eff,
		(unsigned long long)d->cap_prm, (unsigned long long)d->cap_inh,
		(unsigned long long)d->cap_bnd, (unsigned long long)d->cap_amb);
	fprintf(f, "umask     %04o\n", d->umask);
}

static void print_code(FILE *f, const struct insp_thread *th)
{
	const struct insp_code *c = &th->code;

	if (!c->ninsns) {
		fprintf(f, "      (no code: %s)\n", c->why ? c->why : "unknown");
		return;
	}
	for (unsigned i = 0; i < c->ninsns; i++) {
		const struct insp_insn *in = &c->insns[i];
		char bytes[3 * sizeof(in->bytes) + 1] = "";

		for (unsigned k = 0; k < in->len; k++)
			snprintf(bytes + 3 * k, sizeof(bytes) - 3 * k, "%02x ", in->bytes[k]);
		fprintf(f, "    %s %#llx", in->addr == th->pc ? "=>" : "  ",
			(unsigned long long)in->addr);
		if (th->sym.name && in->addr >= th->sym.start &&
		    (!th->sym.size || in->addr - th->sym.start < th->sym.size))
			fprintf(f, " <%s+%#llx>", th->sym.name,
				(unsigned long long)(in->addr - th->sym.start));
		fprintf(f, ":  %-30s %s\n", bytes, in->text);
	}
}

static void print_threads(FILE *f, const struct insp_proc *ip)
{
	fprintf(f, "\nthreads   %u\n", ip->p->d.nthreads);
	for (uint32_t k = 0; k < ip->p->d.nthreads; k++) {
		const struct insp_thread *th = &ip->threads[k];
		const struct ckpt_thread *d = &th->t->d;
		const char *sc = th->syscall >= 0 ? arch_syscall_name(th->syscall) : NULL;

		fprintf(f, "  thread %d (%.*s): pc %#llx", d->tid, (int)sizeof(d->comm), d->comm,
			(unsigned long long)th->pc);
		print_sym(f, &th->sym, th->pc);
		if (th->vma && th->vma->path[0])
			fprintf(f, " [%s]", th->vma->path);
		fprintf(f, ", sp %#llx\n", (unsigned long long)th->sp);
		if (th->syscall >= 0)
			fprintf(f, "    in syscall %s (%ld)\n", sc ? sc : "?", th->syscall);
		fprintf(f, "    blocked");
		print_sigset(f, d->sigmask);
		fputc('\n', f);
		print_pending(f, "    pending", (const uint8_t (*)[CKPT_SIGINFO_SIZE])th->t->pending,
			      d->npending);
		if (d->rseq_addr)
			fprintf(f, "    rseq %#llx, %u bytes, signature %#x\n",
				(unsigned long long)d->rseq_addr, d->rseq_len, d->rseq_sig);
		if (!(d->altstack_flags & 2 /* SS_DISABLE */) && d->altstack_size)
			fprintf(f, "    signal stack %#llx, %llu bytes\n",
				(unsigned long long)d->altstack_sp, (unsigned long long)d->altstack_size);
		print_code(f, th);
	}
}

static void print_mappings(FILE *f, const struct insp_proc *ip, uint64_t ps)
{
	const struct img_proc *p = ip->p;
	uint64_t stored = 0, present = 0, total = 0;

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		stored += ip->stored[i];
		present += p->vmas[i].d.npages;
		total += (p->vmas[i].d.end - p->vmas[i].d.start) / ps;
	}
	fprintf(f, "\nmappings  %u: pages %llu stored, %llu present, %llu total\n", p->d.nvmas,
		(unsigned long long)stored, (unsigned long long)present, (unsigned long long)total);
	fprintf(f, "  %-33s %-4s %-10s %21s  %s\n", "address", "perm", "offset",
		"stored/present/total", "flags, path");
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		char flags[160], range[40], pages[64], perm[5];

		insp_vma_flags(v, flags, sizeof(flags));
		insp_vma_perm(v, perm);
		snprintf(range, sizeof(range), "%llx-%llx", (unsigned long long)v->d.start,
			 (unsigned long long)v->d.end);
		snprintf(pages, sizeof(pages), "%llu/%llu/%llu", (unsigned long long)ip->stored[i],
			 (unsigned long long)v->d.npages,
			 (unsigned long long)((v->d.end - v->d.start) / ps));
		fprintf(f, "  %-33s %s %010llx %21s  %s%s%s\n", range, perm,
			(unsigned long long)v->d.pgoff, pages, flags, v->path[0] ? " " : "", v->path);
	}
}

/* The files the process maps and holds no fd of (CKPT_FILEF_MAPPED). */
static void print_mapped_files(FILE *f, const struct img *img, const struct img_proc *p)
{
	for (uint32_t k = 0; k < img->nfiles; k++) {
		const struct img_file *fl = &img->files[k];
		const struct fd_kind_info *kd = fd_kind(fl->d.kind);
		char state[512] = "";

		if (!insp_maps_only(p, fl))
			continue;
		if (kd && kd->text && fl->d.state_len >= kd->state_size && fl->d.state_len)
			kd->text(fl, state, sizeof(state));
		fprintf(f, "    - %-8s mode %04o, %llu bytes %s\n        only mapped (no fd): made "
			"again for its mappings%s%s\n", fd_kind_name(fl->d.kind), fl->d.mode & 07777,
			(unsigned long long)fl->d.size, fl->path, state[0] ? "; " : "", state);
	}
}

static void print_files(FILE *f, const struct img *img, const struct img_proc *p)
{
	static const char *const acc[] = { "r", "w", "rw", "?" };
	uint32_t nfiles = 0;

	for (uint32_t i = 0; i < p->d.nfds; i++)
		nfiles += img_file_fd(p, p->fds[i].d.file) == p->fds[i].d.fd;
	fprintf(f, "\nfiles     %u descriptors, %u open files\n", p->d.nfds, nfiles);
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct img_fd *fd = &p->fds[i];
		const struct img_file *fl = img_file(img, fd->d.file);
		const struct fd_kind_info *k = fd_kind(fl->d.kind);
		int first = img_file_fd(p, fl->d.id), other;
		char state[512] = "";
		int32_t pid;

		fprintf(f, "  %3d %-8s %-2s pos %-10llu %s%s", fd->d.fd, fd_kind_name(fl->d.kind),
			acc[fl->d.flags & 3], (unsigned long long)fl->d.pos, fl->path,
			fd->d.fdflags & 1 /* FD_CLOEXEC */ ? " (cloexec)" : "");
		if (first != fd->d.fd) {
			fprintf(f, " (dup of %d)\n", first);
			continue;
		}
		if (k && k->text && fl->d.state_len >= k->state_size && fl->d.state_len)
			k->text(fl, state, sizeof(state));
		if (fl->what[0] || state[0])
			fprintf(f, "\n        %s%s%s", fl->what, fl->what[0] && state[0] ? "; " : "", state);
		/* One open file description in several processes of a tree
		 * (fork, SCM_RIGHTS): one offset, one set of status flags. */
		for (uint32_t n = 0; insp_file_sharer(img, p, fl->d.id, n, &pid, &other) == 0; n++)
			fprintf(f, "%s PID %d (its fd %d)", n ? "," : "\n        open file shared with",
				pid, other);
		if (fl->d.policy == CKPT_FPOL_INHERIT)
			fprintf(f, "\n        outside the image: restore gives it its own fd %d", fd->d.fd);
		else if (fl->d.policy == CKPT_FPOL_LOST)
			fprintf(f, "\n        not saved (dump --allow-lost-fds, --lose-fd): /dev/null at restore");
		else if (fl->d.policy == CKPT_FPOL_OUTSIDE)
			fprintf(f, "\n        outside the image: restore reconnects it if it is still there");
		for (uint32_t n = 0; n < p->nlocks; n++) {
			char lk[96];

			if (p->locks[n].file != fl->d.id)
				continue;
			img_lock_text(&p->locks[n], lk, sizeof(lk));
			fprintf(f, "\n        locked: %s", lk);
		}
		fputc('\n', f);
	}
	print_mapped_files(f, img, p);
}

static void print_signals(FILE *f, const struct insp_proc *ip)
{
	const struct img_proc *p = ip->p;
	uint64_t ignored = 0;

	fprintf(f, "\nsignals\n");
	for (int s = 0; s < CKPT_NSIG; s++) {
		const struct ckpt_sigaction *sa = &p->sigacts[s];

		if (sa->handler == 1)
			ignored |= 1ull << s;
		if (sa->handler <= 1)
			continue;
		fprintf(f, "  %-11s handler %#llx", insp_signal_name(s + 1),
			(unsigned long long)sa->handler);
		print_sym(f, &ip->handlers[s], sa->handler);
		fprintf(f, ", flags %#llx, mask", (unsigned long long)sa->flags);
		print_sigset(f, sa->mask);
		fputc('\n', f);
	}
	fprintf(f, "  ignored    ");
	print_sigset(f, ignored);
	fputc('\n', f);
	print_pending(f, "  pending (process)", (const uint8_t (*)[CKPT_SIGINFO_SIZE])p->pending,
		      p->d.npending);
}

static void print_stats(FILE *f, const struct insp *in)
{
	const struct img_stats *st = &in->st;

	fprintf(f, "\npages     %llu stored in %llu blocks, %llu in the parent image\n",
		(unsigned long long)st->npages, (unsigned long long)st->nblocks,
		(unsigned long long)st->parent_pages);
	fprintf(f, "  %llu bytes raw, %llu stored: ratio %.2f\n", (unsigned long long)st->raw_bytes,
		(unsigned long long)st->stored_bytes,
		st->stored_bytes ? (double)st->raw_bytes / (double)st->stored_bytes : 1.0);
	for (int c = 0; c <= CKPT_CODEC_LZ4; c++) {
		static const char *const names[] = { "none", "zlib", "zstd", "lz4" };

		if (st->codec_blocks[c])
			fprintf(f, "  %-5s %llu blocks, %llu bytes raw, %llu stored\n", names[c],
				(unsigned long long)st->codec_blocks[c],
				(unsigned long long)st->codec_raw[c],
				(unsigned long long)st->codec_stored[c]);
	}
}

void insp_print_text(const struct insp *in, FILE *f)
{
	print_header(f, in);
	insp_print_tree_text(in, f);
	for (uint32_t i = 0; i < in->img.h.nprocs; i++) {
		const struct insp_proc *ip = &in->procs[i];

		print_proc(f, ip->p);
		print_threads(f, ip);
		print_mappings(f, ip, in->img.h.page_size);
		print_files(f, &in->img, ip->p);
		print_signals(f, ip);
	}
	print_stats(f, in);
}
