/*
 * ckpt inspect --json: the summary for scripts.  The schema is
 * docs/inspect-json.md; change both together, and bump "schema" when a
 * key changes meaning or goes away (adding keys does not need it).
 */
#include <string.h>
#include <time.h>

#include "arch/arch.h"
#include "inspect/inspect.h"
#include "image/fdkind.h"
#include "common/json.h"
#include "common/util.h"

#define SCHEMA_VERSION	1

static void hexstr(struct json *j, const char *key, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1] = "";

	for (size_t i = 0; i < n && i < 64; i++)
		snprintf(buf + 2 * i, sizeof(buf) - 2 * i, "%02x", p[i]);
	json_str(j, key, buf);
}

/* A NUL-padded fixed-size field. */
static void fixstr(struct json *j, const char *key, const char *s, size_t size)
{
	json_strn(j, key, s, strnlen(s, size));
}

static void sigset(struct json *j, const char *key, uint64_t set)
{
	json_array(j, key);
	for (int s = 1; s <= CKPT_NSIG; s++)
		if (set & (1ull << (s - 1)))
			json_str(j, NULL, insp_signal_name(s));
	json_close(j);
}

static void pending(struct json *j, const uint8_t (*si)[CKPT_SIGINFO_SIZE], uint32_t n)
{
	json_array(j, "pending");
	for (uint32_t i = 0; i < n; i++) {
		int32_t signo;

		memcpy(&signo, si[i], sizeof(signo));
		json_str(j, NULL, insp_signal_name(signo));
	}
	json_close(j);
}

static void symbol(struct json *j, const struct insp_sym *s, uint64_t addr,
		   const struct img_vma *v)
{
	if (!s->name) {
		json_null(j, "symbol");
		return;
	}
	json_object(j, "symbol");
	json_str(j, "name", s->name);
	json_u64(j, "offset", addr - s->start);
	json_u64(j, "size", s->size);
	json_str(j, "file", v ? v->path : NULL);
	json_bool(j, "file_changed", s->file_changed);
	json_close(j);
}

static void header(struct json *j, const struct insp *in)
{
	const struct ckpt_header *h = &in->img.h;
	time_t t = (time_t)h->created;
	char when[32] = "";
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object(j, "header");
	json_u64(j, "version", h->version);
	json_str(j, "arch", h->machine == ARCH_ELF_MACHINE ? ARCH_NAME : NULL);
	json_u64(j, "machine", h->machine);
	json_u64(j, "page_size", h->page_size);
	json_hex(j, "flags", h->flags);
	json_hex(j, "xfeatures", h->xfeatures);
	json_u64(j, "xstate_size", h->xstate_size);
	json_u64(j, "nprocs", h->nprocs);
	json_u64(j, "created", h->created);
	json_str(j, "created_utc", when);
	fixstr(j, "kernel", h->kernel, sizeof(h->kernel));
	fixstr(j, "host", h->host, sizeof(h->host));
	hexstr(j, "image_id", h->image_id, sizeof(h->image_id));
	if (is_all_zero(h->parent_id, sizeof(h->parent_id)))
		json_null(j, "parent_id");
	else
		hexstr(j, "parent_id", h->parent_id, sizeof(h->parent_id));
	json_close(j);
}

static void signature(struct json *j, const struct insp *in)
{
	json_object(j, "signature");
	json_str(j, "status", img_mac_status_word(in->st.mac));
	json_str(j, "text", img_mac_status_text(in->st.mac));
	if (in->st.mac == IMG_MAC_NONE)
		json_null(j, "key_id");
	else
		hexstr(j, "key_id", in->st.key_id, sizeof(in->st.key_id));
	json_close(j);
}

