/*
 * The image format (image/write.c, image/read.c, image/model.c): a made-up
 * process with two threads, mappings, descriptors, ghost file data and
 * pending signals goes through img_write_* and comes back identical from
 * img_reader_open/img_read_meta.  Then the same image, truncated at every
 * byte, with single bits flipped, and with fields made wrong behind
 * correct checksums, must fail cleanly: a negative return, one
 * "ckpt: ..." line on stderr, no crash (each test runs in its own child).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "image/crc32c.h"
#include "image/check.h"
#include "image/image.h"
#include "image/sha256.h"
#include "harness.h"

#define PS		4096u
#define GHOST_LEN	5000u

static char dir[64];

/* Deterministic filler, so a byte out of place shows. */
static void fill(void *p, size_t n, uint32_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
}

static void *filled(size_t n, uint32_t seed)
{
	void *p = malloc(n ? n : 1);

	fill(p, n, seed);
	return p;
}

static char *dupmem(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static void make_thread(struct img_thread *t, int32_t tid, uint32_t npending)
{
	memset(t, 0, sizeof(*t));
	t->d.tid = tid;
	t->d.nregsets = 2;
	t->d.sigmask = 0x1234ull << tid % 7;
	t->d.altstack_sp = 0x7f0000100000ull;
	t->d.altstack_size = 65536;
	t->d.npending = npending;
	t->d.rseq_addr = 0x7f0000200020ull;
	t->d.rseq_len = 32;
	t->d.rseq_sig = 0x53053053;
	snprintf(t->d.comm, sizeof(t->d.comm), "worker-%d", tid);
	t->regsets = calloc(2, sizeof(*t->regsets));
	t->regsets[0].type = 1;		/* NT_PRSTATUS */
	t->regsets[0].len = sizeof(arch_regs_t);
	t->regsets[0].data = filled(sizeof(arch_regs_t), (uint32_t)tid);
	t->regsets[1].type = 0x202;	/* NT_X86_XSTATE; its length is not a multiple of 8 */
	t->regsets[1].len = 1001;
	t->regsets[1].data = filled(1001, (uint32_t)tid + 1);
	t->pending = filled(npending * (size_t)CKPT_SIGINFO_SIZE, (uint32_t)tid + 2);
}

static void make_vma(struct img_vma *v, uint64_t start, uint64_t end, uint32_t flags,
		     const char *path)
{
	memset(v, 0, sizeof(*v));
	v->d.start = start;
	v->d.end = end;
	v->d.prot = 3;
	v->d.flags = flags;
	v->d.npages = (end - start) / PS;
	v->d.path_len = (uint32_t)strlen(path);
	v->path = dupmem(path, strlen(path));
}

/* A file in img (id nfiles) and fd `fd` of the process naming it. */
static void make_fd(struct img *img, struct img_fd *fd_out, int32_t fd, uint32_t kind,
		    const char *path, uint64_t size)
{
	struct img_file *f = img_add_file(img);

	f->d.kind = kind;
	f->d.flags = 02;	/* O_RDWR */
	f->d.pos = size / 2;
	f->d.size = size;
	f->d.mode = 0100644;
	f->d.path_len = (uint32_t)strlen(path);
	f->path = dupmem(path, strlen(path));
	f->what = dupmem("", 0);
	if (kind == CKPT_FD_GHOST) {
		f->data = filled((size_t)size, (uint32_t)fd);
		f->d.data_len = size;
	}
	if (kind == CKPT_FD_PIPE) {
		/* two packets, 10 and size - 10 bytes */
		struct ckpt_fd_pipe st = { .pipe = 77, .pipe_size = 65536, .npackets = 2,
					   .pflags = CKPT_PIPE_DATA };
		uint32_t len[2] = { 10, (uint32_t)size - 10 };

		f->d.mode = 010600;
		f->d.size = 0;
		f->d.pos = 0;
		f->d.state_len = sizeof(st) + sizeof(len);
		f->state = malloc(f->d.state_len);
		memcpy(f->state, &st, sizeof(st));
		memcpy(f->state + sizeof(st), len, sizeof(len));
		f->what = dupmem("the read end of a pipe", 22);
		f->d.what_len = 22;
		f->data = filled((size_t)size, 55);
		f->d.data_len = size;
	}
	memset(fd_out, 0, sizeof(*fd_out));
	fd_out->d.fd = fd;
	fd_out->d.fdflags = fd & 1;
	fd_out->d.file = f->d.id;
}

/* The made-up process: every variable-length part non-empty. */
static void make_img(struct img *img)
{
	static const char cmdline[] = "job\0--input\0a file with spaces";
	struct img_proc *p;

	memset(img, 0, sizeof(*img));
	img->h.machine = ARCH_ELF_MACHINE;
	img->h.page_size = PS;
	img->h.nprocs = 1;
	img->h.created = 1700000000;
	snprintf(img->h.kernel, sizeof(img->h.kernel), "6.18.0-test");
	snprintf(img->h.host, sizeof(img->h.host), "unit");
	img->procs = calloc(1, sizeof(*img->procs));
	p = &img->procs[0];
	p->d.pid = 4321;
	p->d.ppid = 1;
	p->d.pgid = p->d.sid = 4321;
	p->d.nthreads = 2;
	p->d.nvmas = 3;
	p->d.nfds = 5;
	p->d.npending = 2;
	p->d.umask = 022;
	p->d.uid[0] = p->d.uid[1] = 1000;
	p->d.gid[0] = p->d.gid[1] = 100;
	p->d.ngroups = 3;
	p->d.brk = 0x602000;
	for (int i = 0; i < CKPT_NRLIMIT; i++) {
		p->d.rlim[i].cur = (uint64_t)i * 1000;
		p->d.rlim[i].max = ~0ull;
	}
	snprintf(p->d.comm, sizeof(p->d.comm), "job");
	p->groups = filled(3 * sizeof(uint32_t), 5);
	p->exe = dupmem("/usr/bin/job", 12);
	p->d.exe_len = 12;
	p->cwd = dupmem("/home/u/with space", 18);
	p->d.cwd_len = 18;
	p->cmdline = dupmem(cmdline, sizeof(cmdline) - 1);
	p->d.cmdline_len = sizeof(cmdline) - 1;
	p->auxv = filled(48, 6);
	p->d.auxv_len = 48;
	p->pending = filled(2 * (size_t)CKPT_SIGINFO_SIZE, 7);
	fill(p->sigacts, sizeof(p->sigacts), 8);
	p->threads = calloc(2, sizeof(*p->threads));
	make_thread(&p->threads[0], 4321, 0);
	make_thread(&p->threads[1], 4322, 1);
	p->vmas = calloc(3, sizeof(*p->vmas));
	make_vma(&p->vmas[0], 0x400000, 0x401000, CKPT_VMA_FILE, "/usr/bin/job");
	make_vma(&p->vmas[1], 0x600000, 0x603000, CKPT_VMA_ANON | CKPT_VMA_HEAP, "[heap]");
	make_vma(&p->vmas[2], 0x7ff000000000, 0x7ff000021000,
		 CKPT_VMA_ANON | CKPT_VMA_STACK | CKPT_VMA_GROWSDOWN, "[stack]");
	p->fds = calloc(5, sizeof(*p->fds));
	make_fd(img, &p->fds[0], 0, CKPT_FD_DEVICE, "/dev/null", 0);
	make_fd(img, &p->fds[1], 3, CKPT_FD_GHOST, "/tmp/scratch (deleted)", GHOST_LEN);
	make_fd(img, &p->fds[2], 7, CKPT_FD_FILE, "/var/log/job.log", 123456);
	make_fd(img, &p->fds[3], 8, CKPT_FD_PIPE, "pipe:[77]", 40);
	/* fd 9: a dup of fd 7 */
	p->fds[4].d = (struct ckpt_fd){ .fd = 9, .file = 3 };
}

/* Page runs the image carries, in order. */
static const struct { uint64_t addr; uint32_t npages; } runs[] = {
	{ 0x600000, 2 }, { 0x7ff000020000, 1 },
};

/* An image of img with the page runs rs[0..n), data filled(seed 100 + i),
 * signed with key (NULL: not signed). */
/* format2: signed as format 2 did (image/sign.h), for the older readers */
static int write_runs_key(const char *path, struct img *img, const typeof(runs[0]) *rs, size_t n,
			  const struct img_key *key, int format2)
{
	struct img_writer w;
	int ret;

	if ((ret = img_writer_open(&w, path, 1)) < 0)
		return ret;
	img_writer_sign(&w, key);
	w.sign_format2 = format2;
	ret = img_write_header(&w, &img->h);
	if (!ret)
		ret = img_write_meta(&w, img);
	for (size_t i = 0; !ret && i < n; i++) {
		size_t len = rs[i].npages * (size_t)PS;
		void *data = filled(len, (uint32_t)i + 100);

		ret = img_write_pages(&w, 0, rs[i].addr, rs[i].npages, CKPT_CODEC_NONE,
				      data, len);
		free(data);
	}
	if (!ret)
		ret = img_writer_finish(&w);
	img_writer_close(&w);
	return ret;
}

static int write_runs(const char *path, struct img *img, const typeof(runs[0]) *rs, size_t n)
{
	return write_runs_key(path, img, rs, n, NULL, 0);
}

static int write_img(const char *path, struct img *img)
{
	return write_runs(path, img, runs, ARRAY_SIZE(runs));
}

static char *path_of(const char *name)
{
	static char buf[4][128];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

/* A fresh image at path_of(name), its bytes in *out (len *n). */
static void good_image(const char *name, uint8_t **out, size_t *n)
{
	struct img img;
	struct stat st;
	int fd;

	make_img(&img);
	if (write_img(path_of(name), &img) < 0) {
		printf("# cannot write %s\n", path_of(name));
		_exit(1);
	}
	img_free(&img);
	fd = open(path_of(name), O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("# cannot open %s\n", path_of(name));
		_exit(1);
	}
	*n = (size_t)st.st_size;
	*out = malloc(*n);
	if (pread(fd, *out, *n, 0) != (ssize_t)*n)
		_exit(1);
	close(fd);
}

static void put_file(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, buf, n) != (ssize_t)n || close(fd) < 0) {
		printf("# cannot write %s\n", path);
		_exit(1);
	}
}

