/*
 * State only the target itself can ask the kernel for: signal handlers
 * (rt_sigaction), each thread's alternate signal stack (sigaltstack) and
 * the current program break (brk(0)).  These syscalls run inside the
 * target (ptrace/inject.c), each thread borrowed so that a kill of ckpt
 * meanwhile leaves it running as before (ptrace/borrow.c); their outputs
 * go to a few bytes of the thread's dead stack (tracee_scratch), so the
 * process's mappings are never touched.  Every syscall run here only
 * reads, and is harmless if it completes without ckpt.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

/*
 * Search the functions of an ELF image for a syscall instruction.  elf
 * describes the file; code is its text as mapped at load_bias (so symbol
 * value v lives at load_bias + v, and at code[v - text_vaddr]).
 */
static int search_elf(Elf *elf, const uint8_t *code, uint64_t code_vaddr, size_t code_len,
		      uint64_t load_bias, uint64_t *insn)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;

			if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    !sym.st_size || sym.st_value < code_vaddr ||
			    sym.st_value + sym.st_size > code_vaddr + code_len)
				continue;
			if (arch_find_syscall_insn(code + (sym.st_value - code_vaddr), sym.st_size,
						   load_bias + sym.st_value, insn) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

/* The vdso is an ELF image in memory: read it and search its functions. */
static int from_vdso(pid_t pid, const struct map_entry *m, uint64_t *insn)
{
	size_t len = m->end - m->start;
	uint8_t *buf = xmalloc(len);
	Elf *elf;
	int ret = -ENOENT;

	if (mem_read(pid, m->start, buf, len) == 0 &&
	    (elf = elf_memory((char *)buf, len)) != NULL) {
		size_t nph = 0;
		uint64_t base = UINT64_MAX;

		/* The vdso may be linked at a non-zero address (old kernels). */
		elf_getphdrnum(elf, &nph);
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < base)
				base = ph.p_vaddr;
		}
		if (base != UINT64_MAX)
			ret = search_elf(elf, buf, base, len, m->start - base, insn);
		elf_end(elf);
	}
	free(buf);
	return ret;
}

/* libc's syscall(3) wrapper, found through its symbol in the file. */
static int from_file(pid_t pid, const struct map_entry *m, uint64_t *insn)
{
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	size_t len = m->end - m->start;
	uint8_t *buf;
	Elf *elf;
	int ret = -ENOENT;

	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	buf = xmalloc(len);
	if (elf && mem_read(pid, m->start, buf, len) == 0) {
		/* The mapping holds file bytes [pgoff, pgoff+len); for a shared
		 * object, vaddr == file offset within its text segment. */
		ret = search_elf(elf, buf, m->pgoff, len, m->start - m->pgoff, insn);
	}
	if (elf)
		elf_end(elf);
	free(buf);
	close(fd);
	return ret;
}

int dump_find_syscall_insn(struct tracee_set *ts, const struct map_entry *maps, size_t n)
{
	/* The sigreturn gadget (found before the freeze) holds a syscall
	 * instruction, and makes a killed ckpt harmless: no other needed. */
	if (ts->code.arch.gadget && (tracee_check_gadget(ts->t[0].tid, &ts->code) == 0 ||
				     tracee_find_gadget(ts->t[0].tid, &ts->code) == 0)) {
		ts->code.syscall_insn = ts->code.arch.gadget_syscall;
		return 0;
	}
	ts->code.arch.gadget = 0;
	debug("no sigreturn gadget in the process: syscalls run in it the old way, and a kill -9 "
	      "of ckpt while one runs would harm it (docs/kill-safety.md)");
	elf_version(EV_CURRENT);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(maps[i].path, "[vdso]") &&
		    from_vdso(ts->t[0].tid, &maps[i], &ts->code.syscall_insn) == 0)
			goto found;
	for (size_t i = 0; i < n; i++)
		if ((maps[i].prot & PROT_EXEC) && strstr(maps[i].path, "/libc") &&
		    from_file(ts->t[0].tid, &maps[i], &ts->code.syscall_insn) == 0)
			goto found;
	return error("found no syscall instruction in the vdso or libc of the process");
found:
	debug("syscall instruction at %#lx", (unsigned long)ts->code.syscall_insn);
	return 0;
}