static void process(struct json *j, const struct img_proc *p)
{
	const struct ckpt_proc *d = &p->d;
	static const char *const caps[] = { "effective", "permitted", "inheritable", "bounding", "ambient" };
	const uint64_t capv[] = { d->cap_eff, d->cap_prm, d->cap_inh, d->cap_bnd, d->cap_amb };

	json_object(j, "process");
	json_i64(j, "pid", d->pid);
	json_i64(j, "ppid", d->ppid);
	json_i64(j, "pgid", d->pgid);
	json_i64(j, "sid", d->sid);
	if (p->has_ctty) {
		json_object(j, "terminal");
		json_u64(j, "rdev", p->ctty.rdev);
		json_i64(j, "foreground_pgid", p->ctty.tpgid);
		json_bool(j, "pty_of_image", p->ctty.cflags & CKPT_CTTY_PTY);
		json_bool(j, "termios_known", p->ctty.cflags & CKPT_CTTY_TERMIOS);
		json_hex(j, "lflag", p->ctty_tty.lflag);
		json_u64(j, "rows", p->ctty_tty.rows);
		json_u64(j, "cols", p->ctty_tty.cols);
		json_close(j);
	}
	fixstr(j, "comm", d->comm, sizeof(d->comm));
	json_str(j, "exe", d->flags & CKPT_PROC_NO_EXE ? NULL : p->exe);
	json_str(j, "cwd", p->cwd);
	json_array(j, "cmdline");
	for (size_t i = 0; i < d->cmdline_len;) {
		size_t n = strnlen(p->cmdline + i, d->cmdline_len - i);

		json_strn(j, NULL, p->cmdline + i, n);
		i += n + 1;
	}
	json_close(j);
	json_bool(j, "stopped", !!(d->flags & CKPT_PROC_STOPPED));
	json_bool(j, "undumpable", !!(d->flags & CKPT_PROC_UNDUMPABLE));
	json_u64(j, "nthreads", d->nthreads);
	json_u64(j, "umask", d->umask);
	json_hex(j, "personality", d->personality);
	json_object(j, "credentials");
	json_array(j, "uid");
	for (int i = 0; i < 4; i++)
		json_u64(j, NULL, d->uid[i]);
	json_close(j);
	json_array(j, "gid");
	for (int i = 0; i < 4; i++)
		json_u64(j, NULL, d->gid[i]);
	json_close(j);
	json_array(j, "groups");
	for (uint32_t i = 0; i < d->ngroups; i++)
		json_u64(j, NULL, p->groups[i]);
	json_close(j);
	json_object(j, "capabilities");
	for (int i = 0; i < 5; i++)
		json_hex(j, caps[i], capv[i]);
	json_close(j);
	json_close(j);
	json_object(j, "mm");
	json_hex(j, "start_code", d->start_code);
	json_hex(j, "end_code", d->end_code);
	json_hex(j, "start_data", d->start_data);
	json_hex(j, "end_data", d->end_data);
	json_hex(j, "start_brk", d->start_brk);
	json_hex(j, "brk", d->brk);
	json_hex(j, "start_stack", d->start_stack);
	json_close(j);
	json_close(j);
}

static void code(struct json *j, const struct insp_thread *th)
{
	const struct insp_code *c = &th->code;

	json_object(j, "code");
	json_str(j, "error", c->ninsns ? NULL : c->why ? c->why : "unknown");
	json_array(j, "instructions");
	for (unsigned i = 0; i < c->ninsns; i++) {
		const struct insp_insn *in = &c->insns[i];

		json_object(j, NULL);
		json_hex(j, "addr", in->addr);
		hexstr(j, "bytes", in->bytes, in->len);
		json_str(j, "text", in->text);
		json_bool(j, "at_pc", in->addr == th->pc);
		json_close(j);
	}
	json_close(j);
	json_close(j);
}

static void thread(struct json *j, const struct insp_thread *th)
{
	const struct ckpt_thread *d = &th->t->d;
	const struct img_regset *rs = &th->t->regsets[0];

	json_object(j, NULL);
	json_i64(j, "tid", d->tid);
	fixstr(j, "comm", d->comm, sizeof(d->comm));
	json_hex(j, "pc", th->pc);
	json_hex(j, "sp", th->sp);
	symbol(j, &th->sym, th->pc, th->vma);
	json_str(j, "mapping", th->vma && th->vma->path[0] ? th->vma->path : NULL);
	if (th->syscall >= 0) {
		json_object(j, "syscall");
		json_i64(j, "nr", th->syscall);
		json_str(j, "name", arch_syscall_name(th->syscall));
		json_close(j);
	} else {
		json_null(j, "syscall");
	}
	sigset(j, "blocked", d->sigmask);
	pending(j, (const uint8_t (*)[CKPT_SIGINFO_SIZE])th->t->pending, d->npending);
	if (d->rseq_addr) {
		json_object(j, "rseq");
		json_hex(j, "addr", d->rseq_addr);
		json_u64(j, "len", d->rseq_len);
		json_hex(j, "sig", d->rseq_sig);
		json_hex(j, "flags", d->rseq_flags);
		json_close(j);
	} else {
		json_null(j, "rseq");
	}
	json_object(j, "altstack");
	json_hex(j, "sp", d->altstack_sp);
	json_u64(j, "size", d->altstack_size);
	json_hex(j, "flags", d->altstack_flags);
	json_close(j);
	json_object(j, "registers");
	for (unsigned i = 0; i < arch_nreg_names; i++) {
		uint64_t v;

		memcpy(&v, rs->data + arch_reg_names[i].off, sizeof(v));
		json_hex(j, arch_reg_names[i].name, v);
	}
	json_close(j);
	json_array(j, "regsets");
	for (uint32_t i = 0; i < d->nregsets; i++) {
		json_object(j, NULL);
		json_hex(j, "type", th->t->regsets[i].type);
		json_u64(j, "size", th->t->regsets[i].len);
		json_close(j);
	}
	json_close(j);
	code(j, th);
	json_close(j);
}