/*
 * Read an image as restore does: header, metadata, then every remaining
 * section to END.  0 or the negative error; *img is freed either way.
 */
static int read_img(const char *path)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload;
	int ret;

	ret = img_reader_open(&r, path, &img.h);
	if (ret == 0) {
		ret = img_read_meta(&r, &img, &s, &payload);
		if (ret > 0)
			ret = img_check_rewind(&r, &img, &s, &payload, ret, 0);
	}
	img_reader_close(&r);
	img_free(&img);
	return ret;
}

/* stderr into a file, so that a test can count what was said. */
static int err_fd = -1;

static void capture_stderr(void)
{
	err_fd = memfd_create("stderr", 0);
	if (err_fd < 0 || dup2(err_fd, STDERR_FILENO) < 0)
		_exit(1);
}

static void clear_stderr(void)
{
	if (ftruncate(err_fd, 0) < 0 || lseek(STDERR_FILENO, 0, SEEK_SET) < 0)
		_exit(1);
}

/* What was written to stderr since clear_stderr(), NUL-terminated. */
static const char *said(void)
{
	static char buf[8192];
	ssize_t n = pread(err_fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static int nlines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* One line with the restore context: the shape users see. */
static int one_ckpt_line(const char *s)
{
	return nlines(s) == 1 && !strncmp(s, "ckpt: restore t.img: ", 21);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ckpt-unit.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("# mkdtemp failed\n");
		_exit(1);
	}
	log_set_context("restore t.img");
}

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

TEST(round_trip_keeps_every_field)
{
	struct img want, got = { 0 };
	struct img_reader r;
	struct ckpt_section s;
	void *payload;
	uint64_t pages = 0;

	setup();
	make_img(&want);
	ASSERT_EQ(0, write_img(path_of("a.img"), &want));
	ASSERT_EQ(0, img_reader_open(&r, path_of("a.img"), &got.h));
	ASSERT_MEMEQ(CKPT_MAGIC, got.h.magic, 8);
	ASSERT_EQ(CKPT_VERSION, got.h.version);
	ASSERT_EQ(256, got.h.header_size);
	ASSERT_EQ(ARCH_ELF_MACHINE, got.h.machine);
	ASSERT_STREQ("6.18.0-test", got.h.kernel);
	ASSERT_EQ(1, img_read_meta(&r, &got, &s, &payload));
	ASSERT_EQ(CKPT_SEC_PAGES, s.type);

	const struct img_proc *a = &want.procs[0], *b = &got.procs[0];

	ASSERT_MEMEQ(&a->d, &b->d, sizeof(a->d));
	ASSERT_MEMEQ(a->groups, b->groups, 3 * sizeof(uint32_t));
	ASSERT_STREQ("/usr/bin/job", b->exe);
	ASSERT_STREQ("/home/u/with space", b->cwd);
	ASSERT_MEMEQ(a->cmdline, b->cmdline, a->d.cmdline_len);
	ASSERT_MEMEQ(a->auxv, b->auxv, 48);
	ASSERT_MEMEQ(a->pending, b->pending, 2 * CKPT_SIGINFO_SIZE);
	ASSERT_MEMEQ(a->sigacts, b->sigacts, sizeof(a->sigacts));
	for (int i = 0; i < 2; i++) {
		const struct img_thread *ta = &a->threads[i], *tb = &b->threads[i];

		ASSERT_MEMEQ(&ta->d, &tb->d, sizeof(ta->d)) {
			TH_LOG("thread %d", i);
		}
		for (uint32_t k = 0; k < ta->d.nregsets; k++) {
			ASSERT_EQ(ta->regsets[k].type, tb->regsets[k].type);
			ASSERT_EQ(ta->regsets[k].len, tb->regsets[k].len);
			ASSERT_MEMEQ(ta->regsets[k].data, tb->regsets[k].data, ta->regsets[k].len);
		}
		ASSERT_MEMEQ(ta->pending, tb->pending, ta->d.npending * CKPT_SIGINFO_SIZE);
	}
	for (int i = 0; i < 3; i++) {
		ASSERT_MEMEQ(&a->vmas[i].d, &b->vmas[i].d, sizeof(a->vmas[i].d));
		ASSERT_STREQ(a->vmas[i].path, b->vmas[i].path);
	}
	for (int i = 0; i < 5; i++)
		ASSERT_MEMEQ(&a->fds[i].d, &b->fds[i].d, sizeof(a->fds[i].d));
	ASSERT_EQ(want.nfiles, got.nfiles);
	for (uint32_t i = 0; i < want.nfiles; i++) {
		const struct img_file *x = &want.files[i], *y = &got.files[i];

		ASSERT_MEMEQ(&x->d, &y->d, sizeof(x->d));
		ASSERT_STREQ(x->path, y->path);
		ASSERT_STREQ(x->what, y->what);
		ASSERT_MEMEQ(x->state, y->state, x->d.state_len);
		ASSERT_MEMEQ(x->data, y->data, x->d.data_len);
	}
	ASSERT_EQ(GHOST_LEN, got.files[1].d.data_len);

	/* The page runs, in order, then END. */
	for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
		struct ckpt_pages pg;
		size_t len = runs[i].npages * (size_t)PS;
		void *data = filled(len, (uint32_t)i + 100);

		if (i)
			ASSERT_EQ(1, img_read_section(&r, &s, &payload));
		ASSERT_EQ(CKPT_SEC_PAGES, s.type);
		ASSERT_EQ(sizeof(pg) + len, s.size);
		memcpy(&pg, payload, sizeof(pg));
		ASSERT_EQ(runs[i].addr, pg.addr);
		ASSERT_EQ(runs[i].npages, pg.npages);
		ASSERT_EQ(CKPT_CODEC_NONE, pg.codec);
		ASSERT_MEMEQ(data, (uint8_t *)payload + sizeof(pg), len);
		pages += pg.npages;
		free(data);
	}
	ASSERT_EQ(0, img_read_section(&r, &s, &payload));
	ASSERT_EQ(CKPT_SEC_END, s.type);
	ASSERT_EQ(3, r.npages);
	ASSERT_EQ(pages, r.npages);
	/* After END there is nothing more, and asking again stays at 0. */
	ASSERT_EQ(0, img_read_section(&r, &s, &payload));
	img_reader_close(&r);
	img_free(&got);
	img_free(&want);
	cleanup();
}

/*
 * Raw blocks of 16 pages or more go into PAGES_ALIGNED sections, their
 * data at a page boundary of the file; the reader hands them out as the
 * PAGES sections they hold, and r.at says where each section began.
 */
