/*
 * mkseeds DIR: small crafted images for the fuzz corpus, written with
 * ckpt's own writer (image/write.c), a few KiB each.  Between them they
 * have every section type, every codec, every VMA, FD and PAGES flag
 * that matters to a reader, IN_PARENT runs and HASHES, more than one
 * process, a process whose leader has exited, and a thread whose PC is
 * in stored code (for inspect's disassembly).  They need no ptrace,
 * unlike the real images gen-corpus.sh dumps, and hold no vdso: plan.c's
 * vdso checks pass them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/arch.h"
#include "common/util.h"
#include "image/codec.h"
#include "image/crc32c.h"
#include "image/image.h"

#define PS	4096u
#define CODE	0x10000000ull	/* an anonymous executable mapping */
#define HEAP	0x20000000ull
#define STACK	0x7ff000000000ull

static const char *dir;

/* Compressible but not trivial filler. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i % 64 < 48 ? seed + i / 64 : seed * 7 + i);
}

static char *str(const char *s)
{
	return xstrdup(s);
}

static void thread(struct img_thread *t, int32_t tid, uint64_t pc, uint32_t npending)
{
	arch_regs_t *regs = xzalloc(sizeof(*regs));

	memset(t, 0, sizeof(*t));
	t->d.tid = tid;
	t->d.nregsets = 2;
	t->d.sigmask = 1ull << 9;
	t->d.altstack_flags = 2;	/* SS_DISABLE */
	t->d.rseq_addr = HEAP + 0x100;
	t->d.rseq_len = 32;
	t->d.rseq_sig = 0x53053053;
	t->d.clear_tid = HEAP + 0x200;
	t->d.robust_list = HEAP + 0x300;
	t->d.npending = npending;
	t->d.flags = npending ? CKPT_THREAD_IN_SYSCALL : 0;
	snprintf(t->d.comm, sizeof(t->d.comm), "seed-%d", tid);
	arch_set_ip(regs, pc);
	t->regsets = xzalloc(2 * sizeof(*t->regsets));
	t->regsets[0] = (struct img_regset){ 1, sizeof(*regs), (uint8_t *)regs };
	t->regsets[1] = (struct img_regset){ 0x202, 100, xzalloc(100) };
	t->pending = xzalloc(npending * (size_t)CKPT_SIGINFO_SIZE + 1);
	for (uint32_t i = 0; i < npending; i++)
		t->pending[i][0] = (uint8_t)(34 + i);
}

static void vma(struct img_vma *v, uint64_t start, uint64_t end, uint32_t prot, uint32_t flags,
		const char *path)
{
	memset(v, 0, sizeof(*v));
	v->d.start = start;
	v->d.end = end;
	v->d.prot = prot;
	v->d.flags = flags;
	v->d.madv = flags & CKPT_VMA_STACK ? CKPT_MADV_NOHUGEPAGE | CKPT_MADV_LOCKED : 0;
	v->d.npages = (end - start) / PS;
	v->d.path_len = (uint32_t)strlen(path);
	v->path = str(path);
}

/* A record of kind state (a watch, a mark) and its path after the len
 * bytes x's state has. */
static void add_record(struct img_file *x, size_t *len, const void *rec, size_t size,
		       const char *path)
{
	x->state = xrealloc(x->state, *len + size + strlen(path));
	memcpy(x->state + *len, rec, size);
	memcpy(x->state + *len + size, path, strlen(path));
	*len += size + strlen(path);
}

/* fd n of p, naming file `file` (1...) of img: a new one when it is
 * img->nfiles + 1, made of the rest. */
