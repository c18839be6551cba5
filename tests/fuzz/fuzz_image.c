/*
 * libFuzzer target: arbitrary bytes as a checkpoint image, through every
 * part of ckpt that reads one and needs no live process.  The bytes go
 * into a memfd (a regular file) or a pipe on stdin (a stream), so the
 * reader's own I/O and its file-size checks run as they do for users:
 *
 *   1. ckpt verify (cmd/verify.c): img_load_meta() + img_check_rest(),
 *      which decodes every compressed block (image/read.c, check.c,
 *      codec.c);
 *   2. ckpt restore from a stream: img_read_meta(), the register checks,
 *      then the stub's plan (restore/plan.c: plan_build, plan_place,
 *      plan_serialise) made with a made-up stub map list and descriptor
 *      table, then every remaining section through pages_check() and
 *      decoded as the fill workers would (restore/pages.c);
 *   3. the same checks as for a parent image of an incremental chain
 *      (pages_check() with the ranges a child still wants);
 *   4. ckpt inspect, text and JSON (inspect/), with symbol lookup
 *      off, the JSON checked to be JSON;
 *   5. ckpt core's notes (image/core-notes.c), made from the metadata
 *      alone; the rest of core_write() writes a file as large as the
 *      image's mappings, which is no job for a fuzzer.
 *
 * Beyond "does not crash", it checks what callers rely on: a plan whose
 * home overlaps no mapping and whose relocated pointers stay inside it,
 * page blocks that lie inside their mapping once pages_check() let them
 * through, parent ranges that are not empty or inverted.  A broken
 * promise aborts with a message.
 *
 * tests/fuzz/mutator.c teaches libFuzzer the section framing and fixes
 * the checksums after mutating, or almost every input would stop at the
 * first CRC.  tests/unit/test_fuzz_regress.c runs this file's
 * LLVMFuzzerTestOneInput() on tests/fuzz/regress/ in make check.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "image/check.h"
#include "image/codec.h"
#include "image/core.h"
#include "inspect/inspect.h"
#include "ptrace/proc.h"
#include "restore/ranges.h"
#include "restore/restore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define must(cond, ...) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_image: broken promise: " __VA_ARGS__); \
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

/*
 * The stub's mappings as restore reads them from /proc/PID/maps: its
 * code, its stack, and the kernel's specials, which are this process's
 * own (same kernel), so that the vdso checks in plan.c compare like with
 * like.  Filled on first use.
 */
static struct stub_map stub_maps[8];
static size_t nstub_maps;

static void add_map(uint64_t start, uint64_t end, const char *name)
{
	struct stub_map *m = &stub_maps[nstub_maps++];

	m->start = start;
	m->end = end;
	snprintf(m->name, sizeof(m->name), "%s", name);
}

static void init_stub_maps(void)
{
	char *buf, *line, *save;

	add_map(0x555555554000ull, 0x555555558000ull, "/memfd:ckpt-stub (deleted)");
	if (read_file("/proc/self/maps", &buf, NULL) == 0) {
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct map_entry e;

			if (proc_parse_maps_line(line, &e) == 0 && nstub_maps < ARRAY_SIZE(stub_maps) - 1 &&
			    (!strcmp(e.path, "[vdso]") || !strcmp(e.path, "[vvar]") ||
			     !strcmp(e.path, "[vvar_vclock]")))
				add_map(e.start, e.end, e.path);
		}
		free(buf);
	}
	add_map(0x7ffffffde000ull, 0x7ffffffff000ull, "[stack]");
}

static int memfd_of(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC);

	if (fd < 0 || write_all(fd, data, size) < 0) {
		perror("fuzz_image: memfd");
		abort();
	}
	return fd;
}

static char *path_of(int fd)
{
	static char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return path;
}

/* 1. ckpt verify (image/check.c img_verify_file). */
static void verify(char *path)
{
	struct img_stats st;

	img_verify_file(path, &st);
}

/* 5. The notes of ckpt core for each process (cmd/core.c, image/core.c:
 * after img_read_meta, for this machine's images). */