static int rcall(struct tracee_set *ts, struct tracee *t, long nr, uint64_t a0, uint64_t a1,
		 uint64_t a2, uint64_t a3, long *res)
{
	uint64_t a[6] = { a0, a1, a2, a3, 0, 0 };
	int ret = tracee_syscall(ts, t, nr, a, res);

	if (ret < 0)
		return error_errno(ret, "thread %d: cannot run syscall %ld in the process", t->tid, nr);
	return 0;
}

int dump_rcall(struct tracee_set *ts, struct tracee *t, long nr, uint64_t a0, uint64_t a1,
	       uint64_t a2, uint64_t a3, long *res)
{
	return rcall(ts, t, nr, a0, a1, a2, a3, res);
}

/* Kernel struct sigaction as rt_sigaction(2) takes it on x86-64 and
 * aarch64 (both define SA_RESTORER): handler, flags, restorer, mask. */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

/* The kernel's stack_t: void *ss_sp; int ss_flags; size_t ss_size. */
struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

/* /proc/PID/timers (fs/proc/base.c show_timer): ID, signal: N/SIGVAL,
 * notify: signal|none|thread/pid|tid.N, ClockID: N, per timer. */
static void parse_timers(pid_t pid, struct img_proc *p)
{
	char path[64], *buf, *line, *save;
	struct ckpt_posix_timer *t = NULL;

	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	if (read_file(path, &buf, NULL) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind[16] = "", who[8] = "";
		unsigned long long v;
		int n;

		if (sscanf(line, "ID: %d", &n) == 1) {
			p->ptimers = xrealloc(p->ptimers, (p->timers.ntimers + 1) * sizeof(*p->ptimers));
			t = &p->ptimers[p->timers.ntimers++];
			memset(t, 0, sizeof(*t));
			t->id = n;
		} else if (t && sscanf(line, "signal: %d/%llx", &n, &v) == 2) {
			t->signo = n;
			t->sigval = v;
		} else if (t && sscanf(line, "notify: %15[a-z]/%7[a-z].%d", kind, who, &n) == 3) {
			t->notify = !strcmp(kind, "none") ? SIGEV_NONE : !strcmp(kind, "thread") ?
				    SIGEV_THREAD : SIGEV_SIGNAL;
			if (!strcmp(who, "tid")) {
				t->notify |= SIGEV_THREAD_ID;
				t->notify_tid = n;
			}
		} else if (t && sscanf(line, "ClockID: %d", &n) == 1) {
			t->clockid = n;
		}
	}
	free(buf);
}

/* The interval timers and POSIX timers, with the time each has left. */
static int collect_timers(struct img_proc *p, struct tracee_set *ts)
{
	struct tracee *t0 = &ts->t[0];
	uint64_t scratch;
	long r;
	int ret;

	if ((ret = tracee_scratch(ts, t0, &scratch)) < 0)
		return error_errno(ret, "thread %d: cannot borrow it", t0->tid);

	for (int which = 0; which < 3; which++) {
		struct { int64_t isec, iusec, vsec, vusec; } it;

		if ((ret = rcall(ts, t0, SYS_getitimer, (uint64_t)which, scratch, 0, 0, &r)) < 0)
			return ret;
		if (r == 0 && mem_read(t0->tid, scratch, &it, sizeof(it)) == 0)
			p->timers.itimer[which] = (struct ckpt_itimer){ it.isec, it.iusec, it.vsec, it.vusec };
	}
	parse_timers(t0->tid, p);
	for (uint32_t i = 0; i < p->timers.ntimers; i++) {
		struct ckpt_posix_timer *pt = &p->ptimers[i];
		struct { int64_t isec, insec, vsec, vnsec; } its;

		if ((ret = rcall(ts, t0, SYS_timer_gettime, (uint64_t)pt->id, scratch, 0, 0, &r)) < 0)
			return ret;
		if (r == 0 && mem_read(t0->tid, scratch, &its, sizeof(its)) == 0) {
			pt->interval_ns = its.isec * 1000000000 + its.insec;
			pt->value_ns = its.vsec * 1000000000 + its.vnsec;
		}
	}
	return 0;
}

/* size bytes at each of at[0..n) into out (n * size bytes): one
 * process_vm_readv for up to 512 of them, not one each. */
static int read_each(pid_t pid, const uint64_t *at, void *out, size_t size, size_t n)
{
	struct iovec l[512], r[512];

	for (size_t lo = 0; lo < n; lo += 512) {
		size_t k = MIN((size_t)512, n - lo);
		int ret;

		for (size_t i = 0; i < k; i++) {
			l[i] = (struct iovec){ (char *)out + (lo + i) * size, size };
			r[i] = (struct iovec){ (void *)(uintptr_t)at[lo + i], size };
		}
		if ((ret = mem_readv(pid, l, (int)k, r, (int)k)) < 0)
			return ret;
	}
	return 0;
}