static void fd(struct img *img, struct img_fd *f, int32_t n, uint32_t file, uint32_t kind,
	       const char *path, uint64_t size)
{
	memset(f, 0, sizeof(*f));
	f->d.fd = n;
	f->d.fdflags = n > 2;
	f->d.file = file;
	if (file <= img->nfiles)
		return;
	struct img_file *x = img_add_file(img);

	x->d.kind = kind;
	x->d.flags = 02;
	x->d.size = size;
	x->d.mode = 0100600;
	x->d.path_len = (uint32_t)strlen(path);
	x->path = str(path);
	x->what = str("");
	if (kind == CKPT_FD_OTHER)
		x->d.policy = n <= 2 ? CKPT_FPOL_INHERIT : CKPT_FPOL_LOST;
	if (kind == CKPT_FD_GHOST) {
		x->data = xmalloc(size);
		x->d.data_len = size;
		fill(x->data, size, (uint32_t)n);
	}
	if (kind == CKPT_FD_PIPE) {
		struct ckpt_fd_pipe st = { .pipe = 99, .pipe_size = 65536, .pflags = CKPT_PIPE_DATA };

		x->d.mode = 010600;
		x->d.state_len = sizeof(st);
		x->state = xmemdup(&st, sizeof(st));
		x->data = xmalloc(size);
		x->d.data_len = size;
		fill(x->data, size, 7);
	}
	if (kind == CKPT_FD_INOTIFY) {
		/* two watches, wd 1 and 3 (a gap) */
		static const char *const paths[] = { "/tmp", "/etc/hostname" };
		struct ckpt_fd_inotify st = { .nwatches = 2 };
		size_t len = sizeof(st);

		x->d.mode = 0600;
		x->d.flags = 04000;	/* O_NONBLOCK */
		x->state = xmemdup(&st, sizeof(st));
		for (int i = 0; i < 2; i++) {
			struct ckpt_inotify_watch w = { .wd = 1 + 2 * i, .mask = 0x300, .dev = 0xfe00,
							.ino = 100 + (uint64_t)i,
							.path_len = (uint32_t)strlen(paths[i]) };

			add_record(x, &len, &w, sizeof(w), paths[i]);
		}
		x->d.state_len = (uint32_t)len;
	}
	if (kind == CKPT_FD_PIDFD) {
		/* size: the PID it names, 0 for one that has exited */
		struct ckpt_fd_pidfd st = { .pid = size ? (int32_t)size : -1,
					    .pflags = size ? CKPT_PIDFD_SELF : 0,
					    .start_time = size ? 12345 : 0 };

		x->d.size = 0;
		x->d.mode = 0600;
		x->d.flags = size ? 04002 : 02;	/* O_RDWR, PIDFD_NONBLOCK */
		x->d.state_len = sizeof(st);
		x->state = xmemdup(&st, sizeof(st));
	}
	if (kind == CKPT_FD_FANOTIFY) {
		/* a file mark with an ignore mask, a mount mark */
		static const char *const paths[] = { "/tmp", "/" };
		struct ckpt_fd_fanotify st = { .init_flags = 2, .event_flags = 0x8000, .nmarks = 2 };
		size_t len = sizeof(st);

		x->d.mode = 0600;
		x->d.flags = 04002;
		x->state = xmemdup(&st, sizeof(st));
		for (int i = 0; i < 2; i++) {
			struct ckpt_fanotify_mark m = { .type = i ? 0x10 : 0, .mflags = i ? 0 : 0x40,
							.mask = 0x8000008, .ignored_mask = i ? 0 : 0x10,
							.dev = 0xfe00, .ino = 2 + (uint64_t)i,
							.path_len = (uint32_t)strlen(paths[i]) };

			add_record(x, &len, &m, sizeof(m), paths[i]);
		}
		x->d.state_len = (uint32_t)len;
	}
	if (kind == CKPT_FD_PROC) {
		/* size: the PID its path names */
		struct ckpt_fd_proc st = { .pid = (int32_t)size };

		x->d.size = 0;
		x->d.flags = 0;
		x->d.pos = 10;
		x->d.mode = 0100444;
		x->d.state_len = sizeof(st);
		x->state = xmemdup(&st, sizeof(st));
	}
	if (kind == CKPT_FD_PTMX || kind == CKPT_FD_TTY) {
		/* a pty pair: the master carries bytes both ways */
		struct ckpt_fd_tty st = { .index = 3, .lflag = 0x8a3b, .rows = 24, .cols = 80 };

		x->d.mode = 020620;
		if (kind == CKPT_FD_PTMX) {
			st.to_master = (uint32_t)size / 2;
			st.to_slave = (uint32_t)(size - size / 2);
			st.tflags = CKPT_TTY_PACKET;
			x->data = xmalloc(size);
			x->d.data_len = size;
			fill(x->data, size, 9);
		}
		x->d.state_len = sizeof(st);
		x->state = xmemdup(&st, sizeof(st));
	}
}