static void core(const struct img *img)
{
	for (uint32_t i = 0; i < img->h.nprocs; i++) {
		uint8_t *buf;
		size_t len;

		core_notes(img, &img->procs[i], &buf, &len);
		free(buf);
	}
}

/* The descriptor table restore/files.c would have opened for p. */
static void fake_fds(const struct img_proc *p, struct spawn_fds *sf)
{
	int next = 3;

	memset(sf, 0, sizeof(*sf));
	sf->nfds = (int)p->d.nfds;
	sf->target = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->cloexec = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->map_fd = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_src = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_msg = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_pos = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->msg_files = xzalloc((p->d.nvmas / MAP_FDS_PER_MSG + 1) * sizeof(int));
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		sf->target[i] = p->fds[i].d.fd;
		sf->cloexec[i] = p->fds[i].d.fdflags & 1;
		next = MAX(next, p->fds[i].d.fd + 1);
	}
	/* Every file mapping its own file, sent on the socket in messages. */
	sf->nmaps = (int)p->d.nvmas;
	for (uint32_t i = 0, n = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		sf->map_fd[i] = sf->map_src[i] = sf->map_msg[i] = -1;
		if (v->d.flags & CKPT_VMA_MEMFD) {
			sf->map_fd[i] = 3;
		} else if ((v->d.flags & CKPT_VMA_FILE) &&
			   !(v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL))) {
			sf->map_msg[i] = (int)(n / MAP_FDS_PER_MSG);
			sf->map_pos[i] = (int)(n++ % MAP_FDS_PER_MSG);
			sf->msg_files[sf->map_msg[i]] = sf->map_pos[i] + 1;
			sf->nmsgs = sf->map_msg[i] + 1;
		}
	}
	sf->exe_src = sf->exe_slot = sf->sock_src = sf->sock_slot = -1;
	if (!(p->d.flags & CKPT_PROC_NO_EXE)) {
		sf->exe_src = 999;
		sf->exe_slot = next++;
	}
	sf->cwd_src = sf->cwd_slot = -1;
	if (sf->nmsgs) {
		sf->sock_src = 998;
		sf->sock_slot = next++;
	}
	sf->plan_src = sf->stub_src = -1;
	sf->plan_slot = next++;
	for (int i = 0; i < MAP_FDS_PER_MSG; i++)
		sf->recv_fd[i] = next + i;
}

static void free_fds(struct spawn_fds *sf)
{
	free(sf->target);
	free(sf->cloexec);
	free(sf->map_fd);
	free(sf->map_src);
	free(sf->map_msg);
	free(sf->map_pos);
	free(sf->msg_files);
	free(sf->src);
	free(sf->tmp);
	free(sf->extra_src);
	free(sf->slot);
}

static int overlaps(uint64_t a, uint64_t b, uint64_t start, uint64_t end)
{
	return a < end && start < b;
}