/* Thread i's parent-death signal as PR_GET_PDEATHSIG wrote it (ATTRS;
 * the leader's is the PROC's, remote.c collect). */
static void set_pdeath(struct img_proc *p, size_t i, int32_t sig)
{
	if (i > 0 && p->tattrs && i < p->attrs.nthreads && sig > 0 && sig <= CKPT_NSIG)
		p->tattrs[i].pdeathsig = (uint32_t)sig;
}

/* The parent-death signals of borrowed threads tv[0..n) (scratch at[i],
 * thread idx[i] of p), but the leader's: one more round, for the threads
 * a trip could not take (none but the leader, mostly: no round then). */
static int borrowed_pdeath(struct img_proc *p, struct tracee_set *ts, struct tracee **tv,
			   const uint64_t *at, const size_t *idx, size_t n)
{
	struct tracee **tw = xmalloc(n * sizeof(*tw));
	uint64_t (*a)[6] = xzalloc(n * sizeof(*a)), *aw = xmalloc(n * sizeof(*aw));
	int32_t *sig = xzalloc(n * sizeof(*sig));
	long *r = xmalloc(n * sizeof(*r));
	size_t *iw = xmalloc(n * sizeof(*iw)), k = 0;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		if (idx[i] != 0) {
			tw[k] = tv[i];
			a[k][0] = PR_GET_PDEATHSIG;
			a[k][1] = aw[k] = at[i];
			iw[k++] = idx[i];
		}
	if (k && (ret = tracee_syscall_each(ts, tw, k, SYS_prctl, a, r)) < 0)
		ret = error_errno(ret, "cannot run prctl(PR_GET_PDEATHSIG) in the threads");
	if (ret == 0 && k && (ret = read_each(ts->t[0].tid, aw, sig, sizeof(*sig), k)) < 0)
		ret = error_errno(ret, "cannot read the parent-death signals of the threads");
	for (size_t i = 0; i < k && ret == 0; i++)
		if (r[i] == 0)
			set_pdeath(p, iw[i], sig[i]);
	free(tw);
	free(a);
	free(aw);
	free(sig);
	free(r);
	free(iw);
	return ret;
}

/*
 * Per thread, what only the thread itself can be asked: its
 * clear_child_tid (how pthread_join learns a thread ended) and its
 * alternate signal stack, for threads ts->t[idx[0..n)].  All of them are
 * borrowed first and each syscall runs in all at once
 * (tracee_syscall_each): with 1,000 threads, one thread after another
 * was some 5 ptrace round trips each, most of the freeze.  Then given
 * back together, but t[0] (its scratch is needed after).
 */