TEST(big_raw_blocks_are_page_aligned_in_the_file)
{
	static const typeof(runs[0]) big[] = {
		{ 0x600000, 2 }, { 0x7ff000000000, 32 }, { 0x7ff000020000, 1 },
	};
	struct img img, got = { 0 };
	struct img_reader r;
	struct ckpt_section s;
	void *payload;
	int naligned = 0;

	setup();
	make_img(&img);
	ASSERT_EQ(0, write_runs(path_of("a.img"), &img, big, ARRAY_SIZE(big)));
	ASSERT_EQ(0, img_reader_open(&r, path_of("a.img"), &got.h));
	ASSERT_TRUE(img_reader_payloads_stable(&r));
	ASSERT_EQ(1, img_read_meta(&r, &got, &s, &payload));
	for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
		struct ckpt_section raw;
		struct ckpt_pages pg;
		size_t len = big[i].npages * (size_t)PS;
		void *data = filled(len, (uint32_t)i + 100);
		uint64_t data_off;

		if (i)
			ASSERT_EQ(1, img_read_section(&r, &s, &payload));
		data_off = (uint64_t)((uint8_t *)payload - r.map) + sizeof(pg);
		memcpy(&raw, r.map + r.at, sizeof(raw));
		ASSERT_EQ(CKPT_SEC_PAGES, s.type);
		ASSERT_EQ(sizeof(pg) + len, s.size);
		memcpy(&pg, payload, sizeof(pg));
		ASSERT_EQ(big[i].addr, pg.addr);
		ASSERT_MEMEQ(data, (uint8_t *)payload + sizeof(pg), len);
		if (len >= 64 * 1024) {
			ASSERT_EQ(CKPT_SEC_PAGES_ALIGNED, raw.type);
			ASSERT_EQ(0, data_off % PS) {
				TH_LOG("block %zu: data at file offset %llu", i, (unsigned long long)data_off);
			}
			naligned++;
		} else {
			ASSERT_EQ(CKPT_SEC_PAGES, raw.type);
		}
		ASSERT_EQ(r.at + sizeof(raw) + raw.size, r.off);
		free(data);
	}
	ASSERT_EQ(1, naligned);
	ASSERT_EQ(0, img_read_section(&r, &s, &payload));
	ASSERT_EQ(35, r.npages);
	img_reader_close(&r);
	img_free(&got);
	img_free(&img);
	cleanup();
}

TEST(writer_leaves_no_temporary_file_and_mode_0600)
{
	struct img img;
	struct stat st;
	char cmd[256];

	setup();
	make_img(&img);
	ASSERT_EQ(0, write_img(path_of("a.img"), &img));
	img_free(&img);
	ASSERT_EQ(0, stat(path_of("a.img"), &st));
	ASSERT_EQ(0600, st.st_mode & 0777);
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
	ASSERT_EQ(0, system(cmd));
	cleanup();
}

/* img_writer_touch() (dump.c warms the buffer before the freeze) keeps
 * what the buffer holds: a header and metadata written before it and
 * not yet flushed come back intact. */
TEST(writer_touch_keeps_buffered_bytes)
{
	struct img want, got = { 0 };
	struct img_writer w;
	struct img_reader r;
	struct ckpt_section s;
	void *payload;

	setup();
	make_img(&want);
	ASSERT_EQ(0, img_writer_open(&w, path_of("a.img"), 1));
	ASSERT_EQ(0, img_write_header(&w, &want.h));
	img_writer_touch(&w);
	ASSERT_EQ(0, img_write_meta(&w, &want));
	img_writer_touch(&w);
	ASSERT_EQ(0, img_writer_finish(&w));
	img_writer_close(&w);
	ASSERT_EQ(0, img_reader_open(&r, path_of("a.img"), &got.h));
	ASSERT_STREQ("6.18.0-test", got.h.kernel);
	ASSERT_EQ(0, img_read_meta(&r, &got, &s, &payload));
	ASSERT_EQ(CKPT_SEC_END, s.type);
	ASSERT_STREQ("/usr/bin/job", got.procs[0].exe);
	ASSERT_MEMEQ(want.procs[0].auxv, got.procs[0].auxv, 48);
	img_reader_close(&r);
	img_free(&got);
	img_free(&want);
	cleanup();
}

TEST(img_find_vma_bounds)
{
	struct img img;
	const struct img_proc *p;

	make_img(&img);
	p = &img.procs[0];
	ASSERT_TRUE(img_find_vma(p, 0x400000) == &p->vmas[0]);
	ASSERT_TRUE(img_find_vma(p, 0x400fff) == &p->vmas[0]);
	ASSERT_TRUE(img_find_vma(p, 0x401000) == NULL);
	ASSERT_TRUE(img_find_vma(p, 0x3fffff) == NULL);
	ASSERT_TRUE(img_find_vma(p, 0x602fff) == &p->vmas[1]);
	ASSERT_TRUE(img_find_vma(p, 0x7ff000020000) == &p->vmas[2]);
	ASSERT_TRUE(img_find_vma(p, 0x7ff000021000) == NULL);
	ASSERT_TRUE(img_find_vma(p, 0) == NULL);
	ASSERT_TRUE(img_find_vma(p, ~0ull) == NULL);
	img_free(&img);
}

/* Every possible length short of the whole file. */
TEST(truncated_at_every_byte_fails_cleanly)
{
	uint8_t *buf;
	size_t len;
	int fd;

	setup();
	good_image("good.img", &buf, &len);
	capture_stderr();
	clear_stderr();
	ASSERT_EQ(0, read_img(path_of("good.img")));
	ASSERT_STREQ("", said());
	put_file(path_of("t.img"), buf, len);
	fd = open(path_of("t.img"), O_WRONLY);
	ASSERT_GE(fd, 0);
	for (size_t cut = len; cut-- > 0;) {
		int ret;

		ASSERT_EQ(0, ftruncate(fd, (off_t)cut));
		clear_stderr();
		ret = read_img(path_of("t.img"));
		ASSERT_LT(ret, 0) {
			TH_LOG("image cut to %zu of %zu bytes was accepted", cut, len);
		}
		ASSERT_TRUE(one_ckpt_line(said())) {
			TH_LOG("cut to %zu bytes: stderr was \"%s\"", cut, said());
		}
		/* Called what it is, whichever part was cut. */
		ASSERT_TRUE(strstr(said(), "image is truncated: ") ||
			    strstr(said(), "not a checkpoint image: too short")) {
			TH_LOG("cut to %zu bytes: \"%s\"", cut, said());
		}
	}
	close(fd);
	free(buf);
	cleanup();
}

/* Every bit of the metadata, and every 61st bit of the page data. */
TEST(single_bit_flips_fail_cleanly)
{
	uint8_t *buf;
	size_t len, meta_end = 0, off = 256;
	int fd;

	setup();
	good_image("good.img", &buf, &len);
	/* Where the first PAGES section starts. */
	while (off + sizeof(struct ckpt_section) <= len) {
		struct ckpt_section s;

		memcpy(&s, buf + off, sizeof(s));
		if (s.type == CKPT_SEC_PAGES) {
			meta_end = off;
			break;
		}
		off += sizeof(s) + s.size;
	}
	ASSERT_GT(meta_end, 256);
	put_file(path_of("t.img"), buf, len);
	fd = open(path_of("t.img"), O_WRONLY);
	ASSERT_GE(fd, 0);
	capture_stderr();
	for (size_t bit = 0; bit < len * 8; bit += bit < meta_end * 8 ? 1 : 61) {
		uint8_t b = buf[bit / 8] ^ (uint8_t)(1u << (bit % 8));
		int ret;

		ASSERT_EQ(1, pwrite(fd, &b, 1, (off_t)(bit / 8)));
		clear_stderr();
		ret = read_img(path_of("t.img"));
		ASSERT_EQ(1, pwrite(fd, &buf[bit / 8], 1, (off_t)(bit / 8)));
		ASSERT_LT(ret, 0) {
			TH_LOG("bit %zu (byte %zu) flipped was accepted", bit, bit / 8);
		}
		ASSERT_TRUE(one_ckpt_line(said())) {
			TH_LOG("bit %zu: stderr was \"%s\"", bit, said());
		}
	}
	close(fd);
	free(buf);
	cleanup();
}

/*
 * Damage behind correct checksums: what the parser itself must catch.
 * The made-up model is edited and written with img_write_meta, or
 * sections are put together by hand with img_write_section; either way
 * every checksum is right and only the content is wrong.
 */
struct crafted {
	struct img_writer w;
	struct img img;
};

static void craft_begin(struct crafted *c)
{
	setup();
	make_img(&c->img);
	if (img_writer_open(&c->w, path_of("t.img"), 1) < 0 ||
	    img_write_header(&c->w, &c->img.h) < 0)
		_exit(1);
}