/* One process: nthreads threads, code, heap, stack and a few others. */
static void proc(struct img *img, struct img_proc *p, int32_t pid, uint32_t nthreads, int files)
{
	static const char cmdline[] = "seed\0--fuzz";
	static const uint64_t auxv[] = { 6, PS, 0, 0 };

	memset(p, 0, sizeof(*p));
	p->d.pid = p->d.pgid = p->d.sid = pid;
	p->d.ppid = 1;
	p->d.nthreads = nthreads;
	p->d.umask = 022;
	p->d.flags = CKPT_PROC_NO_EXE;
	p->d.start_brk = p->d.brk = HEAP;
	p->d.start_stack = STACK + 0x20000;
	for (int i = 0; i < CKPT_NRLIMIT; i++)
		p->d.rlim[i].cur = p->d.rlim[i].max = ~0ull;
	snprintf(p->d.comm, sizeof(p->d.comm), "seed");
	p->d.ngroups = 2;
	p->groups = xzalloc(2 * sizeof(uint32_t));
	p->groups[1] = 100;
	p->d.exe_len = 10;
	p->exe = str("/bin/seed0");
	p->d.cwd_len = 4;
	p->cwd = str("/tmp");
	p->d.cmdline_len = sizeof(cmdline) - 1;
	p->cmdline = xmemdup(cmdline, sizeof(cmdline) - 1);
	p->d.auxv_len = sizeof(auxv);
	p->auxv = xmemdup(auxv, sizeof(auxv));
	p->d.npending = 1;
	p->pending = xzalloc(CKPT_SIGINFO_SIZE);
	p->pending[0][0] = 10;	/* SIGUSR1 */
	p->sigacts[9].handler = CODE + 0x40;
	p->sigacts[9].flags = 0x04000000;	/* SA_RESTORER */
	p->sigacts[11].handler = 1;		/* SIG_IGN */
	/* An interval timer and two POSIX timers where there are files.  The
	 * array is there even for none, as the reader makes it for a TIMERS
	 * section without timers: image/write.c memcpy()s from it. */
	p->timers.ntimers = files ? 2 : 0;
	p->ptimers = xzalloc(2 * sizeof(*p->ptimers));
	if (files) {
		p->timers.itimer[0] = (struct ckpt_itimer){ 1, 0, 0, 500000 };
		p->ptimers[0] = (struct ckpt_posix_timer){ .id = 0, .clockid = 1, .signo = 14,
							   .interval_ns = 1000000, .value_ns = 300000 };
		/* SIGEV_THREAD_ID to the second thread */
		p->ptimers[1] = (struct ckpt_posix_timer){ .id = 1, .clockid = 0, .signo = 35,
							   .notify = 4, .notify_tid = pid + 1,
							   .sigval = 42, .value_ns = 5000000 };
	}
	p->threads = xzalloc(nthreads * sizeof(*p->threads));
	for (uint32_t i = 0; i < nthreads; i++)
		thread(&p->threads[i], pid + (int32_t)i, CODE + 0x80 + 16 * i, i % 2);
	p->d.nvmas = files ? 6 : 3;
	p->vmas = xzalloc(p->d.nvmas * sizeof(*p->vmas));
	vma(&p->vmas[0], CODE, CODE + 2 * PS, PROT_READ | PROT_EXEC, CKPT_VMA_ANON, "");
	vma(&p->vmas[1], HEAP, HEAP + 8 * PS, PROT_READ | PROT_WRITE,
	    CKPT_VMA_ANON | CKPT_VMA_HEAP, "[heap]");
	if (files) {
		vma(&p->vmas[2], 0x30000000, 0x30002000, PROT_READ, CKPT_VMA_FILE,
		    "/etc/passwd");
		vma(&p->vmas[3], 0x40000000, 0x40001000, PROT_READ | PROT_WRITE,
		    CKPT_VMA_FILE | CKPT_VMA_SHARED, "/tmp/shared");
		vma(&p->vmas[4], 0x50000000, 0x50004000, PROT_READ | PROT_WRITE,
		    CKPT_VMA_ANON | CKPT_VMA_EXCLUDED, "");
	}
	vma(&p->vmas[p->d.nvmas - 1], STACK, STACK + 0x21000, PROT_READ | PROT_WRITE,
	    CKPT_VMA_ANON | CKPT_VMA_STACK | CKPT_VMA_GROWSDOWN, "[stack]");
	if (files) {
		uint32_t f = img->nfiles;

		p->d.nfds = 14;
		p->fds = xzalloc(14 * sizeof(*p->fds));
		fd(img, &p->fds[0], 0, f + 1, CKPT_FD_DEVICE, "/dev/null", 0);
		fd(img, &p->fds[1], 1, f + 2, CKPT_FD_OTHER, "pipe:[1234]", 0);
		fd(img, &p->fds[2], 2, f + 2, 0, NULL, 0);
		fd(img, &p->fds[3], 3, f + 3, CKPT_FD_FILE, "/etc/hostname", 10);
		fd(img, &p->fds[4], 5, f + 4, CKPT_FD_GHOST, "/tmp/gone (deleted)", 300);
		fd(img, &p->fds[5], 6, f + 5, CKPT_FD_PIPE, "pipe:[99]", 40);
		fd(img, &p->fds[6], 7, f + 5, 0, NULL, 0);
		fd(img, &p->fds[7], 8, f + 6, CKPT_FD_PTMX, "/dev/ptmx", 12);
		fd(img, &p->fds[8], 9, f + 7, CKPT_FD_TTY, "/dev/pts/3", 0);
		fd(img, &p->fds[9], 10, f + 8, CKPT_FD_INOTIFY, "anon_inode:inotify", 0);
		/* pidfds: of itself (its plan opens it), of an exited process */
		fd(img, &p->fds[10], 11, f + 9, CKPT_FD_PIDFD, "anon_inode:[pidfd]", (uint64_t)pid);
		fd(img, &p->fds[11], 12, f + 10, CKPT_FD_PIDFD, "anon_inode:[pidfd]", 0);
		{
			char own[64];

			snprintf(own, sizeof(own), "/proc/%d/status", pid);
			fd(img, &p->fds[12], 13, f + 11, CKPT_FD_PROC, own, (uint64_t)pid);
		}
		fd(img, &p->fds[13], 14, f + 12, CKPT_FD_FANOTIFY, "anon_inode:[fanotify]", 0);
		/* its controlling terminal: that pty */
		p->has_ctty = 1;
		p->ctty = (struct ckpt_ctty){ .rdev = (136 << 8) | 3, .tpgid = pid,
					      .cflags = CKPT_CTTY_TERMIOS | CKPT_CTTY_PTY };
		p->ctty_tty = (struct ckpt_fd_tty){ .index = 3, .lflag = 0x8a3b, .rows = 24, .cols = 80 };
	}
}