static int borrowed_calls(struct img_proc *p, struct tracee_set *ts, const size_t *all, size_t nall,
			  size_t *later, size_t *nlater)
{
	struct tracee **tv = xmalloc(nall * sizeof(*tv));
	uint64_t (*a)[6] = xzalloc(nall * sizeof(*a)), *at = xmalloc(nall * sizeof(*at));
	uint64_t *tidaddr = xzalloc(nall * sizeof(*tidaddr));
	struct kstack *ks = xzalloc(nall * sizeof(*ks));
	long *r = xmalloc(nall * sizeof(*r));
	size_t *idx = xmalloc(nall * sizeof(*idx)), n = 0, k = 0;
	int ret = 0;

	/* A thread whose frames would meet those of one borrowed already:
	 * in a later round (tracee_crowded; not once check_room passed, as
	 * spans that hold no other stack pointer cannot meet, but kept as
	 * the last word). */
	for (size_t i = 0; i < nall && ret == 0; i++) {
		tv[n] = &ts->t[all[i]];
		if ((ret = tracee_scratch(ts, tv[n], &at[n])) == -EBUSY) {
			later[(*nlater)++] = all[i];
			ret = 0;
			continue;
		}
		if (ret < 0)
			ret = error_errno(ret, "thread %d: cannot borrow it", tv[n]->tid);
		a[n][0] = PR_GET_TID_ADDRESS;
		a[n][1] = at[n];
		idx[n++] = all[i];
	}
	if (ret == 0 && (ret = tracee_syscall_each(ts, tv, n, SYS_prctl, a, r)) < 0)
		ret = error_errno(ret, "cannot run prctl(PR_GET_TID_ADDRESS) in the threads");
	if (ret == 0 && (ret = read_each(ts->t[0].tid, at, tidaddr, sizeof(*tidaddr), n)) < 0)
		ret = error_errno(ret, "cannot read the tid addresses of the threads");
	for (size_t i = 0; i < n && ret == 0; i++) {
		p->threads[idx[i]].d.clear_tid = r[i] == 0 ? tidaddr[i] : 0;
		a[i][0] = 0;
		a[i][1] = at[i];
	}
	if (ret == 0 && (ret = tracee_syscall_each(ts, tv, n, SYS_sigaltstack, a, r)) < 0)
		ret = error_errno(ret, "cannot run sigaltstack in the threads");
	for (size_t i = 0; i < n && ret == 0; i++)
		if (r[i] < 0)
			ret = error_errno((int)r[i], "thread %d: sigaltstack failed", tv[i]->tid);
	if (ret == 0 && (ret = read_each(ts->t[0].tid, at, ks, sizeof(*ks), n)) < 0)
		ret = error_errno(ret, "cannot read the signal stacks of the threads");
	for (size_t i = 0; i < n && ret == 0; i++) {
		p->threads[idx[i]].d.altstack_sp = ks[i].sp;
		p->threads[idx[i]].d.altstack_size = ks[i].size;
		p->threads[idx[i]].d.altstack_flags = (uint32_t)ks[i].flags;
	}
	if (ret == 0)
		ret = borrowed_pdeath(p, ts, tv, at, idx, n);
	/* On failure dump_collect_remote gives back what is left. */
	for (size_t i = 0; i < n; i++)
		if (tv[i] != &ts->t[0])
			tv[k++] = tv[i];
	if (ret == 0 && (ret = tracee_inject_end_each(tv, k)) < 0)
		ret = error_errno(ret, "cannot give the threads their registers back");
	free(tv);
	free(a);
	free(at);
	free(tidaddr);
	free(ks);
	free(r);
	free(idx);
	return ret;
}

/* What a trip's syscalls leave in a thread's scratch.  Marked first with
 * what neither writes: a tid address of ~0 (prctl failed: none known, as
 * borrowed_calls takes a failure) and ss_flags -1 (no sigaltstack). */
struct trip_out {
	uint64_t tidaddr;
	struct kstack ks;
	int32_t pdeath, pad;	/* PR_GET_PDEATHSIG's; -1: it failed */
};

/*
 * The same for threads t[1..] in one trip each (tracee_trip_each: one
 * ptrace stop a thread instead of six); the threads it could not take go
 * to *left, for borrowed_calls.  sigs: the signals the process ignores.
 */
static int trip_calls(struct img_proc *p, struct tracee_set *ts, uint64_t sigs, size_t *left,
		      size_t *nleft)
{
	static const struct tracee_tcall calls[] = {
		{ SYS_prctl, { PR_GET_TID_ADDRESS }, 1, offsetof(struct trip_out, tidaddr) },
		{ SYS_sigaltstack, { 0 }, 1, offsetof(struct trip_out, ks) },
		{ SYS_prctl, { PR_GET_PDEATHSIG }, 1, offsetof(struct trip_out, pdeath) },
	};
	size_t n = ts->n - 1;
	struct tracee **tv = xmalloc((n ? n : 1) * sizeof(*tv));
	struct trip_out in, *out = xmalloc((n ? n : 1) * sizeof(*out));
	uint8_t *done = xmalloc(n ? n : 1);
	int ret;

	memset(&in, 0xff, sizeof(in));
	for (size_t i = 0; i < n; i++)
		tv[i] = &ts->t[i + 1];
	ret = tracee_trip_each(ts, tv, n, sigs, calls, ARRAY_SIZE(calls), &in, sizeof(in), out, done);
	if (ret < 0)
		ret = error_errno(ret, "cannot run prctl(PR_GET_TID_ADDRESS), sigaltstack and "
				  "prctl(PR_GET_PDEATHSIG) in the threads");
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct img_thread *t = &p->threads[i + 1];

		if (!done[i]) {
			left[(*nleft)++] = i + 1;
			continue;
		}
		if (out[i].ks.flags == -1)
			ret = error("thread %d: sigaltstack failed", tv[i]->tid);
		t->d.clear_tid = out[i].tidaddr == ~0ull ? 0 : out[i].tidaddr;
		t->d.altstack_sp = out[i].ks.sp;
		t->d.altstack_size = out[i].ks.size;
		t->d.altstack_flags = (uint32_t)out[i].ks.flags;
		set_pdeath(p, i + 1, out[i].pdeath);
	}
	if (ret == 0)	/* t[0] is always borrowed */
		debug("%zu of %zu threads asked in one trip each", ts->n - *nleft, ts->n);
	free(tv);
	free(out);
	free(done);
	return ret;
}