static void mappings(struct json *j, const struct insp_proc *ip, uint64_t ps)
{
	json_array(j, "mappings");
	for (uint32_t i = 0; i < ip->p->d.nvmas; i++) {
		const struct img_vma *v = &ip->p->vmas[i];
		char flags[160], perm[5];

		insp_vma_flags(v, flags, sizeof(flags));
		insp_vma_perm(v, perm);
		json_object(j, NULL);
		json_hex(j, "start", v->d.start);
		json_hex(j, "end", v->d.end);
		json_u64(j, "size", v->d.end - v->d.start);
		json_str(j, "perm", perm);
		json_u64(j, "offset", v->d.pgoff);
		json_str(j, "path", v->path[0] ? v->path : NULL);
		json_array(j, "flags");
		for (char *w = flags, *e; *w; w = *e ? e + 1 : e) {
			e = w + strcspn(w, ",");
			json_strn(j, NULL, w, (size_t)(e - w));
		}
		json_close(j);
		json_object(j, "pages");
		json_u64(j, "stored", ip->stored[i]);
		json_u64(j, "present", v->d.npages);
		json_u64(j, "total", (v->d.end - v->d.start) / ps);
		json_close(j);
		json_close(j);
	}
	json_close(j);
}

/* The locks the process holds through file id (on its lowest fd only). */
static void locks(struct json *j, const struct img_proc *p, uint32_t id)
{
	static const char *const type[] = { "?", "flock", "posix", "ofd", "lease" };

	json_array(j, "locks");
	for (uint32_t i = 0; id && i < p->nlocks; i++) {
		const struct ckpt_lock *l = &p->locks[i];

		if (l->file != id)
			continue;
		json_object(j, NULL);
		json_str(j, "type", type[l->type <= CKPT_LOCK_LEASE ? l->type : 0]);
		json_str(j, "mode", l->mode == 1 ? "write" : "read");
		json_u64(j, "start", l->start);
		if (l->end == CKPT_LOCK_EOF)
			json_null(j, "end");
		else
			json_u64(j, "end", l->end);
		json_close(j);
	}
	json_close(j);
}

static void files(struct json *j, const struct img *img, const struct img_proc *p)
{
	static const char *const acc[] = { "r", "w", "rw", "?" };

	json_array(j, "files");
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct img_file *f = img_file(img, p->fds[i].d.file);
		const struct fd_kind_info *k = fd_kind(f->d.kind);
		int first = img_file_fd(p, f->d.id), other;
		int32_t pid;

		json_object(j, NULL);
		json_i64(j, "fd", p->fds[i].d.fd);
		json_str(j, "kind", fd_kind_name(f->d.kind));
		json_str(j, "path", f->path);
		json_str(j, "access", acc[f->d.flags & 3]);
		json_hex(j, "flags", f->d.flags);
		json_bool(j, "cloexec", p->fds[i].d.fdflags & 1);
		if (first != p->fds[i].d.fd)
			json_i64(j, "dup_of", first);
		else
			json_null(j, "dup_of");
		json_u64(j, "pos", f->d.pos);
		json_u64(j, "size", f->d.size);
		json_u64(j, "mode", f->d.mode);
		json_u64(j, "file", f->d.id);
		json_str(j, "policy", fd_policy_name(f->d.policy));
		json_str(j, "what", fd_file_what(f));
		json_u64(j, "data_bytes", f->d.data_len);
		if (k && k->json && f->d.state_len >= k->state_size && f->d.state_len) {
			json_object(j, "state");
			k->json(f, j);
			json_close(j);
		} else {
			json_null(j, "state");
		}
		locks(j, p, first == p->fds[i].d.fd ? f->d.id : 0);
		json_array(j, "shared_with");
		for (uint32_t n = 0; insp_file_sharer(img, p, f->d.id, n, &pid, &other) == 0; n++) {
			json_object(j, NULL);
			json_i64(j, "pid", pid);
			json_i64(j, "fd", other);
			json_close(j);
		}
		json_close(j);
		json_close(j);
	}
	json_close(j);
}