static void header(struct img *img, uint32_t nprocs, uint8_t id)
{
	memset(img, 0, sizeof(*img));
	img->h.machine = ARCH_ELF_MACHINE;
	img->h.page_size = PS;
	img->h.nprocs = nprocs;
	img->h.created = 1700000000;
	img->h.image_id[0] = id;
	snprintf(img->h.kernel, sizeof(img->h.kernel), "6.1.0-fuzz");
	snprintf(img->h.host, sizeof(img->h.host), "seeds");
	img->procs = xzalloc(nprocs * sizeof(*img->procs));
}

/* A block of npages at addr, encoded with codec (stored raw if that is
 * not smaller, as dump does). */
static int pages(struct img_writer *w, uint32_t p, uint64_t addr, uint32_t npages, uint16_t codec)
{
	struct codec_spec c = { .codec = codec };
	size_t len = npages * (size_t)PS, cap = codec_bound(codec, len);
	uint8_t *raw = xmalloc(len), *enc = xmalloc(cap);
	long n;
	int ret;

	fill(raw, len, (uint32_t)(addr >> 12));
	/* Code the thread PCs land on: x86-64 nops and a jmp back. */
	if (addr == CODE)
		for (size_t i = 0; i < 256; i++)
			raw[i] = i % 16 == 14 ? 0xeb : i % 16 == 15 ? 0xf0 : 0x90;
	n = codec == CKPT_CODEC_NONE ? -1 : codec_encode(&c, raw, len, enc, cap);
	if (n < 0)
		ret = img_write_pages(w, p, addr, npages, CKPT_CODEC_NONE, raw, len);
	else
		ret = img_write_pages(w, p, addr, npages, codec, enc, (size_t)n);
	free(raw);
	free(enc);
	return ret;
}

static int in_parent(struct img_writer *w, uint32_t p, uint64_t addr, uint32_t npages)
{
	struct ckpt_pages pg = { .addr = addr, .npages = npages, .flags = CKPT_PAGES_IN_PARENT };

	/* No data; a pointer all the same (memcpy of 0 bytes from NULL is UB). */
	return img_write_pages_crc(w, p, &pg, &pg, 0, crc32c(0, &pg, sizeof(pg)));
}

static int hashes(struct img_writer *w, uint32_t p, uint64_t addr, uint32_t npages)
{
	struct ckpt_hashes h = { .addr = addr, .npages = npages };
	uint64_t *v = xzalloc(npages * sizeof(*v));
	struct iovec iov[] = { { &h, sizeof(h) }, { v, npages * sizeof(*v) } };
	int ret;

	for (uint32_t i = 0; i < npages; i++)
		v[i] = 0x9e3779b97f4a7c15ull * (i + 1);
	ret = img_write_section(w, CKPT_SEC_HASHES, p, iov, 2);
	free(v);
	return ret;
}

static int open_signed(struct img_writer *w, const char *name, struct img *img,
		       const struct img_key *key)
{
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((ret = img_writer_open(w, path, 1)) < 0)
		return ret;
	img_writer_sign(w, key);
	if ((ret = img_write_header(w, &img->h)) < 0 || (ret = img_write_meta(w, img)) < 0)
		return ret;
	return 0;
}

