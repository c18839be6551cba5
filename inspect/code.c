/*
 * ckpt inspect: the instructions around a thread's PC.  x86 code cannot
 * be decoded backwards, so decoding starts at the function's start when
 * that is near, else at the earliest point within a short distance before
 * the PC from which decoding lands exactly on the PC; the instructions
 * covering [pc - SHOW, pc + SHOW] are kept.  The bytes come from the
 * image's page data where a page is stored, else from the mapped file,
 * else (anonymous memory not stored) they were zero.
 */
#include "common/capstone.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "inspect/inspect.h"
#include "common/util.h"

#define BEFORE	256	/* bytes before the PC kept for decoding */
#define RESYNC	64	/* without a near symbol, start at most this far back */
#define SHOW	16	/* show instructions covering pc +- SHOW */
#define AFTER	32	/* bytes after the PC: SHOW and the longest instruction */
#define MAXSHOW	24	/* instructions shown at most */

void insp_code_want(struct insp_thread *th)
{
	struct insp_code *c = &th->code;
	const struct img_vma *v = th->vma;

	if (!v) {
		c->why = "the PC is not in any mapping";
		return;
	}
	c->lo = th->pc - v->d.start > BEFORE ? th->pc - BEFORE : v->d.start;
	c->hi = v->d.end - th->pc > AFTER ? th->pc + AFTER : v->d.end;
	c->bytes = xzalloc(c->hi - c->lo);
	c->state = xzalloc(c->hi - c->lo);
}

void insp_code_pages(struct insp_thread *th, const struct ckpt_pages *pg, const uint8_t *raw,
		     uint64_t page_size)
{
	struct insp_code *c = &th->code;
	uint64_t lo, hi, end = pg->addr + pg->npages * page_size;

	if (!c->bytes || end <= c->lo || pg->addr >= c->hi)
		return;
	lo = MAX(c->lo, pg->addr);
	hi = MIN(c->hi, end);
	if (raw)
		memcpy(c->bytes + (lo - c->lo), raw + (lo - pg->addr), hi - lo);
	memset(c->state + (lo - c->lo),
	       raw ? CODE_IMAGE : pg->flags & CKPT_PAGES_IN_PARENT ? CODE_PARENT : CODE_UNDECODED,
	       hi - lo);
}

/* Bytes not in the image: the file's, or zeros for anonymous memory. */
static void fill_rest(struct insp_thread *th)
{
	struct insp_code *c = &th->code;
	const struct img_vma *v = th->vma;
	size_t n = c->hi - c->lo;
	int fd = -1;

	if (v->d.flags & CKPT_VMA_FILE)
		fd = insp_open_file(v->path);
	for (size_t i = 0; i < n; i++) {
		if (c->state[i] != CODE_UNSEEN)
			continue;
		if (!(v->d.flags & CKPT_VMA_FILE)) {
			c->state[i] = CODE_ZERO;
		} else if (fd >= 0 &&
			   pread(fd, c->bytes + i, 1, (off_t)(c->lo + i - v->d.start + v->d.pgoff)) == 1) {
			c->state[i] = CODE_FILE;
		}
	}
	if (fd >= 0)
		close(fd);
}

/* Bytes usable from offset i on. */
static size_t usable(const struct insp_code *c, size_t i)
{
	size_t n = 0;

	while (i + n < c->hi - c->lo && (c->state[i + n] == CODE_IMAGE ||
					 c->state[i + n] == CODE_FILE || c->state[i + n] == CODE_ZERO))
		n++;
	return n;
}

/* Decode from start; keep the instructions around pc if one starts at it. */
static int decode_from(csh h, struct insp_code *c, uint64_t start, uint64_t pc)
{
	const uint8_t *p = c->bytes + (start - c->lo);
	size_t len = usable(c, start - c->lo);
	uint64_t addr = start;
	cs_insn *ci = cs_malloc(h);
	int hit = 0;

	c->ninsns = 0;
	while (ci && cs_disasm_iter(h, &p, &len, &addr, ci) && ci->address <= pc + SHOW) {
		struct insp_insn *in;

		hit |= ci->address == pc;
		if (ci->address + ci->size + SHOW <= pc || c->ninsns == MAXSHOW)
			continue;
		in = &c->insns[c->ninsns++];
		in->addr = ci->address;
		in->len = MIN(ci->size, (uint16_t)sizeof(in->bytes));
		memcpy(in->bytes, ci->bytes, in->len);
		snprintf(in->text, sizeof(in->text), "%s%s%s", ci->mnemonic,
			 ci->op_str[0] ? " " : "", ci->op_str);
	}
	if (ci)
		cs_free(ci, 1);
	return hit;
}

void insp_code_finish(struct insp_thread *th)
{
	struct insp_code *c = &th->code;
	uint64_t pc = th->pc, start;
	int arch, mode;
	csh h;

	if (!c->bytes)
		return;
	fill_rest(th);
	if (!usable(c, pc - c->lo)) {
		static const char *const why[] = {
			[CODE_UNDECODED] = "the code's page is compressed with a codec inspect cannot decode",
			[CODE_PARENT] = "the code's page is in the parent image",
			[CODE_UNSEEN] = "the code is neither in the image nor in a readable file",
		};

		c->why = why[c->state[pc - c->lo]];
		return;
	}
	arch_disasm_mode(&arch, &mode);
	if (cs_open((cs_arch)arch, (cs_mode)mode, &h) != CS_ERR_OK) {
		c->why = "capstone does not support this architecture";
		return;
	}
	c->insns = xzalloc(MAXSHOW * sizeof(*c->insns));
	if (th->sym.name && th->sym.start >= c->lo && th->sym.start <= pc &&
	    decode_from(h, c, th->sym.start, pc))
		goto out;
	/* Earliest start that decodes onto pc; pc itself always does. */
	for (start = MAX(c->lo, pc - RESYNC); start <= pc; start++)
		if (decode_from(h, c, start, pc))
			goto out;
	c->ninsns = 0;
	c->why = "the code at the PC does not decode";
out:
	cs_close(&h);
}

void insp_code_free(struct insp_code *c)
{
	free(c->bytes);
	free(c->state);
	free(c->insns);
}