static void craft_meta(struct crafted *c)
{
	if (img_write_meta(&c->w, &c->img) < 0)
		_exit(1);
}

static void craft_section(struct crafted *c, uint32_t type, const void *a, size_t alen,
			  const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };

	if (img_write_section(&c->w, type, 0, iov, b ? 2 : 1) < 0)
		_exit(1);
}

/* PROC and SIGACTS alone, from the model's p->d as the test left it. */
static void craft_proc(struct crafted *c)
{
	const struct img_proc *p = &c->img.procs[0];
	struct iovec iov[] = {
		{ (void *)&p->d, sizeof(p->d) },
		{ p->groups, p->d.ngroups * sizeof(uint32_t) },
		{ p->exe, p->d.exe_len },
		{ p->cwd, p->d.cwd_len },
		{ p->cmdline, p->d.cmdline_len },
		{ p->auxv, p->d.auxv_len },
		{ p->pending, p->d.npending * (size_t)CKPT_SIGINFO_SIZE },
	};

	if (img_write_section(&c->w, CKPT_SEC_PROC, 0, iov, ARRAY_SIZE(iov)) < 0)
		_exit(1);
	craft_section(c, CKPT_SEC_SIGACTS, p->sigacts, sizeof(p->sigacts), NULL, 0);
}

static void craft_thread(struct crafted *c, const struct img_thread *t)
{
	uint8_t buf[16384];
	size_t n = sizeof(t->d);

	memcpy(buf, &t->d, sizeof(t->d));
	for (uint32_t i = 0; i < t->d.nregsets; i++) {
		memcpy(buf + n, &t->regsets[i], 8);
		memcpy(buf + n + 8, t->regsets[i].data, t->regsets[i].len);
		memset(buf + n + 8 + t->regsets[i].len, 0, 8);
		n += 8 + ALIGN_UP(t->regsets[i].len, 8u);
	}
	memcpy(buf + n, t->pending, t->d.npending * (size_t)CKPT_SIGINFO_SIZE);
	n += t->d.npending * (size_t)CKPT_SIGINFO_SIZE;
	craft_section(c, CKPT_SEC_THREAD, buf, n, NULL, 0);
}

static void craft_file(struct crafted *c, const struct img_file *f)
{
	uint8_t buf[16384];
	size_t n = sizeof(f->d);

	memcpy(buf, &f->d, sizeof(f->d));
	memcpy(buf + n, f->path, f->d.path_len);
	n += f->d.path_len;
	memcpy(buf + n, f->state, f->d.state_len);
	n += f->d.state_len;
	memcpy(buf + n, f->what, f->d.what_len);
	n += f->d.what_len;
	craft_section(c, CKPT_SEC_FILE, buf, n, NULL, 0);
	if (f->d.data_len) {
		struct ckpt_filedata fdd = { .id = f->d.id };

		craft_section(c, CKPT_SEC_FILEDATA, &fdd, sizeof(fdd), f->data, f->d.data_len);
	}
}

/* After craft_proc: threads from the first'th, every mapping, every
 * file (with its data), nfds fds. */
static void craft_rest(struct crafted *c, int first, int nfds)
{
	const struct img_proc *p = &c->img.procs[0];

	for (int i = first; i < 2; i++)
		craft_thread(c, &p->threads[i]);
	for (int i = 0; i < 3; i++)
		craft_section(c, CKPT_SEC_VMA, &p->vmas[i].d, sizeof(p->vmas[i].d), p->vmas[i].path,
			      p->vmas[i].d.path_len);
	for (uint32_t i = 0; i < c->img.nfiles; i++)
		craft_file(c, &c->img.files[i]);
	for (int i = 0; i < nfds; i++)
		craft_section(c, CKPT_SEC_FD, &p->fds[i].d, sizeof(p->fds[i].d), NULL, 0);
}

/* END, then read it back: refused, with want in its one line. */
static void craft_end_and_expect(struct crafted *c, const char *want)
{
	char msg[8192];
	int ret;

	if (img_writer_finish(&c->w) < 0)
		_exit(1);
	img_writer_close(&c->w);
	img_free(&c->img);
	capture_stderr();
	clear_stderr();
	ret = read_img(path_of("t.img"));
	snprintf(msg, sizeof(msg), "%s", said());
	cleanup();
	ASSERT_LT(ret, 0);
	ASSERT_TRUE(one_ckpt_line(msg)) {
		TH_LOG("stderr was \"%s\"", msg);
	}
	ASSERT_TRUE(strstr(msg, want) != NULL) {
		TH_LOG("\"%s\" does not say \"%s\"", msg, want);
	}
}
/* The rest of a hand-built image after c's process, then read back:
 * accepted. */
static void craft_rest_and_accept(struct crafted *c)
{
	craft_proc(c);
	craft_rest(c, 0, 5);
	if (img_writer_finish(&c->w) < 0)
		_exit(1);
	img_writer_close(&c->w);
	img_free(&c->img);
	ASSERT_EQ(0, read_img(path_of("t.img")));
	cleanup();
}

/* The hand-built image, undamaged, is accepted: the helpers are right. */
TEST(crafted_baseline_is_accepted)
{
	struct crafted c;

	craft_begin(&c);
	craft_rest_and_accept(&c);
}

TEST(zero_threads_is_refused)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].d.nthreads = 0;
	craft_meta(&c);
	c.img.procs[0].d.nthreads = 2;
	craft_end_and_expect(&c, "process section at offset 256 is malformed");
}

TEST(missing_thread_is_refused)
{
	struct crafted c;

	craft_begin(&c);
	craft_proc(&c);
	craft_rest(&c, 1, 3);	/* the leader's THREAD section left out */
	craft_end_and_expect(&c, "metadata incomplete");
}

TEST(first_regset_not_prstatus_is_refused)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].threads[0].regsets[0].type = 0x202;
	craft_meta(&c);
	craft_end_and_expect(&c, "thread section at offset");
}

TEST(overlapping_mappings_are_refused)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].vmas[1].d.start = 0x400000 - PS;
	c.img.procs[0].vmas[1].d.end = 0x400000 + PS;
	craft_meta(&c);
	craft_end_and_expect(&c, "mapping section at offset");
}

TEST(unaligned_mapping_is_refused)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].vmas[2].d.end += 1;
	craft_meta(&c);
	craft_end_and_expect(&c, "mapping section at offset");
}

/* THP (format.h CKPT_VMA_THP) only on private anonymous memory that did
 * not refuse huge pages. */
static void thp_refused(int vma, uint32_t madv)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].vmas[vma].d.flags |= CKPT_VMA_THP;
	c.img.procs[0].vmas[vma].d.madv |= madv;
	craft_meta(&c);
	craft_end_and_expect(&c, "mapping section at offset");
}

TEST(huge_page_flag_on_a_file_mapping_is_refused)
{
	thp_refused(0, 0);
}

TEST(huge_page_flag_with_nohugepage_is_refused)
{
	thp_refused(1, CKPT_MADV_NOHUGEPAGE);
}

TEST(huge_page_flag_on_the_heap_is_accepted)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].vmas[1].d.flags |= CKPT_VMA_THP;
	c.img.procs[0].vmas[1].d.madv |= CKPT_MADV_HUGEPAGE;
	craft_rest_and_accept(&c);
}

TEST(descriptors_out_of_order_are_refused)
{
	struct crafted c;

	craft_begin(&c);
	c.img.procs[0].fds[2].d.fd = 3;	/* same as the one before */
	craft_meta(&c);
	craft_end_and_expect(&c, "file descriptor section at offset");
}

/* FILEDATA: past the end of its ghost file, for a file (3) that carries
 * no data, and for one (7) that is not there. */
TEST(misplaced_file_data_is_refused)
{
	static const struct ckpt_filedata bad[] = {
		{ .id = 2, .offset = GHOST_LEN - 10 }, { .id = 3, .offset = 0 }, { .id = 7, .offset = 0 },
	};
	uint8_t data[11] = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct crafted c;

		craft_begin(&c);
		craft_meta(&c);
		craft_section(&c, CKPT_SEC_FILEDATA, &bad[i], sizeof(bad[i]), data, sizeof(data));
		craft_end_and_expect(&c, "file data section at offset");
	}
}

TEST(short_fd_section_is_refused)
{
	struct crafted c;
	int32_t fd = 9;

	craft_begin(&c);
	craft_proc(&c);
	craft_rest(&c, 0, 1);
	/* Four bytes where a struct ckpt_fd should be. */
	craft_section(&c, CKPT_SEC_FD, &fd, sizeof(fd), NULL, 0);
	craft_end_and_expect(&c, "file descriptor section at offset");
}