static int open_seed(struct img_writer *w, const char *name, struct img *img)
{
	return open_signed(w, name, img, NULL);
}

static int finish(struct img_writer *w, struct img *img, int ret)
{
	if (!ret)
		ret = img_writer_finish(w);
	img_writer_close(w);
	img_free(img);
	return ret;
}

/* Everything in one process, every codec. */
static int seed_full(void)
{
	struct img_writer w;
	struct img img;
	int ret;

	header(&img, 1, 1);
	proc(&img, &img.procs[0], 100, 3, 1);
	ret = open_seed(&w, "crafted-full.img", &img);
	if (!ret)
		ret = pages(&w, 0, CODE, 1, CKPT_CODEC_LZ4);
	if (!ret)
		ret = pages(&w, 0, HEAP, 2, CKPT_CODEC_ZLIB);
	if (!ret)
		ret = pages(&w, 0, HEAP + 2 * PS, 1, CKPT_CODEC_ZSTD);
	if (!ret)
		ret = pages(&w, 0, 0x30001000, 1, CKPT_CODEC_NONE);
	if (!ret)
		ret = pages(&w, 0, STACK + 0x20000, 1, CKPT_CODEC_LZ4);
	if (!ret)
		ret = hashes(&w, 0, HEAP, 4);
	return finish(&w, &img, ret);
}

/* An incremental image: PARENT, IN_PARENT runs, HASHES. */
static int seed_child(void)
{
	struct img_writer w;
	struct img img;
	int ret;

	header(&img, 1, 2);
	img.h.parent_id[0] = 1;
	img.parent = str("crafted-full.img");
	proc(&img, &img.procs[0], 100, 2, 0);
	/* Its leader has exited: the plan gets a thread of its own for it. */
	img.procs[0].d.flags |= CKPT_PROC_LEADER_GONE;
	ret = open_seed(&w, "crafted-child.img", &img);
	if (!ret)
		ret = in_parent(&w, 0, CODE, 2);
	if (!ret)
		ret = pages(&w, 0, HEAP, 1, CKPT_CODEC_ZSTD);
	if (!ret)
		ret = in_parent(&w, 0, HEAP + PS, 7);
	if (!ret)
		ret = hashes(&w, 0, HEAP, 8);
	return finish(&w, &img, ret);
}

/* Two processes, page data interleaved. */
static int seed_two(void)
{
	struct img_writer w;
	struct img img;
	int ret;

	header(&img, 2, 3);
	proc(&img, &img.procs[0], 200, 1, 0);
	proc(&img, &img.procs[1], 300, 2, 1);
	ret = open_seed(&w, "crafted-two.img", &img);
	if (!ret)
		ret = pages(&w, 1, CODE, 1, CKPT_CODEC_ZLIB);
	if (!ret)
		ret = pages(&w, 0, CODE, 1, CKPT_CODEC_LZ4);
	if (!ret)
		ret = pages(&w, 1, STACK + 0x20000, 1, CKPT_CODEC_ZSTD);
	return finish(&w, &img, ret);
}

/* Signed (a made-up key, not the fuzzer's: MACs are checked for their
 * structure only): MAC_META, page data, the DIGESTS table, MAC_ALL. */
static int seed_signed(void)
{
	static const struct img_key key = { .k = { 1, 2, 3 }, .id = { 9 } };
	struct img_writer w;
	struct img img;
	int ret;

	header(&img, 1, 5);
	proc(&img, &img.procs[0], 500, 1, 0);
	ret = open_signed(&w, "crafted-signed.img", &img, &key);
	if (!ret)
		ret = pages(&w, 0, CODE, 1, CKPT_CODEC_LZ4);
	if (!ret)
		ret = pages(&w, 0, HEAP, 2, CKPT_CODEC_NONE);
	if (!ret)
		ret = hashes(&w, 0, HEAP, 2);
	return finish(&w, &img, ret);
}

/* The least an image can be: metadata, no page data. */
static int seed_bare(void)
{
	struct img_writer w;
	struct img img;

	header(&img, 1, 4);
	proc(&img, &img.procs[0], 400, 1, 0);
	return finish(&w, &img, open_seed(&w, "crafted-bare.img", &img));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (seed_full() < 0 || seed_child() < 0 || seed_two() < 0 || seed_bare() < 0 ||
	    seed_signed() < 0) {
		fprintf(stderr, "mkseeds: cannot write the seeds in %s\n", dir);
		return 1;
	}
	return 0;
}