/* What spawn.c trusts of a plan before it hands it to the stub. */
static void check_plan(const struct plan *pl, const struct img *img, const uint8_t *buf,
		       size_t len)
{
	const uint64_t home = pl->home, end = pl->home + pl->size;
	struct stub_plan sp;

	must(end > home && pl->size >= pl->plan_off + len, "home %#lx, %lu bytes, plan %zu bytes",
	     (unsigned long)home, (unsigned long)pl->size, len);
	for (uint32_t k = 0; k < img->h.nprocs; k++) {
		const struct img_proc *p = &img->procs[k];

		for (uint32_t i = 0; i < p->d.nvmas; i++)
			must(!overlaps(home, end, p->vmas[i].d.start, p->vmas[i].d.end),
			     "home %#lx-%#lx overlaps mapping %#lx-%#lx", (unsigned long)home,
			     (unsigned long)end, (unsigned long)p->vmas[i].d.start,
			     (unsigned long)p->vmas[i].d.end);
	}
	for (size_t i = 0; i < nstub_maps; i++)
		must(!overlaps(home, end, stub_maps[i].start, stub_maps[i].end),
		     "home %#lx-%#lx overlaps the stub's %s", (unsigned long)home,
		     (unsigned long)end, stub_maps[i].name);
	must(len >= sizeof(sp), "plan of %zu bytes", len);
	memcpy(&sp, buf, sizeof(sp));
	must(sp.plan_size == len && sp.nthreads == pl->nthreads && sp.home == home,
	     "plan header disagrees");
	for (uint32_t ti = 0; ti < pl->nthreads; ti++) {
		const struct plan_thread *t = &pl->t[ti];
		struct stub_thread th;

		memcpy(&th, buf + sizeof(sp) + ti * sizeof(th), sizeof(th));
		must(th.nops == t->nops && th.ops >= home + pl->plan_off &&
		     th.ops + th.nops * sizeof(struct stub_op) <= home + pl->plan_off + len,
		     "thread %u's ops outside the plan", ti);
		must(plan_op_addr(pl, ti, 0) == th.ops, "thread %u's ops are not where ckpt looks", ti);
		must(th.stack_top > home && th.stack_top <= end, "thread %u's stack outside home", ti);
		for (uint32_t k = 0; k < t->nops; k++) {
			struct stub_op op;

			memcpy(&op, buf + (th.ops - home - pl->plan_off) + k * sizeof(op), sizeof(op));
			for (int a = 0; a < 6; a++)
				must(!(t->reloc[k] & (1u << a)) || (op.a[a] >= home && op.a[a] < end),
				     "thread %u op %u argument %d (%#lx) outside home", ti, k, a,
				     (unsigned long)op.a[a]);
		}
	}
}

/* plan.c, as restore/spawn.c setup_stub() drives it. */
static void plan(const struct img *img)
{
	struct spawn_fds *sf = calloc(img->h.nprocs, sizeof(*sf));
	struct plan pl;
	uint8_t *buf = NULL;
	size_t len = 0;

	for (uint32_t i = 0; i < img->h.nprocs; i++) {
		fake_fds(&img->procs[i], &sf[i]);
		sf[i].src = calloc((size_t)sf[i].nfds + 1, sizeof(int));
		sf[i].tmp = calloc(1, sizeof(int));
	}
	tree_fds(sf, img);
	/* The uffd ops too, for one process in two (lazy.c fills one). */
	if (plan_build(&pl, img, stub_maps, nstub_maps, sf, 0x3000, NULL,
		       img->ntasks == 1 && (img->procs[0].d.pid & 1)) == 0 &&
	    plan_place(&pl, img, stub_maps, nstub_maps) == 0 &&
	    plan_serialise(&pl, &buf, &len) == 0)
		check_plan(&pl, img, buf, len);
	free(buf);
	plan_free(&pl);
	for (uint32_t i = 0; i < img->h.nprocs; i++)
		free_fds(&sf[i]);
	free(sf);
}

/* restore.c's checks of the metadata before anything is created. */
static int restorable(struct img *img)
{
	if (img->h.machine != ARCH_ELF_MACHINE || img->h.page_size != (uint32_t)getpagesize())
		return 0;
	for (uint32_t n = 0; n < img->h.nprocs; n++) {
		struct img_proc *p = &img->procs[n];

		for (uint32_t i = 0; i < p->d.nthreads; i++) {
			arch_regs_t regs;

			for (uint32_t k = 0; k < p->threads[i].d.nregsets; k++)
				if (arch_check_regset(&p->threads[i].regsets[k], p->xfeat, p->nxfeat) < 0)
					return 0;
			/* spawn.c finish(): its registers, restart rules applied. */
			memcpy(&regs, p->threads[i].regsets[0].data, sizeof(regs));
			arch_fixup_restart(&regs);
		}
	}
	return 1;
}

/*
 * The page sections after the metadata, as pages_fill() takes them: each
 * through pages_check(), then decoded as a worker would (apply()).
 */