/* Signals whose delivery does nothing: ignored, or caught by no handler
 * with a default action of ignoring (signal(7)). */
static uint64_t ignored_signals(const struct proc_status *st)
{
	uint64_t dfl_ign = 1ull << (SIGCHLD - 1) | 1ull << (SIGURG - 1) | 1ull << (SIGWINCH - 1);

	return st->sig_ign | (dfl_ign & ~st->sig_cgt);
}

/* Without a sigreturn gadget a borrowed thread is not safe (borrow.c):
 * then one thread at a time, as few at risk as can be. */
static int collect_threads(struct img_proc *p, struct tracee_set *ts, const struct proc_status *st)
{
	size_t *left = xmalloc(ts->n * sizeof(*left)), *later = xmalloc(ts->n * sizeof(*later));
	size_t n = 0, nlater = 0, step;
	int ret = 0;

	left[n++] = 0;
	if (ts->code.arch.gadget)
		ret = trip_calls(p, ts, ignored_signals(st), left, &n);
	else
		for (size_t i = 1; i < ts->n; i++)
			left[n++] = i;
	step = ts->code.arch.gadget ? n : 1;
	for (size_t lo = 0; lo < n && ret == 0; lo += step)
		ret = borrowed_calls(p, ts, left + lo, MIN(step, n - lo), later, &nlater);
	/* Rounds of those whose stacks were too close to others' (t[0]
	 * stays borrowed: one too close to it never gets a turn).  Not
	 * reached once check_room() passed; a refusal here would come after
	 * other threads ran syscalls, all given back. */
	while (ret == 0 && nlater > 0) {
		n = nlater;
		memcpy(left, later, n * sizeof(*left));
		nlater = 0;
		debug("%zu threads too close to another's stack: borrowed in a later round", n);
		ret = borrowed_calls(p, ts, left, n, later, &nlater);
		if (ret == 0 && nlater == n)
			ret = error("thread %d: its stack is too close to another thread's to run syscalls "
				    "in it (the frames below its stack pointer would meet that thread's "
				    "stack or frames)", ts->t[left[0]].tid);
	}
	free(left);
	free(later);
	return ret;
}