TEST(unknown_section_type_is_refused)
{
	struct crafted c;
	uint8_t junk[32] = { 1, 2, 3 };

	craft_begin(&c);
	craft_proc(&c);
	craft_section(&c, 99, junk, sizeof(junk), NULL, 0);
	craft_rest(&c, 0, 5);
	craft_end_and_expect(&c, "unknown section at offset");
}

TEST(aligned_page_data_skipping_past_its_payload_is_refused)
{
	struct crafted c;
	struct ckpt_align a = { .skip = 4096 };
	struct ckpt_pages pg = { .addr = 0x600000, .npages = 1 };
	uint8_t body[sizeof(pg) + 64];

	memcpy(body, &pg, sizeof(pg));
	memset(body + sizeof(pg), 0, sizeof(body) - sizeof(pg));
	craft_begin(&c);
	craft_meta(&c);
	craft_section(&c, CKPT_SEC_PAGES_ALIGNED, &a, sizeof(a), body, sizeof(body));
	craft_end_and_expect(&c, "aligned page data section at offset");
}

TEST(end_count_mismatch_is_refused)
{
	struct crafted c;

	craft_begin(&c);
	craft_meta(&c);
	c.w.nsections++;	/* END claims one section more than there is */
	craft_end_and_expect(&c, "end section at offset");
}

TEST(no_process_in_header_is_refused)
{
	struct crafted c;

	setup();
	make_img(&c.img);
	c.img.h.nprocs = 0;
	if (img_writer_open(&c.w, path_of("t.img"), 1) < 0 ||
	    img_write_header(&c.w, &c.img.h) < 0)
		_exit(1);
	c.img.h.nprocs = 1;
	craft_meta(&c);
	craft_end_and_expect(&c, "0 processes");
}

/* make_img()'s process with a child process (fs shared, two pages shared
 * copy-on-write with it) and a zombie child, as a tree. */
static void make_tree_img(struct img *img)
{
	struct img other;
	struct img_proc *c;

	make_img(img);
	make_img(&other);
	img->procs = realloc(img->procs, 2 * sizeof(*img->procs));
	img->procs[1] = other.procs[0];
	free(other.procs);
	img->h.nprocs = 2;
	c = &img->procs[1];
	c->d.pid = 4400;
	c->d.ppid = 4321;
	c->threads[0].d.tid = 4400;
	c->threads[1].d.tid = 4401;
	c->ncow = 2;
	c->cow = calloc(2, sizeof(*c->cow));
	c->cow[0] = (struct ckpt_cow_run){ 0x600000, 2 };
	c->cow[1] = (struct ckpt_cow_run){ 0x7ff000020000, 1 };
	img->ntasks = 3;
	img->tasks = calloc(3, sizeof(*img->tasks));
	img->tasks[0] = (struct ckpt_task){ .pid = 4321, .ppid = 1, .pgid = 4321, .sid = 4321,
					    .parent = -1, .proc = 0, .files_of = -1, .fs_of = -1,
					    .exit_signal = 17, .start_time = 99 };
	img->tasks[1] = (struct ckpt_task){ .pid = 4400, .ppid = 4321, .pgid = 4321, .sid = 4321,
					    .parent = 0, .proc = 1, .files_of = -1, .fs_of = 0,
					    .exit_signal = 17, .start_time = 100 };
	img->tasks[2] = (struct ckpt_task){ .pid = 4500, .ppid = 4321, .pgid = 4500, .sid = 4321,
					    .parent = 0, .proc = -1, .files_of = -1, .fs_of = -1,
					    .exit_signal = 17, .exit_status = 42 << 8, .uid = 7,
					    .gid = 8, .start_time = 101, .comm = "gone" };
}

/* An image of a process tree reads back as it was written. */
TEST(tree_round_trip)
{
	struct img want, got = { 0 };
	struct img_reader r;
	struct ckpt_section s;
	void *payload;

	setup();
	make_tree_img(&want);
	ASSERT_EQ(0, write_img(path_of("tree.img"), &want));
	ASSERT_EQ(0, img_reader_open(&r, path_of("tree.img"), &got.h));
	ASSERT_EQ(1, img_read_meta(&r, &got, &s, &payload));
	ASSERT_EQ(2, got.h.nprocs);
	ASSERT_EQ(3, got.ntasks);
	ASSERT_MEMEQ(want.tasks, got.tasks, 3 * sizeof(*got.tasks));
	ASSERT_EQ(4400, got.procs[1].d.pid);
	ASSERT_EQ(0, got.procs[0].ncow);
	ASSERT_EQ(2, got.procs[1].ncow);
	ASSERT_MEMEQ(want.procs[1].cow, got.procs[1].cow, 2 * sizeof(struct ckpt_cow_run));
	ASSERT_TRUE(img_task_of(&got, 1) == &got.tasks[1]);
	img_reader_close(&r);
	img_free(&got);
	/* One process alone is written without a tree and read with one task. */
	img_free(&want);
	make_img(&want);
	ASSERT_EQ(0, write_img(path_of("one.img"), &want));
	ASSERT_EQ(0, img_reader_open(&r, path_of("one.img"), &got.h));
	ASSERT_EQ(1, img_read_meta(&r, &got, &s, &payload));
	ASSERT_EQ(1, got.ntasks);
	ASSERT_EQ(4321, got.tasks[0].pid);
	ASSERT_EQ(-1, got.tasks[0].parent);
	ASSERT_EQ(0, got.tasks[0].proc);
	img_reader_close(&r);
	img_free(&got);
	img_free(&want);
	cleanup();
}

/* A tree that contradicts its processes: one line, refused. */
static void tree_refused(void (*spoil)(struct img *), const char *want)
{
	struct img img;

	setup();
	make_tree_img(&img);
	spoil(&img);
	ASSERT_EQ(0, write_img(path_of("bad.img"), &img));
	img_free(&img);
	capture_stderr();
	ASSERT_LT(read_img(path_of("bad.img")), 0);
	ASSERT_TRUE(one_ckpt_line(said()));
	ASSERT_TRUE(strstr(said(), want) != NULL) {
		TH_LOG("stderr was \"%s\"", said());
	}
	cleanup();
}

static void parent_after_child(struct img *img)
{
	img->tasks[1].parent = 2;
}

static void two_roots(struct img *img)
{
	img->tasks[1].parent = -1;
}

static void zombie_parent(struct img *img)
{
	img->tasks[2].ppid = 4400;
	img->tasks[2].parent = 1;
	img->tasks[1].proc = -1;
}

static void same_pid(struct img *img)
{
	img->tasks[2].pid = 4400;
}

static void no_tree(struct img *img)
{
	free(img->tasks);
	img->tasks = NULL;
	img->ntasks = 0;
	img->procs[1].ncow = 0;
}

static void cow_in_root(struct img *img)
{
	img->procs[0].ncow = 1;
	img->procs[0].cow = calloc(1, sizeof(struct ckpt_cow_run));
	img->procs[0].cow[0] = (struct ckpt_cow_run){ 0x600000, 1 };
}

static void cow_outside_mappings(struct img *img)
{
	img->procs[1].cow[1].npages = 40;
}

TEST(inconsistent_trees_are_refused)
{
	tree_refused(parent_after_child, "process tree is inconsistent");
	tree_refused(two_roots, "process tree is inconsistent");
	tree_refused(zombie_parent, "process tree is inconsistent");
	tree_refused(same_pid, "process tree is inconsistent");
	tree_refused(no_tree, "process tree is inconsistent");
	tree_refused(cow_in_root, "process tree is inconsistent");
	tree_refused(cow_outside_mappings, "shared pages section");
}

/*
 * Counts and sizes from a damaged file must not turn into allocations
 * larger than the file: with the address space limited, a huge calloc
 * would end the test with "out of memory" and SIGABRT.
 */
static void limit_memory(void)
{
	struct rlimit rl = { 1ul << 30, 1ul << 30 };

	if (setrlimit(RLIMIT_AS, &rl) < 0)
		_exit(1);
}

TEST(huge_counts_are_refused_without_allocating)
{
	struct crafted c;
	struct ckpt_proc *d;

	craft_begin(&c);
	d = &c.img.procs[0].d;
	d->nthreads = 1u << 20;
	d->nvmas = 1u << 24;
	d->nfds = 1u << 24;
	craft_proc(&c);
	d->nthreads = 2;
	d->nvmas = 3;
	d->nfds = 5;
	limit_memory();
	craft_end_and_expect(&c, "image is truncated: process section at offset 256 describes more");
}

