/*
 * libFuzzer target: an incremental chain.  The input is up to four
 * images one after the other, each starting right after the previous
 * one's END: the newest first, then its parent, and so on.  Each is
 * written to a scratch directory under the name the image before it
 * gives in its PARENT section (when that is a plain file name), the
 * newest as "image", and then the code that follows chains runs on them:
 *
 *   1. chain_check() (image/chain.c), as ckpt restore does before it
 *      makes anything: every parent found, the right one, intact;
 *   2. ckpt merge (restore/merge.c) into "merged".
 *
 * And one promise: when every image of the chain passes ckpt verify and
 * the merge succeeds, the merged image passes ckpt verify too.
 *
 * What each image alone goes through (reader, checks, plan, inspect) is
 * fuzz_image.c's; this one is about what is read across images.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "image/check.h"
#include "image/image.h"
#include "restore/restore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXIMG	4
/* What merge may write in all: it decodes a parent's wanted pages, and
 * a few hundred bytes of zstd can say 16 MiB of zeros. */
#define MAX_RAW	(256ull << 20)

static char dir[64];

/* One image of the input: [start, end), its file name, its parent's. */
struct part {
	size_t start, end;
	char name[80], parent[80];
	uint64_t raw;		/* decoded bytes its PAGES sections claim */
};

/* The parent file name an image's PARENT section gives, if plain. */
static void parent_name(const uint8_t *p, size_t len, char *out, size_t cap)
{
	out[0] = 0;
	if (!len || len >= cap || (len <= 2 && p[0] == '.' && p[len - 1] == '.'))
		return;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '-' || p[i] == '_'))
			return;
	memcpy(out, p, len);
	out[len] = 0;
}

/* Whether part n may be written under the name part n - 1 gives it. */
static int named(struct part *parts, int n)
{
	const char *name = parts[n - 1].parent;

	if (!name[0] || !strcmp(name, "merged"))
		return 0;
	for (int i = 0; i < n; i++)
		if (!strcmp(parts[i].name, name))
			return 0;
	snprintf(parts[n].name, sizeof(parts[n].name), "%s", name);
	return 1;
}

/* Split the input at each END followed by another header.  Returns the
 * number of images that get a file: the newest, then each parent the
 * one before names. */
static int split(const uint8_t *d, size_t size, struct part *parts)
{
	size_t off = sizeof(struct ckpt_header);
	uint32_t ps;
	int n = 0;

	snprintf(parts[0].name, sizeof(parts[0].name), "image");
	memcpy(&ps, d + 20, sizeof(ps));	/* header.page_size */
	for (;;) {
		struct ckpt_section s;

		if (off + sizeof(s) > size)
			break;
		memcpy(&s, d + off, sizeof(s));
		if (s.size > size - off - sizeof(s))
			break;
		if (s.type == CKPT_SEC_PARENT && !parts[n].parent[0])
			parent_name(d + off + sizeof(s), (size_t)s.size, parts[n].parent,
				    sizeof(parts[n].parent));
		if (s.type == CKPT_SEC_PAGES && s.size >= sizeof(struct ckpt_pages)) {
			struct ckpt_pages pg;

			memcpy(&pg, d + off + sizeof(s), sizeof(pg));
			parts[n].raw += (uint64_t)pg.npages * MIN(ps, 65536u);
		}
		off += sizeof(s) + (size_t)s.size;
		if (s.type == CKPT_SEC_END && off + sizeof(struct ckpt_header) <= size &&
		    !memcmp(d + off, CKPT_MAGIC, 8)) {
			parts[n].end = off;
			if (n + 1 == MAXIMG || !named(parts, n + 1))
				return n + 1;
			parts[++n].start = off;
			memcpy(&ps, d + off + 20, sizeof(ps));
			off += sizeof(struct ckpt_header);
		}
	}
	parts[n].end = size;
	return n + 1;
}

static int put(const char *name, const uint8_t *p, size_t len)
{
	char path[160];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ret = write_all(fd, p, len);
	close(fd);
	return ret;
}

/* ckpt verify: 0 when the image is intact. */
static int verify(const char *name)
{
	struct img_stats st;
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return img_verify_file(path, &st);
}

/* The scratch directory goes when the process does (fork mode starts
 * one process per job); a crash leaves it, for a look. */
static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_chain: cannot remove %s\n", dir);
}

static void make_dir(void)
{
	if (mkdir(dir, 0700) < 0 || atexit(remove_dir) != 0) {
		perror("fuzz_chain: scratch directory");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct part parts[MAXIMG] = { { 0 } };
	char path[160], out[160];
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload;
	uint64_t raw = 0;
	int n, ok = 1;

	if (size < sizeof(struct ckpt_header))
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/dev/shm/ckpt-fuzz-chain.%d", (int)getpid());
		make_dir();
	}
	n = split(data, size, parts);
	for (int i = 0; i < n; i++) {
		if (put(parts[i].name, data + parts[i].start, parts[i].end - parts[i].start) < 0)
			abort();
		raw += parts[i].raw;
	}
	snprintf(path, sizeof(path), "%s/image", dir);
	snprintf(out, sizeof(out), "%s/merged", dir);
	if (img_reader_open(&r, path, &img.h) == 0 && img_read_meta(&r, &img, &s, &payload) >= 0 &&
	    img.parent)
		ok = chain_check(path, &img, 0, NULL) == 0;
	img_reader_close(&r);
	img_free(&img);
	if (raw <= MAX_RAW && merge_run(path, out, 1) == 0) {
		for (int i = 0; i < n; i++)
			ok &= verify(parts[i].name) == 0;
		if (ok && verify("merged") != 0) {
			fprintf(stderr, "fuzz_chain: broken promise: a chain that verifies merged into an image that does not\n");
			abort();
		}
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, parts[i].name);
		unlink(path);
	}
	unlink(out);
	return 0;
}