static int collect(struct img_proc *p, struct tracee_set *ts, const struct proc_status *st,
		   const struct remote_hook *after_brk)
{
	struct tracee *t0 = &ts->t[0];
	uint64_t scratch;
	long r, dumpable;
	int ret;

	if ((ret = tracee_scratch(ts, t0, &scratch)) < 0)
		return error_errno(ret, "thread %d: cannot borrow it", t0->tid);
	/*
	 * brk(2) takes the mmap lock for writing, even to read the break:
	 * first, before anything walks the page tables (smaps holds the
	 * lock for reading while it walks a whole mapping: 1 GiB of small
	 * pages kept brk waiting some 16 ms, all of it in the pause).
	 */
	if ((ret = rcall(ts, t0, SYS_brk, 0, 0, 0, 0, &r)) < 0)
		return ret;
	p->d.brk = (uint64_t)r;
	if (after_brk && after_brk->fn)
		after_brk->fn(after_brk->arg);

	/*
	 * One injected rt_sigaction costs a ptrace round trip (about 0.1 ms,
	 * all of it in the pause), so only signals not at SIG_DFL are asked
	 * for (status tells which are caught or ignored), and SIGCHLD, whose
	 * SA_NOCLDSTOP and SA_NOCLDWAIT act even at SIG_DFL.  What that
	 * loses, the flags and mask a program left with a default action
	 * (signal(SIG, SIG_DFL) sets SA_RESTART), changes nothing the kernel
	 * does; only sigaction() reading them back would see it.
	 */
	for (int sig = 1; sig <= CKPT_NSIG; sig++) {
		uint64_t bit = 1ull << (sig - 1);
		struct ksigaction ka;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sig != SIGCHLD && !((st->sig_cgt | st->sig_ign) & bit)) {
			p->sigacts[sig - 1] = (struct ckpt_sigaction){ 0 };	/* SIG_DFL */
			continue;
		}
		if ((ret = rcall(ts, t0, SYS_rt_sigaction, (uint64_t)sig, 0, scratch, 8, &r)) < 0)
			return ret;
		if (r < 0)	/* 32..33 are glibc's but valid for the kernel */
			continue;
		if ((ret = mem_read(ts->t[0].tid, scratch, &ka, sizeof(ka))) < 0)
			return error_errno(ret, "cannot read signal action %d", sig);
		p->sigacts[sig - 1] = (struct ckpt_sigaction){ ka.handler, ka.flags, ka.restorer, ka.mask };
	}
	if ((ret = collect_threads(p, ts, st)) < 0)
		return ret;
	if ((ret = collect_timers(p, ts)) < 0)
		return ret;
	if ((ret = rcall(ts, t0, SYS_prctl, PR_GET_PDEATHSIG, scratch, 0, 0, &r)) < 0)
		return ret;
	if (r == 0) {
		int32_t sig = 0;

		if (mem_read(ts->t[0].tid, scratch, &sig, sizeof(sig)) == 0 && sig > 0 && sig <= CKPT_NSIG)
			p->d.pdeathsig = (uint32_t)sig;
	}
	if ((ret = rcall(ts, t0, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, &r)) < 0)
		return ret;
	if (r == 0)
		p->d.flags |= CKPT_PROC_UNDUMPABLE;
	/* A subreaper of a tree gets its orphans: it must be one again. */
	dumpable = r;
	if ((ret = rcall(ts, t0, SYS_prctl, PR_GET_CHILD_SUBREAPER, scratch, 0, 0, &r)) < 0)
		return ret;
	if (r == 0) {
		int32_t on = 0;

		p->subreaper = mem_read(ts->t[0].tid, scratch, &on, sizeof(on)) == 0 && on;
	}
	return dump_attrs_remote(p, ts, st->vmlck_kb, dumpable);
}

/*
 * Where a syscall discards part of a thread's extended register state
 * (arm64: SVE beyond v0-v31, arch/arm64/kernel/syscall.c fp_user_discard),
 * the syscalls run above cost the threads that state: put back what was
 * dumped, so that a process that runs on after the dump keeps it.
 */
static int put_back_regsets(const struct img_proc *p, struct tracee_set *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		const struct img_thread *t = &p->threads[i];

		for (uint32_t k = 1; k < t->d.nregsets; k++) {
			int ret = tracee_set_regset(ts->t[i].tid, t->regsets[k].type, t->regsets[k].data,
						    t->regsets[k].len);

			if (ret < 0)
				return error_errno(ret, "thread %d: cannot put back its registers "
						   "(note type %#x)", ts->t[i].tid, t->regsets[k].type);
		}
	}
	return 0;
}

/*
 * A thread whose stack pointer lies less than what a borrow writes below
 * another's (user-level threads or goroutines on stacks a few KiB apart)
 * could not be given syscalls without writing over the top of its live
 * stack, and a kill of ckpt before the bytes are put back would leave it
 * corrupted (docs/kill-safety.md 1): the dump refuses, before anything
 * is written into the process.
 */
static int check_room(const struct tracee_set *ts)
{
	struct tracee_tight tt;
	size_t n = tracee_roomy(ts, &tt);

	if (!n)
		return 0;
	return error("thread %d: its stack pointer is %llu bytes above thread %d's, less than the %llu "
		     "bytes ckpt writes below it to run syscalls in it: that would write over thread "
		     "%d's stack (%zu of the %zu threads are that close)",
		     tt.tid, (unsigned long long)tt.gap, tt.other, (unsigned long long)tt.need, tt.other,
		     n, ts->n);
}

int dump_collect_remote(struct img_proc *p, struct tracee_set *ts, const struct proc_status *ss,
			const struct remote_hook *after_brk)
{
	int ret, ret2 = 0;

	if ((ret = check_room(ts)) < 0)
		return ret;
	ret = collect(p, ts, ss, after_brk);
	for (size_t i = 0; i < ts->n; i++) {
		int e = tracee_inject_end(&ts->t[i]);

		if (e < 0 && !ret2)
			ret2 = error_errno(e, "thread %d: cannot restore its registers", ts->t[i].tid);
	}
	if (!ARCH_SYSCALL_KEEPS_EXT_REGS && !ret2)
		ret2 = put_back_regsets(p, ts);
	return ret ? ret : ret2;
}