TEST(ghost_file_larger_than_the_image_is_refused)
{
	struct crafted c;
	struct img_file *f;

	craft_begin(&c);
	craft_proc(&c);
	for (int i = 0; i < 2; i++)
		craft_thread(&c, &c.img.procs[0].threads[i]);
	craft_file(&c, &c.img.files[0]);
	f = &c.img.files[1];
	f->d.data_len = f->d.size = 3ull << 30;	/* 3 GiB said, 5000 bytes present */
	{
		uint8_t buf[256];

		memcpy(buf, &f->d, sizeof(f->d));
		memcpy(buf + sizeof(f->d), f->path, f->d.path_len);
		craft_section(&c, CKPT_SEC_FILE, buf, sizeof(f->d) + f->d.path_len, NULL, 0);
	}
	f->d.data_len = f->d.size = GHOST_LEN;
	limit_memory();
	craft_end_and_expect(&c, "image is truncated: file section at offset");
}

/* A file's state that does not fit its kind, an fd naming no file, a
 * file only mapped (CKPT_FILEF_MAPPED) of a kind other than a deleted
 * file or memfd, and an fd naming a file only mapped. */
TEST(bad_file_state_and_dangling_fd_are_refused)
{
	for (int t = 0; t < 5; t++) {
		struct crafted c;

		craft_begin(&c);
		if (t == 0)
			c.img.files[3].d.state_len -= 4;	/* one packet length short */
		else if (t == 1)
			c.img.files[3].d.data_len = 0;		/* packets add up to more */
		else if (t == 2)
			c.img.procs[0].fds[4].d.file = 9;
		else if (t == 3)
			c.img.files[3].d.fflags |= CKPT_FILEF_MAPPED;	/* a pipe */
		else
			c.img.files[1].d.fflags |= CKPT_FILEF_MAPPED;	/* fd 3's GHOST */
		craft_proc(&c);
		craft_rest(&c, 0, 5);
		craft_end_and_expect(&c, t < 2 || t == 3 ? "file section at offset" :
				     "file descriptor section at offset");
	}
}

/*
 * The pipe of the model (file 3, 40 bytes queued) made a unix socket of
 * type with those fflags: named "/l" (name 0: unnamed), its peer's inode
 * peer, its peer's name "@p"; a datagram socket's queue two messages,
 * 10 and 30 bytes, the first from a sender whose name has slen0 bytes
 * (SENDERS), the second from an unnamed one; trim: bytes more (or less)
 * state_len says than the state holds.
 */
static void as_unix(struct img_file *f, uint32_t type, uint32_t fflags, int name, uint64_t peer,
		    uint32_t slen0, int trim)
{
	struct ckpt_fd_unix s = { .sock = 5, .peer = peer, .type = type, .state = 1,
				  .name_len = name ? 3 : 0, .peer_name_len = 2, .peek_off = -1,
				  .nmsgs = type == 2 ? 2 : 0 };
	uint32_t lens[2] = { 10, 30 }, slens[2] = { slen0, 0 };
	size_t n = 0;

	free(f->state);
	f->state = calloc(1, 512);
	memcpy(f->state, &s, sizeof(s));
	n = sizeof(s);
	memcpy(f->state + n, "/l\0", s.name_len);
	n += s.name_len;
	memcpy(f->state + n, "\0p", 2);
	n += 2;
	memcpy(f->state + n, lens, 4 * s.nmsgs);
	n += 4 * s.nmsgs;
	if (fflags & CKPT_FILEF_SENDERS) {
		memcpy(f->state + n, slens, sizeof(slens));
		n += sizeof(slens);
		if (slen0 > 1)
			memset(f->state + n + 1, 's', slen0 - 1);	/* "\0sss...": abstract */
		n += slen0;
	}
	f->d.kind = CKPT_FD_UNIX;
	f->d.mode = 0140777;
	f->d.fflags = fflags;
	f->d.state_len = (uint32_t)((int)n + trim);
}

/* Connections through a listener and datagrams' senders (5.24): each
 * flag only where it is defined, its state exact. */
TEST(unix_listener_and_sender_flags_are_checked)
{
	static const struct {
		uint32_t type, fflags;
		int name;
		uint64_t peer;
		uint32_t slen0;
		int trim, ok;
	} t[] = {
		{ 1, CKPT_FILEF_ACCEPTED, 1, 6, 0, 0, 1 },	/* accepted from "/l" */
		{ 5, CKPT_FILEF_CONNECTED, 0, 0, 0, 0, 1 },	/* its accepted peer closed */
		{ 2, CKPT_FILEF_SENDERS, 1, 0, 2, 0, 1 },	/* from "@s" and no name */
		{ 2, CKPT_FILEF_SENDERS, 1, 0, 108, 0, 1 },	/* a whole sun_path */
		{ 1, CKPT_FILEF_ACCEPTED, 0, 6, 0, 0, 0 },	/* accepted without a name */
		{ 2, CKPT_FILEF_ACCEPTED, 1, 6, 0, 0, 0 },	/* a datagram socket */
		{ 1, CKPT_FILEF_ACCEPTED, 1, 0, 0, 0, 0 },	/* closed peer with a name */
		{ 1, CKPT_FILEF_ACCEPTED | CKPT_FILEF_CONNECTED, 1, 0, 0, 0, 0 },
		{ 1, CKPT_FILEF_CONNECTED, 0, 6, 0, 0, 0 },	/* its peer is there */
		{ 2, CKPT_FILEF_SENDERS, 1, 0, 109, 0, 0 },	/* a name past sun_path */
		{ 2, CKPT_FILEF_SENDERS, 1, 0, 2, 1, 0 },	/* a byte after the names */
		{ 2, CKPT_FILEF_SENDERS, 1, 0, 2, -1, 0 },	/* a byte short of them */
		{ 1, CKPT_FILEF_SENDERS, 1, 6, 0, 0, 0 },	/* a stream */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct crafted c;

		craft_begin(&c);
		as_unix(&c.img.files[3], t[i].type, t[i].fflags, t[i].name, t[i].peer, t[i].slen0,
			t[i].trim);
		if (t[i].ok) {
			craft_rest_and_accept(&c);
			continue;
		}
		craft_proc(&c);
		craft_rest(&c, 0, 5);
		craft_end_and_expect(&c, "file section at offset");
	}
	/* and none of them on a pipe */
	for (int k = 0; k < 3; k++) {
		static const uint32_t fl[3] = { CKPT_FILEF_ACCEPTED, CKPT_FILEF_CONNECTED,
						CKPT_FILEF_SENDERS };
		struct crafted c;

		craft_begin(&c);
		c.img.files[3].d.fflags |= fl[k];
		craft_proc(&c);
		craft_rest(&c, 0, 5);
		craft_end_and_expect(&c, "file section at offset");
	}
}

/* CTTY: a device number, known flags, a pty's number when it names one. */
TEST(controlling_terminal_section_is_checked)
{
	for (int t = 0; t < 4; t++) {
		struct ckpt_ctty ct = { .rdev = 0x8800, .tpgid = 100, .cflags = CKPT_CTTY_TERMIOS };
		struct ckpt_fd_tty tt = { .index = ~0u, .lflag = 0x8a3b, .rows = 24, .cols = 80 };
		struct crafted c;

		if (t == 1)
			ct.cflags |= 0x80;		/* a flag this reader does not know */
		else if (t == 2)
			ct.rdev = 0;			/* no terminal */
		else if (t == 3)
			ct.cflags |= CKPT_CTTY_PTY;	/* a pty of the image, without its number */
		craft_begin(&c);
		craft_proc(&c);
		craft_section(&c, CKPT_SEC_CTTY, &ct, sizeof(ct), &tt, sizeof(tt));
		craft_rest(&c, 0, 5);
		if (t) {
			craft_end_and_expect(&c, "controlling terminal section at offset");
			continue;
		}
		if (img_writer_finish(&c.w) < 0)
			_exit(1);
		img_writer_close(&c.w);
		img_free(&c.img);
		ASSERT_EQ(0, read_img(path_of("t.img")));
		cleanup();
	}
}

/* Version 1 wrote one FD section per fd, file and descriptor in one:
 * read into the same model, dups sharing their file, what was
 * substituted now said (fd 0-2 inherit, others lost). */