static void fill(struct img_reader *r, const struct img *img, struct ckpt_section *s,
		 void *payload, int have, const struct ranges *only)
{
	static uint8_t *raw;
	struct ranges later = { 0 };

	if (!raw)
		raw = xmalloc(CKPT_MAX_BLOCK);
	while (have > 0) {
		uint64_t at = r->at;
		const uint64_t ps = img->h.page_size;
		struct ckpt_pages pg;
		int ret = pages_check(img, s, payload, at, only, &later);

		if (ret < 0)
			break;
		if (ret > 0) {
			const struct img_vma *v;

			memcpy(&pg, payload, sizeof(pg));
			v = img_find_vma(&img->procs[s->proc], pg.addr);
			must(pg.npages && (uint64_t)pg.npages * ps <= CKPT_MAX_BLOCK,
			     "block of %u pages passed", pg.npages);
			/* A parent's blocks are clipped to the child's ranges. */
			must(only || (v && (uint64_t)pg.npages * ps <= v->d.end - pg.addr),
			     "block %#lx, %u pages, outside its mapping passed",
			     (unsigned long)pg.addr, pg.npages);
			codec_decode(pg.codec, (const uint8_t *)payload + sizeof(pg),
				     (size_t)s->size - sizeof(pg), raw, (size_t)pg.npages * ps);
		}
		have = img_read_section(r, s, &payload);
	}
	for (size_t i = 0; i < later.n; i++)
		must(later.r[i].start < later.r[i].end, "parent range %#lx-%#lx",
		     (unsigned long)later.r[i].start, (unsigned long)later.r[i].end);
	ranges_free(&later);
}

/* 2. ckpt restore - (restore/restore.c restore_run with a stream). */
static void restore_stream(const uint8_t *data, size_t size)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload = NULL;
	int pfd[2], have;

	/* The whole input must fit in the pipe: nothing writes it later. */
	if (pipe(pfd) < 0)
		return;
	if (fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) < 0 ||
	    (size_t)fcntl(pfd[1], F_GETPIPE_SZ) < size || write_all(pfd[1], data, size) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	close(pfd[1]);
	dup2(pfd[0], STDIN_FILENO);
	close(pfd[0]);
	if (img_reader_open(&r, "-", &img.h) == 0) {
		have = img_read_meta(&r, &img, &s, &payload);
		if (have >= 0 && restorable(&img)) {
			plan(&img);
			fill(&r, &img, &s, payload, have, NULL);
		}
	}
	img_reader_close(&r);
	img_free(&img);
	close(STDIN_FILENO);
	open("/dev/null", O_RDONLY);
}

/* 3. A parent in a chain (restore/chain.c chain_fill): what a child
 * would still want from it, here all its mappings but the first.  And 5,
 * which reads the metadata the same way. */
static void restore_parent(const char *path)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	struct ranges want = { 0 };
	void *payload = NULL;
	int have;

	if (img_reader_open(&r, path, &img.h) == 0 && img.h.machine == ARCH_ELF_MACHINE &&
	    (have = img_read_meta(&r, &img, &s, &payload)) >= 0) {
		const struct img_proc *p = &img.procs[0];

		core(&img);
		for (uint32_t i = 1; i < p->d.nvmas; i++)
			ranges_add(&want, p->vmas[i].d.start, p->vmas[i].d.end);
		/* chain.c asks a parent only when something is wanted. */
		if (want.n) {
			ranges_finish(&want);
			fill(&r, &img, &s, payload, have, &want);
		}
	}
	ranges_free(&want);
	img_reader_close(&r);
	img_free(&img);
}

/*
 * A strict JSON checker (RFC 8259, UTF-8 only) for inspect --json, whose
 * output scripts parse: 1 if [*p, end) holds one value and nothing else.
 */
struct jp {
	const uint8_t *p, *end;
	int depth;
};

static void j_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int j_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return 0;
	j->p += n;
	return 1;
}