/* The files the process maps and holds no fd of (CKPT_FILEF_MAPPED). */
static void mapped_files(struct json *j, const struct img *img, const struct img_proc *p)
{
	json_array(j, "mapped_files");
	for (uint32_t k = 0; k < img->nfiles; k++) {
		const struct img_file *f = &img->files[k];
		const struct fd_kind_info *kd = fd_kind(f->d.kind);

		if (!insp_maps_only(p, f))
			continue;
		json_object(j, NULL);
		json_u64(j, "file", f->d.id);
		json_str(j, "kind", fd_kind_name(f->d.kind));
		json_str(j, "path", f->path);
		json_u64(j, "size", f->d.size);
		json_u64(j, "mode", f->d.mode);
		json_hex(j, "seals", CKPT_FILEF_SEALS(f->d.fflags));
		json_u64(j, "data_bytes", f->d.data_len);
		if (kd && kd->json && f->d.state_len >= kd->state_size && f->d.state_len) {
			json_object(j, "state");
			kd->json(f, j);
			json_close(j);
		} else {
			json_null(j, "state");
		}
		json_close(j);
	}
	json_close(j);
}

static void signals(struct json *j, const struct insp_proc *ip)
{
	const struct img_proc *p = ip->p;
	uint64_t ignored = 0;

	json_object(j, "signals");
	json_array(j, "handlers");
	for (int s = 0; s < CKPT_NSIG; s++) {
		const struct ckpt_sigaction *sa = &p->sigacts[s];

		if (sa->handler == 1)
			ignored |= 1ull << s;
		if (sa->handler <= 1)
			continue;
		json_object(j, NULL);
		json_u64(j, "signal", (uint64_t)s + 1);
		json_str(j, "name", insp_signal_name(s + 1));
		json_hex(j, "handler", sa->handler);
		symbol(j, &ip->handlers[s], sa->handler, img_find_vma(p, sa->handler));
		json_hex(j, "flags", sa->flags);
		sigset(j, "mask", sa->mask);
		json_close(j);
	}
	json_close(j);
	sigset(j, "ignored", ignored);
	pending(j, (const uint8_t (*)[CKPT_SIGINFO_SIZE])p->pending, p->d.npending);
	json_close(j);
}

static void stats(struct json *j, const struct insp *in)
{
	static const char *const names[] = { "none", "zlib", "zstd", "lz4" };
	const struct img_stats *st = &in->st;

	json_object(j, "stats");
	json_u64(j, "image_bytes", in->image_bytes);
	json_u64(j, "sections", st->nsections + 1);
	json_u64(j, "blocks", st->nblocks);
	json_u64(j, "pages", st->npages);
	json_u64(j, "parent_pages", st->parent_pages);
	json_u64(j, "raw_bytes", st->raw_bytes);
	json_u64(j, "stored_bytes", st->stored_bytes);
	json_double(j, "ratio", st->stored_bytes ? (double)st->raw_bytes / (double)st->stored_bytes : 1.0);
	json_object(j, "codecs");
	for (int c = 0; c <= CKPT_CODEC_LZ4; c++) {
		if (!st->codec_blocks[c])
			continue;
		json_object(j, names[c]);
		json_u64(j, "blocks", st->codec_blocks[c]);
		json_u64(j, "raw_bytes", st->codec_raw[c]);
		json_u64(j, "stored_bytes", st->codec_stored[c]);
		json_close(j);
	}
	json_close(j);
	json_close(j);
}

/* The keys that describe one process. */
static void proc_members(struct json *j, const struct insp *in, const struct insp_proc *ip)
{
	process(j, ip->p);
	json_array(j, "threads");
	for (uint32_t k = 0; k < ip->p->d.nthreads; k++)
		thread(j, &ip->threads[k]);
	json_close(j);
	mappings(j, ip, in->img.h.page_size);
	files(j, &in->img, ip->p);
	mapped_files(j, &in->img, ip->p);
	signals(j, ip);
}

void insp_print_json(const struct insp *in, FILE *f)
{
	struct json j;

	json_begin(&j, f);
	json_u64(&j, "schema", SCHEMA_VERSION);
	json_str(&j, "image", in->path);
	header(&j, in);
	signature(&j, in);
	proc_members(&j, in, &in->procs[0]);
	stats(&j, in);
	/* A tree: its tasks, then its other processes, in the same order. */
	if (in->img.h.nprocs > 1 || in->img.ntasks > 1)
		insp_tree_json(&j, in);
	if (in->img.h.nprocs > 1) {
		json_array(&j, "other_processes");
		for (uint32_t i = 1; i < in->img.h.nprocs; i++) {
			json_object(&j, NULL);
			proc_members(&j, in, &in->procs[i]);
			json_close(&j);
		}
		json_close(&j);
	}
	json_end(&j);
}