TEST(version_1_descriptors_are_read)
{
	static const struct { int32_t fd; uint32_t kind, fflags; int32_t dup_of; const char *path; }
	v1[] = {
		{ 0, CKPT_FD_DEVICE, 0, 0, "/dev/null" }, { 1, CKPT_FD_OTHER, 0, 0, "pipe:[5]" },
		{ 3, CKPT_FD_GHOST, 0, 0, "/tmp/gone" }, { 4, CKPT_FD_OTHER, 0, 0, "socket:[6]" },
		{ 5, CKPT_FD_GHOST, CKPT_FDF_DUP, 3, "/tmp/gone" },
	};
	struct ckpt_header h;
	struct crafted c;
	struct img got = { 0 };
	struct img_reader r;
	struct ckpt_section s;
	void *payload;
	int fd;

	craft_begin(&c);
	c.img.procs[0].d.nfds = 5;
	craft_proc(&c);
	for (int i = 0; i < 2; i++)
		craft_thread(&c, &c.img.procs[0].threads[i]);
	for (int i = 0; i < 3; i++)
		craft_section(&c, CKPT_SEC_VMA, &c.img.procs[0].vmas[i].d, sizeof(struct ckpt_vma),
			      c.img.procs[0].vmas[i].path, c.img.procs[0].vmas[i].d.path_len);
	for (size_t i = 0; i < ARRAY_SIZE(v1); i++) {
		struct ckpt_fd_v1 d = { .fd = v1[i].fd, .kind = v1[i].kind, .fflags = v1[i].fflags,
					.dup_of = v1[i].dup_of, .flags = 2,
					.size = v1[i].kind == CKPT_FD_GHOST ? 10 : 0,
					.path_len = (uint32_t)strlen(v1[i].path) };
		struct ckpt_filedata fdd = { .id = 3 };

		craft_section(&c, CKPT_SEC_FD, &d, sizeof(d), v1[i].path, d.path_len);
		if (v1[i].fd == 3)
			craft_section(&c, CKPT_SEC_FILEDATA, &fdd, sizeof(fdd), "0123456789", 10);
	}
	if (img_writer_finish(&c.w) < 0)
		_exit(1);
	img_writer_close(&c.w);
	img_free(&c.img);
	/* the header says version 1 */
	fd = open(path_of("t.img"), O_RDWR);
	ASSERT_EQ(sizeof(h), pread(fd, &h, sizeof(h), 0));
	h.version = 1;
	h.crc = 0;
	h.crc = crc32c(0, &h, sizeof(h));
	ASSERT_EQ(sizeof(h), pwrite(fd, &h, sizeof(h), 0));
	close(fd);
	ASSERT_EQ(0, img_reader_open(&r, path_of("t.img"), &got.h));
	ASSERT_EQ(0, img_read_meta(&r, &got, &s, &payload));
	ASSERT_EQ(5, got.procs[0].d.nfds);
	ASSERT_EQ(4, got.nfiles);
	ASSERT_EQ(got.procs[0].fds[2].d.file, got.procs[0].fds[4].d.file);
	ASSERT_EQ(CKPT_FPOL_INHERIT, img_file(&got, got.procs[0].fds[1].d.file)->d.policy);
	ASSERT_EQ(CKPT_FPOL_LOST, img_file(&got, got.procs[0].fds[3].d.file)->d.policy);
	ASSERT_EQ(CKPT_FPOL_EXACT, img_file(&got, got.procs[0].fds[0].d.file)->d.policy);
	ASSERT_EQ(10, img_file(&got, got.procs[0].fds[2].d.file)->d.data_len);
	ASSERT_MEMEQ("0123456789", img_file(&got, got.procs[0].fds[2].d.file)->data, 10);
	img_reader_close(&r);
	img_free(&got);
	cleanup();
}

/* ARG_MAX allows megabytes of arguments; /proc/PID/cmdline has them all. */
TEST(long_command_line_round_trips)
{
	struct img want, got = { 0 };
	struct img_reader r;
	struct ckpt_section s;
	void *payload;
	const size_t len = 1u << 20;

	setup();
	make_img(&want);
	free(want.procs[0].cmdline);
	want.procs[0].cmdline = filled(len, 9);
	want.procs[0].d.cmdline_len = (uint32_t)len;
	ASSERT_EQ(0, write_img(path_of("a.img"), &want));
	ASSERT_EQ(0, img_reader_open(&r, path_of("a.img"), &got.h));
	ASSERT_EQ(1, img_read_meta(&r, &got, &s, &payload));
	ASSERT_EQ(len, got.procs[0].d.cmdline_len);
	ASSERT_MEMEQ(want.procs[0].cmdline, got.procs[0].cmdline, len);
	img_reader_close(&r);
	img_free(&got);
	img_free(&want);
	cleanup();
}

/*
 * Random values in random metadata bytes, checksums fixed after: the
 * reader may accept the result or refuse it, but it must neither crash
 * nor say more (or less) than one line when it refuses.
 */
static void fix_checksums(uint8_t *buf, size_t off)
{
	struct ckpt_section s;

	memcpy(&s, buf + off, sizeof(s));
	s.payload_crc = crc32c(0, buf + off + sizeof(s), (size_t)s.size);
	s.crc = crc32c(0, &s, offsetof(struct ckpt_section, crc));
	memcpy(buf + off, &s, sizeof(s));
}

TEST(random_metadata_values_behind_good_checksums)
{
	uint8_t *good, *buf;
	size_t len, offs[64], n = 0, off = 256;
	int refused = 0, accepted = 0;

	setup();
	good_image("good.img", &good, &len);
	while (off + sizeof(struct ckpt_section) <= len && n < ARRAY_SIZE(offs)) {
		struct ckpt_section s;

		memcpy(&s, good + off, sizeof(s));
		if (s.type != CKPT_SEC_PAGES)
			offs[n++] = off;
		off += sizeof(s) + s.size;
	}
	ASSERT_GE(n, 10);
	buf = malloc(len);
	capture_stderr();
	srandom(1);
	for (int iter = 0; iter < 4000; iter++) {
		size_t so = offs[random() % n];
		struct ckpt_section s;
		int ret, nbytes = 1 + (int)(random() % 4);

		memcpy(buf, good, len);
		memcpy(&s, buf + so, sizeof(s));
		if (!s.size)
			continue;
		for (int k = 0; k < nbytes; k++) {
			/* Mostly small and extreme values, which find edges. */
			static const uint8_t vals[] = { 0, 1, 0x7f, 0x80, 0xff };
			size_t at = so + sizeof(s) + (size_t)random() % s.size;

			buf[at] = random() % 2 ? vals[random() % 5] : (uint8_t)random();
		}
		fix_checksums(buf, so);
		put_file(path_of("t.img"), buf, len);
		clear_stderr();
		ret = read_img(path_of("t.img"));
		if (ret < 0) {
			refused++;
			ASSERT_TRUE(one_ckpt_line(said())) {
				TH_LOG("iteration %d: stderr was \"%s\"", iter, said());
			}
		} else {
			accepted++;
			ASSERT_STREQ("", said());
		}
	}
	TH_LOG("%d refused, %d accepted", refused, accepted);
	ASSERT_GT(refused, 0);
	free(buf);
	free(good);
	cleanup();
}

/* --- signed images: the DIGESTS table (docs/image-format.md 5.29) ------ */

static const struct img_key test_key = { .k = { 7, 7, 7 }, .id = { 1, 2, 3 } };

/* make_img's image with runs, signed with test_key; stream: through "-"
 * (stdout moved onto the file), as `dump -o -` writes it. */
static int write_signed(const char *path, int stream, int format2)
{
	struct img img;
	int ret, out = -1, fd = -1;

	make_img(&img);
	if (stream) {
		out = dup(STDOUT_FILENO);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out < 0 || fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(1);
	}
	ret = write_runs_key(stream ? "-" : path, &img, runs, ARRAY_SIZE(runs), &test_key,
			     format2);
	if (stream) {
		dup2(out, STDOUT_FILENO);
		close(out);
		close(fd);
	}
	img_free(&img);
	return ret;
}

/* Read path to its end with test_key; trust: as restore --lazy does. */
static int read_signed(const char *path, int trust, struct img_reader *r)
{
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload;
	int ret;

	if ((ret = img_reader_open(r, path, &img.h)) < 0)
		return ret;
	img_reader_use_key(r, &test_key);
	ret = img_read_meta(r, &img, &s, &payload);
	r->trust_digests = trust;
	while (ret > 0)
		ret = img_read_section(r, &s, &payload);
	img_free(&img);
	return ret;
}