/* One UTF-8 character of a string: no overlong forms or surrogates. */
static int j_utf8(struct jp *j)
{
	uint32_t c = *j->p, min;
	int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
		(c & 0xf8) == 0xf0 ? 3 : -1;

	if (n < 0 || j->end - j->p <= n)
		return 0;
	min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
	c &= 0x7f >> n;
	for (int i = 1; i <= n; i++) {
		if ((j->p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (j->p[i] & 0x3f);
	}
	if ((n && c < min) || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	j->p += n + 1;
	return 1;
}

static int j_string(struct jp *j)
{
	if (!j_lit(j, "\""))
		return 0;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p < 0x20)
			return 0;
		if (*j->p != '\\') {
			if (!j_utf8(j))
				return 0;
			continue;
		}
		/* (strchr() finds a NUL too: it is the string's end.) */
		if (++j->p == j->end || !*j->p || !strchr("\"\\/bfnrtu", *j->p))
			return 0;
		if (*j->p++ == 'u')
			for (int i = 0; i < 4; i++, j->p++)
				if (j->p == j->end || !*j->p || !strchr("0123456789abcdefABCDEF", *j->p))
					return 0;
	}
	return j_lit(j, "\"");
}

static int j_digits(struct jp *j)
{
	const uint8_t *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static int j_number(struct jp *j)
{
	j_lit(j, "-");
	if (j_lit(j, "0")) {
		if (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			return 0;
	} else if (!j_digits(j)) {
		return 0;
	}
	if (j_lit(j, ".") && !j_digits(j))
		return 0;
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (!j_lit(j, "+"))
			j_lit(j, "-");
		return j_digits(j);
	}
	return 1;
}

static int j_value(struct jp *j)
{
	int ok;

	j_ws(j);
	if (j->p == j->end || ++j->depth > 64)
		return 0;
	if (*j->p == '{' || *j->p == '[') {
		uint8_t close = *j->p++ == '{' ? '}' : ']';

		j_ws(j);
		ok = j_lit(j, close == '}' ? "}" : "]");
		while (!ok) {
			if (close == '}' && !(j_ws(j), j_string(j) && (j_ws(j), j_lit(j, ":"))))
				return 0;
			if (!j_value(j))
				return 0;
			j_ws(j);
			ok = j_lit(j, close == '}' ? "}" : "]");
			if (!ok && !j_lit(j, ","))
				return 0;
		}
	} else if (*j->p == '"') {
		ok = j_string(j);
	} else if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
		ok = j_number(j);
	} else {
		ok = j_lit(j, "true") || j_lit(j, "false") || j_lit(j, "null");
	}
	j->depth--;
	return ok;
}

static int json_valid(const uint8_t *p, size_t len)
{
	struct jp j = { p, p + len, 0 };

	if (!j_value(&j))
		return 0;
	j_ws(&j);
	return j.p == j.end;
}

/* 4. ckpt inspect [--json] (inspect/inspect.c).  The report goes to a
 * memfd: when inspect succeeds, its JSON must parse. */
static void inspect(char *path, int json)
{
	int out = memfd_create("fuzz-inspect", MFD_CLOEXEC), saved = dup(STDOUT_FILENO), ret;

	if (out < 0 || saved < 0) {
		perror("fuzz_image: inspect output");
		abort();
	}
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	/* Symbols off: they come from the files an image names, not from
	 * its bytes, and parsing them is slow. */
	ret = inspect_run(path, &(struct inspect_opts){ .json = json, .symbols = 0 });
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	if (json && ret == 0) {
		off_t len = lseek(out, 0, SEEK_CUR);
		uint8_t *buf = xmalloc((size_t)len + 1);

		must(pread_all(out, buf, (size_t)len, 0) == 0 && json_valid(buf, (size_t)len),
		     "inspect --json wrote %lld bytes that are not JSON", (long long)len);
		free(buf);
	}
	close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	if (!nstub_maps)
		init_stub_maps();
	fd = memfd_of(data, size);
	verify(path_of(fd));
	restore_stream(data, size);
	restore_parent(path_of(fd));
	inspect(path_of(fd), 0);
	inspect(path_of(fd), 1);
	close(fd);
	return 0;
}