/* Offset of the k-th section of type in an image's bytes, or 0. */
static size_t sec_at(const uint8_t *b, size_t n, uint32_t type, int k)
{
	for (size_t off = sizeof(struct ckpt_header); off + sizeof(struct ckpt_section) <= n;) {
		struct ckpt_section s;

		memcpy(&s, b + off, sizeof(s));
		if (s.type == type && k-- == 0)
			return off;
		off += sizeof(s) + s.size;
	}
	return 0;
}

static uint8_t *slurp(const char *path, size_t *n)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		_exit(1);
	*n = (size_t)st.st_size;
	b = malloc(*n);
	if (pread(fd, b, *n, 0) != (ssize_t)*n)
		_exit(1);
	close(fd);
	return b;
}

TEST(signed_images_carry_a_digest_table_right_before_mac_all)
{
	setup();
	/* v2: as format 2 signed (SHA-256 entries), which must still read */
	for (int run = 0; run < 4; run++) {
		int stream = run & 1, v2 = run >> 1;
		struct img_reader r;
		struct img_block_key bk;
		uint8_t *b, d[32];
		size_t n, at, pg;
		struct ckpt_digests t;

		ASSERT_EQ(0, write_signed(path_of("s.img"), stream, v2));
		b = slurp(path_of("s.img"), &n);
		ASSERT_EQ(CKPT_HDR_MAC | CKPT_HDR_DIGESTS | (v2 ? 0 : CKPT_HDR_BLOCK_MAC),
			  ((const struct ckpt_header *)b)->flags);
		ASSERT_EQ(v2 ? 2 : CKPT_VERSION, ((const struct ckpt_header *)b)->version);
		img_block_key_init(&bk, &test_key, (const struct ckpt_header *)b);
		at = sec_at(b, n, CKPT_SEC_DIGESTS, 0);
		ASSERT_NE(0, at);
		memcpy(&t, b + at + sizeof(struct ckpt_section), sizeof(t));
		ASSERT_EQ(ARRAY_SIZE(runs), t.count);
		ASSERT_EQ(v2 ? CKPT_DIGEST_SHA256 : CKPT_DIGEST_POLY1305_AES, t.alg);
		/* the next section is MAC_ALL, and entry 0 is the first block */
		ASSERT_EQ(sec_at(b, n, CKPT_SEC_MAC_ALL, 0),
			  at + sizeof(struct ckpt_section) + 16 + 72 * t.count);
		pg = sec_at(b, n, CKPT_SEC_PAGES_ALIGNED, 0);
		if (!pg)
			pg = sec_at(b, n, CKPT_SEC_PAGES, 0);
		ASSERT_NE(0, pg);
		ASSERT_EQ(0, memcmp(b + pg, b + at + sizeof(struct ckpt_section) + 16, 24));
		/* entry 0: the first block's SHA-256 (v2) or its tag */
		ASSERT_EQ(0, img_block_digest(&bk, 0, ((const struct ckpt_section *)(b + pg))->type,
					      &(struct iovec){ b + pg + sizeof(struct ckpt_section),
							       ((const struct ckpt_section *)(b + pg))->size },
					      1, d));
		if (v2)
			sha256(b + pg + sizeof(struct ckpt_section),
			       ((const struct ckpt_section *)(b + pg))->size, d);
		ASSERT_EQ(0, memcmp(d, b + at + sizeof(struct ckpt_section) + 16 + 40, 32));
		/* read back, both ways: the MAC holds, and the block checks out */
		for (int trust = 0; trust < 2; trust++) {
			ASSERT_EQ(0, read_signed(path_of("s.img"), trust, &r));
			ASSERT_EQ(IMG_MAC_OK, r.mac_meta);
			ASSERT_EQ(IMG_MAC_OK, r.mac_all);
			ASSERT_EQ(0, memcmp(d, img_reader_digest(&r, 0), 32));
			ASSERT_EQ(1, img_reader_block_ok(&r, 0, b + pg + sizeof(struct ckpt_section),
							 ((const struct ckpt_section *)(b + pg))->size));
			img_reader_close(&r);
		}
		free(b);
	}
	cleanup();
}

TEST(a_block_changed_behind_its_crc_shows_in_the_mac_or_at_its_digest)
{
	struct img_reader r;
	uint8_t *b;
	size_t n, pg;
	struct ckpt_section s;

	setup();
	ASSERT_EQ(0, write_signed(path_of("s.img"), 0, 0));
	b = slurp(path_of("s.img"), &n);
	pg = sec_at(b, n, CKPT_SEC_PAGES_ALIGNED, 0);
	if (!pg)
		pg = sec_at(b, n, CKPT_SEC_PAGES, 0);
	memcpy(&s, b + pg, sizeof(s));
	/* its last byte (a page's), CRCs made again: the header changes */
	b[pg + sizeof(s) + s.size - 1] ^= 1;
	fix_checksums(b, pg);
	put_file(path_of("f.img"), b, n);
	ASSERT_EQ(0, read_signed(path_of("f.img"), 0, &r));
	ASSERT_EQ(IMG_MAC_MISMATCH, r.mac_all);
	img_reader_close(&r);
	/* lazy: the header is not the table's, so MAC_ALL says it too */
	ASSERT_EQ(0, read_signed(path_of("f.img"), 1, &r));
	ASSERT_EQ(IMG_MAC_MISMATCH, r.mac_all);
	img_reader_close(&r);
	/* the last 5 bytes changed so that the CRC stays as it was (CRC32C
	 * is linear: tests/targets/imgtool.c pagedata=forge), the header
	 * unchanged: the table holds, the block's digest does not (what
	 * restore/lazy.c checks before it uses the block) */
	b[pg + sizeof(s) + s.size - 1] ^= 1;
	memcpy(b + pg, &s, sizeof(s));
	{
		uint8_t *e = b + pg + sizeof(s) + s.size;
		uint32_t c = 0x5a;

		for (int k = 0; k < 32; k++)
			c = c & 0x80000000u ? ((c ^ 0x82F63B78u) << 1) | 1 : c << 1;
		for (int k = 0; k < 4; k++)
			e[-5 + k] ^= (uint8_t)(c >> (8 * k));
		e[-1] ^= 0x5a;
		ASSERT_EQ(s.payload_crc, crc32c(0, b + pg + sizeof(s), (size_t)s.size));
	}
	put_file(path_of("f.img"), b, n);
	ASSERT_EQ(0, read_signed(path_of("f.img"), 1, &r));
	ASSERT_EQ(IMG_MAC_OK, r.mac_all);
	ASSERT_EQ(0, img_reader_block_ok(&r, 0, b + pg + sizeof(s), s.size));
	img_reader_close(&r);
	/* read whole (eager, verify): the payload is hashed, MAC_ALL fails */
	ASSERT_EQ(0, read_signed(path_of("f.img"), 0, &r));
	ASSERT_EQ(IMG_MAC_MISMATCH, r.mac_all);
	img_reader_close(&r);
	free(b);
	cleanup();
}

TEST(a_digest_table_that_does_not_fit_is_refused)
{
	struct img_reader r;
	uint8_t *b;
	size_t n, at;

	setup();
	capture_stderr();
	ASSERT_EQ(0, write_signed(path_of("s.img"), 0, 0));
	b = slurp(path_of("s.img"), &n);
	at = sec_at(b, n, CKPT_SEC_DIGESTS, 0);
	/* one entry less than the sections it follows */
	b[at + sizeof(struct ckpt_section) + 8] -= 1;
	fix_checksums(b, at);
	put_file(path_of("f.img"), b, n);
	clear_stderr();
	ASSERT_EQ(-EBADMSG, read_signed(path_of("f.img"), 1, &r));
	img_reader_close(&r);
	ASSERT_TRUE(one_ckpt_line(said())) { TH_LOG("%s", said()); }
	ASSERT_TRUE(strstr(said(), "digest table section at offset") != NULL) { TH_LOG("%s", said()); }
	/* the flag without the MAC flag */
	b[24] = 2;
	((struct ckpt_header *)b)->crc = 0;
	((struct ckpt_header *)b)->crc = crc32c(0, b, sizeof(struct ckpt_header));
	put_file(path_of("f.img"), b, n);
	clear_stderr();
	ASSERT_GT(0, read_signed(path_of("f.img"), 0, &r));
	img_reader_close(&r);
	ASSERT_TRUE(strstr(said(), "a digest table without MACs") != NULL) { TH_LOG("%s", said()); }
	free(b);
	cleanup();
}

TEST_HARNESS_MAIN
